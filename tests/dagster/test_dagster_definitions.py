"""The Definitions load and are wired as documented; resources fail clearly and never show secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from chalkola_pipelines.defs.dbt import ensure_dbt_manifest
from chalkola_pipelines.defs.resources import (
    AmazonApiResource,
    MissingCredentialError,
    WarehouseResource,
    build_amazon_resource,
    build_warehouse_resource,
)
from chalkola_pipelines.marketplaces import get_marketplace

REPO = Path(__file__).resolve().parents[2]
RAW = ("sp_sales_traffic", "sp_orders", "ads_profiles", "ads_sp_advertised_product")
SECRET_ENV = {
    "SP_LWA_CLIENT_ID": "amzn1.application-oa2-client.sp",
    "SP_LWA_CLIENT_SECRET": "sp-secret-value-123",
    "SP_REFRESH_TOKEN_NA": "Atzr|na-refresh-token-456",
    "SP_REFRESH_TOKEN_EU": "Atzr|eu-refresh-token-789",
    "ADS_CLIENT_ID": "amzn1.application-oa2-client.ads",
    "ADS_CLIENT_SECRET": "ads-secret-value-abc",
    "ADS_REFRESH_TOKEN_NA": "Atzr|ads-na-token-def",
}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    ensure_dbt_manifest()
    from chalkola_pipelines.definitions import build_definitions

    return build_definitions({"CHALKOLA_MARKETPLACES": "US,UK,JP", "CHALKOLA_START_DATE": "2025-01-01"})


def test_definitions_load_with_jobs_schedules_sensors(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    jobs = {j.name for j in repo.get_all_jobs()}
    assert {
        "raw_amazon_job",
        "dbt_marts_job",
        "ads_profiles_job",
        "sp_sales_traffic_job",
        "sp_orders_job",
        "ads_sp_advertised_product_job",
    } <= jobs
    assert {s.name for s in repo.schedule_defs} == {
        "sp_sales_traffic_nightly",
        "sp_orders_nightly",
        "ads_sp_advertised_product_nightly",
        "ads_profiles_daily",
        "landing_retention_daily",
    }
    sensors = {s.name: s for s in repo.sensor_defs}
    assert sensors["history_backfill_sensor"].default_status == dg.DefaultSensorStatus.STOPPED
    assert sensors["dbt_after_raw_loads_sensor"].default_status == dg.DefaultSensorStatus.RUNNING
    raw_job = defs.resolve_job_def("raw_amazon_job")
    assert {k.to_user_string() for k in raw_job.asset_layer.selected_asset_keys} == set(RAW)
    assert defs.resolve_job_def("sp_orders_job").tags["amazon/api"] == "sp_reports"
    assert defs.resolve_job_def("sp_sales_traffic_job").tags["amazon/api"] == "sales_traffic"
    assert defs.resolve_job_def("dbt_marts_job").tags["amazon/api"] == "dbt"


def test_raw_assets_partitions_pools_and_backfill_policies(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    expected = {
        "sp_sales_traffic": ("amazon_sales_traffic", 29),
        "sp_orders": ("amazon_sp_reports", 29),
        "ads_sp_advertised_product": ("amazon_ads_reporting", 29),  # one policy for all: no "varying" warning
    }
    for name, (pool, per_run) in expected.items():
        assets_def = graph.get(dg.AssetKey(name)).assets_def
        assert assets_def.backfill_policy == dg.BackfillPolicy.multi_run(per_run)
        assert assets_def.op.pool == pool
        parts = assets_def.partitions_def
        assert isinstance(parts, dg.MultiPartitionsDefinition)
        assert parts.get_partitions_def_for_dimension("marketplace").get_partition_keys() == [
            "US",
            "UK",
            "JP",
        ]
    assert graph.get(dg.AssetKey("ads_profiles")).assets_def.partitions_def is None
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert {
        ("sp_sales_traffic", "rows_match_document"),
        ("sp_sales_traffic", "by_date_totals_match_by_asin"),
        ("sp_orders", "rows_match_document"),
        ("ads_sp_advertised_product", "rows_match_document"),
        ("ads_sp_advertised_product", "attributed_sales_within_ordered_sales"),
    } <= checks


def test_dbt_models_depend_on_the_raw_assets(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    parents = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert parents["staging/stg_amazon__sp_sales_traffic_by_asin"] == {"sp_sales_traffic"}
    assert parents["staging/stg_amazon__sp_sales_traffic_by_date"] == {"sp_sales_traffic"}
    assert parents["staging/stg_amazon__sp_order_items"] == {"sp_orders"}
    assert parents["staging/stg_amazon__ads_profiles"] == {"ads_profiles"}
    assert parents["staging/stg_amazon__ads_sp_advertised_product"] == {"ads_sp_advertised_product"}
    dbt_job = defs.resolve_job_def("dbt_marts_job")
    selected = {k.to_user_string() for k in dbt_job.asset_layer.selected_asset_keys}
    assert "marts/fct_ads_campaign_daily" in selected and "staging/stg_amazon__sp_order_items" in selected
    assert not selected & set(RAW)


def test_unknown_marketplace_fails_at_load() -> None:
    from chalkola_pipelines.definitions import build_definitions
    from chalkola_pipelines.defs.partitions import PartitionConfigError

    with pytest.raises(PartitionConfigError, match="Unknown marketplace code 'ZZ'"):
        build_definitions({"CHALKOLA_MARKETPLACES": "US,ZZ"})


# --------------------------------------------------------------------------------------------------
# resources


def test_resources_use_env_vars_only_for_variables_that_are_set() -> None:
    amazon = build_amazon_resource(SECRET_ENV)
    assert (
        isinstance(amazon.sp_refresh_token_eu, dg.EnvVar)
        and amazon.sp_refresh_token_eu == "SP_REFRESH_TOKEN_EU"
    )
    assert amazon.sp_refresh_token_fe is None and amazon.ads_refresh_token_eu is None
    assert amazon.ads_regions() == ["na"]
    warehouse = build_warehouse_resource({"DATABASE_URL": "postgresql://u:pw@h/db"})
    assert isinstance(warehouse.database_url, dg.EnvVar)
    assert build_warehouse_resource({}).database_url is None
    plain = AmazonApiResource(sp_lwa_client_secret="sp-secret-value-123", sp_refresh_token_na="Atzr|na")
    creds = plain.sp_credentials(get_marketplace("US")) if plain.sp_lwa_client_id else None
    assert creds is None  # client id missing → no credentials built
    assert "sp-secret-value-123" not in repr(plain) + str(plain)
    assert "pw" not in repr(WarehouseResource(database_url="postgresql://u:pw@h/db"))


def test_secrets_reach_the_run_as_env_var_names_only(monkeypatch) -> None:
    for key, value in SECRET_ENV.items():
        monkeypatch.setenv(key, value)
    seen = {}

    @dg.asset
    def probe(amazon: AmazonApiResource) -> None:
        creds = amazon.sp_credentials(get_marketplace("UK"))
        seen["token"] = creds.refresh_token
        seen["repr"] = repr(creds) + repr(amazon)

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [probe], resources={"amazon": build_amazon_resource(os.environ)}, instance=instance
        )
        assert result.success
        stored = repr(instance.get_run_by_id(result.run_id).run_config)
        logs = repr([e.message for e in instance.all_logs(result.run_id)])
    assert seen["token"] == SECRET_ENV["SP_REFRESH_TOKEN_EU"]  # resolved at run time
    secrets = [v for k, v in SECRET_ENV.items() if "ID" not in k]
    assert not any(secret in stored + logs + seen["repr"] for secret in secrets)


def test_endpoints_are_resource_fields_wired_from_the_environment(monkeypatch) -> None:
    from chalkola_pipelines.amazon.endpoints import ENDPOINT_SETTINGS, AmazonEndpoints

    assert set(ENDPOINT_SETTINGS) <= set(AmazonApiResource.model_fields)
    assert AmazonApiResource().endpoints() == AmazonEndpoints.production()  # default: real Amazon
    assert AmazonApiResource(simulator_url="http://127.0.0.1:9").endpoints() == AmazonEndpoints.simulator(
        "http://127.0.0.1:9"
    )
    env = {
        "CHALKOLA_AMAZON_SIMULATOR": "http://127.0.0.1:9999/",
        "CHALKOLA_SP_API_URL_EU": "https://proxy/sp/",
    }
    amazon = build_amazon_resource(env)
    assert isinstance(amazon.simulator_url, dg.EnvVar) and amazon.simulator_url == "CHALKOLA_AMAZON_SIMULATOR"
    assert isinstance(amazon.sp_api_url_eu, dg.EnvVar) and amazon.sp_api_url_eu == "CHALKOLA_SP_API_URL_EU"
    assert amazon.sp_api_url_na is None and build_amazon_resource({}).simulator_url is None
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    seen = {}

    @dg.asset
    def probe(amazon: AmazonApiResource) -> None:
        seen["endpoints"] = amazon.endpoints()

    assert dg.materialize([probe], resources={"amazon": amazon}).success
    assert seen["endpoints"] == AmazonEndpoints.from_env(env)  # resolved by Dagster at run time
    assert seen["endpoints"].sp_api_base_urls == {
        "na": "http://127.0.0.1:9999/sp/na",
        "eu": "https://proxy/sp",
        "fe": "http://127.0.0.1:9999/sp/fe",
    }


def test_missing_regional_token_names_the_variable() -> None:
    amazon = AmazonApiResource(
        sp_lwa_client_id="id", sp_lwa_client_secret="secret", sp_refresh_token_na="token-na"
    )
    with pytest.raises(MissingCredentialError) as info:
        amazon.sp_credentials(get_marketplace("JP"))
    assert str(info.value).startswith("Marketplace JP is in region FE but SP_REFRESH_TOKEN_FE is not set:")
    with pytest.raises(MissingCredentialError, match="ADS_REFRESH_TOKEN_EU is not set"):
        amazon.ads_credentials("eu", get_marketplace("DE"))
    app_missing = AmazonApiResource(sp_refresh_token_na="token-na")
    with pytest.raises(MissingCredentialError, match="set SP_LWA_CLIENT_ID and SP_LWA_CLIENT_SECRET"):
        app_missing.sp_credentials(get_marketplace("US"))


def test_a_partition_without_its_regional_token_fails_in_one_line() -> None:
    """Through Dagster: the JP partition fails before any network or database call, naming the variable."""
    from chalkola_pipelines.defs.partitions import configured_marketplaces, daily_marketplace_partitions
    from chalkola_pipelines.defs.sales_traffic import build_sp_sales_traffic

    parts = daily_marketplace_partitions(configured_marketplaces({"CHALKOLA_MARKETPLACES": "US,JP"}))
    resources = {
        "amazon": AmazonApiResource(sp_lwa_client_id="id", sp_lwa_client_secret="s", sp_refresh_token_na="t"),
        "warehouse": WarehouseResource(database_url="postgresql://nobody@127.0.0.1:1/none"),
    }
    result = dg.materialize(
        [build_sp_sales_traffic(parts)],
        resources=resources,
        partition_key="2025-06-01|JP",
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert (
        "Marketplace JP is in region FE but SP_REFRESH_TOKEN_FE is not set"
        in failure.step_failure_data.error.message
    )


def test_dagster_cli_validates_the_code_location(tmp_path: Path) -> None:
    ensure_dbt_manifest()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-m",
            "chalkola_pipelines.definitions",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_ui_backfill_can_be_launched_headless(tmp_path: Path) -> None:
    """What the UI does: GraphQL launchPartitionBackfill over multi-partition keys of two marketplaces."""
    ensure_dbt_manifest()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    query = tmp_path / "q.graphql"
    query.write_text(
        'mutation { launchPartitionBackfill(backfillParams: {assetSelection: [{path: ["sp_orders"]}], '
        'partitionNames: ["2026-01-01|US", "2026-01-02|US", "2026-01-01|JP"]}) { __typename '
        "... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster-graphql"),
            "-m",
            "chalkola_pipelines.definitions",
            "--file",
            str(query),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert '"__typename": "LaunchBackfillSuccess"' in result.stdout, (
        result.stdout[-2000:] + result.stderr[-2000:]
    )


def test_dbt_sensor_builds_the_marts_affected_by_the_loaded_sources(defs: dg.Definitions) -> None:
    sensor = defs.resolve_sensor_def("dbt_after_raw_loads_sensor")
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="sp_orders", partition="2025-06-01|US")
        )
        ctx = dg.build_sensor_context(instance=instance, definitions=defs)
        result = sensor(ctx)
    (request,) = result.run_requests
    selected = {k.to_user_string() for k in request.asset_selection}
    assert "staging/stg_amazon__sp_order_items" in selected and "marts/dim_product" in selected
    assert "marts/dim_marketplace" in selected  # a seed the marts join: always built
    assert "marts/fct_ads_campaign_daily" not in selected  # not downstream of orders
    assert not selected & set(RAW)
    assert request.tags["chalkola/raw_assets"] == "sp_orders"


def test_pool_rows_are_created_once_before_parallel_runs() -> None:
    from chalkola_pipelines.defs.jobs import POOLS, ensure_pool_limits

    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 2}}}) as instance:
        instance.event_log_storage.set_concurrency_slots("amazon_sp_reports", 1)  # an operator's choice stays
        assert ensure_pool_limits(instance) == {
            "amazon_sales_traffic": 2,
            "amazon_sp_reports": 1,
            "amazon_ads_reporting": 2,
            "dbt": 2,
        }
        assert set(POOLS) <= set(instance.event_log_storage.get_concurrency_keys())


def test_ads_profiles_with_the_warehouse_down_fails_in_one_transient_line() -> None:
    """ads_profiles names the transient database error like the partitioned assets (was Dagster's wrapper)."""
    from chalkola_pipelines.defs.ads import ads_profiles

    resources = {
        "amazon": AmazonApiResource(ads_client_id="id", ads_client_secret="s", ads_refresh_token_na="t"),
        "warehouse": WarehouseResource(database_url="postgresql://nobody:pw123@127.0.0.1:1/none"),
    }
    result = dg.materialize([ads_profiles], resources=resources, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert "ads_profiles: the warehouse database failed" in message and "Transient database error" in message
    assert "pw123" not in message
