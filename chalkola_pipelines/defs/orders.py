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
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from chalkola_pipelines.amazon.sp_reports import ReportSpec
from chalkola_pipelines.defs.checks import ORDERS_CHECK_SPECS, rows_match_document
from chalkola_pipelines.defs.jobs import MAX_DAYS_PER_RUN, RAW_GROUP, SP_ORDERS, split_days
from chalkola_pipelines.defs.partitions import MarketplaceDays, run_marketplace_days
from chalkola_pipelines.defs.report_workflow import (
    SP_SOURCE,
    LazyClient,
    LedgerRequest,
    Loaded,
    ReportOutcome,
    RunSummary,
    Unit,
    local_today,
    reuse_max_age,
    run_units,
)
from chalkola_pipelines.defs.resources import AmazonApiResource, WarehouseResource
from chalkola_pipelines.marketplaces import Marketplace, iso_z, local_days_window_utc
from chalkola_pipelines.warehouse.partition_queries import order_item_rows_on_day, order_item_rows_per_day

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
        units = orders_units(md, local_today(mkt))
        summary = RunSummary()
        limiter = warehouse.rate_limiter()
        with (
            contextlib.closing(limiter),
            LazyClient(lambda: amazon.sp_reports_client(mkt, limiter)) as client,
            warehouse.connect() as conn,
        ):
            yield from run_units(
                context,
                units=units,
                client=client,
                ledger=warehouse.ledger(),
                landing=warehouse.landing(),
                load=lambda unit, outcome: _load(conn, unit, outcome),
                kept_rows=lambda day: _kept_rows(conn, mkt, day),
                no_data_note="Amazon CANCELLED the report: no orders in this window (or older than two years).",
                summary=summary,
            )
            yield rows_match_document(
                asset=SP_ORDERS,
                conn=conn,
                table_counts=order_item_rows_per_day,
                marketplace=mkt,
                expected=summary.expected,
            )
        summary.raise_if_failed("order report windows", md)

    return sp_orders


def orders_units(md: MarketplaceDays, today: dt.date, now: dt.datetime | None = None) -> list[Unit]:
    """One report per ≤ 30 local days of the run (a window not started yet fails the run, naming it)."""
    mkt = md.marketplace
    units: list[Unit] = []
    for first, last in split_days(md.first, md.last, MAX_DAYS_PER_REPORT):
        chunk = MarketplaceDays(mkt, tuple(d for d in md.days if first <= d <= last))
        try:
            spec = orders_spec(mkt, chunk.first, chunk.last, now)
        except FuturePartitionError as exc:
            raise dg.Failure(description=f"sp_orders {chunk.describe()}: {exc}") from exc
        request = LedgerRequest(
            source=SP_SOURCE,
            report_type=REPORT_TYPE,
            region=mkt.region,
            window_start=spec.data_start_time,
            window_end=spec.data_end_time,
            options=spec.report_options,
            marketplace=mkt.code,
        )
        window = f"{iso_z(spec.data_start_time)}..{iso_z(spec.data_end_time)}"
        units.append(
            Unit(
                spec,
                request,
                chunk,
                f"sp_orders {chunk.describe()}",
                window,
                reuse_max_age(chunk.last, today),
            )
        )
    return units


def _kept_rows(conn: Any, mkt: Marketplace, day: dt.date) -> int:
    return order_item_rows_on_day(conn, mkt.code, day)


def _load(conn: Any, unit: Unit, outcome: ReportOutcome) -> Loaded:
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.orders_report import iter_order_report_rows
    from chalkola_pipelines.warehouse.order_tables import replace_order_items

    chunk = unit.days
    with open_document(outcome.path) as stream:
        # The parser's own iterator goes to the loader untouched (its pyarrow fast path). The loader counts
        # the rows it reads from the document per local day while parsing, before COPY: the exact ERROR
        # check then compares the table with those document counts.
        written = replace_order_items(
            conn,
            marketplace=chunk.marketplace,
            days=list(chunk.days),
            rows=iter_order_report_rows(stream),
            report_id=outcome.report_id,
        )
    per_day = {
        day: {
            "report_days": f"{chunk.first}..{chunk.last}",
            "rows": written[day],
            "rows_in_report_outside_run": written.ignored,
        }
        for day in chunk.days
    }
    return Loaded(per_day, {day: written.get(day, 0) for day in chunk.days}, sum(written.values()))
