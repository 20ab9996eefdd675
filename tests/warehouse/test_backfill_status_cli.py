"""`chalkola backfill status` against a real Postgres-backed Dagster instance (deploy/dagster.yaml)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os

import dagster as dg

from chalkola_pipelines import backfill_cli


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chalkola")
    backfill_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_backfill_status_counts_what_the_instance_holds(make_database, monkeypatch, capsys, tmp_path) -> None:
    url = make_database()
    home = tmp_path / "dagster"
    for key, value in {
        "DATABASE_URL": url,
        "DAGSTER_HOME": str(home),
        "CHALKOLA_HOME": str(tmp_path),
        "CHALKOLA_MARKETPLACES": "US,CA",
        "CHALKOLA_START_DATE": (dt.date.today() - dt.timedelta(days=40)).isoformat(),
        "DAGSTER_PG_URL": "",
        "DAGSTER_GRPC_TIMEOUT_SECONDS": "300",
        "PATH": os.environ["PATH"],
    }.items():
        monkeypatch.setenv(key, value)  # restored after the test (prepare_environment writes os.environ)
    monkeypatch.delenv("DAGSTER_PG_URL")

    assert run(["backfill", "status", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert before["totals"]["done"] == 0 and before["totals"]["missing"] == before["totals"]["wanted"] > 0
    assert before["binding_meter"] and before["runs_left"] > 0
    # Ads keeps 95 days: inside a 40-day history nothing is unavailable; orders of US: 40 days wanted
    assert before["by_source"]["sp_orders:US"]["wanted"] >= 39

    us_days = [dt.date.today() - dt.timedelta(days=i) for i in range(2, 12)]
    with dg.DagsterInstance.get() as instance:
        for day in us_days:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key="sp_orders", partition=f"{day.isoformat()}|US")
            )
    assert run(["backfill", "status", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["by_source"]["sp_orders:US"]["done"] == 10
    assert after["totals"]["missing"] == before["totals"]["missing"] - 10

    assert run(["backfill", "status"]) == 0
    table = capsys.readouterr().out
    assert "History backfill, round 1" in table and "sp_orders" in table and "quota bound" in table
