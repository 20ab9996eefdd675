"""Nightly schedules: lag-aware windows per source, one tick per marketplace-local day, range run requests."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import dagster as dg
import pytest

from chalkola_pipelines.defs.jobs import build_jobs
from chalkola_pipelines.defs.partitions import configured_marketplaces, daily_marketplace_partitions
from chalkola_pipelines.defs.schedules import (
    ADS_WINDOW,
    NIGHTLY_WINDOWS,
    ORDERS_WINDOW,
    SALES_TRAFFIC_WINDOW,
    TICK_HOURS_UTC,
    build_schedules,
    is_due,
    nightly_run_requests,
)
from chalkola_pipelines.marketplaces import all_marketplaces, get_marketplace

ALL = configured_marketplaces({})
START = dt.date(2024, 11, 1)


def _ticks(first: dt.date, days: int, minute: int = 0):
    for i in range(days):
        day = first + dt.timedelta(days=i)
        for hour in TICK_HOURS_UTC:
            yield dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


@pytest.mark.parametrize("mkt", all_marketplaces(), ids=lambda m: m.code)
def test_every_marketplace_is_due_exactly_once_per_local_day_over_a_year(mkt) -> None:
    """Across DST changes too: each local day gets exactly one tick between 10:00 and 18:00 local."""
    due_days = Counter(
        t.astimezone(mkt.tz).date() for t in _ticks(dt.date(2026, 1, 1), 366) if is_due(mkt, t)
    )
    inner = [dt.date(2026, 1, 3) + dt.timedelta(days=i) for i in range(360)]
    assert all(due_days[d] == 1 for d in inner), {d: due_days[d] for d in inner if due_days[d] != 1}
    for t in _ticks(dt.date(2026, 3, 1), 60):
        if is_due(mkt, t):
            assert 10 <= t.astimezone(mkt.tz).hour < 18


def test_windows_per_source_are_lag_aware() -> None:
    tick = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)  # US: 10:00 on 2026-11-23
    us = get_marketplace("US")
    requests = {
        w.asset: list(nightly_run_requests(w, [us], tick, earliest=START, latest=dt.date(2026, 11, 23)))
        for w in NIGHTLY_WINDOWS
    }
    st = requests[SALES_TRAFFIC_WINDOW.asset][0]
    assert st.tags["dagster/asset_partition_range_start"] == "2026-11-18|US"  # D-5
    assert st.tags["dagster/asset_partition_range_end"] == "2026-11-21|US"  # D-2
    assert st.run_key == "sp_sales_traffic:US:2026-11-23"
    orders = requests[ORDERS_WINDOW.asset][0]
    assert (
        orders.tags["dagster/asset_partition_range_start"],
        orders.tags["dagster/asset_partition_range_end"],
    ) == (
        "2026-11-16|US",
        "2026-11-22|US",
    )
    ads = requests[ADS_WINDOW.asset][0]
    assert ads.tags["dagster/asset_partition_range_start"] == "2026-10-12|US"  # D-42: two reports (31 + 11)
    for req in (st, orders, ads):
        assert req.tags["amazon/region"] == "na"
        assert req.tags["chalkola/launched_by"].endswith("_nightly")


def test_window_is_clipped_to_the_partition_set() -> None:
    tick = dt.datetime(2024, 11, 5, 18, 0, tzinfo=dt.UTC)
    (req,) = nightly_run_requests(
        ADS_WINDOW, [get_marketplace("US")], tick, earliest=START, latest=dt.date(2024, 11, 5)
    )
    assert req.tags["dagster/asset_partition_range_start"] == "2024-11-01|US"
    assert not list(
        nightly_run_requests(
            SALES_TRAFFIC_WINDOW, [get_marketplace("US")], dt.datetime(2024, 10, 30, 18, tzinfo=dt.UTC),
            earliest=START, latest=dt.date(2024, 10, 30),
        )
    )  # fmt: skip


def _schedule(name: str, marketplaces=ALL):
    parts = daily_marketplace_partitions(marketplaces, START)
    return next(s for s in build_schedules(marketplaces, parts) if s.name == name), parts


@pytest.mark.parametrize(
    ("hour", "expected"),
    [
        (2, {"JP", "AU"}),  # FE mid-morning
        (10, {"UK", "DE", "FR", "IT", "ES", "AE"}),  # EU (and AE) mid-day
        (18, {"US", "CA", "MX"}),  # NA mid-morning
    ],
)
def test_schedule_tick_fans_out_per_region(hour: int, expected: set[str]) -> None:
    schedule, parts = _schedule("sp_sales_traffic_nightly")
    jobs = build_jobs()
    defs = dg.Definitions(jobs=jobs, schedules=[schedule], assets=_stub_assets(parts))
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 11, 23, hour, 0, tzinfo=dt.UTC),
            repository_def=defs.get_repository_def(),
        )
        data = schedule.evaluate_tick(ctx)
    requests = data.run_requests or []
    # sales & traffic: ONE region run for the due marketplaces (Dagster's range = days × marketplaces)
    (request,) = requests
    keys = parts.get_partition_keys_in_range(
        dg.PartitionKeyRange(
            request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"],
        )
    )
    codes = {k.keys_by_dimension["marketplace"] for k in keys}
    assert codes == expected
    assert len(keys) == 4 * len(expected)  # D-5..D-2 of each
    assert {get_marketplace(c).region for c in codes} == {request.tags["amazon/region"]}


def test_region_runs_only_join_consecutive_due_marketplaces_with_the_same_window() -> None:
    codes = ["US", "UK", "CA", "MX", "JP"]  # NA split by UK in the partitions' order
    tick = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)
    requests = list(
        nightly_run_requests(
            SALES_TRAFFIC_WINDOW, [get_marketplace(c) for c in codes], tick, earliest=START,
            latest=dt.date(2026, 11, 23),
        )
    )  # fmt: skip
    ranges = [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ]
    assert ranges == [("2026-11-18|US", "2026-11-21|US"), ("2026-11-18|CA", "2026-11-21|MX")]
    assert [r.run_key for r in requests] == [
        "sp_sales_traffic:US:2026-11-23",
        "sp_sales_traffic:CA+MX:2026-11-23",
    ]
    # orders stay one run per marketplace
    orders = list(
        nightly_run_requests(
            ORDERS_WINDOW,
            [get_marketplace(c) for c in codes],
            tick,
            earliest=START,
            latest=dt.date(2026, 11, 23),
        )
    )
    assert len(orders) == 3


def test_schedule_skips_when_no_marketplace_is_due() -> None:
    schedule, parts = _schedule("sp_orders_nightly", configured_marketplaces({"CHALKOLA_MARKETPLACES": "US"}))
    defs = dg.Definitions(jobs=build_jobs(), schedules=[schedule], assets=_stub_assets(parts))
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=dt.datetime(2026, 11, 23, 2, 10, tzinfo=dt.UTC),
            repository_def=defs.get_repository_def(),
        )
        data = schedule.evaluate_tick(ctx)
    assert not data.run_requests and "no marketplace" in (data.skip_message or "")


def test_crons_are_staggered_per_source() -> None:
    crons = {w.cron for w in NIGHTLY_WINDOWS}
    assert crons == {"0 2,10,18 * * *", "10 2,10,18 * * *", "20 2,10,18 * * *"}


def _stub_assets(parts):
    """Stand-ins with the real keys and partitions, so the jobs resolve without the Amazon assets."""

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(name, partitions_def=parts)
            for name in ("sp_sales_traffic", "sp_orders", "ads_sp_advertised_product")
        ],
        can_subset=True,
    )
    def raw(): ...

    @dg.asset(name="ads_profiles")
    def profiles(): ...

    @dg.asset(name="stg", group_name="staging")
    def stg(): ...

    return [raw, profiles, stg]
