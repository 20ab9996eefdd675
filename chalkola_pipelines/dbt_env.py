"""Where the dbt project lives and the environment its profile reads the warehouse connection from.

``dbt_project/profiles.yml`` reads ``CHALKOLA_PG_HOST``, ``CHALKOLA_PG_PORT``, ``CHALKOLA_PG_USER``,
``CHALKOLA_PG_PASSWORD``, ``CHALKOLA_PG_DBNAME`` and ``CHALKOLA_PG_SSLMODE`` (each with a default, so
``dbt parse`` works without a database). ``dbt_env_for`` turns the warehouse URL into those variables.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DBT_PROJECT_DIR: Path = Path(__file__).resolve().parent.parent / "dbt_project"
"""The dbt project (also its profiles directory: ``dbt_project/profiles.yml``)."""

DEFAULT_PG_PORT = 5432
_SCHEMES = ("postgres", "postgresql")


class DbtEnvError(ValueError):
    """The warehouse URL cannot be turned into dbt connection settings."""


def dbt_env_for(url: str) -> dict[str, str]:
    """The ``CHALKOLA_PG_*`` variables for a ``postgresql://user:password@host:port/dbname`` URL.

    Accepts ``postgres://`` and driver-qualified schemes (``postgresql+psycopg2://``); user and password are
    percent-decoded; a ``host`` query parameter (a Unix-socket directory, libpq style) wins over the netloc
    host, likewise ``port``; ``sslmode`` is passed on when present (e.g. Supabase needs ``require``).
    The password is returned as is: callers must not log the result.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in _SCHEMES:
        raise DbtEnvError(
            f"Warehouse URL must start with postgresql:// (got scheme {parts.scheme!r}); "
            "set DATABASE_URL to a postgresql://user:password@host:port/dbname URL."
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items() if values}
    dbname = unquote(parts.path.lstrip("/")) or query.get("dbname", "")
    if not dbname:
        raise DbtEnvError(
            "Warehouse URL names no database: add /dbname after the host, e.g. postgresql://…/chalkola."
        )
    host = query.get("host") or parts.hostname or "localhost"
    try:
        port = int(query.get("port") or parts.port or DEFAULT_PG_PORT)
    except ValueError as exc:  # urlsplit raises on a non-numeric netloc port
        raise DbtEnvError(f"Warehouse URL has an invalid port: {exc}") from None
    env = {
        "CHALKOLA_PG_HOST": unquote(host),
        "CHALKOLA_PG_PORT": str(port),
        "CHALKOLA_PG_USER": unquote(parts.username or query.get("user", "")) or "postgres",
        "CHALKOLA_PG_PASSWORD": unquote(parts.password or query.get("password", "")),
        "CHALKOLA_PG_DBNAME": dbname,
    }
    if "sslmode" in query:
        env["CHALKOLA_PG_SSLMODE"] = query["sslmode"]
    return env
