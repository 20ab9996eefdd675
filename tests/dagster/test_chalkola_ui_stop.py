"""Stopping `chalkola ui` stops everything it started: the simulator and `dagster dev` with its webserver, daemon
and code servers. The real command on a scratch database and instance, stopped as an operator does — Ctrl-C in
the terminal (SIGINT to the terminal's foreground process group) or `kill` (SIGTERM to the command) — and then no
process it started may be left. Also: its console shows none of Dagster's lifecycle-warning floods."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from chalkola_pipelines.warehouse.postgres import scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
LOCATION_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _alive(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return out


def _wait_ready(ui: subprocess.Popen, port: int, log: Path, timeout: float = 420.0) -> list[int]:
    """Until the code location is loaded and the daemon runs; the pids of every process the command started."""
    deadline = time.monotonic() + timeout
    while True:
        assert ui.poll() is None, f"chalkola ui exited with {ui.returncode}:\n{log.read_text()[-3000:]}"
        descendants = psutil.Process(ui.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in descendants if p.is_running()]
        loaded = False
        try:
            answer = httpx.post(
                f"http://127.0.0.1:{port}/graphql", json={"query": LOCATION_QUERY}, timeout=10
            )
            entries = answer.json()["data"]["workspaceOrError"]["locationEntries"]
            loaded = bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
        daemon = any("dagster._daemon" in c for c in commands)
        simulator = any("simulator serve" in c for c in commands)
        if loaded and daemon and simulator:
            return [p.pid for p in descendants]
        assert time.monotonic() < deadline, f"not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}"
        time.sleep(1)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_chalkola_ui_stops_everything_it_started(
    pg_server_url: str, tmp_path: Path, how: str
) -> None:
    port = _free_port()
    log = tmp_path / "ui.log"
    with scratch_database(pg_server_url, "chalkola_ui_stop") as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "CHALKOLA_"))}
        env.update(
            DATABASE_URL=url,
            CHALKOLA_HOME=str(tmp_path / "chalkola"),
            CHALKOLA_MARKETPLACES="US,CA",
            CHALKOLA_LANDING_DIR=str(tmp_path / "landing"),
            PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        )
        with open(log, "wb") as out:
            # a session of its own, like a shell's job: Ctrl-C goes to this process group. `kill` is tried on a
            # command started as a script's background job (`chalkola ui &`: the shell ignores SIGINT for it, and
            # an ignored SIGINT is inherited): dagster dev must still honour the SIGINT that stops it
            ui = subprocess.Popen(
                [sys.executable, "-m", "chalkola_pipelines.cli", "ui", "--port", str(port), "--time-scale", "600"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_ignore_sigint if how == "sigterm" else None,  # noqa: PLW1509
            )  # fmt: skip
        started: list[int] = []
        try:
            started = _wait_ready(ui, port, log)
            assert len(started) >= 5, started  # simulator, dagster dev, webserver, daemon, code server
            t0 = time.monotonic()
            if how == "ctrl-c":
                os.killpg(ui.pid, signal.SIGINT)  # what the terminal sends to its foreground group
            else:
                ui.send_signal(signal.SIGTERM)  # `kill <pid>`: the command only
            code = ui.wait(90)
            took = time.monotonic() - t0
        finally:
            if ui.poll() is None:
                ui.kill()
            left = _alive(started)
            for pid in started:  # never leave them to the next test, whatever happened
                try:
                    psutil.Process(pid).kill()
                except psutil.NoSuchProcess:
                    pass
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert not left, f"left running after `chalkola ui` was stopped ({how}): {left}\n{text[-2000:]}"
    assert took < 60, took
    assert "chalkola ui: stopped" in text
    assert "Dagster services shut down." in text, (
        f"dagster dev did not stop on SIGINT (killed instead):\n{text[-2000:]}"
    )
    for noise in ("BetaWarning", "SupersessionWarning", "PreviewWarning", "varying BackfillPolicies"):
        assert noise not in text, f"{noise} in the console of chalkola ui:\n{text[-3000:]}"
