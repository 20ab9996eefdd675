"""Through Dagster: a document lacking a required field fails its partition with one line naming the field, the
row and the report, loads nothing of that document and leaves what was loaded before untouched; the next run
(fault gone) loads it. Ads schema drift is reported like S&T's (warning + ``unknown_fields`` metadata).

Real pieces: the simulator over HTTP (``missing_field`` / ``extra_field`` faults), the embedded PostgreSQL,
an ephemeral ``DagsterInstance`` running the jobs of ``chalkola_pipelines.definitions`` in process.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TODAY = dt.datetime.now(dt.UTC).date()
LOADED_DAY = TODAY - dt.timedelta(days=8)  # loaded cleanly first; must stay untouched
BAD_DAY = TODAY - dt.timedelta(days=7)  # its document lacks a required field


class Warehouse:
    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, url: str, simulator) -> None:
        self.defs, self.instance, self.url, self.simulator = defs, instance, url, simulator

    def run(self, job: str, key: str, **kw) -> dg.ExecuteInProcessResult:
        return self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, partition_key=key, **kw
        )

    def query(self, sql: str, params: object = None) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def rows(self, table: str, day_column: str, day: dt.date) -> list[tuple]:
        """Every row of the US partition, in a stable order."""
        rows = self.query(f"select * from {table} where marketplace = 'US' and {day_column} = %s", (day,))
        return sorted(rows, key=repr)


@pytest.fixture(scope="module")
def warehouse(simulator, pg_server_url: str, tmp_path_factory) -> Iterator[Warehouse]:
    from chalkola_pipelines.defs.dbt import ensure_dbt_manifest
    from chalkola_pipelines.simulator.credentials import simulator_environment
    from chalkola_pipelines.warehouse.postgres import scratch_database

    simulator.state.faults.clear()
    with scratch_database(pg_server_url, "chalkola_e2e_fields") as url, pytest.MonkeyPatch.context() as mp:
        for key, value in simulator_environment(simulator.base_url, simulator.state.time_scale).items():
            mp.setenv(key, value)
        mp.setenv("DATABASE_URL", url)
        mp.setenv("CHALKOLA_LANDING_DIR", str(tmp_path_factory.mktemp("landing_fields")))
        mp.setenv("CHALKOLA_MARKETPLACES", "US")
        mp.setenv("CHALKOLA_RATE_LIMIT_NAMESPACE", f"e2e-fields-{uuid.uuid4().hex[:8]}")
        mp.setenv("CHALKOLA_SP_REPORT_POLL_SECONDS", "0.05")
        mp.setenv("CHALKOLA_ADS_REPORT_POLL_SECONDS", "0.05")
        mp.setenv("CHALKOLA_SALES_TRAFFIC_SOURCE", "reports")
        simulator.state.meters.reset()
        ensure_dbt_manifest()
        from chalkola_pipelines.definitions import build_definitions

        with dg.instance_for_test() as instance:
            w = Warehouse(build_definitions(), instance, url, simulator)
            assert w.defs.resolve_job_def("ads_profiles_job").execute_in_process(instance=instance).success
            yield w
        simulator.state.faults.clear()


# (job, asset, download operation, table, day column, the field the fault drops, words of the row)
FAMILIES = {
    "ads": (
        "ads_sp_advertised_product_job", "ads_sp_advertised_product", "downloadAsyncReport",
        "raw_amazon.ads_sp_advertised_product", "report_date", "impressions", "row ",
    ),
    "orders": (
        "sp_orders_job", "sp_orders", "downloadReportDocument", "raw_amazon.sp_order_items", "order_date",
        "quantity", "line ",
    ),
    "sales_traffic": (
        "sp_sales_traffic_job", "sp_sales_traffic", "downloadReportDocument",
        "raw_amazon.sp_sales_traffic_by_asin", "report_date", "salesByAsin.unitsOrdered",
        "salesAndTrafficByAsin[",
    ),
}  # fmt: skip


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_missing_required_field_fails_the_partition_and_loads_nothing(
    warehouse: Warehouse, family: str
) -> None:
    job, asset, operation, table, day_column, field, row_words = FAMILIES[family]
    warehouse.simulator.state.faults.clear()
    assert warehouse.run(job, f"{LOADED_DAY.isoformat()}|US").success
    before = warehouse.rows(table, day_column, LOADED_DAY)
    assert before, f"{family}: the clean partition loaded no rows"

    key = f"{BAD_DAY.isoformat()}|US"
    warehouse.simulator.state.faults.add(operation, "missing_field")
    try:
        failed = warehouse.run(job, key, raise_on_error=False)
    finally:
        warehouse.simulator.state.faults.clear()
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    metadata = failure.step_failure_data.user_failure_data.metadata
    report_id = metadata["report_id"].value
    assert metadata["missing_field"].value == field
    first_line = message.strip().splitlines()[0]
    for words in (key, field, row_words, report_id, "required", "Nothing of this document was loaded"):
        assert words in first_line, (words, message)
    assert "Traceback" not in message
    assert warehouse.rows(table, day_column, BAD_DAY) == []  # nothing of that document
    assert warehouse.rows(table, day_column, LOADED_DAY) == before  # the other partition untouched

    healed = warehouse.run(job, key)  # the fault is gone: the same report's document, downloaded again
    assert healed.success
    assert warehouse.rows(table, day_column, BAD_DAY)
    assert warehouse.rows(table, day_column, LOADED_DAY) == before


def test_ads_schema_drift_is_a_warning_and_metadata(warehouse: Warehouse) -> None:
    from chalkola_pipelines.simulator.document_encoding import EXTRA_FIELD_NAME

    day = TODAY - dt.timedelta(days=10)
    key = f"{day.isoformat()}|US"
    warehouse.simulator.state.faults.add("downloadAsyncReport", "extra_field")
    try:
        result = warehouse.run("ads_sp_advertised_product_job", key)
    finally:
        warehouse.simulator.state.faults.clear()
    assert result.success
    (mat,) = result.asset_materializations_for_node("ads_sp_advertised_product")
    assert mat.metadata["unknown_fields"].value == EXTRA_FIELD_NAME
    assert mat.metadata["rows"].value > 0
    warnings = [
        e.message or ""
        for e in warehouse.instance.all_logs(result.run_id)
        if "schema drift" in (e.message or "")
    ]
    assert len(warnings) == 1 and EXTRA_FIELD_NAME in warnings[0] and "US" in warnings[0]
    clean = warehouse.run("ads_sp_advertised_product_job", f"{(day - dt.timedelta(days=1)).isoformat()}|US")
    (mat,) = clean.asset_materializations_for_node("ads_sp_advertised_product")
    assert mat.metadata["unknown_fields"].value == "none"
