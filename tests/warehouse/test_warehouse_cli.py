"""`chalkola db url|migrate` through the warehouse CLI group."""

from __future__ import annotations

import argparse

import psycopg
import pytest

from chalkola_pipelines.warehouse import cli


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chalkola")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_db_url_and_migrate(make_database, monkeypatch, capsys) -> None:
    url = make_database()
    monkeypatch.setenv("DATABASE_URL", url.replace("postgresql://", "postgres://", 1))
    assert run(["db", "url"]) == 0
    assert capsys.readouterr().out.strip() == url
    assert run(["db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "migration(s)" in out and "001_raw_amazon.sql" in out
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from chalkola_ops.schema_migrations").fetchone()[0] >= 2
    assert run(["db", "migrate"]) == 0
    assert "is up to date" in capsys.readouterr().out


def test_db_url_redacts_password(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:s3cret@db.example:6543/postgres")
    assert run(["db", "url", "--redacted"]) == 0
    assert capsys.readouterr().out.strip() == "postgresql://u:***@db.example:6543/postgres"


def test_db_requires_a_subcommand() -> None:
    with pytest.raises(SystemExit):
        run(["db"])


def test_landing_prune(make_database, monkeypatch, capsys, tmp_path) -> None:
    import os
    import time

    from chalkola_pipelines.warehouse.landing import LandingStore

    monkeypatch.setenv("DATABASE_URL", make_database())
    monkeypatch.setenv("CHALKOLA_LANDING_DIR", str(tmp_path))
    monkeypatch.setenv("CHALKOLA_LANDING_RETENTION_DAYS_ORDERS", "10")
    store = LandingStore(tmp_path)
    old = store.path_for("sp_reports", "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", "EU", "7")
    old.write_bytes(b"x")
    stamp = time.time() - 11 * 86400
    os.utime(old, (stamp, stamp))
    young = store.path_for("sp_reports", "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL", "EU", "8")
    young.write_bytes(b"x")
    assert run(["landing", "prune", "--dry-run"]) == 0
    assert f"would delete {old}" in capsys.readouterr().out and old.exists()
    assert run(["landing", "prune"]) == 0
    out = capsys.readouterr().out
    assert f"deleted {old}" in out and "order documents 10 days, other documents 90 days" in out
    assert not old.exists() and young.exists()
    monkeypatch.setenv("CHALKOLA_LANDING_RETENTION_DAYS_ORDERS", "ten")
    assert run(["landing", "prune"]) == 2
