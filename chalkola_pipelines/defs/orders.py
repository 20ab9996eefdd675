"""``sp_orders``: GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL, one report per ≤ 30 local days.

A range run asks ONE report for the UTC window that exactly covers its local days (``local_days_window_utc``;
dataEndTime = one second before the next local midnight, never later than now) and fills every
day-partition from it (``raw_amazon.sp_order_items``, one transaction for the whole range). Orders change
status after purchase: the nightly schedule reloads the last 7 days. A CANCELLED report (no orders in the
window, or older than two years) ends as successful partitions with ``status: CANCELLED`` and 0 rows
loaded; rows loaded earlier are left as they are.
"""

import contextlib
import datetime as dt
from collections import Counter
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from chalkola_pipelines.amazon.sp_reports import ReportSpec
from chalkola_pipelines.defs.checks import ORDERS_CHECK_SPECS, rows_match_document
from chalkola_pipelines.defs.jobs import MAX_DAYS_PER_RUN, RAW_GROUP, SP_ORDERS, split_days
from chalkola_pipelines.defs.partitions import MarketplaceDays, run_marketplace_days
from chalkola_pipelines.defs.report_runs import (
    SP_SOURCE,
    LazyClient,
    failures_named,
    fetch_sp_report,
    local_today,
    mark_loaded,
    reuse_max_age,
)
from chalkola_pipelines.defs.resources import AmazonApiResource, WarehouseResource
from chalkola_pipelines.marketplaces import Marketplace, local_days_window_utc
from chalkola_pipelines.warehouse.partition_queries import order_item_rows_per_day

REPORT_TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
MAX_DAYS_PER_REPORT = MAX_DAYS_PER_RUN[SP_ORDERS]
POOL = "amazon_sp_reports"
END_SAFETY = dt.timedelta(minutes=2)  # createReport: dataEndTime must not be in the future


class FuturePartitionError(ValueError):
    """The requested local days have not started yet."""


def orders_window(
    marketplace: Marketplace, first: dt.date, last: dt.date, now: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end] (inclusive, UTC) of the order report covering local days first..last."""
    start, end_exclusive = local_days_window_utc(marketplace, first, last)
    end = end_exclusive - dt.timedelta(seconds=1)
    latest = (now or dt.datetime.now(dt.UTC)) - END_SAFETY
    if start >= latest:
        raise FuturePartitionError(
            f"{marketplace.code} {first}..{last} has not started yet in {marketplace.timezone}: "
            "run it after the day has begun (and ideally ended)."
        )
    return start, min(end, latest.replace(microsecond=0))


def orders_spec(
    marketplace: Marketplace, first: dt.date, last: dt.date, now: dt.datetime | None = None
) -> Any:

    start, end = orders_window(marketplace, first, last, now)
    return ReportSpec(
        report_type=REPORT_TYPE,
        marketplace_ids=(marketplace.marketplace_id,),
        data_start_time=start,
        data_end_time=end,
    )


def build_sp_orders(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset, on the shared marketplace × date partitions."""

    @dg.asset(
        name=SP_ORDERS,
        group_name=RAW_GROUP,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_DAYS_PER_REPORT),
        pool=POOL,
        output_required=False,
        check_specs=ORDERS_CHECK_SPECS,
        kinds={"amazon", "postgres"},
        metadata={"tables": "raw_amazon.sp_order_items"},
        description=__doc__,
    )
    def sp_orders(context: AssetExecutionContext, amazon: AmazonApiResource, warehouse: WarehouseResource):
        md = run_marketplace_days(context)
        mkt = md.marketplace
        amazon.sp_credentials(mkt)
        ledger, landing = warehouse.ledger(), warehouse.landing()
        today = local_today(mkt)
        expected: dict[dt.date, int] = {}
        limiter = warehouse.rate_limiter()
        with (
            contextlib.closing(limiter),
            LazyClient(lambda: amazon.sp_reports_client(mkt, limiter)) as client,
            warehouse.connect() as conn,
        ):
            for first, last in split_days(md.first, md.last, MAX_DAYS_PER_REPORT):
                days = [d for d in md.days if first <= d <= last]
                chunk = MarketplaceDays(mkt, tuple(days))
                current: dict[str, Any] = {}
                with failures_named(f"sp_orders {chunk.describe()}", ledger, SP_SOURCE, current, mkt.region):
                    try:
                        spec = orders_spec(mkt, chunk.first, chunk.last)
                    except FuturePartitionError as exc:
                        raise dg.Failure(description=f"sp_orders {chunk.describe()}: {exc}") from exc
                    outcome = fetch_sp_report(
                        client=client,
                        ledger=ledger,
                        landing=landing,
                        marketplace=mkt,
                        spec=spec,
                        max_age=reuse_max_age(chunk.last, today),
                        log_fn=context.log.info,
                    )
                    current.update(report_id=outcome.report_id, path=outcome.path)
                    base = {"marketplace": mkt.code, "report_days": f"{chunk.first}..{chunk.last}"}
                    base.update(outcome.metadata())
                    if outcome.status == "CANCELLED":
                        for day in chunk.days:
                            yield _cancelled(context, conn, chunk, day, base)
                        continue
                    counts = _load(conn, ledger, mkt, chunk, outcome)
                for day in chunk.days:
                    expected[day] = counts["document"].get(day, 0)
                    yield dg.AssetMaterialization(
                        asset_key=context.asset_key,
                        partition=chunk.key_for(day),
                        metadata={
                            **base,
                            "date": day.isoformat(),
                            "rows": counts["written"][day],
                            "rows_in_report_outside_run": counts["ignored"],
                        },
                    )
            yield rows_match_document(
                asset=SP_ORDERS,
                conn=conn,
                table_counts=order_item_rows_per_day,
                marketplace=mkt,
                expected=expected,
            )

    return sp_orders


def _load(conn: Any, ledger: Any, mkt: Marketplace, chunk: MarketplaceDays, outcome: Any) -> dict[str, Any]:
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.orders_report import iter_order_report_rows
    from chalkola_pipelines.warehouse.order_tables import replace_order_items

    with open_document(outcome.path) as stream:
        # The parser's own iterator goes to the loader untouched (its pyarrow fast path). The loader counts
        # the rows it reads from the document per local day while parsing, before COPY: the exact ERROR
        # check then compares the table with those document counts.
        written = replace_order_items(
            conn,
            marketplace=mkt,
            days=list(chunk.days),
            rows=iter_order_report_rows(stream),
            report_id=outcome.report_id,
        )
    document_counts: Counter[dt.date] = Counter(dict(written))
    mark_loaded(ledger, SP_SOURCE, outcome.report_id, sum(written.values()), mkt.region)
    return {"written": written, "document": document_counts, "ignored": written.ignored}


def _cancelled(
    context: AssetExecutionContext, conn: Any, chunk: MarketplaceDays, day: dt.date, base: dict[str, Any]
) -> dg.AssetMaterialization:
    from chalkola_pipelines.warehouse.partition_queries import order_item_rows_on_day

    kept = order_item_rows_on_day(conn, chunk.marketplace.code, day)
    context.log.info(
        f"sp_orders {chunk.key_for(day)}: report {base['report_id']} CANCELLED (no orders in the window); "
        f"partition materialised empty ({kept} rows from earlier loads kept)"
    )
    return dg.AssetMaterialization(
        asset_key=context.asset_key,
        partition=chunk.key_for(day),
        metadata={
            **base,
            "date": day.isoformat(),
            "rows": 0,
            "rows_kept_from_earlier_loads": int(kept),
            "note": "Amazon CANCELLED the report: no orders in this window (or older than two years).",
        },
    )
