"""BI access on a real warehouse: marts built by dbt, Dagster's tables in the same database, the ``chalkola_bi``
role logging in with CHALKOLA_BI_PASSWORD — it reads every mart and nothing else; ``chalkola export`` writes one
mart as CSV / Parquet; ``chalkola docs`` writes dbt's static docs."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
import yaml
from dbt_helpers import fetch, insert_rows, run_dbt
from psycopg import errors as pg_errors

from chalkola_pipelines import cli
from chalkola_pipelines.dbt_env import dbt_env_for
from chalkola_pipelines.warehouse.migrations import BI_PASSWORD_ENV, BI_ROLE, apply_migrations
from chalkola_pipelines.warehouse.postgres import scratch_database, sqlalchemy_url

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BI_PASSWORD = "bi-Secret-4242"
D1, D2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)
MARTS = {"dim_marketplace", "dim_product", "fct_ads_asin_daily", "fct_ads_campaign_daily", "fct_asin_daily"}


def _ad(
    mkt: str, profile: int, day: dt.date, ad_id: int, campaign: int, asin: str, spend: str, sales: str
) -> dict:
    return {
        "marketplace": mkt, "profile_id": profile, "report_date": day, "ad_id": ad_id, "ad_group_id": ad_id * 10,
        "campaign_id": campaign, "campaign_name": f"Campaign {campaign}", "advertised_asin": asin,
        "advertised_sku": f"SKU-{asin}", "impressions": 100, "clicks": 5, "spend": Decimal(spend),
        "cost": Decimal(spend), "sales_7d": Decimal(sales), "sales_14d": Decimal(sales),
        "attributed_sales_same_sku_7d": Decimal(sales), "purchases_7d": 1, "purchases_14d": 1,
        "units_sold_clicks_7d": 1, "units_sold_clicks_14d": 1, "report_id": "ads-1",
    }  # fmt: skip


ADS = [
    _ad("US", 111, D1, 1, 9001, "B0CHALK001", "23.47", "96.13"),
    _ad("US", 111, D2, 1, 9001, "B0CHALK001", "1.11", "0"),
    _ad("UK", 222, D1, 5, 7001, "B0CHALKUK1", "0.45", "9.99"),
]
PROFILES = [
    {"profile_id": 111, "region": "na", "marketplace": "US", "marketplace_string_id": "ATVPDKIKX0DER",
     "country_code": "US", "currency_code": "USD", "timezone": "America/Los_Angeles", "account_type": "seller"},
    {"profile_id": 222, "region": "eu", "marketplace": "UK", "marketplace_string_id": "A1F83G8C2ARO7P",
     "country_code": "UK", "currency_code": "GBP", "timezone": "Europe/London", "account_type": "seller"},
]  # fmt: skip


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{user}:{password}@{parts.hostname}:{parts.port}", *parts[2:]))


@pytest.fixture(scope="module")
def warehouse(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrated with CHALKOLA_BI_PASSWORD set, raw rows, seeds + models built, a Dagster instance's tables."""
    import dagster as dg

    target = tmp_path_factory.mktemp("dbt_bi")
    home = tmp_path_factory.mktemp("dagster_bi")
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    for section in ("run_monitoring", "run_launcher"):
        config.pop(section)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with scratch_database(pg_url, "chalkola_bi", migrate=False) as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv(BI_PASSWORD_ENV, BI_PASSWORD)
        with psycopg.connect(url) as conn:
            apply_migrations(conn)
            insert_rows(conn, "ads_profiles", PROFILES)
            insert_rows(conn, "ads_sp_advertised_product", ADS)
        run_dbt(["build", "--resource-type", "seed", "--resource-type", "model"], env=dbt_env_for(url),
                target_path=target)  # fmt: skip
        mp.setenv("DAGSTER_HOME", str(home))
        mp.setenv("DAGSTER_PG_URL", sqlalchemy_url(url))
        with dg.DagsterInstance.get():  # creates Dagster's run / event tables in this database
            pass
        try:
            yield url
        finally:  # the role is the server's, not this database's: leave it as the migrations create it
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"alter role {BI_ROLE} nologin password null")
    shutil.rmtree(home / "storage", ignore_errors=True)


def _relations(url: str, schema: str) -> list[str]:
    rows = fetch(url, "select table_name from information_schema.tables where table_schema = %s", (schema,))
    return sorted(r["table_name"] for r in rows)


def test_the_bi_role_reads_every_mart_and_nothing_else(warehouse: str) -> None:
    assert set(_relations(warehouse, "marts")) == MARTS
    dagster_tables = _relations(warehouse, "public")
    assert {"runs", "event_logs", "kvs"} <= set(dagster_tables)
    stored = fetch(
        warehouse, "select rolcanlogin, rolpassword from pg_authid where rolname = %s", (BI_ROLE,)
    )[0]
    assert stored["rolcanlogin"] is True
    assert stored["rolpassword"].startswith("SCRAM-SHA-256$") and BI_PASSWORD not in stored["rolpassword"]

    bi_url = _with_user(warehouse, BI_ROLE, BI_PASSWORD)
    with psycopg.connect(bi_url, autocommit=True) as bi:
        assert bi.execute("select current_user").fetchone() == (BI_ROLE,)
        for mart in sorted(MARTS):
            bi.execute(f"select * from marts.{mart} limit 1").fetchall()
        assert bi.execute("select count(*) from marts.fct_ads_campaign_daily").fetchone()[0] == 3

        denied = {
            "raw_amazon": _relations(warehouse, "raw_amazon"),
            "staging": _relations(warehouse, "staging"),
            "chalkola_ops": _relations(warehouse, "chalkola_ops"),
            "public": dagster_tables,
        }
        assert all(denied.values()), denied
        for schema, relations in denied.items():
            for relation in relations:
                with pytest.raises(pg_errors.InsufficientPrivilege):
                    bi.execute(f'select 1 from {schema}."{relation}" limit 1')
        for statement in (
            "insert into marts.dim_marketplace (code) values ('XX')",
            "delete from marts.fct_asin_daily",
            "create table marts.mine (x int)",
            "create table public.mine (x int)",
            "create table staging.mine (x int)",
        ):
            with pytest.raises(pg_errors.InsufficientPrivilege):
                bi.execute(statement)


def test_export_a_mart_as_csv_and_parquet(warehouse: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", warehouse)
    csv_path = tmp_path / "campaigns.csv"
    argv = ["export", "fct_ads_campaign_daily", "--from", str(D1), "--to", str(D2), "--marketplace", "us"]
    assert cli.main([*argv, "-o", str(csv_path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 2 rows of marts.fct_ads_campaign_daily to {csv_path}"
    frame = pd.read_csv(csv_path, dtype={"spend": str})
    assert list(frame["date"]) == [str(D1), str(D2)] and set(frame["marketplace"]) == {"US"}
    assert list(frame["spend"]) == ["23.47", "1.11"]  # exact, as in Postgres
    columns = [r["column_name"] for r in fetch(
        warehouse, "select column_name from information_schema.columns where table_schema = 'marts'"
        " and table_name = 'fct_ads_campaign_daily' order by ordinal_position")]  # fmt: skip
    assert list(frame.columns) == columns

    monkeypatch.chdir(tmp_path)
    assert (
        cli.main(["export", "fct_asin_daily", "--from", str(D1), "--to", str(D1), "--format", "parquet"]) == 0
    )
    table = pq.read_table(tmp_path / f"fct_asin_daily_{D1}_{D1}.parquet")
    assert table.num_rows == 2 and set(table.column("marketplace").to_pylist()) == {"US", "UK"}
    assert str(table.schema.field("ad_spend").type).startswith("decimal128")
    assert sorted(table.column("ad_spend").to_pylist()) == [Decimal("0.45"), Decimal("23.47")]

    assert cli.main(["export", "dim_marketplace", "--format", "csv"]) == 0
    assert len(pd.read_csv(tmp_path / "dim_marketplace.csv")) >= 11


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "fct_nope", "--from", "2024-03-01", "--to", "2024-03-02"],
         "mart 'fct_nope' is not in schema marts (dim_marketplace, dim_product, fct_ads_asin_daily"),
        (["export", "fct_asin_daily"], "fct_asin_daily is daily: give --from and --to (YYYY-MM-DD)."),
        (["export", "dim_product", "--from", "2024-03-01", "--to", "2024-03-02"],
         "dim_product has no date column: export it without --from/--to."),
        (["export", "fct_asin_daily", "--from", "2024-03-02", "--to", "2024-03-01"],
         "--from 2024-03-02 is after --to 2024-03-01."),
    ],
)  # fmt: skip
def test_export_refuses_bad_input_in_one_line(warehouse: str, monkeypatch, capsys, argv, message) -> None:
    monkeypatch.setenv("DATABASE_URL", warehouse)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"chalkola export: {message}") and "\n" not in err


def test_docs_writes_static_dbt_docs(warehouse: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", warehouse)
    out = tmp_path / "docs"
    assert cli.main(["docs", "-o", str(out)]) == 0
    assert f"open {(out / 'index.html').as_uri()}" in capsys.readouterr().out
    index = (out / "index.html").read_text()
    assert "fct_ads_campaign_daily" in index and len(index) > 100_000  # one self-contained page
    catalog = json.loads((out / "catalog.json").read_text())
    built = catalog["nodes"]["model.chalkola.fct_asin_daily"]
    assert built["metadata"]["schema"] == "marts" and "tacos" in built["columns"]
    assert BI_PASSWORD not in index
