"""The simulator counts every API call by operation, region and status code (state.request_stats and
GET /_simulator/stats): what the nightly benchmark reports as API calls and 429s per operation."""

from __future__ import annotations

import httpx
import pytest

from chalkola_pipelines.simulator.request_stats import RequestStats

pytestmark = pytest.mark.integration


def test_counter_groups_by_operation_status_and_region() -> None:
    stats = RequestStats()
    stats.record("createQuery", "na", 202)
    stats.record("createQuery", "na", 429)
    stats.record("createQuery", "eu", 202)
    stats.record("getQuery", "na", 200)
    snap = stats.snapshot()
    assert snap["total"] == 4
    assert snap["byOperation"]["createQuery"] == {
        "total": 3,
        "statuses": {"202": 2, "429": 1},
        "regions": {"eu": 1, "na": 2},
    }
    assert stats.count("createQuery", status=429) == 1 and stats.count("createQuery", region="eu") == 1
    stats.reset()
    assert stats.snapshot() == {"total": 0, "byOperation": {}}


def test_stats_route_counts_answered_requests_429s_and_injected_faults() -> None:
    from chalkola_pipelines.simulator.server import run_in_thread

    sim = run_in_thread(seed=7, time_scale=60.0)
    try:
        base = sim.base_url
        httpx.delete(f"{base}/_simulator/stats")
        # no token: 403 from the auth step, still counted under the operation
        assert httpx.get(f"{base}/sp/na/reports/2021-06-30/reports").status_code == 403
        httpx.post(f"{base}/_simulator/faults", json={"operation": "getOrders", "kind": "503"})
        assert httpx.get(f"{base}/sp/eu/orders/v0/orders").status_code == 503
        body = httpx.get(f"{base}/_simulator/stats").json()
        assert body["byOperation"]["getReports"]["statuses"] == {"403": 1}
        assert body["byOperation"]["getOrders"] == {"total": 1, "statuses": {"503": 1}, "regions": {"eu": 1}}
        assert body["total"] == 2 and body["elapsedSimulatedSeconds"] > 0
        assert sim.state.request_stats.count("getOrders", status=503) == 1
    finally:
        sim.stop()
