"""Smoke test of benchmarks/nightly.py --tiny: US + CA through a real dagster-daemon and run queue against
two simulators (Data Kiosk and reports-only), one JSON line with every figure, no failed partition, rows equal
to the simulator's ground truth. No timing assertion (the figures belong to the benchmark)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "nightly.py"

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

VARIANT_KEYS = {
    "source", "time_scale", "runs_submitted", "runs_succeeded", "runs_failed", "partitions_requested",
    "partitions_failed", "simulated_wall_seconds", "simulated_wall_hours", "real_wall_seconds",
    "run_phases_real_seconds", "quota_bound", "bound_seconds", "ratio_to_bound", "api_calls",
    "api_calls_total", "http_429", "rows_loaded", "ground_truth", "cpu",
}  # fmt: skip


def test_tiny_nightly_prints_one_json_line_with_no_failed_partition(pg_server_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--tiny", "--database-url", pg_server_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    result = json.loads(lines[0])
    assert result["benchmark"] == "nightly" and result["mode"] == "tiny"
    assert result["errors"] == {}, result["errors"]
    assert result["marketplaces"] == ["US", "CA"]
    for name, source in (("data_kiosk", "auto"), ("reports", "reports")):
        variant = result[name]
        assert VARIANT_KEYS <= set(variant), name
        assert variant["source"] == source
        # US + CA are due at the same tick: one region run (the schedule's per-region S&T run)
        assert variant["runs_submitted"] == 1 and variant["runs_failed"] == 0, name
        assert variant["partitions_requested"] == 8 and variant["partitions_failed"] == 0, name
        assert variant["ground_truth"]["equal"], variant["ground_truth"]
        assert variant["rows_loaded"]["sp_sales_traffic_by_asin"] > 0
        assert variant["simulated_wall_seconds"] > 0 and variant["cpu"]["total_seconds"] > 0
    assert result["data_kiosk"]["api_calls"]["createQuery"]["202"] >= 3
    assert "createReport" not in result["data_kiosk"]["api_calls"]
    assert result["reports"]["api_calls"]["createReport"]["202"] == 8
    assert result["reports"]["quota_bound"]["bound_seconds"] == (8 - 4) * 900
    assert {"rows", "ours_rows_per_s", "raw_copy_rows_per_s", "ratio"} <= set(result["trends_ingest"])
    assert set(result["meets_targets"]) == {
        "data_kiosk_within_1_10_of_bound",
        "data_kiosk_no_failed_partitions",
        "reports_completes_without_failing",
        "rows_equal_ground_truth",
        "trends_ingest_ratio",
    }
    # the throwaway databases are gone
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        left = conn.execute(
            "select count(*) from pg_database where datname like %s", (f"chalkola_bench_{proc.pid}_%",)
        ).fetchone()[0]
    assert left == 0
