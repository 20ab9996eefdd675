"""``sp_sales_traffic``: one single-day GET_SALES_AND_TRAFFIC_REPORT per marketplace-day.

A multi-day report aggregates byAsin over the whole range, so a range run still asks one report per day
(asinGranularity CHILD, dateGranularity DAY, window ``YYYY-MM-DDT00:00:00Z..YYYY-MM-DDT23:59:59Z`` of the
local day — Amazon reads only the date part). Writes ``raw_amazon.sp_sales_traffic_by_date`` and
``_by_asin``, one transaction per day. A CANCELLED report (no data, e.g. more than two years ago) ends as a
successful partition with ``status: CANCELLED`` and 0 rows loaded; rows loaded earlier are left as they are.
"""

import contextlib
import datetime as dt
from collections import Counter
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from chalkola_pipelines.amazon.sp_reports import ReportSpec
from chalkola_pipelines.defs.checks import (
    SALES_TRAFFIC_CHECK_SPECS,
    sales_traffic_rows_match,
    sales_traffic_totals_match,
)
from chalkola_pipelines.defs.jobs import MAX_DAYS_PER_RUN, RAW_GROUP, SP_SALES_TRAFFIC
from chalkola_pipelines.defs.partitions import run_marketplace_days
from chalkola_pipelines.defs.report_runs import (
    SP_SOURCE,
    LazyClient,
    failures_named,
    fetch_sp_report,
    is_partition_specific,
    local_today,
    mark_loaded,
    reuse_max_age,
)
from chalkola_pipelines.defs.resources import AmazonApiResource, WarehouseResource
from chalkola_pipelines.marketplaces import Marketplace

REPORT_TYPE = "GET_SALES_AND_TRAFFIC_REPORT"
REPORT_OPTIONS = {"dateGranularity": "DAY", "asinGranularity": "CHILD"}
POOL = "amazon_sp_reports"


def sales_traffic_spec(marketplace: Marketplace, day: dt.date) -> ReportSpec:
    """The single-day report request of one marketplace-local day."""
    return ReportSpec(
        report_type=REPORT_TYPE,
        marketplace_ids=(marketplace.marketplace_id,),
        data_start_time=dt.datetime.combine(day, dt.time(0, 0, 0), tzinfo=dt.UTC),
        data_end_time=dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC),
        report_options=dict(REPORT_OPTIONS),
    )


def build_sp_sales_traffic(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset, on the shared marketplace × date partitions."""

    @dg.asset(
        name=SP_SALES_TRAFFIC,
        group_name=RAW_GROUP,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.multi_run(
            max_partitions_per_run=MAX_DAYS_PER_RUN[SP_SALES_TRAFFIC]
        ),
        pool=POOL,
        output_required=False,
        check_specs=SALES_TRAFFIC_CHECK_SPECS,
        kinds={"amazon", "postgres"},
        metadata={"tables": "raw_amazon.sp_sales_traffic_by_date, raw_amazon.sp_sales_traffic_by_asin"},
        description=__doc__,
    )
    def sp_sales_traffic(
        context: AssetExecutionContext, amazon: AmazonApiResource, warehouse: WarehouseResource
    ):
        md = run_marketplace_days(context)
        mkt = md.marketplace
        amazon.sp_credentials(mkt)  # fail fast, with the missing variable named, before any work
        ledger, landing = warehouse.ledger(), warehouse.landing()
        today = local_today(mkt)
        expected_date: dict[dt.date, int] = {}
        expected_asin: dict[dt.date, int] = {}
        loaded: list[dt.date] = []
        failures: list[str] = []
        unknown_fields: Counter[str] = Counter()
        limiter = warehouse.rate_limiter()
        with (
            contextlib.closing(limiter),
            LazyClient(lambda: amazon.sp_reports_client(mkt, limiter)) as client,
            warehouse.connect() as conn,
        ):
            for day in md.days:
                key = md.key_for(day)
                current: dict[str, Any] = {}
                try:
                    with failures_named(
                        f"sp_sales_traffic partition {key}", ledger, SP_SOURCE, current, mkt.region
                    ):
                        metadata = _load_day(
                            context, client, ledger, landing, conn, mkt, day, today, current, unknown_fields
                        )
                except dg.Failure as failure:
                    if len(md.days) == 1 or not is_partition_specific(failure):
                        raise
                    context.log.error(failure.description or str(failure))
                    failures.append(failure.description or str(failure))
                    continue
                if metadata["status"] == "DONE":
                    expected_date[day] = metadata["rows_by_date"]
                    expected_asin[day] = metadata["rows_by_asin"]
                    loaded.append(day)
                yield dg.AssetMaterialization(asset_key=context.asset_key, partition=key, metadata=metadata)
            yield sales_traffic_rows_match(conn, mkt, expected_date, expected_asin)
            yield sales_traffic_totals_match(conn, mkt, loaded)
        if unknown_fields:
            context.log.warning(
                f"schema drift in {REPORT_TYPE} for {mkt.code}: fields not in the official schema were ignored: "
                + ", ".join(sorted(unknown_fields))
            )
        if failures:
            raise dg.Failure(
                description=f"{len(failures)} of {len(md.days)} sales & traffic days failed ({md.describe()}); "
                "the other days were loaded. " + " | ".join(failures),
            )

    return sp_sales_traffic


def _load_day(
    context: AssetExecutionContext,
    client: LazyClient,
    ledger: Any,
    landing: Any,
    conn: Any,
    mkt: Marketplace,
    day: dt.date,
    today: dt.date,
    current: dict[str, Any],
    unknown_fields: Counter[str],
) -> dict[str, Any]:
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.sales_traffic import parse_sales_and_traffic
    from chalkola_pipelines.warehouse.partition_queries import sales_traffic_by_asin_rows_on_day
    from chalkola_pipelines.warehouse.sales_traffic_tables import replace_sales_traffic_day

    spec = sales_traffic_spec(mkt, day)
    outcome = fetch_sp_report(
        client=client,
        ledger=ledger,
        landing=landing,
        marketplace=mkt,
        spec=spec,
        max_age=reuse_max_age(day, today),
        log_fn=context.log.info,
    )
    current.update(report_id=outcome.report_id, path=outcome.path)
    metadata: dict[str, Any] = {"marketplace": mkt.code, "date": day.isoformat(), **outcome.metadata()}
    if outcome.status == "CANCELLED":
        kept = sales_traffic_by_asin_rows_on_day(conn, mkt.code, day)
        context.log.info(
            f"sp_sales_traffic {mkt.code} {day}: report {outcome.report_id} CANCELLED (Amazon has no data for "
            f"this day); partition materialised empty ({kept} rows from earlier loads kept)"
        )
        return {
            **metadata,
            "rows": 0,
            "rows_by_date": 0,
            "rows_by_asin": 0,
            "rows_kept_from_earlier_loads": int(kept),
            "note": "Amazon CANCELLED the report: no data for this day (or older than two years).",
        }
    assert outcome.path is not None
    with open_document(outcome.path) as stream:
        document = parse_sales_and_traffic(stream)
    unknown_fields.update(document.unknown_fields)
    expected_date = sum(1 for r in document.by_date if r.get("report_date") == day)
    n_date, n_asin = replace_sales_traffic_day(
        conn, marketplace=mkt, day=day, document=document, report_id=outcome.report_id
    )
    mark_loaded(ledger, SP_SOURCE, outcome.report_id, n_date + n_asin, mkt.region)
    return {
        **metadata,
        "rows": n_asin,
        "rows_by_date": expected_date,
        "rows_by_asin": len(document.by_asin),
        "rows_written_by_date": n_date,
        "unknown_fields": ", ".join(sorted(document.unknown_fields)) or "none",
    }
