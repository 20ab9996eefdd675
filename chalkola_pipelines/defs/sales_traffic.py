"""``sp_sales_traffic``: daily sales & traffic per marketplace and child ASIN, from Data Kiosk or the report.

``CHALKOLA_SALES_TRAFFIC_SOURCE`` (resource ``sales_traffic_source``): ``auto`` (default) uses Data Kiosk
(``defs/sales_traffic_kiosk``: a few queries per region serve every marketplace and day of a run) and, when
Amazon answers 403 (the app lacks the Brand Analytics role), falls back to the report with one warning, and
remembers it for 24 hours (``warehouse/api_access``); ``data_kiosk`` fails instead of falling back;
``reports`` always uses the report. Rows say which (``source``, ``report_id`` = report or query id).

The report path: since 2026-04-24 Amazon meters GET_SALES_AND_TRAFFIC_REPORT per seller (4 an hour, 96 a
day, every region together: amazon-facts §8.1); the HTTP layer paces createReport with that meter, days are
asked newest first, and days beyond today's allowance are deferred (logged, an ``AssetObservation`` with
``status: DEFERRED``). A multi-day report aggregates byAsin over the whole range, so a range run still asks one report per day
(asinGranularity CHILD, dateGranularity DAY, window ``YYYY-MM-DDT00:00:00Z..YYYY-MM-DDT23:59:59Z`` of the
local day — Amazon reads only the date part). Writes ``raw_amazon.sp_sales_traffic_by_date`` and
``_by_asin``, one transaction per day. A CANCELLED report (no data, e.g. more than two years ago) ends as a
successful partition with ``status: CANCELLED`` and 0 rows loaded, rows loaded earlier left as they are —
unless the day should have data (``defs/cancelled_reports``): then it fails and the next run asks again.
"""

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from chalkola_pipelines.amazon.errors import DataKioskAccessDeniedError
from chalkola_pipelines.amazon.sp_reports import ReportSpec
from chalkola_pipelines.defs.cancelled_reports import CancelledPolicy
from chalkola_pipelines.defs.checks import (
    SALES_TRAFFIC_CHECK_SPECS,
    merge_check_results,
    sales_traffic_rows_match,
    sales_traffic_totals_match,
)
from chalkola_pipelines.defs.empty_day_checks import empty_days_plausible
from chalkola_pipelines.defs.jobs import RAW_GROUP, SP_SALES_TRAFFIC, raw_backfill_policy
from chalkola_pipelines.defs.partitions import MarketplaceDays, run_marketplace_groups
from chalkola_pipelines.defs.report_errors import database_failures_named
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
from chalkola_pipelines.defs.resources import AmazonApiResource, ConfigurationFailure, WarehouseResource
from chalkola_pipelines.defs.sales_traffic_kiosk import DK_SOURCE, load_from_data_kiosk
from chalkola_pipelines.marketplaces import Marketplace, iso_z
from chalkola_pipelines.warehouse.api_access import (
    access_denied_recently,
    forget_access_denied,
    remember_access_denied,
)
from chalkola_pipelines.warehouse.partition_queries import (
    order_item_rows_per_day,
    sales_traffic_by_asin_rows_per_day,
)

REPORT_TYPE = "GET_SALES_AND_TRAFFIC_REPORT"
REPORT_OPTIONS = {"dateGranularity": "DAY", "asinGranularity": "CHILD"}
#: its own pool: a Data Kiosk step waits on Amazon's query processing (minutes to hours) and must not hold
#: the slots of the order steps (``amazon_sp_reports``)
POOL = "amazon_sales_traffic"


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
        backfill_policy=raw_backfill_policy(),
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
        groups = run_marketplace_groups(context)  # one marketplace, or a region run's marketplaces
        for md in groups:
            amazon.sp_credentials(
                md.marketplace
            )  # fail fast, with the missing variable named, before any work
        source = amazon.sales_traffic_source_setting()
        unknown_fields: Counter[str] = Counter()
        summaries: list[tuple[MarketplaceDays, RunSummary]] = []
        what = "sp_sales_traffic " + ", ".join(md.describe() for md in groups)
        with (
            database_failures_named(what),
            contextlib.closing(warehouse.rate_limiter()) as limiter,
            warehouse.connect() as conn,
        ):
            use_kiosk = source != "reports" and not _kiosk_denied_recently(
                context, conn, groups[0].marketplace, source
            )
            for md in groups:
                mkt, summary = md.marketplace, RunSummary()
                today = local_today(mkt)
                if use_kiosk:
                    try:
                        with LazyClient(lambda mkt=mkt: amazon.data_kiosk_client(mkt, limiter)) as client:
                            yield from load_from_data_kiosk(
                                context, md=md, client=client, warehouse=warehouse, conn=conn, today=today,
                                summary=summary, unknown_fields=unknown_fields,
                            )  # fmt: skip
                        forget_access_denied(conn, DK_SOURCE, mkt.region)
                    except dg.Failure as failure:
                        denied = failure.__cause__
                        if not isinstance(denied, DataKioskAccessDeniedError):
                            raise
                        _kiosk_refused(context, conn, mkt, source, denied)
                        use_kiosk, summary = False, RunSummary()
                if not use_kiosk:
                    yield from _load_reports(
                        context, md, amazon, warehouse, conn, limiter, today, summary, unknown_fields
                    )
                summaries.append((md, summary))
            yield from _checks(conn, summaries)
        if unknown_fields:
            codes = ", ".join(md.marketplace.code for md in groups)
            context.log.warning(
                f"schema drift in sales & traffic for {codes}: fields not in the official schema were ignored: "
                + ", ".join(sorted(unknown_fields))
            )
        for md, summary in summaries:
            summary.raise_if_failed("sales & traffic days", md)

    return sp_sales_traffic


def _checks(conn: Any, summaries: list[tuple[MarketplaceDays, RunSummary]]) -> Iterator[dg.AssetCheckResult]:
    """The asset's three checks for every marketplace of the run, one result per check."""
    rows, totals, empty = [], [], []
    for md, summary in summaries:
        mkt = md.marketplace
        expected = summary.expected
        rows.append((mkt.code, sales_traffic_rows_match(
            conn, mkt, {d: n for d, (n, _) in expected.items()}, {d: n for d, (_, n) in expected.items()}
        )))  # fmt: skip
        totals.append((mkt.code, sales_traffic_totals_match(conn, mkt, summary.loaded)))
        empty.append((mkt.code, empty_days_plausible(
            asset=SP_SALES_TRAFFIC, conn=conn, marketplace=mkt, empty=summary.empty,
            rows_per_day=sales_traffic_by_asin_rows_per_day, today=local_today(mkt),
            corroborating=("order report rows", order_item_rows_per_day), reasked=summary.reasked,
        )))  # fmt: skip
    for results in (rows, totals, empty):
        yield merge_check_results(results)


def _load_reports(
    context: AssetExecutionContext,
    md: MarketplaceDays,
    amazon: AmazonApiResource,
    warehouse: WarehouseResource,
    conn: Any,
    limiter: Any,
    today: dt.date,
    summary: RunSummary,
    unknown_fields: Counter[str],
) -> Iterator[dg.AssetMaterialization]:
    """The report path: one single-day report per day, newest first, within the per-seller allowance."""
    mkt = md.marketplace
    days = sorted(md.days, reverse=True)  # the most recent days are the most valuable
    allowance = _daily_report_allowance(limiter)
    if allowance is not None and len(days) > allowance:
        deferred = sorted(days[allowance:])
        days = days[:allowance]
        context.log.warning(
            f"sp_sales_traffic {md.describe()}: Amazon allows {allowance} more sales & traffic report(s) today "
            f"(96 a day per seller, amazon-facts §8.1): deferred {len(deferred)} day(s) "
            f"{', '.join(d.isoformat() for d in deferred)} to a later run (newest days first)."
        )
        for day in deferred:
            yield dg.AssetObservation(
                asset_key=context.asset_key,
                partition=md.key_for(day),
                metadata={"status": "DEFERRED", "note": "the seller's daily S&T report allowance is used up"},
            )
    with LazyClient(lambda: amazon.sp_reports_client(mkt, limiter)) as client:
        yield from run_units(
            context,
            units=[sales_traffic_unit(md, day, today) for day in days],
            client=client,
            ledger=warehouse.ledger(),
            landing=warehouse.landing(),
            load=lambda unit, outcome: _load_day(conn, unit, outcome, unknown_fields),
            kept_rows=lambda day: _kept_rows(conn, mkt, day),
            no_data_note="Amazon CANCELLED the report: no data for this day (or older than two years).",
            summary=summary,
            cancelled=CancelledPolicy(
                conn,
                today,
                sales_traffic_by_asin_rows_per_day,
                ("order report rows", order_item_rows_per_day),
            ),
        )


def _daily_report_allowance(limiter: Any) -> int | None:
    """Reports the seller's daily S&T meter still allows (None: unknown, e.g. no shared limiter yet)."""
    from chalkola_pipelines.amazon.token_buckets import bucket_name

    tokens = getattr(limiter, "tokens", None)
    value = tokens(bucket_name("sp", "seller", f"createReport:{REPORT_TYPE}") + ":daily") if tokens else None
    return None if value is None else max(0, int(value))


def _kiosk_denied_recently(context: AssetExecutionContext, conn: Any, mkt: Marketplace, source: str) -> bool:
    if source != "auto":
        return False
    denied = access_denied_recently(conn, DK_SOURCE, mkt.region)
    if denied is not None:
        context.log.info(
            f"sp_sales_traffic {mkt.code}: Data Kiosk refused this app in {mkt.region.upper()} at "
            f"{denied[0]:%Y-%m-%d %H:%M} UTC (no Brand Analytics role): using the S&T report; Data Kiosk is asked "
            "again after 24 hours."
        )
    return denied is not None


def _kiosk_refused(
    context: AssetExecutionContext, conn: Any, mkt: Marketplace, source: str, exc: Exception
) -> None:
    todo = (
        "add the Brand Analytics role to the app (Solution Provider Portal → app → edit roles), have the seller "
        "re-authorise it, then re-run"
    )
    if source == "data_kiosk":
        raise ConfigurationFailure(
            f"sp_sales_traffic {mkt.code}: Data Kiosk refused the app ({exc}). CHALKOLA_SALES_TRAFFIC_SOURCE="
            f"data_kiosk allows no fallback: {todo}, or set CHALKOLA_SALES_TRAFFIC_SOURCE=auto."
        ) from exc
    remember_access_denied(conn, DK_SOURCE, mkt.region, str(exc))
    context.log.warning(
        f"sp_sales_traffic {mkt.code}: Data Kiosk refused the app in {mkt.region.upper()} — it lacks the Brand "
        f"Analytics role. Falling back to single-day S&T reports (4 an hour, 96 a day per seller: slow for "
        f"history). To use Data Kiosk: {todo}. This is said once; Data Kiosk is asked again after 24 hours."
    )


def sales_traffic_unit(md: MarketplaceDays, day: dt.date, today: dt.date) -> Unit:
    """The single-day report of one partition."""
    mkt = md.marketplace
    spec = sales_traffic_spec(mkt, day)
    request = LedgerRequest(
        source=SP_SOURCE,
        report_type=REPORT_TYPE,
        region=mkt.region,
        window_start=spec.data_start_time,
        window_end=spec.data_end_time,
        options=spec.report_options,
        marketplace=mkt.code,
    )
    return Unit(
        job=spec,
        request=request,
        days=MarketplaceDays(mkt, (day,)),
        label=f"sp_sales_traffic partition {md.key_for(day)}",
        window=f"{iso_z(spec.data_start_time)}..{iso_z(spec.data_end_time)}",
        max_age=reuse_max_age(day, today),
    )


def _kept_rows(conn: Any, mkt: Marketplace, day: dt.date) -> int:
    from chalkola_pipelines.warehouse.partition_queries import sales_traffic_by_asin_rows_on_day

    return sales_traffic_by_asin_rows_on_day(conn, mkt.code, day)


def _load_day(conn: Any, unit: Unit, outcome: ReportOutcome, unknown_fields: Counter[str]) -> Loaded:
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.sales_traffic import parse_sales_and_traffic
    from chalkola_pipelines.warehouse.sales_traffic_tables import replace_sales_traffic_day

    (day,) = unit.days.days
    assert outcome.path is not None
    with open_document(outcome.path) as stream:
        document = parse_sales_and_traffic(stream)
    unknown_fields.update(document.unknown_fields)
    expected_date = sum(1 for r in document.by_date if r.get("report_date") == day)
    n_date, n_asin = replace_sales_traffic_day(
        conn, marketplace=unit.days.marketplace, day=day, document=document, report_id=outcome.report_id
    )
    metadata = {
        "rows": n_asin,
        "rows_by_date": expected_date,
        "rows_by_asin": len(document.by_asin),
        "rows_written_by_date": n_date,
        "unknown_fields": ", ".join(sorted(document.unknown_fields)) or "none",
    }
    return Loaded({day: metadata}, {day: (expected_date, len(document.by_asin))}, n_date + n_asin)
