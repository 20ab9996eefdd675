"""The daily landing retention job, executed in process against a real Postgres."""

from __future__ import annotations

import os
import time

import dagster as dg

from chalkola_pipelines.defs.landing_retention import (
    landing_retention_job,
    landing_retention_schedule,
)
from chalkola_pipelines.defs.resources import WarehouseResource
from chalkola_pipelines.warehouse.landing import LandingStore


def test_job_deletes_expired_order_documents(pg_server_url, tmp_path, monkeypatch) -> None:
    from chalkola_pipelines.warehouse.postgres import scratch_database

    monkeypatch.delenv("CHALKOLA_LANDING_RETENTION_DAYS_ORDERS", raising=False)
    store = LandingStore(tmp_path)
    old = store.path_for("sp_reports", "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", "NA", "1")
    old.write_bytes(b"x" * 10)
    stamp = time.time() - 31 * 86400
    os.utime(old, (stamp, stamp))
    with scratch_database(pg_server_url, "chalkola_ret") as url:
        result = landing_retention_job.execute_in_process(
            resources={"warehouse": WarehouseResource(database_url=url, landing_dir=str(tmp_path))}
        )
    assert result.success and not old.exists()
    assert result.output_for_node("prune_landing_store") == 1
    assert landing_retention_schedule.cron_schedule == "30 4 * * *"
    assert landing_retention_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
