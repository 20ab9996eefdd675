"""pool_slots_sensor on a real Postgres-backed instance (deploy/dagster.yaml, run monitoring's slot freeing off):
a step waiting on amazon_sp_reports gets a WARNING naming the pool and the runs holding it (tick log and the
waiting run's own event log, once), and slots still held by a run that ended are freed."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from chalkola_pipelines.defs.pool_sensor import build_pool_slots_sensor, inspect_pools
from chalkola_pipelines.warehouse.postgres import scratch_database, sqlalchemy_url

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
POOL = "amazon_sp_reports"


@pytest.fixture
def instance(pg_server_url: str, tmp_path: Path, monkeypatch):
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    config.pop("run_monitoring")  # the sensor is the safety net for an instance without it
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with scratch_database(pg_server_url, "dagster_pools", migrate=False) as url:
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        monkeypatch.setenv("DAGSTER_PG_URL", sqlalchemy_url(url))
        with dg.DagsterInstance.get() as inst:
            inst.event_log_storage.set_concurrency_slots(POOL, 1)
            yield inst
    shutil.rmtree(tmp_path / "storage", ignore_errors=True)


def _run(instance: dg.DagsterInstance, name: str, status: dg.DagsterRunStatus) -> str:
    @dg.op
    def noop(): ...

    @dg.job(name=name)
    def job():
        noop()

    return instance.create_run_for_job(job, status=status).run_id


def test_waiting_step_is_named_with_its_holders_and_dead_holders_are_freed(instance) -> None:
    storage = instance.event_log_storage
    holder = _run(instance, "sp_orders_job", dg.DagsterRunStatus.STARTED)
    waiter = _run(instance, "sp_sales_traffic_job", dg.DagsterRunStatus.STARTED)
    assert storage.claim_concurrency_slot(POOL, holder, "sp_orders").is_claimed
    assert not storage.claim_concurrency_slot(POOL, waiter, "sp_sales_traffic").is_claimed

    assert inspect_pools(instance).warnings == []  # not waiting long enough yet
    later = time.time() + 600
    report = inspect_pools(instance, now=later)
    (warning,) = report.warnings
    assert warning[:2] == (waiter, POOL)
    assert f"pool {POOL} (limit 1), held by runs {holder[:8]} (sp_orders_job, STARTED" in warning[2]
    assert report.freed == []

    sensor = build_pool_slots_sensor(wait_warning=dt.timedelta(0))
    ctx = dg.build_sensor_context(instance=instance)
    result = sensor(ctx)
    assert isinstance(result, dg.SkipReason) and f"for pool {POOL}" in result.skip_message
    told = [e.message for e in instance.all_logs(waiter) if "WARNING:" in (e.message or "")]
    assert len(told) == 1 and holder[:8] in told[0]
    sensor(dg.build_sensor_context(instance=instance, cursor=ctx.cursor))
    assert len([e for e in instance.all_logs(waiter) if "WARNING:" in (e.message or "")]) == 1  # once

    # the holder dies and is marked failed: Dagster leaves its slot claimed; the sensor frees it
    instance.report_run_failed(instance.get_run_by_id(holder))
    assert holder in {s.run_id for s in storage.get_concurrency_info(POOL).claimed_slots}
    freed = inspect_pools(instance, free_after=dt.timedelta(0), now=time.time() + 1).freed
    assert freed == [f"freed the {POOL} slots of run {holder[:8]} (FAILURE)"]
    assert holder not in {s.run_id for s in storage.get_concurrency_info(POOL).claimed_slots}
    assert storage.claim_concurrency_slot(POOL, waiter, "sp_sales_traffic").is_claimed
