"""Asset checks of the raw assets, evaluated inside the asset's step for exactly the days it loaded.

Two kinds (see DESIGN.md, "Real data does not reconcile exactly"):
- Amazon vs Amazon (tolerance, WARN): S&T byDate totals vs the sum over byAsin (real reports differ by
  ~0.3 %); Ads attributed sales vs S&T ordered sales per ASIN-day. They inform the operator, never fail a load.
- our table vs the document we loaded (exact, ERROR): the rows in Postgres for each loaded partition
  equal the rows counted in the parsed document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

import dagster as dg
import psycopg

from chalkola_pipelines.defs.empty_day_checks import empty_days_spec
from chalkola_pipelines.defs.jobs import ADS_SP_ADVERTISED_PRODUCT, SP_ORDERS, SP_SALES_TRAFFIC
from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.warehouse.partition_queries import (
    RowsPerDay,
    ads_attributed_and_ordered_sales_per_asin_day,
    order_and_sales_traffic_units_per_asin_day,
    order_item_rows_of_other_sales_channels,
    sales_traffic_by_asin_rows_per_day,
    sales_traffic_by_date_rows_per_day,
    sales_traffic_totals_per_day,
)

ROWS_MATCH_DOCUMENT = "rows_match_document"
ST_TOTALS_MATCH = "by_date_totals_match_by_asin"
ADS_WITHIN_ORDERED = "attributed_sales_within_ordered_sales"
ORDER_SALES_CHANNEL = "sales_channel_matches_marketplace"
ORDER_UNITS_MATCH = "order_units_match_sales_traffic_units"
ORDER_UNITS_TOLERANCE = Decimal("0.10")  # relative, per ASIN-day
ORDER_UNITS_SLACK = 2  # absolute units per ASIN-day (late cancellations, restatements)

ST_TOTALS_TOLERANCE = Decimal("0.02")  # relative; measured on a real US report: +0.34 % sales, +0.34 % units
ST_TOTALS_SLACK = Decimal("1")  # absolute slack for tiny days (1 unit, 1.00 of currency)
ST_TOTAL_METRICS = ("ordered_product_sales", "units_ordered", "total_order_items", "sessions", "page_views")


def _rows_spec(asset: str, what: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        ROWS_MATCH_DOCUMENT,
        asset=asset,
        description=f"Exact: the rows in {what} for every partition loaded by the run equal the rows of the "
        "parsed report document (ERROR).",
    )


SALES_TRAFFIC_CHECK_SPECS = [
    _rows_spec(SP_SALES_TRAFFIC, "raw_amazon.sp_sales_traffic_by_date / _by_asin"),
    empty_days_spec(SP_SALES_TRAFFIC),
    dg.AssetCheckSpec(
        ST_TOTALS_MATCH,
        asset=SP_SALES_TRAFFIC,
        description="Amazon's own byDate totals (sales, units, order items, sessions, page views) equal the sum "
        f"over byAsin within {ST_TOTALS_TOLERANCE:.0%} (WARN: real reports differ by ~0.3 %).",
    ),
]
ORDERS_CHECK_SPECS = [
    _rows_spec(SP_ORDERS, "raw_amazon.sp_order_items"),
    empty_days_spec(SP_ORDERS),
    dg.AssetCheckSpec(
        ORDER_SALES_CHANNEL,
        asset=SP_ORDERS,
        description="Exact: every order item loaded under a marketplace's partitions has that marketplace's "
        "sales-channel (Amazon.com for US …): Amazon's order report holds the whole region, a row stamped with "
        "the wrong marketplace would count it twice (ERROR).",
    ),
    dg.AssetCheckSpec(
        ORDER_UNITS_MATCH,
        asset=SP_ORDERS,
        description="Per ASIN-day, units in the order report equal the S&T units ordered within "
        f"{ORDER_UNITS_TOLERANCE:.0%} or {ORDER_UNITS_SLACK} units (WARN: two Amazon sources; only days whose "
        "S&T is loaded are compared). A marketplace counting its region's orders shows up here at once.",
    ),
]
ADS_CHECK_SPECS = [
    _rows_spec(ADS_SP_ADVERTISED_PRODUCT, "raw_amazon.ads_sp_advertised_product"),
    dg.AssetCheckSpec(
        ADS_WITHIN_ORDERED,
        asset=ADS_SP_ADVERTISED_PRODUCT,
        description="Per ASIN-day, ad-attributed sales (same SKU, 7 d; else all 7 d) do not exceed the S&T "
        "ordered sales of that ASIN (WARN: attribution windows can legitimately shift sales across days).",
    ),
]


def _days_label(days: Sequence[dt.date]) -> str:
    if not days:
        return "-"
    return days[0].isoformat() if len(days) == 1 else f"{min(days).isoformat()}..{max(days).isoformat()}"


def rows_match_document(
    *,
    asset: str,
    conn: psycopg.Connection,
    table_counts: RowsPerDay,
    marketplace: Marketplace,
    expected: Mapping[dt.date, int],
) -> dg.AssetCheckResult:
    """ERROR check: the table's rows per day (``table_counts(conn, marketplace code, days)``, a function of
    ``warehouse.partition_queries``) equal ``expected`` (rows per day counted while parsing the document)."""
    days = sorted(expected)
    if not days:
        return dg.AssetCheckResult(
            asset_key=asset,
            check_name=ROWS_MATCH_DOCUMENT,
            passed=True,
            metadata={"days_checked": 0, "note": "no partition was loaded from a document in this run"},
        )
    actual = table_counts(conn, marketplace.code, days)
    mismatches = {
        d.isoformat(): f"table {actual.get(d, 0)} vs document {expected[d]}"
        for d in days
        if actual.get(d, 0) != expected[d]
    }
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=ROWS_MATCH_DOCUMENT,
        passed=not mismatches,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "marketplace": marketplace.code,
            "days": _days_label(days),
            "days_checked": len(days),
            "document_rows": sum(expected.values()),
            "table_rows": sum(actual.get(d, 0) for d in days),
            "mismatches": mismatches or "none",
        },
    )


def sales_traffic_rows_match(
    conn: psycopg.Connection,
    marketplace: Marketplace,
    expected_by_date: Mapping[dt.date, int],
    expected_by_asin: Mapping[dt.date, int],
) -> dg.AssetCheckResult:
    """ERROR check over both S&T tables."""
    by_asin = rows_match_document(
        asset=SP_SALES_TRAFFIC,
        conn=conn,
        table_counts=sales_traffic_by_asin_rows_per_day,
        marketplace=marketplace,
        expected=expected_by_asin,
    )
    by_date = rows_match_document(
        asset=SP_SALES_TRAFFIC,
        conn=conn,
        table_counts=sales_traffic_by_date_rows_per_day,
        marketplace=marketplace,
        expected=expected_by_date,
    )
    metadata = {f"by_asin_{k}": v for k, v in by_asin.metadata.items()}
    metadata.update({f"by_date_{k}": v for k, v in by_date.metadata.items()})
    return dg.AssetCheckResult(
        asset_key=SP_SALES_TRAFFIC,
        check_name=ROWS_MATCH_DOCUMENT,
        passed=by_asin.passed and by_date.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
    )


def sales_traffic_totals_match(
    conn: psycopg.Connection, marketplace: Marketplace, days: Sequence[dt.date]
) -> dg.AssetCheckResult:
    """WARN check: byDate totals vs sum over byAsin per day, within ``ST_TOTALS_TOLERANCE``."""
    if not days:
        return dg.AssetCheckResult(
            asset_key=SP_SALES_TRAFFIC, check_name=ST_TOTALS_MATCH, passed=True, metadata={"days_checked": 0}
        )
    n = len(ST_TOTAL_METRICS)
    worst = Decimal(0)
    deviations: dict[str, str] = {}
    checked = 0
    for row in sales_traffic_totals_per_day(conn, marketplace.code, days, ST_TOTAL_METRICS):
        checked += 1
        day = row[0]
        for i, metric in enumerate(ST_TOTAL_METRICS):
            total, summed = row[1 + i], row[1 + n + i]
            if total is None:
                continue
            total, summed = Decimal(total), Decimal(summed)
            diff = abs(total - summed)
            relative = diff / abs(total) if total else (Decimal(0) if diff == 0 else Decimal(1))
            worst = max(worst, relative if diff > ST_TOTALS_SLACK else Decimal(0))
            if diff > ST_TOTALS_SLACK and relative > ST_TOTALS_TOLERANCE:
                deviations[f"{day.isoformat()} {metric}"] = (
                    f"byDate {total} vs byAsin {summed} ({relative:.2%})"
                )
    return dg.AssetCheckResult(
        asset_key=SP_SALES_TRAFFIC,
        check_name=ST_TOTALS_MATCH,
        passed=not deviations,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "marketplace": marketplace.code,
            "days": _days_label(days),
            "days_checked": checked,
            "tolerance": f"{ST_TOTALS_TOLERANCE:.0%}",
            "largest_relative_difference": f"{worst:.3%}",
            "deviations": deviations or "none",
        },
    )


def ads_within_ordered_sales(
    conn: psycopg.Connection, marketplace: Marketplace, days: Sequence[dt.date]
) -> dg.AssetCheckResult:
    """WARN check: ad-attributed sales ≤ S&T ordered sales per ASIN-day (days with S&T loaded only)."""
    rows = ads_attributed_and_ordered_sales_per_asin_day(conn, marketplace.code, days)
    over = [(d, asin, a, o) for d, asin, a, o in rows if Decimal(a) > Decimal(o)]
    sample = {f"{d.isoformat()} {asin}": f"attributed {a} > ordered {o}" for d, asin, a, o in over[:20]}
    return dg.AssetCheckResult(
        asset_key=ADS_SP_ADVERTISED_PRODUCT,
        check_name=ADS_WITHIN_ORDERED,
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "marketplace": marketplace.code,
            "days": _days_label(days),
            "asin_days_compared": len(rows),
            "asin_days_over": len(over),
            "examples": sample or "none",
            "note": "only days whose S&T report is loaded are compared",
        },
    )


def order_sales_channels_match(
    conn: psycopg.Connection, marketplace: Marketplace, days: Sequence[dt.date]
) -> dg.AssetCheckResult:
    """ERROR check: no order item under the marketplace's loaded ``days`` has another sales channel."""
    other = order_item_rows_of_other_sales_channels(conn, marketplace.code, marketplace.sales_channel, days)
    return dg.AssetCheckResult(
        asset_key=SP_ORDERS,
        check_name=ORDER_SALES_CHANNEL,
        passed=not other,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "marketplace": marketplace.code,
            "sales_channel": marketplace.sales_channel,
            "days": _days_label(days),
            "days_checked": len(days),
            "rows_of_other_sales_channels": sum(other.values()),
            "other_sales_channels": ", ".join(f"{k}: {v}" for k, v in other.items()) or "none",
        },
    )


def order_units_match_sales_traffic(
    conn: psycopg.Connection, marketplace: Marketplace, days: Sequence[dt.date]
) -> dg.AssetCheckResult:
    """WARN check: order-report units vs S&T units ordered per ASIN-day (days with S&T loaded only)."""
    rows = order_and_sales_traffic_units_per_asin_day(conn, marketplace.code, days)
    over = [
        (d, asin, o, s)
        for d, asin, o, s in rows
        if abs(o - s) > ORDER_UNITS_SLACK and Decimal(abs(o - s)) > ORDER_UNITS_TOLERANCE * max(o, s)
    ]
    order_units, st_units = sum(r[2] for r in rows), sum(r[3] for r in rows)
    return dg.AssetCheckResult(
        asset_key=SP_ORDERS,
        check_name=ORDER_UNITS_MATCH,
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "marketplace": marketplace.code,
            "days": _days_label(days),
            "asin_days_compared": len(rows),
            "asin_days_over_tolerance": len(over),
            "order_report_units": order_units,
            "sales_traffic_units": st_units,
            "examples": {f"{d.isoformat()} {a}": f"orders {o} vs S&T {s}" for d, a, o, s in over[:20]}
            or "none",
            "note": "only days whose S&T report is loaded are compared",
        },
    )


def merge_check_results(results: Sequence[tuple[str, dg.AssetCheckResult]]) -> dg.AssetCheckResult:
    """One result per check and run (Dagster accepts each check once per step) for a region run's
    marketplaces: passed if all passed, the failed ones' severity, metadata keyed by marketplace code."""
    if len(results) == 1:
        return results[0][1]
    first = results[0][1]
    failed = [(code, r) for code, r in results if not r.passed]
    metadata: dict[str, object] = {"marketplaces": ", ".join(code for code, _ in results)}
    for code, result in results:
        metadata.update({f"{code}: {key}": value for key, value in (result.metadata or {}).items()})
    return dg.AssetCheckResult(
        asset_key=first.asset_key,
        check_name=first.check_name,
        passed=not failed,
        severity=failed[0][1].severity if failed else first.severity,
        metadata=metadata,
        description=" | ".join(f"{code}: {r.description}" for code, r in failed if r.description) or None,
    )
