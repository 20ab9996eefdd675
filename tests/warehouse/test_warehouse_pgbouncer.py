"""Pooler-safe for real: loads, dbt and the Dagster storage through PgBouncer in transaction mode, and warehouse
transactions immune to session settings other clients leave on a pooled server connection."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from pgbouncer_support import ensure_pgbouncer, running_pgbouncer

from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_COLUMNS
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse import postgres
from chalkola_pipelines.warehouse.ledger import SP_REPORTS, ReportLedger
from chalkola_pipelines.warehouse.migrations import apply_migrations
from chalkola_pipelines.warehouse.order_tables import replace_order_items
from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError

pytestmark = pytest.mark.integration

US = get_marketplace("US")
DAY = dt.date(2025, 3, 1)
LEAKED_TIMEOUT_MS = 400
LOCK_HELD_SECONDS = 1.5


@pytest.fixture(scope="module")
def pgbouncer_binary() -> str:
    binary, why = ensure_pgbouncer()
    if binary is None:
        pytest.skip(f"PgBouncer unavailable: {why}")
    return binary


def _rows(n: int) -> list[dict]:
    out = []
    for i in range(n):
        row: dict = {c.column: None for c in ORDER_REPORT_COLUMNS}
        purchase = dt.datetime(2025, 3, 1, 18, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=i)
        row.update(
            amazon_order_id=f"111-{i:07d}", purchase_date=purchase, last_updated_date=purchase,
            order_status="Shipped", sales_channel="Amazon.com", sku="SKU-1", asin="B000000001", quantity=1,
            currency="USD", item_price=Decimal("19.99"), extra_columns={},
        )  # fmt: skip
        out.append(row)
    return out


def _hold_partition_lock(direct_url: str, seconds: float, held: threading.Event) -> threading.Thread:
    """Another run replacing the same partition: holds its advisory lock (a direct connection) for a while."""

    def hold() -> None:
        with psycopg.connect(direct_url, autocommit=True) as conn, conn.transaction():
            conn.execute(
                "select pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"raw_amazon.sp_order_items:US/{DAY.isoformat()}",),
            )
            held.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(10)
    return thread


def test_leaked_session_statement_timeout_does_not_cancel_a_warehouse_load(
    pgbouncer_binary, make_database, monkeypatch
) -> None:
    direct = make_database(migrate=True)
    # one server connection: every client of the pool gets the connection the previous one left
    with running_pgbouncer(pgbouncer_binary, direct, pool_size=1) as pooled:
        url = pooled(direct)
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as other_client:
            other_client.execute(f"set statement_timeout = {LEAKED_TIMEOUT_MS}")  # e.g. the Dagster webserver
        with postgres.connect(url, autocommit=True) as conn:
            # the leak is real: a fresh client of the pooler inherits the other client's session setting
            assert conn.execute("show statement_timeout").fetchone() == (f"{LEAKED_TIMEOUT_MS}ms",)
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute("select pg_sleep(1)")

            # a load that waits LOCK_HELD_SECONDS for another run's partition lock, > the leaked timeout
            thread = _hold_partition_lock(direct, LOCK_HELD_SECONDS, threading.Event())
            started = time.monotonic()
            counts = replace_order_items(conn, marketplace=US, days=[DAY], rows=_rows(500), report_id="r1")
            took = time.monotonic() - started
            thread.join()
            assert counts[DAY] == 500 and took * 1000 > LEAKED_TIMEOUT_MS
            # SET LOCAL ended with the transaction: the pooled session is as the other client left it
            assert conn.execute("show statement_timeout").fetchone() == (f"{LEAKED_TIMEOUT_MS}ms",)

            # the guard is what makes the difference: without it the same load is cancelled
            monkeypatch.setattr(postgres, "_GUARD_SQL", "select 1")
            thread = _hold_partition_lock(direct, LOCK_HELD_SECONDS, threading.Event())
            with pytest.raises(WarehouseLoadError, match="statement timeout"):
                replace_order_items(conn, marketplace=US, days=[DAY], rows=_rows(500), report_id="r2")
            thread.join()
        with psycopg.connect(direct) as check:
            assert check.execute(
                "select count(*), min(report_id) from raw_amazon.sp_order_items"
            ).fetchone() == (
                500,
                "r1",
            )
        print(f"\npooled load waited {took:.2f} s under a leaked statement_timeout of {LEAKED_TIMEOUT_MS} ms")


def test_migrations_loads_ledger_dbt_and_dagster_storage_through_the_pooler(
    pgbouncer_binary, make_database, tmp_path: Path, monkeypatch
) -> None:
    import dagster as dg

    from chalkola_pipelines.dbt_env import DBT_PROJECT_DIR, dbt_env_for

    direct = make_database(migrate=False)
    timings: dict[str, float] = {}
    with running_pgbouncer(pgbouncer_binary, direct, pool_size=4) as pooled:
        url = pooled(direct)
        started = time.monotonic()
        with postgres.connect(url, autocommit=True) as conn:
            assert apply_migrations(conn)  # the advisory lock and DDL in one transaction
            assert (
                replace_order_items(conn, marketplace=US, days=[DAY], rows=_rows(2000), report_id="r1")[DAY]
                == 2000
            )
        ledger = ReportLedger.from_url(url)
        window = dict(window_start=DAY, window_end=DAY + dt.timedelta(days=1), options={})
        with ledger.claimed(source=SP_REPORTS, report_type="T", region="na", scope="US", **window):
            ledger.record(
                source=SP_REPORTS, report_type="T", region="na", marketplace="US", profile_id=None,
                report_id="9001", status="IN_QUEUE", **window,
            )  # fmt: skip
        ledger.update(SP_REPORTS, "9001", region="na", status="DONE", document_path="/x.gz")
        assert ledger.get(SP_REPORTS, "9001", region="na").status == "DONE"
        timings["migrate+load+ledger"] = time.monotonic() - started

        started = time.monotonic()
        dbt = [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "dbt"),
               "--log-path", str(tmp_path / "dbt" / "logs")]  # fmt: skip
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **dbt_env_for(url)}
        proc = subprocess.run(dbt, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-4000:]
        timings["dbt build"] = time.monotonic() - started
        with psycopg.connect(direct) as check:
            assert (
                check.execute("select count(*) from staging.stg_amazon__sp_order_items").fetchone()[0] == 2000
            )

        started = time.monotonic()
        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(
            "storage:\n  postgres:\n    postgres_url:\n      env: CHALKOLA_TEST_DAGSTER_PG_URL\n"
        )
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.setenv("CHALKOLA_TEST_DAGSTER_PG_URL", postgres.sqlalchemy_url(url))

        @dg.asset
        def pooled_asset() -> int:
            return 1

        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            for _ in range(2):
                assert dg.materialize([pooled_asset], instance=instance).success
            assert len(instance.get_runs()) == 2
            assert instance.get_latest_materialization_event(pooled_asset.key) is not None
        timings["dagster storage (init + 2 runs)"] = time.monotonic() - started
    print(
        "\nthrough PgBouncer (transaction mode): " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    )
