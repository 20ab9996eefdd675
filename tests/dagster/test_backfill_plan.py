"""The backfill planner: grouping, newest first, the unavailable Ads window, quota-bound arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from chalkola_pipelines.amazon.data_kiosk_queries import query_windows
from chalkola_pipelines.defs.backfill_plan import (
    DATA_KIOSK,
    HISTORY_MARGIN,
    REPORTS,
    SOURCES,
    Meter,
    choose_runs,
    data_kiosk_meter,
    missing_ranges,
    oldest_available_day,
    plan_backfill,
    region_blocks,
    reports_meter,
    sales_traffic_seller_meter,
    trends_queries_for,
    wanted_window,
)
from chalkola_pipelines.marketplaces import all_marketplaces, get_marketplace, parse_marketplace_codes

D = dt.date
NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
ALL = parse_marketplace_codes(None)  # the eleven, in the partitions' order


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


EARLIEST = D(2024, 12, 1)


def history(marketplaces, earliest=EARLIEST) -> dict[tuple[str, str], list[dt.date]]:
    out = {}
    for source in SOURCES:
        for m in marketplaces:
            window = wanted_window(source, m, NOW, earliest, NOW.date())
            if window:
                out[(source, m.code)] = days(*window)
    return out


def test_missing_ranges_are_cut_newest_first() -> None:
    missing = days(D(2026, 1, 1), D(2026, 1, 10)) + [D(2026, 1, 20)]
    assert missing_ranges(missing, 4) == [
        (D(2026, 1, 20), D(2026, 1, 20)),
        (D(2026, 1, 7), D(2026, 1, 10)),
        (D(2026, 1, 3), D(2026, 1, 6)),
        (D(2026, 1, 1), D(2026, 1, 2)),
    ]


def test_history_stops_where_amazon_stops_serving() -> None:
    """Ads: 95 days of retention; sales & traffic: Data Kiosk's startDate no more than two years ago."""
    now = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    us = get_marketplace("US")
    assert wanted_window("ads_sp_advertised_product", us, now, D(2024, 11, 1), D(2026, 11, 23)) == (
        D(2026, 8, 20),
        D(2026, 11, 22),
    )
    # two years back, less a day of margin (the backfill's own hours), and the region's report window starts
    # at its easternmost marketplace's midnight (BR, UTC-3: 2024-11-24 03:00Z < 2024-11-24 12:00Z)
    assert wanted_window("sp_sales_traffic", us, now, D(2024, 11, 1), D(2026, 11, 23)) == (
        D(2024, 11, 25),
        D(2026, 11, 21),
    )
    assert wanted_window("sp_orders", us, now, D(2024, 11, 1), D(2026, 11, 23))[0] == D(2024, 11, 25)


def test_the_oldest_day_is_never_cancelled_while_the_backfill_runs() -> None:
    """Measured: a 24-month backfill started at 13:32Z asked for AU/JP from 2024-12-04 (the old rule, UTC
    today − 2 years + 1 day); the FE window starts at AU midnight, 2024-12-03T13:00Z, already older than
    two years: Amazon CANCELLED it. Every planned day's report window must start after "two years ago" for
    the next day (HISTORY_MARGIN), whatever the marketplace's time zone."""
    now = dt.datetime(2026, 12, 3, 13, 32, tzinfo=dt.UTC)
    for code in ("US", "UK", "AE", "AU", "JP"):
        mkt = get_marketplace(code)
        oldest = oldest_available_day("sp_orders", mkt, now)
        assert oldest is not None
        region = [m for m in all_marketplaces() if m.region == mkt.region]
        window_start = min(m.local_day_window_utc(oldest)[0] for m in region)
        assert window_start >= now + HISTORY_MARGIN - dt.timedelta(days=730), code
        # and no more than one day is given up beyond that
        before = oldest - dt.timedelta(days=1)
        assert min(m.local_day_window_utc(before)[0] for m in region) < now + HISTORY_MARGIN - dt.timedelta(
            days=730
        )
    assert oldest_available_day("sp_orders", get_marketplace("AU"), now) == D(2024, 12, 6)


def test_region_blocks_follow_the_partitions_order() -> None:
    blocks = region_blocks(parse_marketplace_codes("US,CA,UK,DE,JP,MX"))
    assert [tuple(m.code for m in b) for b in blocks] == [("US", "CA"), ("UK", "DE"), ("JP",), ("MX",)]


def test_data_kiosk_sales_traffic_is_one_region_run_with_92_day_query_windows() -> None:
    mkts = parse_marketplace_codes("US,CA,JP")
    missing = {("sp_sales_traffic", c): days(D(2026, 6, 1), D(2026, 11, 30)) for c in ("US", "CA", "JP")}
    plan = plan_backfill(missing, mkts, asins_per_marketplace={"US": 1000, "CA": 200, "JP": 300})
    st = [r for r in plan.runs if r.source == "sp_sales_traffic"]
    na = [r for r in st if r.region == "na"]
    # one run for the region's history: its query windows are in flight together inside the run
    assert [tuple(m.code for m in r.marketplaces) for r in na] == [("US", "CA")]
    assert (na[0].first, na[0].last) == (D(2026, 6, 1), D(2026, 11, 30))
    assert query_windows(na[0].first, na[0].last) == [
        (D(2026, 8, 31), D(2026, 11, 30)),  # 92 days, cut from the newest day back
        (D(2026, 6, 1), D(2026, 8, 30)),
    ]
    # one discovery and one ByDate + per window the Trends queries the real builder packs for 1,200 US/CA pairs
    pairs = ((get_marketplace("US").marketplace_id, 1000), (get_marketplace("CA").marketplace_id, 200))
    trends = trends_queries_for(pairs, 92), trends_queries_for(pairs, 91)
    assert min(trends) >= 3  # 40 filters of ≤ 30 ASINs do not fit one 8,000-character query
    assert na[0].calls == {data_kiosk_meter("na").name: 2 + trends[0] + trends[1]}
    assert na[0].partitions == 2 * 183


def test_report_path_uses_the_per_seller_meter() -> None:
    mkts = parse_marketplace_codes("US,DE")
    missing = {("sp_sales_traffic", c): days(D(2026, 11, 1), D(2026, 11, 30)) for c in ("US", "DE")}
    plan = plan_backfill(missing, mkts, sales_traffic_path=REPORTS)
    assert all(len(r.marketplaces) == 1 for r in plan.runs)
    seller = sales_traffic_seller_meter()
    assert plan.calls()[seller.name] == 60
    # 4 at once, then one per 15 minutes: 56 × 900 s; the 96-a-day cap does not bind for 60
    assert plan.bound_by_meter()[seller.name] == pytest.approx(56 * 900)
    assert plan.binding_meter() == seller.name


def test_quota_bound_arithmetic() -> None:
    meter = Meter("m", burst=15, rate=1 / 60)
    assert meter.bound_seconds(10) == 0
    assert meter.bound_seconds(25) == pytest.approx(600)
    daily = Meter("d", burst=4, rate=1 / 900, daily_cap=96)
    assert daily.bound_seconds(8030) == pytest.approx(max((8030 - 4) * 900, 83 * 86_400))


def test_orders_share_one_report_per_region_window() -> None:
    mkts = parse_marketplace_codes("UK,DE,FR")
    missing = {("sp_orders", c): days(D(2026, 10, 4), D(2026, 11, 30)) for c in ("UK", "DE", "FR")}
    plan = plan_backfill(missing, mkts)
    # two region runs of 29 days (UK, DE and FR loaded from the region's report), not six
    assert [(tuple(m.code for m in r.marketplaces), r.days) for r in plan.runs] == [
        (("UK", "DE", "FR"), 29)
    ] * 2
    assert plan.calls() == {reports_meter("eu").name: 2}  # the region's report for each range, once


def test_order_ranges_align_across_time_zones_of_a_region() -> None:
    """At 14:30 UTC it is already tomorrow in Sydney but not in Tokyo: AU's newest day is one ahead. The
    ranges are cut from the region's union, so only the newest range differs and the older ones are
    region runs sharing the region's report (27 reports for 24 months, not 52)."""
    now = dt.datetime(2026, 12, 2, 14, 30, tzinfo=dt.UTC)
    mkts = parse_marketplace_codes("JP,AU")
    missing = {}
    for m in mkts:
        window = wanted_window("sp_orders", m, now, EARLIEST, now.date() + dt.timedelta(days=1))
        missing[("sp_orders", m.code)] = days(*window)
    assert missing[("sp_orders", "AU")][-1] == missing[("sp_orders", "JP")][-1] + dt.timedelta(days=1)
    plan = plan_backfill(missing, mkts)
    assert plan.calls() == {reports_meter("fe").name: 27}
    region_runs = [r for r in plan.runs if len(r.marketplaces) == 2]
    single = sorted((r.marketplaces[0].code, r.first, r.last) for r in plan.runs if len(r.marketplaces) == 1)
    assert len(region_runs) == 25  # every range but the newest: JP and AU together, one report each
    assert [code for code, _, _ in single] == ["AU", "JP"]  # the newest range: AU has one day more


def test_plan_is_newest_first_then_source_then_marketplace() -> None:
    mkts = parse_marketplace_codes("US,DE")
    missing = {
        ("sp_orders", "US"): days(D(2026, 1, 1), D(2026, 1, 30)),
        ("sp_sales_traffic", "US"): [D(2026, 2, 1), D(2026, 2, 2)],
        ("sp_sales_traffic", "DE"): [D(2026, 2, 2)],
        ("ads_sp_advertised_product", "DE"): [D(2026, 2, 2)],
    }
    plan = plan_backfill(missing, mkts)
    assert [r.label for r in plan.runs] == [
        "sp_sales_traffic:US:2026-02-01:2026-02-02",
        "sp_sales_traffic:DE:2026-02-02:2026-02-02",
        "ads_sp_advertised_product:DE:2026-02-02:2026-02-02",
        "sp_orders:US:2026-01-02:2026-01-30",
        "sp_orders:US:2026-01-01:2026-01-01",
    ]
    chosen = choose_runs(plan, {"na": 1, "eu": 1}, max_in_flight_per_region=2)
    assert [r.label for r in chosen] == [
        "sp_sales_traffic:US:2026-02-01:2026-02-02",
        "sp_sales_traffic:DE:2026-02-02:2026-02-02",
    ]


def test_24_months_of_eleven_marketplaces() -> None:
    """The whole history: Data Kiosk needs on the order of a hundred queries (amazon-facts §8.2), the report
    path months (the per-seller S&T meter)."""
    missing = history(ALL)
    dk = plan_backfill(missing, ALL, sales_traffic_path=DATA_KIOSK)
    queries = sum(n for name, n in dk.calls().items() if name.startswith("data_kiosk"))
    assert 100 <= queries <= 250
    assert dk.binding_meter().startswith("data_kiosk")
    assert dk.bound_seconds() < 3 * 3600
    orders = sum(n for name, n in dk.calls().items() if name.startswith("sp createReport"))
    assert orders == 3 * 26  # 26 windows of ≤ 29 days per region for 24 months
    reports = plan_backfill(missing, ALL, sales_traffic_path=REPORTS)
    assert reports.calls()[sales_traffic_seller_meter().name] == sum(
        len(d) for (s, _), d in missing.items() if s == "sp_sales_traffic"
    )
    assert reports.bound_seconds() > 80 * 86_400  # ≈ 84 days at 96 a day
