"""Sensors: the historical backfill (throttle, dedupe, rounds, cursor) and dbt after raw loads settle."""

from __future__ import annotations

import datetime as dt
import json
import time

import dagster as dg
import pytest

from chalkola_pipelines.defs.jobs import DBT_MARTS_JOB, JOB_OF_ASSET, build_jobs
from chalkola_pipelines.defs.partitions import (
    configured_marketplaces,
    daily_marketplace_partitions,
    range_tags,
)
from chalkola_pipelines.defs.sensors import (
    HISTORY_ROUND_TAG,
    HISTORY_SOURCES,
    build_dbt_after_raw_loads_sensor,
    build_history_backfill_sensor,
    missing_ranges,
    plan_history_ranges,
    run_days,
    wanted_days,
)
from chalkola_pipelines.marketplaces import get_marketplace

D = dt.date


def test_missing_ranges_are_cut_newest_first() -> None:
    days = [D(2026, 1, i) for i in range(1, 11)] + [D(2026, 1, 20)]
    assert missing_ranges(days, 4) == [
        (D(2026, 1, 20), D(2026, 1, 20)),
        (D(2026, 1, 7), D(2026, 1, 10)),
        (D(2026, 1, 3), D(2026, 1, 6)),
        (D(2026, 1, 1), D(2026, 1, 2)),
    ]


def test_plan_respects_the_per_region_budget_and_prefers_recent_days() -> None:
    missing = {
        ("sp_orders", "US"): [D(2026, 1, i) for i in range(1, 31)],
        ("sp_sales_traffic", "US"): [D(2026, 2, 1), D(2026, 2, 2)],
        ("sp_sales_traffic", "JP"): [D(2026, 1, 5)],
        ("sp_orders", "DE"): [D(2026, 1, 5)],
    }
    chosen = plan_history_ranges(missing, {"na": 1, "eu": 2}, max_in_flight_per_region=2)
    assert [(r.asset, r.marketplace.code, r.first, r.last) for r in chosen] == [
        ("sp_sales_traffic", "JP", D(2026, 1, 5), D(2026, 1, 5)),
        ("sp_sales_traffic", "US", D(2026, 2, 1), D(2026, 2, 2)),
    ]
    req = chosen[1].run_request(3)
    assert req.job_name == "sp_sales_traffic_job"
    assert req.run_key == "history:r3:sp_sales_traffic:US:2026-02-01:2026-02-02"
    assert req.tags[HISTORY_ROUND_TAG] == "3" and req.tags["amazon/region"] == "na"


def test_run_days_from_tags() -> None:
    assert run_days(range_tags("JP", D(2026, 1, 30), D(2026, 2, 1))) == (
        "JP",
        [D(2026, 1, 30), D(2026, 1, 31), D(2026, 2, 1)],
    )
    assert run_days({"dagster/partition": "2026-01-02|US"}) == ("US", [D(2026, 1, 2)])
    assert run_days({"dagster/partition/date": "2026-01-02", "dagster/partition/marketplace": "UK"}) == (
        "UK",
        [D(2026, 1, 2)],
    )
    assert run_days({}) is None


def test_ads_history_stops_at_the_retention_window() -> None:
    now = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    us = get_marketplace("US")
    assert wanted_days("ads_sp_advertised_product", us, now, D(2024, 11, 1), D(2026, 11, 23)) == (
        D(2026, 8, 20),
        D(2026, 11, 22),
    )
    assert wanted_days("sp_sales_traffic", us, now, D(2024, 11, 1), D(2026, 11, 23)) == (
        D(2024, 11, 1),
        D(2026, 11, 21),
    )


# --------------------------------------------------------------------------------------------------
# the history sensor against a real (temporary) instance

MKTS = configured_marketplaces({"CHALKOLA_MARKETPLACES": "US,JP"})


@pytest.fixture
def history():
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)
    parts = daily_marketplace_partitions(MKTS, start)
    jobs = [j for j in build_jobs() if j.name in JOB_OF_ASSET.values()]
    sensor = build_history_backfill_sensor(MKTS, parts, jobs, max_in_flight_per_region=2)
    with dg.instance_for_test() as instance:
        yield sensor, instance, start


def _tick(sensor, instance, cursor=None):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensor(ctx)
    return result, ctx.cursor


def _wanted(start: dt.date) -> dict[tuple[str, str], list[dt.date]]:
    now = dt.datetime.now(dt.UTC)
    latest = now.date()
    out = {}
    for asset in HISTORY_SOURCES:
        for mkt in MKTS:
            window = wanted_days(asset, mkt, now, start, latest)
            if window:
                out[(asset, mkt.code)] = [
                    window[0] + dt.timedelta(days=i) for i in range((window[1] - window[0]).days + 1)
                ]
    return out


def _materialize(instance, asset: str, code: str, days) -> None:
    for day in days:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=asset, partition=f"{day.isoformat()}|{code}")
        )


def _fake_run(
    instance, job_name: str, tags: dict[str, str], status: dg.DagsterRunStatus, partition=None
) -> None:
    """A run as the daemon would have created it from a run request (partition tag included)."""
    if partition:
        tags = {**tags, "dagster/partition": partition}

    @dg.op
    def noop(): ...

    @dg.job(name=job_name)
    def fake():
        noop()

    instance.create_run_for_job(fake, tags=tags, status=status)


def test_history_sensor_throttles_per_region_and_finishes(history) -> None:
    sensor, instance, start = history
    result, cursor = _tick(sensor, instance)
    assert isinstance(result, dg.SensorResult)
    regions = [r.tags["amazon/region"] for r in result.run_requests]
    assert sorted(regions) == ["fe", "fe", "na", "na"]
    assert json.loads(result.cursor) == {"round": 1}
    assert all(r.run_key.startswith("history:r1:") for r in result.run_requests)

    # the four runs are now running: no free slot in either region
    for req in result.run_requests:
        _fake_run(instance, req.job_name, req.tags, dg.DagsterRunStatus.STARTED, req.partition_key)
    waiting, _ = _tick(sensor, instance, result.cursor)
    assert isinstance(waiting, dg.SkipReason) and "waiting for a free slot" in waiting.skip_message

    # everything is materialised → nothing left
    for (asset, code), days in _wanted(start).items():
        _materialize(instance, asset, code, days)
    for run in instance.get_runs():
        instance.report_run_canceled(run)
    done, _ = _tick(sensor, instance, result.cursor)
    assert isinstance(done, dg.SkipReason) and "history complete" in done.skip_message


def test_history_sensor_retries_failures_in_the_next_round(history) -> None:
    sensor, instance, start = history
    wanted = _wanted(start)
    us_orders = wanted[("sp_orders", "US")]
    failed_day = us_orders[-1]
    for (asset, code), days in wanted.items():
        _materialize(
            instance, asset, code, [d for d in days if (asset, code, d) != ("sp_orders", "US", failed_day)]
        )
    first, _ = _tick(sensor, instance)
    (req,) = first.run_requests
    assert req.run_key == f"history:r1:sp_orders:US:{failed_day}:{failed_day}"

    _fake_run(instance, req.job_name, req.tags, dg.DagsterRunStatus.FAILURE, req.partition_key)
    ctx = dg.build_sensor_context(instance=instance, cursor=first.cursor)
    skip = sensor(ctx)
    assert isinstance(skip, dg.SkipReason) and "retrying them in round 2" in skip.skip_message
    assert json.loads(ctx.cursor) == {"round": 2}

    retry, _ = _tick(sensor, instance, ctx.cursor)
    (req2,) = retry.run_requests
    assert req2.run_key == f"history:r2:sp_orders:US:{failed_day}:{failed_day}"
    assert req2.tags == {**req.tags, HISTORY_ROUND_TAG: "2"}


# --------------------------------------------------------------------------------------------------
# dbt after raw loads


def test_dbt_sensor_builds_once_per_batch() -> None:
    dbt_job = next(j for j in build_jobs() if j.name == DBT_MARTS_JOB)
    sensor = build_dbt_after_raw_loads_sensor(dbt_job)
    with dg.instance_for_test() as instance:
        nothing, _ = _tick(sensor, instance)
        assert isinstance(nothing, dg.SkipReason) and "no raw load" in nothing.skip_message

        _materialize(instance, "sp_orders", "US", [D(2026, 11, 20), D(2026, 11, 21)])
        _fake_run(instance, "sp_orders_job", {}, dg.DagsterRunStatus.STARTED)
        waiting, _ = _tick(sensor, instance)
        assert isinstance(waiting, dg.SkipReason) and "waiting for 1" in waiting.skip_message

        for run in instance.get_runs():
            instance.report_run_failed(run)
        build, _ = _tick(sensor, instance)
        assert isinstance(build, dg.SensorResult) and len(build.run_requests) == 1
        newest = json.loads(build.cursor)["storage_id"]
        assert build.run_requests[0].run_key == f"dbt:{newest}"

        again, _ = _tick(sensor, instance, build.cursor)
        assert isinstance(again, dg.SkipReason)

        _materialize(instance, "ads_sp_advertised_product", "JP", [D(2026, 11, 21)])
        next_build, _ = _tick(sensor, instance, build.cursor)
        assert isinstance(next_build, dg.SensorResult)
        assert json.loads(next_build.cursor)["storage_id"] > newest


def test_dbt_sensor_does_not_wait_forever() -> None:
    dbt_job = next(j for j in build_jobs() if j.name == DBT_MARTS_JOB)
    sensor = build_dbt_after_raw_loads_sensor(dbt_job, max_wait=dt.timedelta(0))
    with dg.instance_for_test() as instance:
        _materialize(instance, "sp_sales_traffic", "US", [D(2026, 11, 20)])
        _fake_run(instance, "sp_sales_traffic_job", {}, dg.DagsterRunStatus.STARTED)
        result, _ = _tick(sensor, instance)
        assert isinstance(result, dg.SensorResult)


def _successful_dbt_build(instance) -> str:
    """A real, successful run of a job named dbt_marts_job (no asset selection: a full build, as the demo's
    `dagster job execute -j dbt_marts_job`), with the run record's start time set by the run itself."""

    @dg.op
    def build(): ...

    @dg.job(name=DBT_MARTS_JOB)
    def full_build():
        build()

    result = full_build.execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def test_dbt_sensor_does_not_rebuild_what_a_full_build_already_read() -> None:
    """After `make demo` (raw loads, then dbt build) the sensor's first tick under `make ui` skips."""
    dbt_job = next(j for j in build_jobs() if j.name == DBT_MARTS_JOB)
    sensor = build_dbt_after_raw_loads_sensor(dbt_job)
    with dg.instance_for_test() as instance:
        _materialize(instance, "sp_orders", "US", [D(2026, 11, 20), D(2026, 11, 21)])
        _materialize(instance, "sp_sales_traffic", "US", [D(2026, 11, 20)])
        before, _ = _tick(sensor, instance)
        assert isinstance(before, dg.SensorResult), "without a dbt build the loads are built"

        time.sleep(0.05)  # the build starts after the loads (timestamps)
        run_id = _successful_dbt_build(instance)
        skipped, cursor = _tick(sensor, instance)
        assert isinstance(skipped, dg.SkipReason), skipped
        assert f"last full dbt build (run {run_id})" in skipped.skip_message
        assert cursor is None

        time.sleep(0.05)
        _materialize(instance, "ads_sp_advertised_product", "US", [D(2026, 11, 21)])
        after, cursor = _tick(sensor, instance)
        assert isinstance(after, dg.SensorResult)
        assert after.run_requests[0].tags["chalkola/raw_assets"] == "ads_sp_advertised_product"
