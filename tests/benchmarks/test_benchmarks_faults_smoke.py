"""benchmarks/faults.py --quick: a fault-free backfill, a 500/503 burst and kill -9 of a run worker mid-poll,
US + DE + JP through a real code server, dagster-daemon, run queue and webserver against the simulator. Per
scenario: 0 wrong partitions, 0 duplicate rows, 0 rows lost after the retry path, 0 stuck runs, 0 leaked pool
slots (correctness, not timing); the killed run ends FAILED through run monitoring; nothing is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "faults.py"

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(2400)]

KEYS = {
    "scenario", "partitions", "partitions_correct", "partitions_failed_clear", "partitions_failed_unclear",
    "partitions_wrong", "duplicate_rows", "rows_lost", "rows_not_in_truth", "quota_spent", "quota_vs_fault_free",
    "runs_stuck", "slots_leaked",
}  # fmt: skip


def test_quick_grid_loses_nothing_and_leaves_nothing_stuck(pg_server_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--quick", "--database-url", pg_server_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=2300)
    lines = [json.loads(x) for x in stdout.strip().splitlines()]
    assert lines and lines[-1].get("summary"), stderr[-3000:]
    by_name = {r["scenario"]: r for r in lines[:-1]}
    assert set(by_name) == {"baseline", "5xx_burst", "kill9_mid_poll"}, stdout
    for name, r in by_name.items():
        assert KEYS <= set(r), name
        assert r["partitions"] == 27, name  # 3 assets × 3 marketplaces × 3 days
        assert r["rows_truth"] > 0 and r["rows_loaded"] > 0, name
        for key in ("partitions_wrong", "duplicate_rows", "rows_lost", "rows_not_in_truth", "runs_stuck",
                    "slots_leaked", "partitions_failed_unclear"):  # fmt: skip
            assert r[key] == 0, (name, key, r)
        assert r["partitions_correct"] == 27, (name, r)
    assert by_name["baseline"]["runs_retried"] == 0, by_name["baseline"]
    assert by_name["5xx_burst"]["http_faulted"], "the burst was injected"
    assert by_name["5xx_burst"]["faults_not_consumed"] == [], by_name["5xx_burst"]
    kill = by_name["kill9_mid_poll"]["action"]
    assert kill["killed_run"] and kill["killed_run_status"] == "FAILURE", kill
    # nothing silent: killed_run_notes_sensor named the dead run's partitions in its event log
    assert kill["killed_run_note"] and kill["killed_run"][:8] in kill["killed_run_note"], kill
    assert (
        "of partitions 20" in kill["killed_run_note"] and "re-execute the run" in kill["killed_run_note"]
    ), kill
    assert lines[-1]["ok"] and proc.returncode == 0, lines[-1]
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        left = conn.execute(
            "select count(*) from pg_database where datname like %s", (f"chalkola_faults_{proc.pid}_%",)
        ).fetchone()[0]
    assert left == 0
