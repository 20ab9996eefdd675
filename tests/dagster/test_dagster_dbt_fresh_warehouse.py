"""A fresh deployment works from the first night: `dbt build` through Dagster on a freshly migrated, empty
warehouse, with the selection the dbt sensor launches after the first raw load (only one source changed)
and with the whole dbt job."""

from __future__ import annotations

import dagster as dg
import pytest

from chalkola_pipelines.defs.jobs import DBT_MARTS_JOB
from chalkola_pipelines.defs.sensors import affected_dbt_assets
from chalkola_pipelines.warehouse.postgres import scratch_database

pytestmark = pytest.mark.integration


def _relations(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema in ('staging', 'marts')"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("first_loaded", ["sp_sales_traffic", None])
def test_dbt_build_succeeds_on_an_empty_migrated_warehouse(
    first_loaded: str | None, pg_server_url: str, monkeypatch, tmp_path
) -> None:
    from chalkola_pipelines.definitions import build_definitions

    with scratch_database(pg_server_url, "chalkola_fresh") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        defs = build_definitions()
        repo = defs.get_repository_def()
        job = defs.resolve_job_def(DBT_MARTS_JOB)
        selection = affected_dbt_assets(repo, [dg.AssetKey(first_loaded)]) if first_loaded else None
        if selection is not None:
            # what the dbt sensor launches after the first S&T load
            assert dg.AssetKey(["marts", "fct_asin_daily"]) in selection
        with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
            result = job.execute_in_process(
                instance=instance, asset_selection=selection, raise_on_error=False
            )
        failures = [e.message for e in result.all_events if e.is_step_failure]
        assert result.success, failures
        built = _relations(url)
        assert "marts.fct_asin_daily" in built
        assert ("marts.fct_ads_campaign_daily" in built) is (first_loaded is None)
