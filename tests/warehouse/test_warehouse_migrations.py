"""Migrations against a real PostgreSQL: idempotent, concurrent-safe, atomic, checksummed; BI role."""

from __future__ import annotations

import logging
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from chalkola_pipelines.warehouse import migrations
from chalkola_pipelines.warehouse.migrations import (
    Migration,
    MigrationError,
    apply_migrations,
    discover_migrations,
    ensure_bi_role,
)


def test_discovered_in_order_and_packaged() -> None:
    names = [m.name for m in discover_migrations()]
    assert names[:2] == ["001_raw_amazon.sql", "002_chalkola_ops.sql"]
    assert names == sorted(names)


def test_idempotent(make_database) -> None:
    url = make_database()
    all_names = [m.name for m in discover_migrations()]
    with psycopg.connect(url, prepare_threshold=None) as conn:
        assert apply_migrations(conn) == all_names
        assert apply_migrations(conn) == []
        rows = conn.execute(
            "select name, checksum from chalkola_ops.schema_migrations order by name"
        ).fetchall()
        assert rows == [(m.name, m.checksum) for m in discover_migrations()]
        assert conn.execute("select to_regclass('chalkola_ops.rate_limit_buckets')").fetchone()[0] is not None
    # autocommit connections work too
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        assert apply_migrations(conn) == []


def test_concurrent_runs_apply_each_migration_once(make_database) -> None:
    url = make_database()
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            with psycopg.connect(url, prepare_threshold=None) as conn:
                barrier.wait()
                results.append(apply_migrations(conn))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    applied = sorted(name for result in results for name in result)
    assert applied == [m.name for m in discover_migrations()]  # each exactly once, by one of the runs


def test_failed_migration_applies_nothing(make_database, monkeypatch) -> None:
    url = make_database()
    bad = Migration("999_bad.sql", "create table chalkola_ops.half_done (x int); select 1/0;", "x" * 64)
    real = discover_migrations()
    monkeypatch.setattr(migrations, "discover_migrations", lambda: [*real, bad])
    with psycopg.connect(url, prepare_threshold=None) as conn:
        with pytest.raises(MigrationError, match="999_bad.sql failed"):
            apply_migrations(conn)
        # the whole run is one transaction: not even 001 is recorded
        assert conn.execute("select to_regclass('raw_amazon.sp_order_items')").fetchone()[0] is None
    monkeypatch.setattr(migrations, "discover_migrations", lambda: real)
    with psycopg.connect(url, prepare_threshold=None) as conn:
        assert len(apply_migrations(conn)) == len(real)
        assert conn.execute("select to_regclass('chalkola_ops.half_done')").fetchone()[0] is None


def test_edited_migration_is_refused(make_database) -> None:
    url = make_database(migrate=True)
    with psycopg.connect(url, prepare_threshold=None) as conn:
        conn.execute(
            "update chalkola_ops.schema_migrations set checksum = 'abc' where name = '001_raw_amazon.sql'"
        )
        conn.commit()
        with pytest.raises(MigrationError, match="001_raw_amazon.sql was changed after it was applied"):
            apply_migrations(conn)


def test_bi_role_reads_marts_only(make_database) -> None:
    url = make_database(migrate=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table marts.fct_test (x int)")  # created after the grants: default privileges
        checks = conn.execute(
            "select has_schema_privilege('chalkola_bi', 'marts', 'usage'),"
            " has_table_privilege('chalkola_bi', 'marts.fct_test', 'select'),"
            " has_table_privilege('chalkola_bi', 'marts.fct_test', 'insert'),"
            " has_table_privilege('chalkola_bi', 'raw_amazon.sp_order_items', 'select')"
        ).fetchone()
        assert checks == (True, True, False, False)
        assert conn.execute("select rolcanlogin from pg_roles where rolname = 'chalkola_bi'").fetchone() == (
            False,
        )


def test_bi_role_skipped_without_createrole(make_database, pg_server_url, monkeypatch, caplog) -> None:
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        if not admin.execute(
            "select rolsuper or rolcreaterole from pg_roles where rolname = current_user"
        ).fetchone()[0]:
            pytest.skip("the test server's user cannot create roles")
        user = f"chalkola_limited_{uuid.uuid4().hex[:8]}"
        admin.execute(f"create role {user} login")
    url = make_database()
    try:
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute(f"grant create on database {urlsplit(url).path.lstrip('/')} to {user}")
        parts = urlsplit(url)
        limited_url = urlunsplit((parts.scheme, f"{user}@{parts.hostname}:{parts.port}", *parts[2:]))
        monkeypatch.setattr(migrations, "BI_ROLE", f"chalkola_bi_absent_{uuid.uuid4().hex[:6]}")
        with psycopg.connect(limited_url, prepare_threshold=None) as conn, caplog.at_level(logging.INFO):
            assert ensure_bi_role(conn) is False
            assert len(apply_migrations(conn)) == len(discover_migrations())  # migrations still apply
        skips = [r for r in caplog.records if "needs CREATEROLE" in r.getMessage()]
        assert len(skips) == 2  # one line per call
    finally:
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute(f"drop owned by {user}")
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (user,)
            )
            admin.execute(f"drop role if exists {user}")
