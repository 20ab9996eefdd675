"""benchmarks/load_probes.py: the run-queue limits read from deploy/dagster.yaml and the concurrency counted
against them (pure functions; the benchmark itself runs a real daemon and webserver: see benchmarks/README.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from load_probes import concurrency_by_tag, limit_of, max_overlap, run_limits  # noqa: E402


def _limits() -> dict:
    return run_limits(yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text()))


def test_limits_are_those_of_deploy_dagster_yaml() -> None:
    limits = _limits()
    assert limits["max_concurrent_runs"] == 8
    assert {(t["key"], t["per_value"], t["limit"]) for t in limits["tags"]} == {
        ("dagster/backfill", False, 4),
        ("amazon/region", True, 4),
        ("amazon/api", True, 6),
    }
    assert limit_of("amazon/region=eu", limits) == 4 and limit_of("dagster/backfill", limits) == 4


def test_concurrency_is_counted_per_tag_value_and_overlap_per_instant() -> None:
    limits = _limits()
    eu, na = {"amazon/region": "eu"}, {"amazon/region": "na", "amazon/api": "dbt"}
    assert concurrency_by_tag([eu, eu, na, {}], limits) == (
        4,
        {"amazon/region=eu": 2, "amazon/region=na": 1, "amazon/api=dbt": 1},
    )
    # four EU runs, but never more than three at once: [0,10) [1,5) [2,12) then [5,9) after the second ended
    intervals = [(0, 10, eu), (1, 5, eu), (2, 12, eu), (5, 9, eu), (3, 4, na)]
    assert max_overlap(intervals, limits) == {
        "total": 4,
        "by_tag": {"amazon/region=eu": 3, "amazon/region=na": 1, "amazon/api=dbt": 1},
    }
    # a run that starts when another ends is not counted with it
    assert max_overlap([(0, 5, eu), (5, 9, eu)], limits)["by_tag"] == {"amazon/region=eu": 1}
