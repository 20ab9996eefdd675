"""dbt build (seed, models, tests) for real on Postgres: raw rows in, marts checked to the cent, ratios against Python Decimal.

Each test uses its own database on the test server (migrated by the project's migrations) and its own dbt
target path, so it neither sees nor disturbs other tests' raw data.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from dbt_helpers import fetch, fetch_one, insert_rows, ratio, run_dbt

from chalkola_pipelines.dbt_env import dbt_env_for
from chalkola_pipelines.marketplaces import all_marketplaces, get_marketplace
from chalkola_pipelines.warehouse.postgres import scratch_database

pytestmark = pytest.mark.integration

D1 = dt.date(2024, 3, 1)
D2 = dt.date(2024, 3, 2)
BIG_CAMPAIGN_ID = 2**53 + 1  # must survive as an exact integer (never through a float)
US_PROFILE = 111
UK_PROFILE = 222


AD_COLUMNS = ("marketplace", "profile_id", "report_date", "ad_id", "campaign_id", "campaign_name", "advertised_asin",
              "advertised_sku", "impressions", "clicks", "spend", "sales_7d", "sales_14d", "purchases_7d",
              "purchases_14d", "units_sold_clicks_7d", "units_sold_clicks_14d", "report_id")  # fmt: skip
MONEY = {"spend", "sales_7d", "sales_14d"}

# fmt: off
_AD_ROWS = [
    # US D1: one campaign (an id above 2^53) advertising two ASINs
    ("US", US_PROFILE, D1, 1, BIG_CAMPAIGN_ID, "Chalk Markers - Auto", "B0CHALK001", "CM-12", 1234, 37, "23.47", "96.13", "110.20", 5, 6, 6, 7, "ads-r1"),
    ("US", US_PROFILE, D1, 2, BIG_CAMPAIGN_ID, "Chalk Markers - Auto", "B0CHALK002", "CM-24", 800, 12, "9.99", "0", "0", 0, 0, 0, 0, "ads-r1"),
    # zero spend, late attributed sales: ACOS 0, ROAS NULL
    ("US", US_PROFILE, D1, 3, 5002, "Brand - Exact", "B0CHALK001", "CM-12-B", 50, 0, "0", "12.50", "12.50", 1, 1, 1, 1, "ads-r1"),
    # nothing delivered: every ratio NULL
    ("US", US_PROFILE, D1, 4, 5003, "Paused test", "B0CHALK003", "CM-36", 0, 0, "0", "0", "0", 0, 0, 0, 0, "ads-r1"),
    # US D2: ads only, the day's S&T not loaded yet
    ("US", US_PROFILE, D2, 1, BIG_CAMPAIGN_ID, "Chalk Markers - Auto", "B0CHALK001", "CM-12", 100, 3, "1.11", "0", "0", 0, 0, 0, 0, "ads-r2"),
    # UK D1
    ("UK", UK_PROFILE, D1, 5, 7001, "UK Chalk", "B0CHALKUK1", "UK-1", 10, 1, "0.45", "9.99", "9.99", 1, 1, 1, 1, "ads-r1"),
]
# fmt: on


def _ad(values: tuple) -> dict:
    row = {c: (Decimal(v) if c in MONEY else v) for c, v in zip(AD_COLUMNS, values, strict=True)}
    # cost and spend are the same figure; same-SKU sales and ad group only to fill realistic rows
    return row | {
        "cost": row["spend"],
        "attributed_sales_same_sku_7d": row["sales_7d"],
        "ad_group_id": row["ad_id"] * 100,
    }


BASE_ADS = [_ad(values) for values in _AD_ROWS]

BASE_PROFILES = [
    {"profile_id": US_PROFILE, "region": "na", "marketplace": "US", "marketplace_string_id": "ATVPDKIKX0DER",
     "country_code": "US", "currency_code": "USD", "timezone": "America/Los_Angeles", "account_type": "seller"},
    {"profile_id": UK_PROFILE, "region": "eu", "marketplace": "UK", "marketplace_string_id": "A1F83G8C2ARO7P",
     "country_code": "UK", "currency_code": "GBP", "timezone": "Europe/London", "account_type": "seller"},
]  # fmt: skip

BASE_ST_BY_DATE = [
    {"marketplace": "US", "marketplace_id": "ATVPDKIKX0DER", "report_date": D1, "currency_code": "USD",
     "ordered_product_sales": Decimal("330.10"), "units_ordered": 13, "total_order_items": 12, "sessions": 240,
     "page_views": 360, "buy_box_percentage": Decimal("97.1"), "unit_session_percentage": Decimal("5.42"),
     "report_id": "st-us-1"},
]  # fmt: skip


def _st_asin(
    asin: str, parent: str, sales: str, units: int, sessions: int, page_views: int, buy_box: str
) -> dict:
    return {
        "marketplace": "US",
        "marketplace_id": "ATVPDKIKX0DER",
        "report_date": D1,
        "parent_asin": parent,
        "child_asin": asin,
        "sku": "",
        "currency_code": "USD",
        "ordered_product_sales": Decimal(sales),
        "units_ordered": units,
        "total_order_items": units,
        "sessions": sessions,
        "page_views": page_views,
        "buy_box_percentage": Decimal(buy_box),
        "unit_session_percentage": (Decimal(100 * units) / sessions).quantize(Decimal("0.01")),
        "report_id": "st-us-1",
    }


BASE_ST_BY_ASIN = [
    _st_asin("B0CHALK001", "P0CHALK", "250.00", 10, 200, 300, "97.5"),
    _st_asin("B0CHALK002", "P0CHALK", "0.00", 0, 15, 20, "100"),
    _st_asin("B0CHALK004", "P0OTHER", "80.10", 3, 25, 40, "92.25"),
]

BASE_ORDER_ITEMS = [
    {"marketplace": "US", "order_date": D1, "line_number": 1, "amazon_order_id": "111-0000001-0000001",
     "order_status": "Shipped", "product_name": "Chalkola Liquid Chalk Markers, 12 pack", "sku": "CM-12",
     "asin": "B0CHALK001", "quantity": 2, "currency": "USD", "item_price": Decimal("39.98"), "report_id": "ord-1"},
]  # fmt: skip


def _load_base(url: str) -> None:
    with psycopg.connect(url) as conn:
        insert_rows(conn, "ads_profiles", BASE_PROFILES)
        insert_rows(conn, "ads_sp_advertised_product", BASE_ADS)
        insert_rows(conn, "sp_sales_traffic_by_date", BASE_ST_BY_DATE)
        insert_rows(conn, "sp_sales_traffic_by_asin", BASE_ST_BY_ASIN)
        insert_rows(conn, "sp_order_items", BASE_ORDER_ITEMS)


@pytest.fixture(scope="module")
def built(pg_url: str, tmp_path_factory: pytest.TempPathFactory):
    """A database with the base raw rows, seeded and built once (read-only for the tests using it)."""
    target = tmp_path_factory.mktemp("dbt_target")
    with scratch_database(pg_url, "chalkola_dbt") as url:
        _load_base(url)
        env = dbt_env_for(url)
        run_dbt(["build"], env=env, target_path=target)  # seeds, models, data tests and unit tests
        yield url


def _campaign(url: str, marketplace: str, day: dt.date, campaign_id: int) -> dict:
    return fetch_one(
        url,
        "select * from marts.fct_ads_campaign_daily where marketplace = %s and date = %s and campaign_id = %s",
        (marketplace, day, campaign_id),
    )


def _asin(url: str, marketplace: str, day: dt.date, asin: str) -> dict:
    return fetch_one(
        url,
        "select * from marts.fct_asin_daily where marketplace = %s and date = %s and asin = %s",
        (marketplace, day, asin),
    )


def test_campaign_mart_sums_to_the_cent_and_ratios_match_decimal(built: str) -> None:
    row = _campaign(built, "US", D1, BIG_CAMPAIGN_ID)
    assert row["campaign_id"] == BIG_CAMPAIGN_ID  # exact int64 id
    assert row["campaign_name"] == "Chalk Markers - Auto"
    assert row["currency_code"] == "USD"
    assert (row["impressions"], row["clicks"]) == (2034, 49)
    spend, sales_7d, sales_14d = Decimal("33.46"), Decimal("96.13"), Decimal("110.20")
    assert (row["spend"], row["sales_7d"], row["sales_14d"]) == (spend, sales_7d, sales_14d)
    assert (row["purchases_7d"], row["purchases_14d"]) == (5, 6)
    assert (row["units_sold_clicks_7d"], row["units_sold_clicks_14d"]) == (6, 7)
    assert row["ctr"] == ratio(49, 2034)
    assert row["cpc"] == ratio(spend, 49)
    assert row["cvr"] == ratio(5, 49)
    assert row["acos"] == ratio(spend, sales_7d)
    assert row["roas"] == ratio(sales_7d, spend)
    assert row["acos_14d"] == ratio(spend, sales_14d)
    assert row["roas_14d"] == ratio(sales_14d, spend)

    zero_spend = _campaign(built, "US", D1, 5002)
    assert zero_spend["spend"] == 0 and zero_spend["sales_7d"] == Decimal("12.50")
    assert zero_spend["acos"] == 0 and zero_spend["roas"] is None
    assert zero_spend["cpc"] is None and zero_spend["cvr"] is None and zero_spend["ctr"] == 0

    nothing = _campaign(built, "US", D1, 5003)
    assert [nothing[k] for k in ("ctr", "cpc", "cvr", "acos", "roas", "acos_14d", "roas_14d")] == [None] * 7

    uk = _campaign(built, "UK", D1, 7001)
    assert uk["currency_code"] == "GBP" and uk["spend"] == Decimal("0.45")
    assert uk["roas"] == ratio(Decimal("9.99"), Decimal("0.45"))

    totals = fetch_one(built, "select sum(spend) as spend, count(*) as n from marts.fct_ads_campaign_daily")
    assert totals == {"spend": Decimal("33.46") + Decimal("1.11") + Decimal("0.45"), "n": 5}


def test_ads_asin_mart_sums_campaigns_per_asin(built: str) -> None:
    row = fetch_one(
        built,
        "select * from marts.fct_ads_asin_daily where marketplace = 'US' and date = %s and advertised_asin = 'B0CHALK001'",
        (D1,),
    )
    assert row["campaigns"] == 2 and row["advertised_skus"] == "CM-12,CM-12-B"
    assert (row["impressions"], row["clicks"], row["spend"]) == (1284, 37, Decimal("23.47"))
    assert row["sales_7d"] == Decimal("108.63")
    assert row["acos"] == ratio(Decimal("23.47"), Decimal("108.63"))
    assert row["roas"] == ratio(Decimal("108.63"), Decimal("23.47"))
    no_sales = fetch_one(
        built,
        "select acos, roas from marts.fct_ads_asin_daily where marketplace = 'US' and date = %s "
        "and advertised_asin = 'B0CHALK002'",
        (D1,),
    )
    assert no_sales == {"acos": None, "roas": Decimal("0.000000")}


def test_asin_mart_joins_sales_traffic_and_ads(built: str) -> None:
    advertised = _asin(built, "US", D1, "B0CHALK001")
    assert advertised["parent_asin"] == "P0CHALK"
    assert (advertised["ordered_sales"], advertised["units_ordered"]) == (Decimal("250.00"), 10)
    assert (advertised["sessions"], advertised["page_views"], advertised["buy_box_percentage"]) == (
        200,
        300,
        Decimal("97.5"),
    )
    assert (advertised["ad_spend"], advertised["ad_sales_7d"]) == (Decimal("23.47"), Decimal("108.63"))
    assert advertised["organic_sales"] == Decimal("250.00") - Decimal("108.63")
    assert advertised["tacos"] == ratio(Decimal("23.47"), Decimal("250.00"))

    zero_sales = _asin(built, "US", D1, "B0CHALK002")
    assert zero_sales["ordered_sales"] == 0 and zero_sales["ad_spend"] == Decimal("9.99")
    assert zero_sales["tacos"] is None and zero_sales["organic_sales"] == 0

    ads_only = _asin(built, "US", D1, "B0CHALK003")  # advertised, not in the loaded S&T report
    assert ads_only["sales_traffic_loaded"] and not ads_only["has_sales_traffic_row"] and ads_only["has_ads"]
    assert (ads_only["ordered_sales"], ads_only["sessions"], ads_only["tacos"]) == (0, 0, None)

    organic_only = _asin(built, "US", D1, "B0CHALK004")
    assert not organic_only["has_ads"] and organic_only["ad_spend"] == 0
    assert organic_only["tacos"] == 0 and organic_only["organic_sales"] == Decimal("80.10")

    not_loaded = _asin(built, "US", D2, "B0CHALK001")  # ads, S&T for that day not loaded: unknown, not 0
    assert not not_loaded["sales_traffic_loaded"]
    assert (not_loaded["ordered_sales"], not_loaded["organic_sales"], not_loaded["tacos"]) == (
        None,
        None,
        None,
    )
    assert not_loaded["ad_spend"] == Decimal("1.11")

    uk = _asin(built, "UK", D1, "B0CHALKUK1")
    assert uk["currency_code"] == "GBP" and uk["ordered_sales"] is None

    us_day = fetch_one(
        built,
        "select sum(ordered_sales) as ordered, sum(ad_spend) as spend from marts.fct_asin_daily "
        "where marketplace = 'US' and date = %s",
        (D1,),
    )
    assert us_day == {"ordered": Decimal("330.10"), "spend": Decimal("33.46")}


def test_dimensions(built: str) -> None:
    marketplaces = fetch(built, "select * from marts.dim_marketplace order by code")
    assert len(marketplaces) == len(all_marketplaces())
    uk = next(m for m in marketplaces if m["code"] == "UK")
    expected = get_marketplace("UK")
    assert (uk["marketplace_id"], uk["country_code"], uk["currency"], uk["timezone"]) == (
        expected.marketplace_id,
        "GB",
        "GBP",
        "Europe/London",
    )
    product = fetch_one(
        built, "select * from marts.dim_product where marketplace = 'US' and asin = 'B0CHALK001'"
    )
    assert product["parent_asin"] == "P0CHALK"
    assert product["title"] == "Chalkola Liquid Chalk Markers, 12 pack"
    assert (product["first_seen_date"], product["last_seen_date"]) == (D1, D2)
    assert product["seen_in_sales_traffic"] and product["seen_in_orders"] and product["seen_in_ads"]
    assert fetch_one(built, "select count(*) as n from marts.dim_product") == {"n": 5}


def _campaign_rows(url: str) -> list[dict]:
    return fetch(url, "select * from marts.fct_ads_campaign_daily order by date, marketplace, campaign_id")


def test_incremental_windows_restatements_backfills_and_full_refresh(pg_url: str, tmp_path: Path) -> None:
    with scratch_database(pg_url, "chalkola_dbt_inc") as url:
        _load_base(url)
        env = dbt_env_for(url)
        run_dbt(["build"], env=env, target_path=tmp_path)

        # Restatement of US D1 (the loader replaces the partition in one transaction) and UK D1 now empty.
        with psycopg.connect(url) as conn:
            conn.execute("delete from raw_amazon.ads_sp_advertised_product where report_date = %s", (D1,))
            restated = [dict(BASE_ADS[0], spend=Decimal("25.00"), cost=Decimal("25.00"), report_id="ads-r3")]
            insert_rows(conn, "ads_sp_advertised_product", restated + BASE_ADS[2:4])
        window = {"min_date": D1.isoformat(), "max_date": D1.isoformat()}
        run_dbt(["build", "--select", "path:models/marts"], env=env, target_path=tmp_path, dbt_vars=window)
        assert _campaign(url, "US", D1, BIG_CAMPAIGN_ID)["spend"] == Decimal("25.00")
        assert fetch(url, "select * from marts.fct_ads_campaign_daily where marketplace = 'UK'") == []
        assert _campaign(url, "US", D2, BIG_CAMPAIGN_ID)["spend"] == Decimal(
            "1.11"
        )  # outside the window: kept
        dropped = _asin(url, "US", D1, "B0CHALK002")  # its ad vanished: S&T stays, ads now 0
        assert not dropped["has_ads"] and dropped["ad_spend"] == 0 and dropped["tacos"] is None

        # Without vars: the lookback window (45 days before the newest built day) and days loaded since the
        # last build. A row loaded long ago for a day outside the lookback is only reached by --full-refresh.
        old_load = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        with psycopg.connect(url) as conn:
            within = dict(BASE_ADS[5], report_date=dt.date(2024, 2, 1), loaded_at=old_load, campaign_id=7002)
            outside = dict(BASE_ADS[5], report_date=dt.date(2024, 1, 1), loaded_at=old_load, campaign_id=7003)
            backfilled = dict(BASE_ADS[5], report_date=dt.date(2023, 6, 1), campaign_id=7004)  # loaded now
            insert_rows(conn, "ads_sp_advertised_product", [within, outside, backfilled])
        lookback = run_dbt(["build", "--select", "path:models/marts"], env=env, target_path=tmp_path)
        built_ids = {r["campaign_id"] for r in _campaign_rows(url)}
        assert {7002, 7004} <= built_ids and 7003 not in built_ids
        assert "WARN 1 assert_ads_marts_reconcile" in lookback.stdout  # the stale day is reported

        before = _campaign_rows(url)
        run_dbt(["build", "--select", "path:models/marts", "--full-refresh"], env=env, target_path=tmp_path)
        refreshed = _campaign_rows(url)
        assert [r for r in refreshed if r["campaign_id"] != 7003] == before  # incremental == full rebuild
        assert 7003 in {r["campaign_id"] for r in refreshed}

        # The data tests fail the build on bad data: an ad row for a marketplace outside the catalogue.
        with psycopg.connect(url) as conn:
            insert_rows(conn, "ads_sp_advertised_product", [dict(BASE_ADS[5], marketplace="XX", ad_id=99)])
        failed = run_dbt(
            ["build", "--select", "path:models/marts"], env=env, target_path=tmp_path, check=False
        )
        assert failed.returncode != 0
        assert "relationships_fct_ads_campaign_daily_marketplace" in failed.stdout
