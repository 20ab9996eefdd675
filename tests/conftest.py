"""Shared fixtures: a real PostgreSQL database and a real simulator over HTTP on 127.0.0.1.

- ``pg_url``: a fresh database on the embedded server (or on ``DATABASE_URL``'s server), migrated, dropped
  at the end of the session.
- ``simulator``: the project's local Amazon served by uvicorn in a background thread on a free port, with a
  high time scale so that rate limits and report processing take milliseconds of real time.
- ``simulator_env``: the environment variables that point the pipeline at that simulator (monkeypatched).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

SIMULATOR_SEED = 7
SIMULATOR_TIME_SCALE = 600.0


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    from chalkola_pipelines.warehouse.postgres import database_url

    return database_url()


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test session."""
    from chalkola_pipelines.warehouse.postgres import scratch_database

    with scratch_database(pg_server_url, "chalkola_test") as url:
        yield url


@pytest.fixture(scope="session")
def simulator():
    """A running simulator (``RunningSimulator``: .base_url, .state, .stop())."""
    from chalkola_pipelines.simulator.server import run_in_thread

    sim = run_in_thread(seed=SIMULATOR_SEED, time_scale=SIMULATOR_TIME_SCALE)
    yield sim
    sim.stop()


@pytest.fixture
def clean_faults(simulator):
    """Clears injected faults before and after a test."""
    simulator.state.faults.clear()
    yield simulator.state.faults
    simulator.state.faults.clear()


@pytest.fixture
def simulator_env(simulator, monkeypatch):
    """Points every Amazon endpoint at the simulator and sets its demo credentials."""
    from chalkola_pipelines.simulator.credentials import simulator_environment

    for key, value in simulator_environment(simulator.base_url, simulator.state.time_scale).items():
        monkeypatch.setenv(key, value)
    return simulator
