"""The synthetic seller's sources agree with each other the way Amazon's do, and with the ground truth."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest
from simulator_data_support import days, seller, to_json

from chalkola_pipelines.marketplaces import get_marketplace

# US days around both DST changes (UTC−8 → UTC−7 on 8 March 2026, back on 1 November 2025), JP (UTC+9), DE.
CASES = [
    ("US", dt.date(2026, 3, 7)),
    ("US", dt.date(2026, 3, 8)),
    ("US", dt.date(2025, 11, 2)),
    ("JP", dt.date(2026, 3, 8)),
    ("DE", dt.date(2026, 3, 29)),  # Europe/Paris DST change
    ("AU", dt.date(2026, 4, 5)),  # Australia/Sydney DST end
]


@pytest.fixture(scope="module")
def s():
    return seller()


def _report_by_asin(s, code: str, day: dt.date) -> tuple[dict[str, int], dict[str, Decimal], list[dict]]:
    mkt = get_marketplace(code)
    start, end = mkt.local_day_window_utc(day)
    rows = s.order_report_rows(mkt.marketplace_id, start, end)
    units: dict[str, int] = defaultdict(int)
    sales: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        units[row["asin"]] += int(row["quantity"])
        if row["order-status"] != "Cancelled":
            sales[row["asin"]] += Decimal(row["item-price"])
    return dict(units), dict(sales), rows


@pytest.mark.parametrize(("code", "day"), CASES)
def test_order_report_equals_sales_traffic_by_asin(s, code, day):
    mkt = get_marketplace(code)
    units, sales, rows = _report_by_asin(s, code, day)
    assert rows, "a normal day has orders"
    doc = to_json(s.sales_and_traffic_document(mkt.marketplace_id, day, day, asin_granularity="CHILD"))
    st_units = {r["childAsin"]: r["salesByAsin"]["unitsOrdered"] for r in doc["salesAndTrafficByAsin"]}
    st_sales = {
        r["childAsin"]: Decimal(str(r["salesByAsin"]["orderedProductSales"]["amount"]))
        for r in doc["salesAndTrafficByAsin"]
    }
    assert {a: u for a, u in units.items() if u} == {a: u for a, u in st_units.items() if u}
    assert {a: v for a, v in sales.items() if v} == {a: v for a, v in st_sales.items() if v}
    # purchase dates are inside the local day, in UTC
    start, end = mkt.local_day_window_utc(day)
    assert all(start <= dt.datetime.fromisoformat(r["purchase-date"]) < end for r in rows)
    # cancelled items: quantity 0, no price
    cancelled = [r for r in rows if r["order-status"] == "Cancelled"]
    assert all(r["quantity"] == "0" and r["item-price"] == "" for r in cancelled)
    # ground truth is the byAsin sum, exactly
    truth = {t.child_asin: t for t in s.truth.asin_days(code, day)}
    assert set(truth) == set(st_units)
    assert s.truth.units_ordered(code, day) == sum(units.values())
    assert s.truth.ordered_sales(code, day) == sum(sales.values(), Decimal(0))
    for asin, t in truth.items():
        assert t.units_ordered == st_units[asin]
        assert t.ordered_sales == st_sales[asin]
        assert t.sessions > 0 and t.page_views >= t.sessions
        assert isinstance(t.ordered_sales, Decimal) and t.ordered_sales.as_tuple().exponent == (
            0 if code == "JP" else -2
        )


@pytest.mark.parametrize(("code", "day"), CASES[:3] + CASES[3:4])
def test_orders_api_agrees_with_order_report(s, code, day):
    mkt = get_marketplace(code)
    start, end = mkt.local_day_window_utc(day)
    rows = s.order_report_rows(mkt.marketplace_id, start, end)
    orders = s.orders([mkt.marketplace_id], created_after=start, created_before=end)
    assert sorted({r["amazon-order-id"] for r in rows}) == sorted(o["AmazonOrderId"] for o in orders)
    report_items = defaultdict(list)
    for r in rows:
        report_items[r["amazon-order-id"]].append((r["asin"], r["sku"], int(r["quantity"]), r["item-price"]))
    status_map = {
        "Shipped": "Shipped",
        "Canceled": "Cancelled",
        "Pending": "Pending",
        "Unshipped": "Shipping",
    }
    for order in orders:
        oid = order["AmazonOrderId"]
        items = s.order_items(oid)
        api = [
            (
                i["ASIN"],
                i["SellerSKU"],
                i["QuantityOrdered"],
                i["ItemPrice"]["Amount"] if i.get("ItemPrice") else "",
            )
            for i in items
        ]
        expected = report_items[oid]
        if "OrderTotal" in order:  # price + shipping − promotions (+ sales tax where it is not included)
            fields = ["ItemPrice", "ShippingPrice"] + (["ItemTax", "ShippingTax"] if code == "US" else [])
            total = sum(Decimal(i[f]["Amount"]) for i in items for f in fields)
            total -= sum(Decimal(i["PromotionDiscount"]["Amount"]) for i in items)
            assert Decimal(order["OrderTotal"]["Amount"]) == total
        if order["OrderStatus"] == "Canceled":
            assert [(a, k, q) for a, k, q, _ in api] == [(a, k, q) for a, k, q, _ in expected]
        else:
            assert api == expected
        first = next(r for r in rows if r["amazon-order-id"] == oid)
        assert status_map[order["OrderStatus"]] == first["order-status"]
        assert order["PurchaseDate"].replace("Z", "+00:00") == first["purchase-date"]
        assert order["LastUpdateDate"].replace("Z", "+00:00") == first["last-updated-date"]
        assert (
            order["FulfillmentChannel"] == {"Amazon": "AFN", "Merchant": "MFN"}[first["fulfillment-channel"]]
        )
        assert order["IsBusinessOrder"] == (first["is-business-order"] == "true")


def test_by_date_totals_reconcile_like_real_data(s):
    """byDate is Amazon's own total: traffic equals the byAsin sum, sales are within 0.5 % (and differ on
    some days, like the real report measured in DESIGN.md)."""
    mkt = get_marketplace("US")
    differing = 0
    for day in days(dt.date(2026, 2, 1), dt.date(2026, 2, 21)):
        doc = to_json(s.sales_and_traffic_document(mkt.marketplace_id, day, day, asin_granularity="CHILD"))
        (entry,) = doc["salesAndTrafficByDate"]
        by_asin = doc["salesAndTrafficByAsin"]
        traffic = entry["trafficByDate"]
        assert traffic["sessions"] == sum(r["trafficByAsin"]["sessions"] for r in by_asin)
        assert traffic["pageViews"] == sum(r["trafficByAsin"]["pageViews"] for r in by_asin)
        assert traffic["sessions"] == traffic["browserSessions"] + traffic["mobileAppSessions"]
        units = sum(r["salesByAsin"]["unitsOrdered"] for r in by_asin)
        sales = sum(Decimal(str(r["salesByAsin"]["orderedProductSales"]["amount"])) for r in by_asin)
        d_units = entry["salesByDate"]["unitsOrdered"]
        d_sales = Decimal(str(entry["salesByDate"]["orderedProductSales"]["amount"]))
        assert abs(d_units - units) <= units * 0.005
        assert abs(d_sales - sales) <= sales * Decimal("0.005")
        differing += d_units != units
        for key in ("buyBoxPercentage", "orderItemSessionPercentage", "receivedNegativeFeedbackRate"):
            assert 0 <= traffic[key] <= 100
        assert 0 <= entry["salesByDate"]["refundRate"] <= 100
    assert 1 <= differing <= 15


def test_week_and_month_totals_are_sums_of_days(s):
    mkt = get_marketplace("UK")
    first, last = dt.date(2026, 2, 1), dt.date(2026, 2, 28)  # Sunday .. Saturday, whole month
    daily = to_json(s.sales_and_traffic_document(mkt.marketplace_id, first, last, asin_granularity="CHILD"))
    weekly = to_json(s.sales_and_traffic_document(mkt.marketplace_id, first, last, date_granularity="WEEK"))
    monthly = to_json(s.sales_and_traffic_document(mkt.marketplace_id, first, last, date_granularity="MONTH"))
    assert len(daily["salesAndTrafficByDate"]) == 28 and len(weekly["salesAndTrafficByDate"]) == 4
    for field in ("unitsOrdered", "totalOrderItems"):
        total = sum(e["salesByDate"][field] for e in daily["salesAndTrafficByDate"])
        assert total == sum(e["salesByDate"][field] for e in weekly["salesAndTrafficByDate"])
        assert total == monthly["salesAndTrafficByDate"][0]["salesByDate"][field]
    sessions = sum(e["trafficByDate"]["sessions"] for e in daily["salesAndTrafficByDate"])
    assert sessions == monthly["salesAndTrafficByDate"][0]["trafficByDate"]["sessions"]
    # byAsin covers the whole range: the month's per-ASIN units are the sum of the single days
    month_units = {r["childAsin"]: r["salesByAsin"]["unitsOrdered"] for r in daily["salesAndTrafficByAsin"]}
    truth_units: dict[str, int] = defaultdict(int)
    for day in days(first, last):
        for t in s.truth.asin_days("UK", day):
            truth_units[t.child_asin] += t.units_ordered
    assert month_units == dict(truth_units)
    parents = {r["parentAsin"]: r["salesByAsin"]["unitsOrdered"] for r in weekly["salesAndTrafficByAsin"]}
    assert sum(parents.values()) == sum(month_units.values())


def test_zero_activity_days_keep_their_shape(s):
    """Before the AE launch there is nothing: byDate still lists every day (zeros), byAsin is empty."""
    mkt = get_marketplace("AE")
    first, last = dt.date(2025, 9, 1), dt.date(2025, 9, 7)
    doc = to_json(s.sales_and_traffic_document(mkt.marketplace_id, first, last, asin_granularity="CHILD"))
    assert [e["date"] for e in doc["salesAndTrafficByDate"]] == [d.isoformat() for d in days(first, last)]
    for entry in doc["salesAndTrafficByDate"]:
        assert entry["salesByDate"]["unitsOrdered"] == 0
        assert entry["salesByDate"]["orderedProductSales"] == {"amount": 0, "currencyCode": "AED"}
        assert entry["trafficByDate"]["sessions"] == 0
        assert entry["trafficByDate"]["unitSessionPercentage"] == 0
    assert doc["salesAndTrafficByAsin"] == []
    start, end = mkt.local_day_window_utc(first)
    assert s.order_report_rows(mkt.marketplace_id, start, end) == []
    assert list(s.sp_advertised_product_rows(s.truth.profile_id("AE"), first, last, ["adId"])) == []
    assert s.truth.asin_days("AE", first) == [] and s.truth.ad_spend("AE", first) == 0


def test_asins_with_sessions_but_no_sales_are_listed(s):
    mkt = get_marketplace("IT")
    day = dt.date(2026, 3, 10)
    doc = to_json(s.sales_and_traffic_document(mkt.marketplace_id, day, day, asin_granularity="CHILD"))
    rows = doc["salesAndTrafficByAsin"]
    no_sales = [r for r in rows if r["salesByAsin"]["unitsOrdered"] == 0]
    assert no_sales and all(r["trafficByAsin"]["sessions"] > 0 for r in no_sales)
    assert all(r["salesByAsin"]["orderedProductSales"]["amount"] == 0 for r in no_sales)
    assert all(r["trafficByAsin"]["sessions"] > 0 for r in rows)


@pytest.mark.parametrize(("code", "day"), [("US", dt.date(2026, 3, 8)), ("JP", dt.date(2026, 3, 9)),
                                           ("DE", dt.date(2025, 7, 9))])  # fmt: skip
def test_ads_never_claim_more_than_was_ordered(s, code, day):
    profile = s.truth.profile_id(code)
    cols = ["date", "adId", "campaignId", "adGroupId", "advertisedAsin", "advertisedSku", "impressions",
            "clicks", "cost", "spend", "costPerClick", "clickThroughRate", "sales1d", "sales7d", "sales14d",
            "sales30d", "attributedSalesSameSku7d", "salesOtherSku7d", "purchases7d", "purchases14d",
            "purchasesSameSku7d", "unitsSoldClicks7d", "unitsSoldClicks14d", "unitsSoldSameSku7d",
            "acosClicks7d", "acosClicks14d", "roasClicks7d", "roasClicks14d"]  # fmt: skip
    rows = list(s.sp_advertised_product_rows(profile, day, day, cols))
    assert rows
    ordered = {t.child_asin: t.ordered_sales for t in s.truth.asin_days(code, day)}
    attributed: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        assert r["impressions"] > 0 and r["clicks"] <= r["impressions"]
        assert r["cost"] == r["spend"]
        if r["clicks"]:
            assert r["cost"] == r["costPerClick"] * r["clicks"]  # spend = clicks × cpc, to the cent
            assert r["purchasesSameSku7d"] <= r["clicks"]
        else:
            assert r["cost"] == 0 and r["costPerClick"] is None
        assert r["clickThroughRate"] == (Decimal(r["clicks"]) / r["impressions"]).quantize(
            Decimal("0.0001"), ROUND_HALF_UP
        )
        assert r["sales1d"] <= r["sales7d"] <= r["sales14d"] <= r["sales30d"]
        assert r["purchases7d"] <= r["purchases14d"] and r["unitsSoldClicks7d"] <= r["unitsSoldClicks14d"]
        assert r["sales7d"] == r["attributedSalesSameSku7d"] + r["salesOtherSku7d"]
        assert r["unitsSoldClicks7d"] >= r["unitsSoldSameSku7d"] >= r["purchasesSameSku7d"]
        for w in ("7d", "14d"):
            sales, acos, roas = r[f"sales{w}"], r[f"acosClicks{w}"], r[f"roasClicks{w}"]
            if sales:
                assert acos == (r["cost"] / sales).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            else:
                assert acos is None
            if r["cost"]:
                assert roas == (sales / r["cost"]).quantize(Decimal("0.01"), ROUND_HALF_UP)
        attributed[r["advertisedAsin"]] += r["sales30d"]
    for asin, value in attributed.items():
        assert value <= ordered.get(asin, Decimal(0)), asin
    assert sum(attributed.values()) > 0
    # the ground truth is the same rows
    truth = s.truth.ad_rows(code, day)
    assert [(t.ad_id, t.spend, t.sales_7d, t.sales_14d, t.clicks) for t in truth] == sorted(
        (r["adId"], r["spend"], r["sales7d"], r["sales14d"], r["clicks"]) for r in rows
    )
    assert s.truth.ad_spend(code, day) == sum(r["spend"] for r in rows)
    assert s.truth.ad_sales_7d(code, day) == sum(r["sales7d"] for r in rows)


def test_partial_day_sources_agree_as_of_now():
    now = dt.datetime(2026, 3, 11, 3, 30, tzinfo=dt.UTC)  # 12:30 in Tokyo
    live = seller(now=now)
    mkt = get_marketplace("JP")
    day = dt.date(2026, 3, 11)
    units, sales, rows = _report_by_asin(live, "JP", day)
    assert rows and all(dt.datetime.fromisoformat(r["purchase-date"]) <= now for r in rows)
    doc = to_json(live.sales_and_traffic_document(mkt.marketplace_id, day, day, asin_granularity="CHILD"))
    st_units = {r["childAsin"]: r["salesByAsin"]["unitsOrdered"] for r in doc["salesAndTrafficByAsin"]}
    assert {a: u for a, u in units.items() if u} == {a: u for a, u in st_units.items() if u}
    for r in doc["salesAndTrafficByAsin"]:
        assert r["trafficByAsin"]["sessions"] >= r["salesByAsin"]["totalOrderItems"]
    full = seller(now=dt.datetime(2026, 3, 13, tzinfo=dt.UTC))
    assert live.truth.units_ordered("JP", day) < full.truth.units_ordered("JP", day)
    assert live.truth.ad_spend("JP", day) < full.truth.ad_spend("JP", day)
    assert list(live.sp_advertised_product_rows(live.truth.profile_id("JP"), day + dt.timedelta(days=1),
                                                day + dt.timedelta(days=1), ["adId"])) == []  # fmt: skip


def test_seasonality_and_scale_of_the_business(s):
    """Prime Day and Q4 are peaks; weekly totals land in the intended ballpark (USD-equivalent)."""
    normal = float(s.truth.ordered_sales("US", dt.date(2025, 7, 1)))
    prime = float(s.truth.ordered_sales("US", dt.date(2025, 7, 8)))
    december = float(s.truth.ordered_sales("US", dt.date(2025, 12, 10)))
    assert prime > 1.8 * normal
    assert december > 1.2 * normal
    fx = {"US": 1, "CA": 1.37, "MX": 18, "UK": 0.79, "DE": 0.92, "FR": 0.92, "IT": 0.92, "ES": 0.92,
          "AE": 3.67, "AU": 1.52, "JP": 150}  # fmt: skip
    week = days(dt.date(2025, 10, 6), dt.date(2025, 10, 12))
    spend = sum(float(s.truth.ad_spend(c, d)) / fx[c] for c in fx for d in week)
    sales = sum(float(s.truth.ordered_sales(c, d)) / fx[c] for c in fx for d in week)
    assert 70_000 / 30 * 7 < spend < 250_000 / 30 * 7  # ~$100k+ a month
    assert 0.08 < spend / sales < 0.22  # TACOS ~10–20 %


def test_campaign_spend_respects_daily_budgets(s):
    profile = s.truth.profile_id("US")
    day = dt.date(2025, 7, 8)  # Prime Day: the budget cap matters
    spend: dict[int, Decimal] = defaultdict(Decimal)
    budgets: dict[int, Decimal] = {}
    for r in s.sp_advertised_product_rows(profile, day, day, ["campaignId", "cost", "campaignBudgetAmount"]):
        spend[r["campaignId"]] += r["cost"]
        budgets[r["campaignId"]] = r["campaignBudgetAmount"]
    assert spend and all(spend[c] <= budgets[c] * Decimal("1.25") for c in spend)


def test_generation_is_on_demand_and_streamed():
    """Nothing is precomputed: a day is generated when asked, ads rows stream one day at a time."""
    fresh = seller()
    assert len(fresh._days._data) == 0
    fresh.truth.units_ordered("US", dt.date(2026, 3, 10))
    assert list(fresh._days._data) == [("US", dt.date(2026, 3, 10))]
    rows = fresh.sp_advertised_product_rows(
        fresh.truth.profile_id("UK"), dt.date(2026, 2, 1), dt.date(2026, 3, 3), ["date", "adId"]
    )
    first = next(rows)
    assert first["date"] == "2026-02-01"
    assert len([k for k in fresh._ads_days._data if k[0] == "UK"]) == 1
    remaining = sum(1 for _ in rows)
    assert remaining > 25 * 300
    # a year of single days for one marketplace stays cheap enough to run in a test
    total = sum(fresh.truth.units_ordered("AE", d) for d in days(dt.date(2025, 9, 1), dt.date(2026, 3, 1)))
    assert total > 0
