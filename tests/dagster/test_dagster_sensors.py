"""Sensors: the historical backfill (throttle, dedupe, rounds, cursor) and dbt after raw loads settle."""

from __future__ import annotations

import datetime as dt
import json
import time

import dagster as dg
import pytest

from chalkola_pipelines.defs.backfill_plan import SOURCES, wanted_window
from chalkola_pipelines.defs.backfill_status import HISTORY_ROUND_TAG, backfill_progress
from chalkola_pipelines.defs.jobs import DBT_MARTS_JOB, JOB_OF_ASSET, build_jobs
from chalkola_pipelines.defs.partitions import configured_marketplaces, daily_marketplace_partitions
from chalkola_pipelines.defs.sensors import build_dbt_after_raw_loads_sensor, build_history_backfill_sensor

D = dt.date


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
        yield sensor, instance, start, parts


def _tick(sensor, instance, cursor=None):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensor(ctx)
    return result, ctx.cursor


def _wanted(start: dt.date) -> dict[tuple[str, str], list[dt.date]]:
    now = dt.datetime.now(dt.UTC)
    latest = now.date()
    out = {}
    for asset in SOURCES:
        for mkt in MKTS:
            window = wanted_window(asset, mkt, now, start, latest)
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
    sensor, instance, start, parts = history
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
    progress = backfill_progress(instance, MKTS, parts, round_no=1)
    assert progress.in_flight_runs == {"na": 2, "fe": 2}
    orders = progress.by_source[("sp_orders", "US")]
    assert orders.in_flight == orders.wanted and orders.done == 0

    # everything is materialised → nothing left
    for (asset, code), days in _wanted(start).items():
        _materialize(instance, asset, code, days)
    for run in instance.get_runs():
        instance.report_run_canceled(run)
    done, _ = _tick(sensor, instance, result.cursor)
    assert isinstance(done, dg.SkipReason) and "history complete" in done.skip_message


def test_history_sensor_retries_failures_in_the_next_round(history) -> None:
    sensor, instance, start, parts = history
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
    progress = backfill_progress(instance, MKTS, parts, round_no=1)
    assert progress.failed_days == {("sp_orders", "US"): [failed_day]}
    assert progress.totals().failed == 1 and progress.totals().missing == 1
    assert "1 missing (1 failed)" in progress.summary_line()
    ctx = dg.build_sensor_context(instance=instance, cursor=first.cursor)
    skip = sensor(ctx)
    assert isinstance(skip, dg.SkipReason) and "retrying them in round 2" in skip.skip_message
    assert json.loads(ctx.cursor) == {"round": 2}

    retry, _ = _tick(sensor, instance, ctx.cursor)
    (req2,) = retry.run_requests
    assert req2.run_key == f"history:r2:sp_orders:US:{failed_day}:{failed_day}"
    assert req2.tags == {**req.tags, HISTORY_ROUND_TAG: "2"}


def test_history_sensor_loads_sales_traffic_as_region_runs() -> None:
    mkts = configured_marketplaces({"CHALKOLA_MARKETPLACES": "US,CA,JP"})
    start = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)
    parts = daily_marketplace_partitions(mkts, start)
    jobs = [j for j in build_jobs() if j.name in JOB_OF_ASSET.values()]
    sensor = build_history_backfill_sensor(mkts, parts, jobs, max_in_flight_per_region=6)
    with dg.instance_for_test() as instance:
        result, _ = _tick(sensor, instance)
        st = [r for r in result.run_requests if r.job_name == "sp_sales_traffic_job"]
        na = next(r for r in st if r.tags["amazon/region"] == "na")
        assert na.tags["dagster/asset_partition_range_start"].endswith("|US")
        assert na.tags["dagster/asset_partition_range_end"].endswith("|CA")
        assert len(st) == 2  # one per region: US+CA, JP
        orders = [r for r in result.run_requests if r.job_name == "sp_orders_job"]
        assert len(orders) == 2  # one region run per region: US+CA (one report for both), JP
        na_orders = next(r for r in orders if r.tags["amazon/region"] == "na")
        assert na_orders.tags["dagster/asset_partition_range_end"].endswith("|CA")
        for req in result.run_requests:
            _fake_run(instance, req.job_name, req.tags, dg.DagsterRunStatus.STARTED, req.partition_key)
        progress = backfill_progress(instance, mkts, parts)
        assert (
            progress.by_source[("sp_sales_traffic", "CA")].in_flight
            == progress.by_source[("sp_sales_traffic", "CA")].wanted
        )
        # nothing left to launch, but the ETA still counts the calls of the runs in flight
        assert not progress.plan.runs and progress.plan.calls() == {}
        assert progress.not_done_plan.calls()["data_kiosk createQuery (na)"] >= 3
        assert "quota bound of the work not done" in progress.summary_line()


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
