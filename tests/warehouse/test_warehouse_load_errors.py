"""A load that fails says the right next step: a dropped connection is transient ("re-run"), bad input is not
("fix the input") — on real Postgres, the connection really terminated by the server."""

from __future__ import annotations

import psycopg
import pytest

from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError, replacing_partitions

pytestmark = pytest.mark.integration


def _load(conn: psycopg.Connection, sql: str) -> None:
    with replacing_partitions(
        conn, table="raw_amazon.sp_order_items", partition_keys=["2001-01-01|SG"], deletes=[(sql, ())],
        what="sp_order_items 2001-01-01|SG",
    ):  # fmt: skip
        pass


def test_a_dropped_connection_is_transient_and_says_re_run(pg_url: str) -> None:
    from chalkola_pipelines.defs.report_errors import failures_named
    from chalkola_pipelines.warehouse.ledger import ReportLedger

    with (
        psycopg.connect(pg_url, autocommit=True) as victim,
        psycopg.connect(pg_url, autocommit=True) as admin,
    ):
        admin.execute("select pg_terminate_backend(%s)", (victim.info.backend_pid,))
        with pytest.raises(WarehouseLoadError) as caught:
            _load(victim, "select 1")
    assert caught.value.transient
    message = str(caught.value)
    assert "Could not load sp_order_items 2001-01-01|SG" in message
    assert "Transient database error" in message and "re-run the partition" in message
    assert "fix the input" not in message and "\n" not in message

    # the partition's Failure keeps that next step (and adds no "fix the cause")
    with pytest.raises(Exception) as failure:
        with failures_named("sp_orders 2001-01-01|SG", ReportLedger.from_url(pg_url), "sp_reports", {}):
            raise caught.value
    description = failure.value.description  # type: ignore[attr-defined]
    assert description.startswith("sp_orders 2001-01-01|SG: Could not load")
    assert "fix the" not in description and "re-run the partition" in description


def test_bad_input_is_not_transient_and_says_fix_the_input(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(WarehouseLoadError) as caught:
            _load(conn, "select 1 / 0")
    assert not caught.value.transient
    assert "fix the input (or the parser) and re-run the partition" in str(caught.value)


def test_an_unreachable_database_anywhere_in_an_asset_is_one_transient_line(pg_url: str) -> None:
    import socket

    import dagster as dg

    from chalkola_pipelines.defs.report_errors import database_failures_named

    with socket.socket() as s:  # a port nothing listens on: the server is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    what = "sp_orders partitions 2001-01-01|SG..2001-01-03|SG"
    with pytest.raises(dg.Failure) as failure:
        with database_failures_named(what):
            psycopg.connect(f"postgresql://chalkola:s3cretpw@127.0.0.1:{port}/x", connect_timeout=3)
    description = failure.value.description or ""
    assert description.startswith(f"{what}: the warehouse database failed: connection failed")
    assert "Transient database error" in description and "Re-run them" in description
    assert "s3cretpw" not in description and "\n" not in description and "fix the" not in description
    # a data error is not transient: it passes through unchanged (the asset's own handling names it)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            with database_failures_named(what):
                conn.execute("select 1 / 0")
