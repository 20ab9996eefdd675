"""Fixtures of the simulator tests (real SyntheticSeller, real HTTP on 127.0.0.1).

``sim``: the session simulator of tests/conftest.py; ``slow_sim``: a dedicated simulator at time scale 1.
"""

from __future__ import annotations

import httpx
import pytest
from simulator_helpers import lwa_token

from chalkola_pipelines.simulator.credentials import DEMO_ADS_CLIENT_ID


@pytest.fixture(scope="session")
def sim(simulator):
    """The simulator under test: the session simulator of tests/conftest.py (time scale 600)."""
    return simulator


@pytest.fixture(scope="module")
def slow_sim():
    """A simulator at time scale 1: buckets refill at Amazon's real rates (rate-limit and life-cycle tests)."""
    from chalkola_pipelines.simulator.server import run_in_thread

    running = run_in_thread(seed=7, time_scale=1.0)
    yield running
    running.stop()


@pytest.fixture
def faults(sim):
    sim.state.faults.clear()
    yield sim.state.faults
    sim.state.faults.clear()


@pytest.fixture(scope="session")
def sp(sim) -> httpx.Client:
    """An httpx client for the NA SP-API of ``sim`` with a valid access token."""
    token = lwa_token(sim.base_url, "sp", "na")
    with httpx.Client(
        base_url=f"{sim.base_url}/sp/na", headers={"x-amz-access-token": token}, timeout=30
    ) as c:
        yield c


@pytest.fixture(scope="session")
def ads(sim) -> httpx.Client:
    """An httpx client for the NA Ads API of ``sim`` (no scope header: add it per request)."""
    token = lwa_token(sim.base_url, "ads", "na")
    headers = {"Authorization": f"Bearer {token}", "Amazon-Advertising-API-ClientId": DEMO_ADS_CLIENT_ID}
    with httpx.Client(base_url=f"{sim.base_url}/ads/na", headers=headers, timeout=30) as c:
        yield c
