"""benchmarks/nightly.py: the lower bounds the backfill and nightly benchmarks divide by (pure arithmetic)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from nightly import critical_path_seconds, download_bound_seconds  # noqa: E402

from chalkola_pipelines.amazon.usage_plans import usage_plan  # noqa: E402

PLAN = usage_plan("sp", "createQuery")  # burst 15, one a minute


def test_critical_path_gives_the_longest_queries_the_first_slots() -> None:
    assert PLAN.burst == 15 and PLAN.rate == pytest.approx(1 / 60, rel=0.01)
    minute = 1 / PLAN.rate
    # 15 at once when discovery is done, the 16th a minute later: it ends last
    assert critical_path_seconds(100.0, [1000.0] * 16, PLAN) == pytest.approx(100 + minute + 1000)
    # one long query among short ones: created first, it sets the bound, not the last slot
    lat = [3000.0] + [10.0] * 20
    assert critical_path_seconds(0.0, lat, PLAN) == pytest.approx(max(3000.0, 6 * minute + 10))
    assert critical_path_seconds(50.0, [], PLAN) == 50.0


def test_download_bound_serves_documents_as_they_can_be_ready() -> None:
    minute = 1 / PLAN.rate
    # 20 documents ready at 100 s: the burst of 15, then one a minute
    assert download_bound_seconds([100.0] * 20, PLAN) == pytest.approx(100 + 5 * minute)
    # the bucket refills while the long ones process: two late documents cost nothing extra
    assert download_bound_seconds([0.0] * 15 + [3000.0] * 2, PLAN) == pytest.approx(3000.0)
    assert download_bound_seconds([], PLAN) == 0.0
