"""`chalkola db stop` stops the embedded server of its CHALKOLA_HOME; the next command starts it on the same port.

Runs the real commands as subprocesses on a throwaway CHALKOLA_HOME (the suite's own server is not touched).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from chalkola_pipelines.warehouse.postgres import recorded_port


def chalkola(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CHALKOLA_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "chalkola_pipelines.cli", *argv],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def processes_of(pgdata: Path, postmaster_pid: int) -> list[str]:
    """Live processes that are the server of ``pgdata`` or its children (checkpointer, walwriter, …)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state == "Z":
            continue
        if str(pgdata) in cmdline or int(proc.name) == postmaster_pid or int(ppid) == postmaster_pid:
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


def test_db_stop_stops_the_server_and_the_next_command_restarts_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pgdata = home / "pgdata"
    started = chalkola(home, "db", "url")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    port = recorded_port(home)
    assert port is not None and f":{port}/" in url
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    try:
        assert processes_of(pgdata, pid), "the embedded server should be running"
        stopped = chalkola(home, "db", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert f"stopped embedded PostgreSQL (pid {pid}, port {port}" in stopped.stdout
        assert processes_of(pgdata, pid) == []
        assert not (pgdata / "postmaster.pid").exists()
        again = chalkola(home, "db", "stop")
        assert again.returncode == 0 and "is not running" in again.stdout

        restarted = chalkola(home, "db", "url")
        assert restarted.returncode == 0, restarted.stderr
        assert restarted.stdout.strip() == url  # the recorded port
        with psycopg.connect(url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        chalkola(home, "db", "stop")
    assert processes_of(pgdata, pid) == []


def test_db_stop_with_database_url_touches_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "CHALKOLA_HOME": str(tmp_path), "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/db"}
    result = subprocess.run(
        [sys.executable, "-m", "chalkola_pipelines.cli", "db", "stop"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "DATABASE_URL is set" in result.stdout
    assert not (tmp_path / "pgdata").exists()
