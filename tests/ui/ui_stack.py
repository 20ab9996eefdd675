"""A demo-sized Dagster deployment for the browser test: real processes, real storage, nothing mocked.

- the simulator (the caller's, real HTTP on 127.0.0.1) and a throwaway warehouse database, migrated;
- a Dagster storage database on the same Postgres server and a DAGSTER_HOME whose dagster.yaml is
  deploy/dagster.yaml (TaggingRunCoordinator, run and tag limits, pools, MonitoredRunLauncher, run monitoring)
  with the storage URL written in, as benchmarks/nightly.py and benchmarks/load.py do;
- ``dagster-daemon run`` and ``dagster-webserver`` on a free port, each in its own process group (killed with
  the group at the end), logs in the stack's folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance_config(storage_url: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """deploy/dagster.yaml with ``storage_url`` (SQLAlchemy psycopg2 URL) and optional region/API limits."""
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    config["storage"]["postgres"]["postgres_url"] = storage_url
    for entry in config["concurrency"]["runs"]["tag_concurrency_limits"]:
        if overrides and entry["key"] in overrides:
            entry["limit"] = int(overrides[entry["key"]])
    return config


@dataclass
class Stack:
    """What the test talks to: the UI's base URL, the instance, the processes and their logs."""

    base_url: str
    home: Path
    work: Path
    env: dict[str, str]
    config: dict[str, Any]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.work / f"{name}.log"
        if not path.exists():
            return f"({path} missing)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(
                    f"{name} exited with {proc.returncode}; last lines of {self.work / (name + '.log')}:\n"
                    + self.log_tail(name)
                )


def _start(args: list[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            args, cwd=REPO, env=dict(env), stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group (the daemon's and webserver's code servers and run workers), then KILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group, even when its leader has already gone
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


@contextlib.contextmanager
def dagster_stack(
    pg_server_url: str,
    simulator: Any,
    work: Path,
    *,
    marketplaces: str,
    start_date: dt.date,
    limits: Mapping[str, int] | None = None,
    ready_timeout: float = 420.0,
) -> Iterator[Stack]:
    """Warehouse + storage databases, DAGSTER_HOME, daemon and webserver; everything stopped afterwards."""
    import dagster as dg

    from chalkola_pipelines.defs.jobs import ensure_pool_limits
    from chalkola_pipelines.demo import DAGSTER_PROCESS_ENV
    from chalkola_pipelines.simulator.credentials import simulator_environment
    from chalkola_pipelines.warehouse.postgres import scratch_database, sqlalchemy_url

    time_scale = simulator.state.time_scale
    work.mkdir(parents=True, exist_ok=True)
    with (
        scratch_database(pg_server_url, "chalkola_ui_wh") as warehouse_url,
        scratch_database(pg_server_url, "chalkola_ui_dagster", migrate=False) as storage_url,
    ):
        home = work / "dagster_home"
        home.mkdir(exist_ok=True)
        config = instance_config(sqlalchemy_url(storage_url), limits)
        (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "CHALKOLA_"))},
            **simulator_environment(simulator.base_url, time_scale),
            **DAGSTER_PROCESS_ENV,
            "PATH": str(VENV_BIN) + os.pathsep + os.environ.get("PATH", ""),
            "DAGSTER_HOME": str(home),
            "DATABASE_URL": warehouse_url,
            "CHALKOLA_HOME": str(work / "chalkola_home"),
            "CHALKOLA_MARKETPLACES": marketplaces,
            "CHALKOLA_START_DATE": start_date.isoformat(),
            "CHALKOLA_LANDING_DIR": str(work / "landing"),
            "CHALKOLA_RATE_LIMIT_NAMESPACE": f"ui-test-{uuid.uuid4().hex[:6]}",
            # production's first poll intervals in simulated time (as benchmarks/load.py)
            "CHALKOLA_DATA_KIOSK_POLL_SECONDS": repr(10.0 / time_scale),
            "CHALKOLA_SP_REPORT_POLL_SECONDS": repr(1.0 / time_scale),
            "CHALKOLA_ADS_REPORT_POLL_SECONDS": repr(5.0 / time_scale),
        }
        port = free_port()
        stack = Stack(f"http://127.0.0.1:{port}", home, work, env, config)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            ensure_pool_limits(instance)
            workspace = str(REPO / "workspace.yaml")
            try:
                stack.procs["daemon"] = _start(
                    [str(VENV_BIN / "dagster-daemon"), "run", "-w", workspace], env, work / "daemon.log"
                )
                stack.procs["webserver"] = _start(
                    [str(VENV_BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
                    env, work / "webserver.log",
                )  # fmt: skip
                deadline = time.monotonic() + ready_timeout
                while True:
                    stack.check_alive()
                    daemon_ready = "QUEUED_RUN_COORDINATOR" in instance.get_daemon_heartbeats()
                    try:
                        web_ready = httpx.get(f"{stack.base_url}/server_info", timeout=5).status_code == 200
                    except httpx.HTTPError:
                        web_ready = False
                    if daemon_ready and web_ready:
                        break
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"dagster-daemon / dagster-webserver not ready after {ready_timeout:.0f} s "
                            f"(daemon heartbeat: {daemon_ready}, webserver: {web_ready}); logs in {work}"
                        )
                    time.sleep(1)
                yield stack
            finally:
                for proc in stack.procs.values():
                    _stop(proc)
