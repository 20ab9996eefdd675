"""What an Amazon API refused this deployment, remembered so the pipeline says it once, not every run.

Data Kiosk answers 403 to an app without the Brand Analytics role (amazon-facts §8.2); the S&T asset then
falls back to the report and records the refusal here per region. After ``RECHECK_AFTER`` the next run asks
Data Kiosk again (the seller may have added the role); a successful query forgets the refusal at once.
"""

from __future__ import annotations

import datetime as dt

import psycopg

TABLE = "chalkola_ops.api_access_denied"
RECHECK_AFTER = dt.timedelta(hours=24)


def remember_access_denied(conn: psycopg.Connection, api: str, region: str, message: str) -> None:
    with conn.transaction():
        conn.execute(
            f"insert into {TABLE} (api, region, message) values (%s, %s, %s) "
            "on conflict (api, region) do update set message = excluded.message, denied_at = now()",
            (api, region, message[:1000]),
        )


def access_denied_recently(
    conn: psycopg.Connection, api: str, region: str, within: dt.timedelta = RECHECK_AFTER
) -> tuple[dt.datetime, str] | None:
    """(when, Amazon's message) of a refusal younger than ``within``, else None."""
    row = conn.execute(
        f"select denied_at, message from {TABLE} where api = %s and region = %s and denied_at > now() - %s",
        (api, region, within),
    ).fetchone()
    return (row[0], row[1]) if row else None


def forget_access_denied(conn: psycopg.Connection, api: str, region: str) -> None:
    with conn.transaction():
        conn.execute(f"delete from {TABLE} where api = %s and region = %s", (api, region))
