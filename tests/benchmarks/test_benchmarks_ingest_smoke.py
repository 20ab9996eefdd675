"""Smoke test of benchmarks/ingest.py --quick: it runs end to end against the real (embedded) Postgres and
prints one JSON line with every figure. No timing or memory assertion (those belong to the benchmark)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "ingest.py"

pytestmark = pytest.mark.integration

RATE_KEYS = {"rows", "ours_seconds", "raw_copy_seconds", "ours_rows_per_s", "raw_copy_rows_per_s", "ratio"}


def test_quick_benchmark_prints_one_json_line_with_every_figure(pg_server_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--quick", "--ads-mb", "5", "--database-url", pg_server_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    result = json.loads(lines[0])
    assert result["benchmark"] == "ingest" and result["mode"] == "quick"
    for section in ("ads", "sales_traffic", "orders"):
        assert RATE_KEYS <= set(result[section]), section
        assert result[section]["rows"] > 0, section
    assert {
        "parse_only_rows_per_s",
        "parse_to_csv_rows_per_s",
        "wrapped_rows_per_s",
        "wrapped_ratio",
        "wrapped_peak_rss_mb",
        "peak_rss_mb",
        "baseline_rss_mb",
        "document_mb",
        "days",
    } <= set(result["ads"])
    assert result["ads"]["peak_rss_mb"] > 0
    assert set(result["meets_targets"]) == {
        "ads_ratio",
        "sales_traffic_ratio",
        "orders_ratio",
        "ads_peak_rss",
    }
    assert result["targets"] == {"ratio_min": 0.5, "ads_peak_rss_mb_max": 250.0}
    # its throwaway database is gone
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        left = conn.execute(
            "select count(*) from pg_database where datname like %s", (f"chalkola_bench_{proc.pid}_%",)
        ).fetchone()[0]
    assert left == 0
