"""The processes of benchmarks/faults.py: a restartable warehouse Postgres, a code server, the webserver.

The daemon is ``nightly.start_daemon``; all of them run in their own process groups and are stopped by the
benchmark at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml
from ingest import connect
from nightly import LOCATION, REPO, REPOSITORY, VENV_BIN, _suppress, launch_document


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Warehouse:
    """A private embedded PostgreSQL for the warehouse (so it can be restarted without touching the Dagster
    storage), migrated; ``restart()`` stops it and starts it again on its recorded port."""

    def __init__(self, home: Path) -> None:
        from chalkola_pipelines.warehouse.migrations import apply_migrations
        from chalkola_pipelines.warehouse.postgres import ensure_embedded_postgres

        self.home = home
        self.url = ensure_embedded_postgres(home)
        with connect(self.url) as conn:
            apply_migrations(conn)

    def restart(self, down_seconds: float) -> float:
        from chalkola_pipelines.warehouse.embedded_server import pg_ctl
        from chalkola_pipelines.warehouse.postgres import _system_user, ensure_embedded_postgres

        started = time.monotonic()
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.home / "pgdata", user=_system_user(), timeout=60)
        time.sleep(down_seconds)
        url = ensure_embedded_postgres(self.home)
        if url != self.url:
            raise RuntimeError(f"the warehouse came back on another URL ({url} instead of {self.url})")
        return time.monotonic() - started

    def empty(self) -> None:
        """Every raw table but the Ads profiles, the ledger, the rate-limit buckets: a fresh backfill."""
        with connect(self.url) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "select schemaname || '.' || tablename from pg_tables where schemaname in "
                    "('raw_amazon', 'chalkola_ops') and tablename <> 'ads_profiles' and tablename <> "
                    "'schema_migrations'"
                ).fetchall()
            ]
            conn.execute(f"truncate {', '.join(tables)}")
            conn.commit()

    def stop(self) -> None:
        from chalkola_pipelines.warehouse.embedded_server import pg_ctl
        from chalkola_pipelines.warehouse.postgres import _system_user

        with _suppress():
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.home / "pgdata", user=_system_user(), timeout=60)


class CodeServer:
    """``dagster code-server start`` for the definitions on a port (the docker-compose layout): the daemon and
    the webserver share it, runs start as its subprocesses; ``workspace`` points at it."""

    def __init__(self, env: dict[str, str], work: Path, timeout: float = 600) -> None:
        from dagster._grpc.client import DagsterGrpcClient

        self.port = free_port()
        self.log = open(work / "code_server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(self.port),
             "-m", "chalkola_pipelines.definitions", "--location-name", LOCATION,
             # the spawned server shuts down for good after missing the proxy's heartbeats this long (default 30 s:
             # one OOM-thrash stall of this shared machine left the location unreachable for the rest of the grid)
             "--heartbeat-ttl", "600"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.workspace = work / "workspace.yaml"
        self.workspace.write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {"grpc_server": {"host": "127.0.0.1", "port": self.port, "location_name": LOCATION}}
                    ]
                }
            )
        )
        client = DagsterGrpcClient(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping("")
                break
            except Exception:  # noqa: BLE001 - not up yet
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"the code server did not start; see {work / 'code_server.log'}"
                    ) from None
                time.sleep(1)

    def stop(self) -> None:
        with _suppress():
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        with _suppress():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


class Webserver:
    """``dagster-webserver`` on workspace.yaml: GraphQL over HTTP, the workspace loaded once."""

    def __init__(self, env: dict[str, str], log_path: Path, workspace: Path) -> None:
        self.port = free_port()
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1",
             "-p", str(self.port)],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dagster-webserver did not start; see {log_path}")
            time.sleep(0.5)

    def launch(self, params: Sequence[dict[str, Any]]) -> list[str]:
        """launchRun for each ExecutionParams (one GraphQL document); the run ids."""
        body = {
            "query": launch_document(len(params)),
            "variables": {f"p{i}": p for i, p in enumerate(params)},
        }
        answer = httpx.post(self.url, json=body, timeout=300).json()
        try:
            return [answer["data"][f"r{i}"]["run"]["runId"] for i in range(len(params))]
        except (KeyError, TypeError):
            raise RuntimeError(f"launchRun failed: {json.dumps(answer)[:2000]}") from None

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return httpx.post(self.url, json={"query": query, "variables": variables or {}}, timeout=300).json()

    def stop_automation(self, keep: Sequence[str]) -> list[str]:
        """Stop every running schedule and sensor but ``keep`` (a schedule tick or the dbt sensor's build must not
        add runs, quota and CPU to a scenario); the names stopped."""
        repo = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        answer = self.graphql(AUTOMATION, {"r": repo})["data"]
        stopped = []
        for kind, state, mutation in (("sensorsOrError", "sensorState", "stopSensor"),
                                      ("schedulesOrError", "scheduleState", "stopRunningSchedule")):  # fmt: skip
            for item in answer[kind].get("results") or []:
                if item[state]["status"] == "RUNNING" and item["name"] not in keep:
                    self.graphql(
                        f"mutation S($id: String) {{ {mutation}(id: $id) {{ __typename }} }}",
                        {"id": item["id"]},
                    )
                    stopped.append(item["name"])
        return stopped

    def stop(self) -> None:
        with _suppress():
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        with _suppress():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


AUTOMATION = """query A($r: RepositorySelector!) {
  sensorsOrError(repositorySelector: $r) { ... on Sensors { results { id name sensorState { status } } } }
  schedulesOrError(repositorySelector: $r) { ... on Schedules { results { id name scheduleState { status } } } }
}"""
