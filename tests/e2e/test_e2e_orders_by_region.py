"""End to end through Dagster: one order report per region and window, rows routed by sales-channel.

Amazon's all-orders report holds the whole region whatever ``marketplaceIds`` says (amazon-facts §8.3). The
seller here has configured US, CA, MX (North America) and DE, UK (Europe); the simulator's seller also sells
in FR, IT, ES, AE, JP, AU, so the EU document carries channels the seller did not configure.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

NA = ("US", "CA", "MX")
EU = ("DE", "UK")
MARKETPLACES = NA + EU
ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"


def _days() -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=6), today - dt.timedelta(days=5)


def _day_list() -> list[dt.date]:
    first, last = _days()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


class Loaded:
    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, url: str, simulator) -> None:
        self.defs, self.instance, self.url, self.simulator = defs, instance, url, simulator
        self.results: dict[str, dg.ExecuteInProcessResult] = {}
        self.snapshots: dict[str, list[tuple]] = {}

    def run(self, job: str, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
        return self.defs.resolve_job_def(job).execute_in_process(instance=self.instance, tags=tags)

    def query(self, sql: str, params: object = None) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def rows_of(self, code: str) -> list[tuple]:
        return self.query(
            "select order_date, amazon_order_id, line_number, asin, quantity, sales_channel, report_id, loaded_at "
            "from raw_amazon.sp_order_items where marketplace = %s order by 1, 2, 3",
            (code,),
        )


@pytest.fixture(scope="module")
def loaded(simulator, pg_server_url: str, tmp_path_factory) -> Iterator[Loaded]:
    from chalkola_pipelines.defs.dbt import ensure_dbt_manifest
    from chalkola_pipelines.defs.jobs import run_tags_for
    from chalkola_pipelines.simulator.credentials import simulator_environment
    from chalkola_pipelines.warehouse.postgres import scratch_database

    simulator.state.faults.clear()
    with scratch_database(pg_server_url, "chalkola_e2e_regions") as url, pytest.MonkeyPatch.context() as mp:
        for key, value in simulator_environment(simulator.base_url).items():
            mp.setenv(key, value)
        mp.setenv("DATABASE_URL", url)
        mp.setenv("CHALKOLA_LANDING_DIR", str(tmp_path_factory.mktemp("landing_regions")))
        mp.setenv("CHALKOLA_MARKETPLACES", ",".join(MARKETPLACES))
        mp.setenv("CHALKOLA_RATE_LIMIT_NAMESPACE", f"e2e-regions-{uuid.uuid4().hex[:8]}")
        mp.setenv("CHALKOLA_SP_REPORT_POLL_SECONDS", "0.05")
        ensure_dbt_manifest()
        from chalkola_pipelines.definitions import build_definitions

        defs = build_definitions()
        first, last = _days()
        with dg.instance_for_test() as instance:
            p = Loaded(defs, instance, url, simulator)
            # S&T first for US, so that the order-units-vs-S&T check has days to compare
            assert p.run("sp_sales_traffic_job", run_tags_for("US", first, last)).success
            for code in MARKETPLACES:
                result = p.run("sp_orders_job", run_tags_for(code, first, last))
                assert result.success, code
                p.results[code] = result
                p.snapshots[code] = p.rows_of(code)
            yield p


def test_order_items_per_marketplace_day_equal_the_ground_truth(loaded: Loaded) -> None:
    truth = loaded.simulator.state.truth
    for code in MARKETPLACES:
        for day in _day_list():
            got = loaded.query(
                "select amazon_order_id, asin, quantity from raw_amazon.sp_order_items "
                "where marketplace = %s and order_date = %s",
                (code, day),
            )
            expected = truth.order_items(code, day)
            assert expected and sorted(got) == sorted(expected), (code, day)
            channels = loaded.query(
                "select distinct sales_channel from raw_amazon.sp_order_items where marketplace = %s", (code,)
            )
            from chalkola_pipelines.marketplaces import get_marketplace

            assert channels == [(get_marketplace(code).sales_channel,)]


def test_no_order_under_two_marketplaces_and_no_mcf_in_marketplace_sales(loaded: Loaded) -> None:
    assert (
        loaded.query(
            "select amazon_order_id from raw_amazon.sp_order_items group by 1 having count(distinct marketplace) > 1"
        )
        == []
    )
    assert loaded.query(
        "select count(*) from raw_amazon.sp_order_items where sales_channel = 'Non-Amazon' "
        "or amazon_order_id in (select amazon_order_id from raw_amazon.sp_mcf_order_items)"
    ) == [(0,)]
    truth = loaded.simulator.state.truth
    for region in ("na", "eu"):
        ((start, end),) = loaded.query(
            "select window_start, window_end from raw_amazon.report_requests where report_type = %s and region = %s",
            (ORDERS, region),
        )
        (mcf,) = loaded.query(
            "select count(*) from raw_amazon.sp_mcf_order_items where region = %s", (region,)
        )[0]
        assert mcf == truth.mcf_order_items_between(region, start, end) and mcf > 0


def test_one_order_report_per_region_and_window(loaded: Loaded) -> None:
    ledger = loaded.query(
        "select region, marketplace, status, count(*) from raw_amazon.report_requests where report_type = %s "
        "group by 1, 2, 3 order by 1",
        (ORDERS,),
    )
    assert ledger == [("eu", "DE,UK", "LOADED", 1), ("na", "US,CA,MX", "LOADED", 1)]
    (report_na,), (report_eu,) = (
        loaded.query(
            "select report_id from raw_amazon.report_requests where report_type = %s and region = %s",
            (ORDERS, r),
        )[0]
        for r in ("na", "eu")
    )
    for code in MARKETPLACES:
        mats = loaded.results[code].asset_materializations_for_node("sp_orders")
        assert sorted(m.partition for m in mats) == [f"{d.isoformat()}|{code}" for d in _day_list()]
        assert {m.metadata["report_id"].value for m in mats} == {report_na if code in NA else report_eu}
        assert {m.metadata["report_scope"].value for m in mats} == {
            "region NA" if code in NA else "region EU"
        }
        if code != MARKETPLACES[0] and code != EU[0]:
            assert {m.metadata["document_from"].value for m in mats} == {"landing"}  # not asked again
    # at Amazon (the simulator), exactly one report was created for each region's window
    first, last = _days()
    created = [
        r
        for r in loaded.simulator.state.reports.sp_reports.values()
        if r.report_type == ORDERS and r.report_id in (report_na, report_eu)
    ]
    assert len(created) == 2
    # the EU document carries channels the seller did not configure: counted, not loaded
    de = loaded.results["DE"].asset_materializations_for_node("sp_orders")[0].metadata
    assert de["unconfigured_sales_channel_rows"].value > 0
    assert "Amazon.fr" in de["rows_of_unconfigured_sales_channels"].value
    assert "Amazon.co.uk" in de["rows_of_other_configured_marketplaces"].value
    assert de["non_amazon_mcf_rows"].value > 0


def test_loading_the_document_for_another_marketplace_leaves_the_first_ones_rows(loaded: Loaded) -> None:
    from chalkola_pipelines.defs.jobs import run_tags_for

    assert loaded.rows_of("US") == loaded.snapshots["US"]  # after CA's and MX's loads of the same document
    assert loaded.rows_of("DE") == loaded.snapshots["DE"]  # after UK's
    mcf_before = loaded.query("select * from raw_amazon.sp_mcf_order_items order by 1, 2, 3")
    first, last = _days()
    assert loaded.run("sp_orders_job", run_tags_for("MX", first, last)).success  # again: re-parsed
    assert loaded.rows_of("US") == loaded.snapshots["US"]
    mcf_after = loaded.query("select * from raw_amazon.sp_mcf_order_items order by 1, 2, 3")
    strip = lambda rows: [r[:-1] for r in rows]  # noqa: E731 - loaded_at changes, nothing else
    assert strip(mcf_after) == strip(mcf_before)


def test_sales_channel_and_units_checks(loaded: Loaded) -> None:
    for code in MARKETPLACES:
        by_name = {e.check_name: e for e in loaded.results[code].get_asset_check_evaluations()}
        channel = by_name["sales_channel_matches_marketplace"]
        assert channel.passed and channel.severity == dg.AssetCheckSeverity.ERROR
        units = by_name["order_units_match_sales_traffic_units"]
        assert units.severity == dg.AssetCheckSeverity.WARN and units.passed
    us = {e.check_name: e for e in loaded.results["US"].get_asset_check_evaluations()}
    md = us["order_units_match_sales_traffic_units"].metadata
    assert md["asin_days_compared"].value > 0
    assert md["order_report_units"].value == md["sales_traffic_units"].value


def test_a_region_run_loads_every_marketplace_from_the_region_report(loaded: Loaded) -> None:
    """What the history backfill launches: one run for US..MX × the days, the region's report reused."""
    from chalkola_pipelines.defs.partitions import range_tags

    first, last = _days()
    reports_before = len(loaded.simulator.state.reports.sp_reports)
    result = loaded.run("sp_orders_job", {**range_tags("US", first, last, "MX"), "amazon/region": "na"})
    assert result.success
    mats = result.asset_materializations_for_node("sp_orders")
    assert sorted(m.partition for m in mats) == sorted(
        f"{d.isoformat()}|{c}" for d in _day_list() for c in NA
    )
    assert len(loaded.simulator.state.reports.sp_reports) == reports_before  # re-parsed, not asked again
    strip = lambda rows: [r[:-1] for r in rows]  # noqa: E731 - loaded_at changes, nothing else
    for code in NA:
        assert strip(loaded.rows_of(code)) == strip(loaded.snapshots[code]), code
    checks = result.get_asset_check_evaluations()
    assert sorted(e.check_name for e in checks) == sorted(set(e.check_name for e in checks))  # one each
    channel = next(e for e in checks if e.check_name == "sales_channel_matches_marketplace")
    assert channel.passed and channel.metadata["marketplaces"].value == "US, CA, MX"
