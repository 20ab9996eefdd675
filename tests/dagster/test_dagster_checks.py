"""Asset-check functions against real Postgres rows (the embedded server, a marketplace-day no one else uses)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import dagster as dg
import psycopg
import pytest

from chalkola_pipelines.defs.checks import (
    ads_within_ordered_sales,
    rows_match_document,
    sales_traffic_rows_match,
    sales_traffic_totals_match,
)
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse.partition_queries import ads_advertised_product_rows_per_day

pytestmark = pytest.mark.integration

SG = get_marketplace("SG")
DAY = dt.date(2001, 2, 3)


@pytest.fixture
def conn(pg_url: str):
    with psycopg.connect(pg_url, autocommit=True) as c:
        _clean(c)
        yield c
        _clean(c)


def _clean(c: psycopg.Connection) -> None:
    for table in ("sp_sales_traffic_by_date", "sp_sales_traffic_by_asin", "ads_sp_advertised_product"):
        c.execute(f"delete from raw_amazon.{table} where marketplace = 'SG' and report_date = %s", (DAY,))


def _st(c: psycopg.Connection, total_sales: str, asin_sales: list[str], units: int = 10) -> None:
    c.execute(
        "insert into raw_amazon.sp_sales_traffic_by_date (marketplace, marketplace_id, report_date, currency_code, "
        "ordered_product_sales, units_ordered, total_order_items, sessions, page_views, report_id) "
        "values ('SG', %s, %s, 'SGD', %s, %s, %s, 100, 200, 'r1')",
        (SG.marketplace_id, DAY, Decimal(total_sales), units, units),
    )
    for i, sales in enumerate(asin_sales):
        c.execute(
            "insert into raw_amazon.sp_sales_traffic_by_asin (marketplace, marketplace_id, report_date, parent_asin, "
            "child_asin, currency_code, ordered_product_sales, units_ordered, total_order_items, sessions, page_views,"
            " report_id) values ('SG', %s, %s, 'P', %s, 'SGD', %s, %s, %s, %s, %s, 'r1')",
            (SG.marketplace_id, DAY, f"B00{i}", Decimal(sales), units // len(asin_sales), units // len(asin_sales),
             100 // len(asin_sales), 200 // len(asin_sales)),
        )  # fmt: skip


def _ad(c: psycopg.Connection, asin: str, sales_7d: str, ad_id: int) -> None:
    c.execute(
        "insert into raw_amazon.ads_sp_advertised_product (marketplace, profile_id, report_date, ad_id, "
        "advertised_asin, sales_7d, spend, report_id) values ('SG', 1, %s, %s, %s, %s, 1.00, 'a1')",
        (DAY, ad_id, asin, Decimal(sales_7d)),
    )


def test_totals_check_tolerates_amazons_small_differences_and_warns_on_large_ones(conn) -> None:
    _st(conn, "1003.00", ["500.00", "500.00"])  # +0.3 %: real reports look like this
    ok = sales_traffic_totals_match(conn, SG, [DAY])
    assert ok.passed and ok.severity == dg.AssetCheckSeverity.WARN
    assert ok.metadata["largest_relative_difference"].value == "0.299%"  # 3 / 1003
    _clean(conn)
    _st(conn, "1100.00", ["500.00", "500.00"])  # 10 %
    bad = sales_traffic_totals_match(conn, SG, [DAY])
    assert not bad.passed and bad.severity == dg.AssetCheckSeverity.WARN
    assert "2001-02-03 ordered_product_sales" in bad.metadata["deviations"].value


def test_rows_check_is_exact(conn) -> None:
    _st(conn, "1000.00", ["500.00", "500.00"])
    good = sales_traffic_rows_match(conn, SG, {DAY: 1}, {DAY: 2})
    assert good.passed and good.severity == dg.AssetCheckSeverity.ERROR
    bad = sales_traffic_rows_match(conn, SG, {DAY: 1}, {DAY: 3})
    assert not bad.passed
    assert bad.metadata["by_asin_mismatches"].value == {"2001-02-03": "table 2 vs document 3"}


def test_ads_within_ordered_sales(conn) -> None:
    _st(conn, "1000.00", ["500.00", "500.00"])
    _ad(conn, "B000", "400.00", 1)
    _ad(conn, "B001", "100.00", 2)
    assert ads_within_ordered_sales(conn, SG, [DAY]).passed
    _ad(conn, "B001", "450.00", 3)  # 550 > 500 for B001
    _ad(conn, "B999", "5.00", 4)  # advertised ASIN without any S&T sales that day
    result = ads_within_ordered_sales(conn, SG, [DAY])
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["asin_days_over"].value == 2
    counts = rows_match_document(
        asset="ads_sp_advertised_product", conn=conn, table_counts=ads_advertised_product_rows_per_day, marketplace=SG,
        expected={DAY: 4},
    )  # fmt: skip
    assert counts.passed


def test_empty_order_day_warns_when_sales_and_traffic_has_units_that_day(conn) -> None:
    """A whole backfill window CANCELLED has no loaded neighbour: the other source of the same sales tells."""
    from chalkola_pipelines.defs.empty_day_checks import empty_days_plausible
    from chalkola_pipelines.warehouse.partition_queries import (
        order_item_rows_per_day,
        sales_traffic_units_per_day,
    )

    def check(corroborate: bool) -> dg.AssetCheckResult:
        return empty_days_plausible(
            asset="sp_orders", conn=conn, marketplace=SG, empty=[DAY], rows_per_day=order_item_rows_per_day,
            today=DAY + dt.timedelta(days=10),
            corroborating=("units ordered in sales & traffic", sales_traffic_units_per_day) if corroborate else None,
        )  # fmt: skip

    assert check(True).passed  # nothing anywhere: plausible
    _st(conn, "10.00", ["10.00"], units=0)
    assert check(True).passed  # sessions but no unit ordered: still plausible
    _clean(conn)
    _st(conn, "10.00", ["10.00"], units=7)
    assert check(False).passed  # without the other source the day looks plausible (the defect)
    result = check(True)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "7 units ordered in sales & traffic" in str(result.metadata["suspicious"])
