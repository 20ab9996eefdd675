"""`dbt parse` works without a database and yields the manifest dagster-dbt loads (sources → Python assets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator
from dbt_helpers import run_dbt

# Nothing listens on port 9: parse must not need a connection.
NO_DATABASE_ENV = {"CHALKOLA_PG_HOST": "127.0.0.1", "CHALKOLA_PG_PORT": "9", "CHALKOLA_PG_DBNAME": "absent"}

EXPECTED_SOURCE_ASSET_KEYS = {
    "sp_sales_traffic_by_date": AssetKey(["sp_sales_traffic"]),
    "sp_sales_traffic_by_asin": AssetKey(["sp_sales_traffic"]),
    "sp_order_items": AssetKey(["sp_orders"]),
    "ads_profiles": AssetKey(["ads_profiles"]),
    "ads_sp_advertised_product": AssetKey(["ads_sp_advertised_product"]),
}
MARTS = {"fct_ads_campaign_daily", "fct_ads_asin_daily", "fct_asin_daily", "dim_product"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    target: Path = tmp_path_factory.mktemp("dbt_parse")
    proc = run_dbt(["parse", "--warn-error"], env=NO_DATABASE_ENV, target_path=target)
    assert "[WARNING]" not in proc.stdout, proc.stdout
    return json.loads((target / "manifest.json").read_text())


def test_sources_map_to_the_python_assets(manifest: dict) -> None:
    translator = DagsterDbtTranslator()
    sources = {s["name"]: s for s in manifest["sources"].values() if s["source_name"] == "amazon"}
    assert {name: translator.get_asset_key(sources[name]) for name in EXPECTED_SOURCE_ASSET_KEYS} == (
        EXPECTED_SOURCE_ASSET_KEYS
    )
    for name in EXPECTED_SOURCE_ASSET_KEYS:
        assert sources[name]["schema"] == "raw_amazon"
        assert sources[name]["loaded_at_field"] == "loaded_at"
        assert sources[name]["freshness"]["error_after"]["count"], name


def test_models_schemas_and_materializations(manifest: dict) -> None:
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    staging = {name for name in models if name.startswith("stg_amazon__")}
    assert len(staging) == 6
    assert all(models[name]["schema"] == "staging" for name in staging)
    assert all(models[name]["config"]["materialized"] == "view" for name in staging)
    assert MARTS <= set(models)
    assert all(models[name]["schema"] == "marts" for name in MARTS)
    for name in ("fct_ads_campaign_daily", "fct_ads_asin_daily", "fct_asin_daily"):
        config = models[name]["config"]
        assert (config["materialized"], config["incremental_strategy"]) == ("incremental", "delete+insert")
        assert config["unique_key"] == ["date", "marketplace"]
    seeds = [n for n in manifest["nodes"].values() if n["resource_type"] == "seed"]
    assert [(s["name"], s["schema"]) for s in seeds] == [("dim_marketplace", "marts")]


def test_every_ratio_column_is_documented_as_not_additive(manifest: dict) -> None:
    ratios = {"ctr", "cpc", "cvr", "acos", "roas", "acos_14d", "roas_14d", "tacos"}
    seen = 0
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["name"] not in MARTS:
            continue
        for column in node["columns"].values():
            if column["name"] in ratios:
                seen += 1
                assert "Ratios are not additive" in column["description"], (node["name"], column["name"])
    assert seen == 15  # 7 per ads mart + tacos


def test_every_ratio_has_unit_tests(manifest: dict) -> None:
    unit_tests = manifest.get("unit_tests", {}).values()
    by_model: dict[str, str] = {}
    for test in unit_tests:
        model = test["model"]
        by_model[model] = by_model.get(model, "") + json.dumps(test["expect"])
    for model, columns in {
        "fct_ads_campaign_daily": ("ctr", "cpc", "cvr", "acos", "roas", "acos_14d", "roas_14d"),
        "fct_ads_asin_daily": ("ctr", "cpc", "cvr", "acos", "roas", "acos_14d", "roas_14d"),
        "fct_asin_daily": ("tacos", "organic_sales"),
    }.items():
        for column in columns:
            assert f'"{column}": null' in by_model[model], (model, column)  # a zero-denominator case
            assert f'"{column}":' in by_model[model], (model, column)
