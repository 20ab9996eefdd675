"""A real PgBouncer (Debian's ``pgbouncer``) in transaction mode in front of the embedded Postgres.

``ensure_pgbouncer()`` finds the binary; when it is missing and we are root it runs ``apt-get install -y
pgbouncer`` (once), else the caller skips with the reason. ``running_pgbouncer(server_url)`` starts one on a
free 127.0.0.1 port (as ``nobody`` when we are root: PgBouncer refuses to run as root) and yields a function
that turns a direct URL into the same database through the pooler.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

CANDIDATES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def _find() -> str | None:
    return shutil.which("pgbouncer") or next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)


def ensure_pgbouncer() -> tuple[str | None, str]:
    """(path of the binary, "") or (None, why it cannot be had)."""
    found = _find()
    if found:
        return found, ""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "pgbouncer is not installed and cannot be installed here (not root, or no apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "pgbouncer"]
    proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:  # a machine that never ran apt-get update
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True, timeout=600)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
    found = _find()
    if found:
        return found, ""
    return None, f"apt-get install pgbouncer failed: {(proc.stderr or proc.stdout).strip()[-500:]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_pgbouncer(
    binary: str, server_url: str, *, pool_size: int = 5, user: str = "postgres"
) -> Iterator[Callable[[str], str]]:
    """PgBouncer (pool_mode=transaction, ``pool_size`` server connections per database) in front of the
    server of ``server_url``; yields ``pooled(url)``: the same database through the pooler."""
    server = urlsplit(server_url)
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="chalkola-pgbouncer-"))
    os.chmod(workdir, 0o755)
    (workdir / "userlist.txt").write_text(f'"{user}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={server.hostname} port={server.port}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {workdir / 'userlist.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                "max_client_conn = 200",
                "server_reset_query =",
                "ignore_startup_parameters = extra_float_digits",
                "",
            ]
        )
    )
    for name in ("userlist.txt", "pgbouncer.ini"):
        os.chmod(workdir / name, 0o644)
    log = open(workdir / "pgbouncer.log", "wb")  # noqa: SIM115 - closed below
    kwargs = {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}
    proc = subprocess.Popen(
        [binary, str(workdir / "pgbouncer.ini")], stdout=log, stderr=subprocess.STDOUT, **kwargs
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"pgbouncer exited ({proc.returncode}): {(workdir / 'pgbouncer.log').read_text()}"
                )
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("pgbouncer did not start listening within 20 s")
            time.sleep(0.05)

        def pooled(url: str) -> str:
            parts = urlsplit(url)
            netloc = f"{parts.username or user}@127.0.0.1:{port}"
            return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

        yield pooled
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
