"""Schema migrations: ``sql/NNN_*.sql`` applied in order, once each, recorded with a checksum.

All pending migrations run in ONE transaction that first takes a transaction-level advisory lock, so
concurrent runs (several Dagster processes starting at once) serialise instead of racing, and a failed
migration leaves nothing half-applied. Nothing session-level is used, so this works through a
transaction pooler (Supabase port 6543, PgBouncer in transaction mode).

After the migrations, ``ensure_bi_role`` grants the read-only ``chalkola_bi`` role access to ``marts`` and, when
``CHALKOLA_BI_PASSWORD`` is set, lets it log in with that password (skipped with one log line when the connecting
user may not create roles, e.g. on Supabase).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from chalkola_pipelines.warehouse.postgres import guard_transaction

log = logging.getLogger(__name__)

# Arbitrary constant key for pg_advisory_xact_lock: "chalkola migrations".
MIGRATION_LOCK_KEY = 0x63686B6C6D6967  # "chklmig"
BI_ROLE = "chalkola_bi"
BI_SCHEMA = "marts"
BI_PASSWORD_ENV = "CHALKOLA_BI_PASSWORD"

_NAME_RE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """A migration cannot be applied; the message names the file and what to do."""


@dataclass(frozen=True)
class Migration:
    name: str  # file name, e.g. "001_raw_amazon.sql"
    sql: str
    checksum: str  # sha256 of the file's bytes (LF line endings)


def discover_migrations() -> list[Migration]:
    """The packaged ``sql/NNN_*.sql`` files in order (they ship in the wheel as package data)."""
    root = resources.files("chalkola_pipelines.warehouse").joinpath("sql")
    found: list[Migration] = []
    numbers: dict[str, str] = {}
    for entry in root.iterdir():
        match = _NAME_RE.match(entry.name)
        if not entry.is_file() or not entry.name.endswith(".sql"):
            continue
        if match is None:
            raise MigrationError(
                f"Migration file {entry.name!r} does not follow NNN_lower_snake.sql; rename it."
            )
        number = match.group(1)
        if number in numbers:
            raise MigrationError(f"Migrations {numbers[number]!r} and {entry.name!r} share number {number}.")
        numbers[number] = entry.name
        # Line endings normalised: a Windows checkout (CRLF) must not look like an edited migration.
        data = entry.read_bytes().replace(b"\r\n", b"\n")
        found.append(Migration(entry.name, data.decode("utf-8"), hashlib.sha256(data).hexdigest()))
    return sorted(found, key=lambda m: m.name)


def apply_migrations(conn: psycopg.Connection) -> list[str]:
    """Apply every pending migration; return the names applied now (empty when up to date).

    Idempotent and safe to run concurrently. Raises MigrationError when an already-applied file was
    changed afterwards (its checksum differs): add a new NNN file instead of editing an applied one.
    """
    migrations = discover_migrations()
    applied_now: list[str] = []
    with conn.transaction():
        guard_transaction(conn)
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute("create schema if not exists chalkola_ops")
        conn.execute(
            """
            create table if not exists chalkola_ops.schema_migrations (
                name text primary key,
                checksum text not null,
                applied_at timestamptz not null default now()
            )
            """
        )
        done = dict(conn.execute("select name, checksum from chalkola_ops.schema_migrations").fetchall())
        for migration in migrations:
            recorded = done.get(migration.name)
            if recorded is not None:
                if recorded != migration.checksum:
                    raise MigrationError(
                        f"Migration {migration.name} was changed after it was applied "
                        f"(checksum {recorded[:12]}… in chalkola_ops.schema_migrations, "
                        f"{migration.checksum[:12]}… on disk). Revert the file and add a new migration."
                    )
                continue
            log.info("applying migration %s", migration.name)
            try:
                with conn.transaction():
                    conn.execute(migration.sql)  # no parameters: sent as a simple multi-statement query
            except psycopg.Error as exc:
                raise MigrationError(
                    f"Migration {migration.name} failed, nothing was applied: {exc}"
                ) from exc
            conn.execute(
                "insert into chalkola_ops.schema_migrations (name, checksum) values (%s, %s)",
                (migration.name, migration.checksum),
            )
            applied_now.append(migration.name)
        ensure_bi_role(conn, os.environ.get(BI_PASSWORD_ENV) or None)
    if not applied_now:
        log.debug("warehouse schema up to date (%d migrations)", len(migrations))
    return applied_now


def ensure_bi_role(conn: psycopg.Connection, password: str | None = None) -> bool:
    """Create the role ``chalkola_bi`` with read access to schema ``marts`` (now and future tables), nothing else.

    With ``password`` it may log in with it (sent as a SCRAM hash computed here, never as plain text in SQL);
    without, its login state is left as it is (created NOLOGIN; ``GRANT chalkola_bi TO some_login`` also works).
    Idempotent. Returns False (and logs one line) when the current user lacks CREATEROLE or cannot grant,
    as on managed services; the warehouse works without it.
    """
    can_create = conn.execute(
        "select rolsuper or rolcreaterole from pg_roles where rolname = current_user"
    ).fetchone()
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (BI_ROLE,)).fetchone() is not None
    if not exists and not (can_create and can_create[0]):
        log.info("skipping role %s: the database user may not create roles (needs CREATEROLE)", BI_ROLE)
        return False
    try:
        with conn.transaction():
            if not exists:
                try:
                    with conn.transaction():
                        conn.execute(f"create role {BI_ROLE} nologin")
                except (pg_errors.DuplicateObject, pg_errors.UniqueViolation):
                    pass  # created concurrently by a migration of another database on the same server
            conn.execute(f"create schema if not exists {BI_SCHEMA}")
            conn.execute(f"grant usage on schema {BI_SCHEMA} to {BI_ROLE}")
            conn.execute(f"grant select on all tables in schema {BI_SCHEMA} to {BI_ROLE}")
            # Tables dbt creates later (as this user) become readable too.
            conn.execute(
                f"alter default privileges in schema {BI_SCHEMA} grant select on tables to {BI_ROLE}"
            )
            if password:
                hashed = conn.pgconn.encrypt_password(password.encode(), BI_ROLE.encode(), b"scram-sha-256")
                conn.execute(
                    sql.SQL("alter role {} login password {}").format(
                        sql.Identifier(BI_ROLE), sql.Literal(hashed.decode())
                    )
                )
    except pg_errors.InsufficientPrivilege as exc:
        log.info("skipping role %s grants: %s", BI_ROLE, str(exc).strip().splitlines()[0])
        return False
    return True
