"""Nothing stuck: a run whose worker is killed with SIGKILL mid-step, through the real dagster-daemon and run queue
on a Postgres-backed DAGSTER_HOME (deploy/dagster.yaml with short monitoring intervals), ends FAILED within the
monitoring window, its amazon_sp_reports slot is freed, and a later run of the pool completes.

The kill takes the code server with the run worker (what a user-code container crash or the OOM killer does):
when only the worker dies, Dagster's code server fails the run itself; with the server gone too, only run
monitoring with chalkola's worker health check (chalkola_pipelines/run_launcher.py) can.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from chalkola_pipelines.warehouse.postgres import scratch_database, sqlalchemy_url

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "amazon_sp_reports"
GRACE_SECONDS = 3
JOB = "pool_sleeper_job"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CodeServer:
    """`dagster code-server start` on a fixed port, as the user-code container of docker-compose runs it;
    ``start()`` again after a crash is what the container's restart policy does."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path) -> None:
        self.env, self.port, self.log_path, self.proc = env, port, log_path, None

    def start(self) -> None:
        from dagster._grpc.client import DagsterGrpcClient

        location = REPO / "tests" / "dagster" / "code" / "pool_sleeper.py"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(self.port),
                 "-f", str(location)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        client = DagsterGrpcClient(host="127.0.0.1", port=self.port)
        _wait(lambda: _pings(client), 120, "the code server to answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _pings(client) -> bool:
    try:
        client.ping("")
        return True
    except Exception:
        return False


@pytest.fixture
def daemon_home(pg_server_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, CodeServer]]:
    """DAGSTER_HOME = deploy/dagster.yaml with fast monitoring, a code server on a port (the docker-compose
    layout), a workspace pointing at it, and a running dagster-daemon (own process groups, killed at the end)."""
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    config["run_monitoring"].update(poll_interval_seconds=1, free_slots_after_run_end_seconds=1)
    config["run_launcher"]["config"]["worker_unreachable_grace_seconds"] = GRACE_SECONDS
    config["run_coordinator"]["config"]["user_code_failure_retry_delay"] = 1
    config["concurrency"]["pools"]["default_limit"] = 1  # one dead holder blocks the pool
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    port = _free_port()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump({"load_from": [{"grpc_server": {"host": "127.0.0.1", "port": port,
                                                        "location_name": "pool_test"}}]})
    )  # fmt: skip
    with scratch_database(pg_server_url, "dagster_monitoring", migrate=False) as url:
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DAGSTER_PG_URL": sqlalchemy_url(url)}
        server = CodeServer(env, port, tmp_path / "code_server.log")
        server.start()
        log = open(tmp_path / "daemon.log", "wb")  # noqa: SIM115
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            yield env, workspace, server
        finally:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(10)
            server.stop()
            log.close()


def _instance(env: dict[str, str]) -> dg.DagsterInstance:
    os.environ["DAGSTER_HOME"], os.environ["DAGSTER_PG_URL"] = env["DAGSTER_HOME"], env["DAGSTER_PG_URL"]
    return dg.DagsterInstance.get()


def _launch(env: dict[str, str], workspace: Path, seconds: float, tmp_path: Path) -> str:
    """`dagster job launch` (submits to the run queue, as the UI does); returns the run id."""
    config = tmp_path / f"sleep_{seconds}.yaml"
    config.write_text(yaml.safe_dump({"ops": {"pool_sleeper": {"config": {"seconds": seconds}}}}))
    tag = f"test-{time.monotonic_ns()}"
    subprocess.run(
        [str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", JOB, "-c", str(config),
         "--tags", f'{{"test/launch": "{tag}"}}'],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with _instance(env) as instance:
        (run,) = instance.get_runs(dg.RunsFilter(tags={"test/launch": tag}))
    return run.run_id


def _wait(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        message = record.message or ""
        if message.startswith("Started process for run (pid: "):
            return int(message.split("pid: ")[1].split(")")[0])
    return None


def _holders(instance: dg.DagsterInstance) -> set[str]:
    return {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots}


def test_sigkilled_run_fails_within_the_window_and_frees_its_pool_slot(daemon_home, tmp_path: Path) -> None:
    import psutil

    env, workspace, server = daemon_home
    stuck = _launch(env, workspace, 600, tmp_path)
    with _instance(env) as instance:
        _wait(lambda: stuck in _holders(instance), 120, "the first run to claim its pool slot")
        worker = psutil.Process(_wait(lambda: _run_worker_pid(instance, stuck), 30, "the run worker's pid"))
        top = psutil.Process(server.proc.pid)
        assert worker in top.children(recursive=True)
        victims = [top, *top.children(recursive=True)]  # proxy, its gRPC server, run worker, step process
        killed_at = time.monotonic()
        for proc in victims:
            proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(victims, timeout=10)
        server.proc.wait(10)

        failed = _wait(
            lambda: (
                (r := instance.get_run_by_id(stuck)) is not None
                and r.status == dg.DagsterRunStatus.FAILURE
                and r
            ),
            GRACE_SECONDS + 60,
            "run monitoring to mark the killed run FAILED",
        )
        to_failed = time.monotonic() - killed_at
        _wait(lambda: stuck not in _holders(instance), 60, "the killed run's slot to be freed")
        to_freed = time.monotonic() - killed_at
        messages = [e.message or "" for e in instance.all_logs(stuck)]
        assert any("code server" in m and "unreachable" in m for m in messages), messages[-5:]
        assert failed.status == dg.DagsterRunStatus.FAILURE
        print(f"\nkill -9 → FAILED {to_failed:.1f} s, → slot free {to_freed:.1f} s")
        assert to_failed < GRACE_SECONDS + 30

        server.start()  # the container comes back
        later = _launch(env, workspace, 0.1, tmp_path)
        done = _wait(
            lambda: (r := instance.get_run_by_id(later)) is not None and r.is_finished and r,
            180,
            "the later run",
        )
        assert done.status == dg.DagsterRunStatus.SUCCESS, [e.message for e in instance.all_logs(later)][-6:]
        assert not _holders(instance)
