"""benchmarks/backfill.py on a short history: 45 days × US, DE, JP (three regions) filled by the history sensor
through a real dagster-daemon and run queue against the simulator — every partition materialised, rows equal
to the simulator's ground truth, no run failed, no 429, the planner's run count and the runs launched agree;
the hand-written python-amazon-sp-api baseline runs and is extrapolated; dbt builds on the result.
Correctness, not timing (the ratio is the benchmark's business)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "backfill.py"

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(1800)]


def test_short_backfill_through_the_daemon_equals_the_ground_truth(pg_server_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--days", "45", "--marketplaces", "US,DE,JP", "--time-scale", "120",
         "--baseline-reports", "3", "--database-url", pg_server_url],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=1700,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    backfill = result["backfill"]
    assert backfill["partitions_wanted"] > 3 * 3 * 40  # 3 sources × 3 marketplaces × ~45 days (Ads: all 45)
    assert backfill["partitions_done"] == backfill["partitions_wanted"], backfill
    assert backfill["partitions_failed"] == 0 and backfill["runs_failed"] == 0, backfill["failed_runs"]
    assert backfill["http_429"] == {}, backfill["http_429"]
    assert backfill["runs"] >= backfill["plan"]["runs"], (backfill["runs"], backfill["plan"])  # + a new day
    truth = backfill["ground_truth"]
    assert truth["sales_traffic"]["equal"] and truth["sales_traffic"]["marketplace_days"] > 100, truth
    assert truth["orders"]["equal"] and truth["orders"]["marketplace_days"] > 100, truth
    assert backfill["rows_loaded"]["sp_sales_traffic_by_asin"] > 0
    assert backfill["bound_seconds"] > 0 and backfill["ratio_to_bound"] > 0
    dbt = backfill["dbt"]
    assert "full_build_error" not in dbt and "incremental_build_error" not in dbt, dbt
    assert dbt["bi_query_ms"] < 1000
    baseline = result["baseline"]
    assert baseline["reports"] == 3 and baseline["extrapolated_history_seconds"] > 0, baseline
