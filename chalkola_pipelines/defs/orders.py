"""``sp_orders``: GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL, ONE report per Amazon region and window.

Amazon ignores ``marketplaceIds`` for this report: a document holds the orders of every marketplace of the
seller's account in the region, each row naming its marketplace only by ``sales-channel`` (amazon-facts §8.3).
So a run asks for the *region* window of its local days (``defs/order_windows``: every
configured marketplace of the region finds those days complete in it, UTC span ≤ 30 days — a 30-day run
across a DST change takes two reports), with ``marketplaceIds`` = the region's configured marketplaces; the
ledger and the landing store key it by region (scope ``NA`` / ``EU`` / ``FE``), so the region's other
marketplaces for the same days reuse the document instead of asking again (a lock on the request makes
concurrent runs create it once). A run covers one marketplace or, as the history backfill launches them, a
*region run*: the same days for several marketplaces of a region, loaded one after the other from the same
documents (one result per check, ``checks.merge_check_results``). The load routes rows by ``sales-channel`` (``warehouse/order_routing``): the
marketplace's own rows replace its day-partitions of ``raw_amazon.sp_order_items`` (one transaction),
``Non-Amazon`` (multi-channel fulfilment) rows replace the region's ``raw_amazon.sp_mcf_order_items`` of the
window in the same transaction, rows of other configured marketplaces are left to their own run, channels
the seller has not configured are counted in the metadata, an unknown channel fails the partitions.

Orders change status after purchase: the nightly schedule reloads the last 7 days. A CANCELLED report (no
orders in the window, or older than two years) ends as successful partitions with ``status: CANCELLED`` and
0 rows loaded, rows loaded earlier left as they are — unless the days should have orders
(``defs/cancelled_reports``): then the partitions fail, the check WARNs, and the next run asks again.
"""

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from chalkola_pipelines.amazon.sp_reports import ReportSpec
from chalkola_pipelines.defs.cancelled_reports import CancelledPolicy
from chalkola_pipelines.defs.checks import (
    ORDERS_CHECK_SPECS,
    merge_check_results,
    order_sales_channels_match,
    order_units_match_sales_traffic,
    rows_match_document,
)
from chalkola_pipelines.defs.empty_day_checks import empty_days_plausible
from chalkola_pipelines.defs.jobs import MAX_DAYS_PER_RUN, RAW_GROUP, SP_ORDERS, raw_backfill_policy
from chalkola_pipelines.defs.order_windows import (
    END_SAFETY,
    FuturePartitionError,
    OrderWindowError,
    RegionWindow,
    check_span,
    clipped_to_now,
    region_marketplaces,
    region_window,
    region_windows,
)
from chalkola_pipelines.defs.partitions import MARKETPLACE_DIM, MarketplaceDays, run_marketplace_groups
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
from chalkola_pipelines.defs.resources import AmazonApiResource, WarehouseResource
from chalkola_pipelines.marketplaces import Marketplace, get_marketplace
from chalkola_pipelines.warehouse.partition_queries import (
    order_item_rows_on_day,
    order_item_rows_per_day,
    sales_traffic_units_per_day,
)

REPORT_TYPE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
MAX_DAYS_PER_REPORT = MAX_DAYS_PER_RUN[SP_ORDERS]
POOL = "amazon_sp_reports"
__all__ = ["END_SAFETY", "FuturePartitionError", "build_sp_orders", "orders_spec", "orders_units"]


def orders_window(
    marketplace: Marketplace,
    first: dt.date,
    last: dt.date,
    now: dt.datetime | None = None,
    region: Sequence[Marketplace] | None = None,
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end] (inclusive, UTC) of the order report covering local days first..last in every marketplace
    of ``region`` (default: ``marketplace`` alone), never ending in the future."""
    window = clipped_to_now(region_window(list(region or [marketplace]), first, last), now)
    return window.start, window.end


def orders_spec(
    marketplace: Marketplace,
    first: dt.date,
    last: dt.date,
    now: dt.datetime | None = None,
    region: Sequence[Marketplace] | None = None,
) -> ReportSpec:
    """The createReport body of one region window (``marketplaceIds`` = the region's marketplaces)."""
    mkts = list(region or [marketplace])
    start, end = orders_window(marketplace, first, last, now, mkts)
    return ReportSpec(
        report_type=REPORT_TYPE,
        marketplace_ids=tuple(m.marketplace_id for m in mkts),
        data_start_time=start,
        data_end_time=end,
    )


def build_sp_orders(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset, on the shared marketplace × date partitions (whose marketplaces are the seller's)."""
    configured = _configured_marketplaces(partitions_def)

    @dg.asset(
        name=SP_ORDERS,
        group_name=RAW_GROUP,
        partitions_def=partitions_def,
        backfill_policy=raw_backfill_policy(),
        pool=POOL,
        output_required=False,
        check_specs=ORDERS_CHECK_SPECS,
        kinds={"amazon", "postgres"},
        metadata={"tables": "raw_amazon.sp_order_items, raw_amazon.sp_mcf_order_items"},
        description=__doc__,
    )
    def sp_orders(context: AssetExecutionContext, amazon: AmazonApiResource, warehouse: WarehouseResource):
        groups = run_marketplace_groups(context)  # one marketplace, or a region run's marketplaces
        for md in groups:
            amazon.sp_credentials(md.marketplace)  # fail fast, with the missing variable named
        summaries: list[tuple[MarketplaceDays, RunSummary]] = []
        with (
            database_failures_named(f"sp_orders {', '.join(md.describe() for md in groups)}"),
            contextlib.closing(warehouse.rate_limiter()) as limiter,
            LazyClient(lambda: amazon.sp_reports_client(groups[0].marketplace, limiter)) as client,
            warehouse.connect() as conn,
        ):
            # a region run: the first marketplace's units create (or reuse) the region's reports, the others
            # find them in the ledger and re-parse the landed documents without a call
            for md in groups:
                mkt, summary = md.marketplace, RunSummary()
                yield from run_units(
                    context,
                    units=orders_units(md, local_today(mkt), configured=configured),
                    client=client,
                    ledger=warehouse.ledger(),
                    landing=warehouse.landing(),
                    load=lambda unit, outcome: _load(conn, unit, outcome, configured),
                    kept_rows=lambda day, mkt=mkt: _kept_rows(conn, mkt, day),
                    no_data_note="Amazon CANCELLED the report: no orders in this window (or older than two years).",
                    summary=summary,
                    cancelled=CancelledPolicy(
                        conn,
                        local_today(mkt),
                        order_item_rows_per_day,
                        ("units ordered in sales & traffic", sales_traffic_units_per_day),
                    ),  # fmt: skip
                )
                summaries.append((md, summary))
            yield from _checks(conn, summaries)
        for md, summary in summaries:
            summary.raise_if_failed("order report windows", md)

    return sp_orders


def _checks(conn: Any, summaries: list[tuple[MarketplaceDays, RunSummary]]) -> Iterator[dg.AssetCheckResult]:
    """The asset's four checks for every marketplace of the run, one result per check."""
    rows, channels, units, empty = [], [], [], []
    for md, summary in summaries:
        mkt, days = md.marketplace, sorted(summary.expected)
        rows.append((mkt.code, rows_match_document(
            asset=SP_ORDERS, conn=conn, table_counts=order_item_rows_per_day, marketplace=mkt,
            expected=summary.expected,
        )))  # fmt: skip
        channels.append((mkt.code, order_sales_channels_match(conn, mkt, days)))
        units.append((mkt.code, order_units_match_sales_traffic(conn, mkt, days)))
        empty.append((mkt.code, empty_days_plausible(
            asset=SP_ORDERS, conn=conn, marketplace=mkt, empty=summary.empty,
            rows_per_day=order_item_rows_per_day, today=local_today(mkt),
            corroborating=("units ordered in sales & traffic", sales_traffic_units_per_day),
            reasked=summary.reasked,
        )))  # fmt: skip
    for results in (rows, channels, units, empty):
        yield merge_check_results(results)


def _configured_marketplaces(partitions_def: dg.PartitionsDefinition) -> list[Marketplace]:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        codes = partitions_def.get_partitions_def_for_dimension(MARKETPLACE_DIM).get_partition_keys()
        return [get_marketplace(code) for code in codes]
    return []


def orders_units(
    md: MarketplaceDays,
    today: dt.date,
    now: dt.datetime | None = None,
    *,
    configured: Sequence[Marketplace] = (),
) -> list[Unit]:
    """One report per region window of the run's days (``order_windows.region_windows``); a window not
    started yet, or one Amazon would refuse, fails the run naming it before anything is requested."""
    mkt = md.marketplace
    region = region_marketplaces(mkt, configured)
    region_scope = mkt.region.upper()
    units: list[Unit] = []
    for full in region_windows(region, md.days):
        chunk = MarketplaceDays(mkt, tuple(d for d in md.days if full.first <= d <= full.last))
        try:
            window = clipped_to_now(full, now)
            check_span(window)
        except (FuturePartitionError, OrderWindowError) as exc:
            raise dg.Failure(description=f"sp_orders {chunk.describe()}: {exc}", allow_retries=False) from exc
        spec = _spec(window, region)
        request = LedgerRequest(
            source=SP_SOURCE,
            report_type=REPORT_TYPE,
            region=mkt.region,
            window_start=spec.data_start_time,
            window_end=spec.data_end_time,
            options=spec.report_options,
            marketplace=",".join(m.code for m in region),
            region_scope=region_scope,
        )
        units.append(
            Unit(
                spec,
                request,
                chunk,
                f"sp_orders {chunk.describe()} (region {region_scope} report {full.first}..{full.last})",
                window.describe(),
                reuse_max_age(chunk.last, today),
            )
        )
    return units


def _spec(window: RegionWindow, region: Sequence[Marketplace]) -> ReportSpec:
    return ReportSpec(
        report_type=REPORT_TYPE,
        marketplace_ids=tuple(m.marketplace_id for m in region),
        data_start_time=window.start,
        data_end_time=window.end,
    )


def _kept_rows(conn: Any, mkt: Marketplace, day: dt.date) -> int:
    return order_item_rows_on_day(conn, mkt.code, day)


def _load(conn: Any, unit: Unit, outcome: ReportOutcome, configured: Sequence[Marketplace]) -> Loaded:
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.orders_report import iter_order_report_rows
    from chalkola_pipelines.warehouse.order_routing import OrderRouting
    from chalkola_pipelines.warehouse.order_tables import replace_order_items

    chunk = unit.days
    spec: ReportSpec = unit.job
    routing = OrderRouting.for_document(
        chunk.marketplace, configured, (spec.data_start_time, spec.data_end_time)
    )
    with open_document(outcome.path) as stream:
        # The parser's own iterator goes to the loader untouched (its pyarrow fast path). The loader counts
        # the rows it reads from the document per local day while parsing, before COPY: the exact ERROR
        # check then compares the table with those document counts.
        rows = iter_order_report_rows(stream)
        written = replace_order_items(
            conn,
            marketplace=chunk.marketplace,
            days=list(chunk.days),
            rows=rows,
            report_id=outcome.report_id,
            routing=routing,
        )
    routed = written.routed.metadata()
    drift = list(rows.drift_columns)
    if drift:
        dg.get_dagster_logger().warning(
            f"{unit.label}: report {outcome.report_id} has {len(drift)} column(s) that are neither in the "
            f"catalogue nor on the allowlist of non-personal columns (schema drift), not stored: {', '.join(drift)}. "
            "If one carries no personal data, add it to report_columns.ORDER_REPORT_EXTRA_ALLOWED."
        )
    if written.routed.unconfigured:
        context_note = (
            f"{unit.label}: report {outcome.report_id} has rows of sales channels the seller has not configured "
            f"(not loaded): {routed['rows_of_unconfigured_sales_channels']}; add them to CHALKOLA_MARKETPLACES "
            "to load them."
        )
        dg.get_dagster_logger().warning(context_note)
    per_day = {
        day: {
            "report_days": f"{chunk.first}..{chunk.last}",
            "report_scope": f"region {unit.request.scope}",
            "rows": written[day],
            "rows_in_report_outside_run": written.ignored,
            "schema_drift_columns": ", ".join(drift) or "none",
            "schema_drift_column_count": len(drift),
            **routed,
        }
        for day in chunk.days
    }
    return Loaded(per_day, {day: written.get(day, 0) for day in chunk.days}, sum(written.values()))
