"""Shape of what the synthetic seller produces: official schemas, granularities, formats, determinism."""

from __future__ import annotations

import datetime as dt
import inspect
from decimal import Decimal

import pytest
from simulator_data_support import (
    FIXED_NOW,
    ORDERS_MODEL_PATH,
    SELLERS_MODEL_PATH,
    seller,
    st_validator,
    strict_st_validator,
    swagger_validator,
    to_json,
)

from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_OFFICIAL_HEADER,
    SP_ADVERTISED_PRODUCT_COLUMNS,
    SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS,
)
from chalkola_pipelines.marketplaces import DEFAULT_MARKETPLACE_CODES, get_marketplace
from chalkola_pipelines.simulator.ground_truth import GroundTruth

US = get_marketplace("US")
JP = get_marketplace("JP")
UK = get_marketplace("UK")
DAY = dt.date(2026, 3, 10)


@pytest.fixture(scope="module")
def s():
    return seller()


def test_catalogue_size_and_identifiers(s):
    products = s.catalogue.products
    assert 900 <= len(products) <= 1300
    assert 180 <= len(s.catalogue.parents) <= 220
    asins = [p.child_asin for p in products] + [p.asin for p in s.catalogue.parents]
    assert len(set(asins)) == len(asins)
    assert all(len(a) == 10 and a.startswith("B0") and a.isalnum() and a.isupper() for a in asins)
    assert len({p.sku for p in products}) == len(products)
    assert len(s._listings["US"].products) == len(products)  # US lists everything
    for code in DEFAULT_MARKETPLACE_CODES:
        assert 0 < len(s._listings[code].products) <= len(products)
    assert isinstance(s.truth, GroundTruth)
    assert [m.code for m in s.marketplaces] == list(DEFAULT_MARKETPLACE_CODES)
    assert s.seller_id.startswith("A") and len(s.seller_id) == 14


@pytest.mark.parametrize(
    ("code", "date_granularity", "asin_granularity"),
    [("US", "DAY", "CHILD"), ("JP", "WEEK", "PARENT"), ("UK", "MONTH", "SKU"), ("DE", "DAY", "PARENT")],
)
def test_sales_and_traffic_matches_official_schema(s, code, date_granularity, asin_granularity):
    mkt = get_marketplace(code)
    doc = s.sales_and_traffic_document(
        mkt.marketplace_id,
        dt.date(2026, 3, 4),
        dt.date(2026, 3, 12),
        date_granularity=date_granularity,
        asin_granularity=asin_granularity,
    )
    data = to_json(doc)
    st_validator().validate(data)
    strict_st_validator().validate(data)  # and nothing the official schema does not name
    spec = data["reportSpecification"]
    assert spec["reportOptions"] == {"dateGranularity": date_granularity, "asinGranularity": asin_granularity}
    assert spec["marketplaceIds"] == [mkt.marketplace_id]
    dates = [dt.date.fromisoformat(e["date"]) for e in data["salesAndTrafficByDate"]]
    if date_granularity == "DAY":
        assert dates == [dt.date(2026, 3, 4) + dt.timedelta(days=i) for i in range(9)]
    elif date_granularity == "WEEK":  # Wed 4 March .. Thu 12 March → Sun 1 .. Sat 14 March
        assert (spec["dataStartTime"], spec["dataEndTime"]) == ("2026-03-01", "2026-03-14")
        assert dates == [dt.date(2026, 3, 1), dt.date(2026, 3, 8)]
    else:
        assert (spec["dataStartTime"], spec["dataEndTime"]) == ("2026-03-01", "2026-03-31")
        assert dates == [dt.date(2026, 3, 1)]
    rows = data["salesAndTrafficByAsin"]
    assert rows
    keys = {
        "PARENT": {"parentAsin"},
        "CHILD": {"parentAsin", "childAsin"},
        "SKU": {"parentAsin", "childAsin", "sku"},
    }
    for row in rows:
        assert set(row) - {"salesByAsin", "trafficByAsin"} == keys[asin_granularity]
        assert "date" not in row
        # every B2B field is present, like a B2B seller's real report
        assert "unitsOrderedB2B" in row["salesByAsin"] and "sessionsB2B" in row["trafficByAsin"]
        assert row["salesByAsin"]["orderedProductSales"]["currencyCode"] == mkt.currency
    ids = [r.get("childAsin", r["parentAsin"]) for r in rows]
    assert len(ids) == len(set(ids))
    total_sessions = sum(r["trafficByAsin"]["sessions"] for r in rows)
    assert total_sessions == sum(e["trafficByDate"]["sessions"] for e in data["salesAndTrafficByDate"])
    assert sum(r["trafficByAsin"]["sessionPercentage"] for r in rows) == pytest.approx(
        100, abs=0.5 + 0.005 * len(rows)
    )


def test_st_rejects_bad_options(s):
    with pytest.raises(ValueError, match="dateGranularity"):
        s.sales_and_traffic_document(US.marketplace_id, DAY, DAY, date_granularity="YEAR")
    with pytest.raises(ValueError, match="asinGranularity"):
        s.sales_and_traffic_document(US.marketplace_id, DAY, DAY, asin_granularity="BRAND")
    with pytest.raises(ValueError, match="not one of this seller's marketplaces"):
        seller(marketplaces=["US"]).sales_and_traffic_document(JP.marketplace_id, DAY, DAY)


def test_jpy_has_no_decimals_anywhere(s):
    doc = s.sales_and_traffic_document(JP.marketplace_id, DAY, DAY, asin_granularity="CHILD")
    sales = doc["salesAndTrafficByDate"][0]["salesByDate"]["orderedProductSales"]
    assert sales["currencyCode"] == "JPY" and isinstance(sales["amount"], int) and sales["amount"] > 0
    start, end = JP.local_day_window_utc(DAY)
    rows = s.order_report_rows(JP.marketplace_id, start, end)
    prices = [r["item-price"] for r in rows if r["item-price"]]
    assert prices and all(p.lstrip("-").isdigit() for p in prices)
    items = s.order_items(rows[0]["amazon-order-id"])
    assert items and all("." not in i["ItemPrice"]["Amount"] for i in items if "ItemPrice" in i)
    ad_rows = list(s.sp_advertised_product_rows(s.truth.profile_id("JP"), DAY, DAY, ["cost", "costPerClick"]))
    assert ad_rows and all(r["cost"] == r["cost"].to_integral_value() for r in ad_rows)
    us_rows = s.order_report_rows(US.marketplace_id, *US.local_day_window_utc(DAY))
    assert all(len(p.split(".")[1]) == 2 for p in (r["item-price"] for r in us_rows) if p)


def test_order_report_rows_look_like_amazons(s):
    start, end = US.local_day_window_utc(DAY)
    rows = s.order_report_rows(US.marketplace_id, start, end)
    assert len(rows) > 300
    for row in rows:
        assert tuple(row) == ORDER_REPORT_OFFICIAL_HEADER
        assert all(isinstance(v, str) for v in row.values())
        purchase = dt.datetime.fromisoformat(row["purchase-date"])
        assert row["purchase-date"].endswith("+00:00") and start <= purchase < end
        assert dt.datetime.fromisoformat(row["last-updated-date"]) >= purchase
        assert row["is-business-order"] in ("true", "false")
        assert row["cpf"] == ""
        assert row["ship-city"].startswith("SIMTOWN") and row["ship-postal-code"].startswith("SIM-")
        assert row["sales-channel"] == "Amazon.com" and row["ship-country"] == "US"
        assert row["fulfillment-channel"] in ("Amazon", "Merchant")
        if row["order-status"] == "Cancelled":
            assert row["quantity"] == "0" and row["item-price"] == ""
        else:
            assert int(row["quantity"]) >= 1 and Decimal(row["item-price"]) > 0
    assert {r["order-status"] for r in rows} == {"Shipped", "Cancelled"}  # a settled past day
    assert any(r["is-business-order"] == "true" for r in rows)
    assert any(r["item-promotion-discount"].startswith("-") for r in rows)


def test_orders_api_objects_match_official_model(s):
    order_validator = swagger_validator(ORDERS_MODEL_PATH, "Order")
    item_validator = swagger_validator(ORDERS_MODEL_PATH, "OrderItem")
    start, end = UK.local_day_window_utc(DAY)
    orders = s.orders([UK.marketplace_id], created_after=start, created_before=end)
    assert len(orders) > 50
    statuses = set()
    for order in orders[:80]:
        order_validator.validate(order)
        statuses.add(order["OrderStatus"])
        assert order["BuyerInfo"] == {} and "ShippingAddress" not in order
        assert order["PurchaseDate"].endswith("Z")
        if order["OrderStatus"] == "Shipped":
            assert order["LastUpdateDate"] > order["PurchaseDate"]
            assert isinstance(order["OrderTotal"]["Amount"], str)
        items = s.order_items(order["AmazonOrderId"])
        assert items
        for item in items:
            item_validator.validate(item)
    assert "Shipped" in statuses
    assert [o["PurchaseDate"] for o in orders] == sorted(o["PurchaseDate"] for o in orders)
    with pytest.raises(ValueError, match="CreatedAfter or LastUpdatedAfter"):
        s.orders([UK.marketplace_id])


def test_orders_in_flight_today_are_pending_without_prices():
    now = dt.datetime(2026, 3, 10, 20, 0, tzinfo=dt.UTC)  # 12:00 in Los Angeles
    live = seller(now=now)
    start, _ = US.local_day_window_utc(DAY)
    rows = live.order_report_rows(US.marketplace_id, start, now + dt.timedelta(days=1))
    assert rows and all(dt.datetime.fromisoformat(r["purchase-date"]) <= now for r in rows)
    pending_mfn = [
        r for r in rows if r["order-status"] == "Pending" and r["fulfillment-channel"] == "Merchant"
    ]
    assert pending_mfn and all(r["item-price"] == "" and r["quantity"] != "0" for r in pending_mfn)
    orders = live.orders([US.marketplace_id], created_after=start)
    pending = [o for o in orders if o["OrderStatus"] == "Pending"]
    assert pending and all("OrderTotal" not in o for o in pending)
    items = live.order_items(pending[0]["AmazonOrderId"])
    assert items and all("ItemPrice" not in i for i in items)
    # a later order does not exist yet
    assert max(o["PurchaseDate"] for o in orders) <= now.strftime("%Y-%m-%dT%H:%M:%SZ")
    later = seller(now=now + dt.timedelta(hours=6)).orders([US.marketplace_id], created_after=start)
    assert len(later) > len(orders)
    assert live.order_items(later[-1]["AmazonOrderId"]) is None


def test_order_ids_round_trip_and_unknown_ids(s):
    start, end = JP.local_day_window_utc(DAY)
    orders = s.orders([JP.marketplace_id], created_after=start, created_before=end)
    ids = [o["AmazonOrderId"] for o in orders]
    assert len(ids) == len(set(ids))
    assert all(len(i) == 19 and i[3] == "-" and i[11] == "-" for i in ids)
    item_ids = [it["OrderItemId"] for oid in ids for it in s.order_items(oid)]
    assert len(item_ids) == len(set(item_ids)) and all(len(x) == 14 and x.isdigit() for x in item_ids)
    assert s.order_items("111-0000000-0000000") is None
    assert s.order_items("not-an-order") is None
    assert seller(seed=8).order_items(ids[0]) is None  # another seller's ids are not ours


def test_orders_last_updated_window(s):
    after = dt.datetime(2026, 3, 12, 0, 0, tzinfo=dt.UTC)
    before = dt.datetime(2026, 3, 12, 6, 0, tzinfo=dt.UTC)
    orders = s.orders(
        [US.marketplace_id, UK.marketplace_id], last_updated_after=after, last_updated_before=before
    )
    assert orders
    stamps = [o["LastUpdateDate"] for o in orders]
    assert stamps == sorted(stamps)
    assert all("2026-03-12T00:00:00Z" <= t < "2026-03-12T06:00:00Z" for t in stamps)
    assert {o["MarketplaceId"] for o in orders} == {US.marketplace_id, UK.marketplace_id}


def test_marketplace_participations_match_official_model(s):
    validator = swagger_validator(SELLERS_MODEL_PATH, "MarketplaceParticipation")
    parts = s.marketplace_participations()
    assert [p["marketplace"]["id"] for p in parts] == [m.marketplace_id for m in s.marketplaces]
    for p in parts:
        validator.validate(p)
    assert {p["marketplace"]["countryCode"] for p in parts} >= {"GB", "JP", "US"}


def test_ads_profiles_like_the_real_api(s):
    na, eu, fe = s.ads_profiles("na"), s.ads_profiles("eu"), s.ads_profiles("fe")
    assert [p["countryCode"] for p in na] == ["US", "CA", "MX"]
    assert [p["countryCode"] for p in eu] == ["UK", "DE", "FR", "IT", "ES", "AE"]
    assert [p["countryCode"] for p in fe] == ["AU", "JP"] or [p["countryCode"] for p in fe] == ["JP", "AU"]
    for region, profiles in (("na", na), ("eu", eu), ("fe", fe)):
        for p in profiles:
            assert isinstance(p["profileId"], int) and p["profileId"] > 10**15
            assert p["accountInfo"]["type"] == "seller" and p["accountInfo"]["id"] == s.seller_id
            assert set(p) == {
                "profileId",
                "countryCode",
                "currencyCode",
                "dailyBudget",
                "timezone",
                "accountInfo",
            }
            assert s.profile_region(p["profileId"]) == region
            code = "UK" if p["countryCode"] == "UK" else p["countryCode"]
            assert s.truth.profile_id(code) == p["profileId"]
    assert s.profile_region(12345) is None
    assert seller(marketplaces=["DE"]).ads_profiles("na") == []


def test_ads_rows_have_exactly_the_requested_columns(s):
    profile = s.truth.profile_id("US")
    rows_iter = s.sp_advertised_product_rows(
        profile, DAY, DAY, list(SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS)
    )
    assert inspect.isgenerator(rows_iter)
    rows = list(rows_iter)
    assert len(rows) > 500
    kinds = {c.name: c.kind for c in SP_ADVERTISED_PRODUCT_COLUMNS}
    for row in rows:
        assert list(row) == list(SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS)
        assert row["date"] == "2026-03-10"
        assert row["impressions"] > 0
        for name, value in row.items():
            kind = kinds[name]
            if kind == "id":
                assert value is None or (isinstance(value, int) and not isinstance(value, bool))
            elif kind == "int":
                assert isinstance(value, int)
            elif kind == "decimal":
                assert value is None or isinstance(value, Decimal)
    assert any(r["campaignId"] > 2**53 for r in rows) and any(r["adId"] > 2**53 for r in rows)
    campaigns = {r["campaignId"] for r in rows}
    assert 20 <= len(campaigns) <= 60
    narrow = list(s.sp_advertised_product_rows(profile, DAY, DAY, ["adId", "cost"]))
    assert [list(r) for r in narrow[:3]] == [["adId", "cost"]] * 3
    assert len(narrow) == len(rows)
    with pytest.raises(ValueError, match="Unknown spAdvertisedProduct columns: bogus"):
        s.sp_advertised_product_rows(profile, DAY, DAY, ["adId", "bogus"])
    with pytest.raises(ValueError, match="Unknown Ads profile"):
        s.sp_advertised_product_rows(1, DAY, DAY, ["adId"])


def test_ads_summary_adds_up_daily(s):
    profile = s.truth.profile_id("DE")
    first, last = dt.date(2026, 3, 1), dt.date(2026, 3, 3)
    cols = ["adId", "startDate", "endDate", "impressions", "cost", "sales7d"]
    daily = list(
        s.sp_advertised_product_rows(profile, first, last, ["adId", "impressions", "cost", "sales7d"])
    )
    summary = list(s.sp_advertised_product_rows(profile, first, last, cols, time_unit="SUMMARY"))
    assert {(r["startDate"], r["endDate"]) for r in summary} == {("2026-03-01", "2026-03-03")}
    assert sum(r["cost"] for r in summary) == sum(r["cost"] for r in daily)
    assert sum(r["impressions"] for r in summary) == sum(r["impressions"] for r in daily)
    assert len(summary) == len({r["adId"] for r in daily})


def test_same_seed_same_data_whatever_the_call_order():
    a, b = seller(), seller()
    jp_a = a.sales_and_traffic_document(JP.marketplace_id, DAY, DAY, asin_granularity="SKU")
    us_a = a.order_report_rows(US.marketplace_id, *US.local_day_window_utc(DAY))
    ads_a = list(
        a.sp_advertised_product_rows(a.truth.profile_id("UK"), DAY, DAY, ["adId", "cost", "sales14d"])
    )
    # b asks in another order, and for other days first
    ads_b = list(
        b.sp_advertised_product_rows(b.truth.profile_id("UK"), DAY, DAY, ["adId", "cost", "sales14d"])
    )
    b.sales_and_traffic_document(US.marketplace_id, DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=2))
    us_b = b.order_report_rows(US.marketplace_id, *US.local_day_window_utc(DAY))
    jp_b = b.sales_and_traffic_document(JP.marketplace_id, DAY, DAY, asin_granularity="SKU")
    assert jp_a == jp_b and us_a == us_b and ads_a == ads_b
    assert a.seller_id == b.seller_id and a.ads_profiles("eu") == b.ads_profiles("eu")
    other = seller(seed=8)
    assert other.order_report_rows(US.marketplace_id, *US.local_day_window_utc(DAY)) != us_a
    assert other.seller_id != a.seller_id


def test_subset_of_marketplaces_and_scale():
    small = seller(marketplaces=["US", "JP"])
    assert [m.code for m in small.marketplaces] == ["US", "JP"]
    full = seller()
    # the data of a marketplace does not depend on which others are configured
    assert small.truth.asin_days("JP", DAY) == full.truth.asin_days("JP", DAY)
    big = seller(scale=3)
    assert len(big.catalogue.products) > 2.5 * len(full.catalogue.products)
    assert big.truth.units_ordered("US", DAY) > 2 * full.truth.units_ordered("US", DAY)
    assert len(big._account("US").campaign_ids) == 3 * len(full._account("US").campaign_ids)


def test_fixed_now_is_used(s):
    assert s.now() == FIXED_NOW
