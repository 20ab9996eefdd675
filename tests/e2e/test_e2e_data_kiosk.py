"""Sales & traffic through Data Kiosk, end to end through Dagster (simulator over HTTP, real Postgres).

US and CA (one region run, one set of queries) and JP (another region) are loaded by ``sp_sales_traffic_job`` with
the default source (auto = Data Kiosk): the raw rows equal the simulator's ground truth to the cent, the
second marketplace of a region re-uses the first one's queries, and reloading a day through the report path
gives the same rows. Then the app loses the Brand Analytics role: the run falls back to reports once, with
one warning, remembers it, and the report path stays within the per-seller S&T meter (no 429).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

MARKETPLACES = ("US", "CA", "JP")
ASIN_COLUMNS = "child_asin, parent_asin, units_ordered, ordered_product_sales, sessions, page_views"


def _days() -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=6), today - dt.timedelta(days=4)


class Kiosk:
    def __init__(self, url: str, simulator, env: dict[str, str]) -> None:
        self.url, self.simulator, self.env = url, simulator, env

    def defs(self, **overrides: str) -> dg.Definitions:
        from chalkola_pipelines.definitions import build_definitions

        with pytest.MonkeyPatch.context() as mp:
            for key, value in {**self.env, **overrides}.items():
                mp.setenv(key, value)
            return build_definitions()

    def run(self, defs: dg.Definitions, instance, code: str, first: dt.date, last: dt.date, **env: str):
        """One run of ``code`` (``"US+CA"``: a region run over both marketplaces, as the nightly schedule
        launches them)."""
        from chalkola_pipelines.defs.jobs import REGION_TAG
        from chalkola_pipelines.defs.partitions import range_tags
        from chalkola_pipelines.marketplaces import get_marketplace

        codes = code.split("+")
        tags = {**range_tags(codes[0], first, last, codes[-1]), REGION_TAG: get_marketplace(codes[0]).region}
        with pytest.MonkeyPatch.context() as mp:
            for key, value in {**self.env, **env}.items():
                mp.setenv(key, value)
            return defs.resolve_job_def("sp_sales_traffic_job").execute_in_process(
                instance=instance, tags=tags, raise_on_error=False
            )

    def query(self, sql: str, params: object = None) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def kiosk(simulator, pg_server_url: str, tmp_path_factory) -> Iterator[Kiosk]:
    from chalkola_pipelines.defs.dbt import ensure_dbt_manifest
    from chalkola_pipelines.simulator.credentials import simulator_environment
    from chalkola_pipelines.warehouse.postgres import scratch_database

    ensure_dbt_manifest()
    simulator.state.faults.clear()
    simulator.state.meters.reset()
    env = {
        **simulator_environment(simulator.base_url, simulator.state.time_scale),
        "CHALKOLA_LANDING_DIR": str(tmp_path_factory.mktemp("landing")),
        "CHALKOLA_MARKETPLACES": ",".join(MARKETPLACES),
        "CHALKOLA_RATE_LIMIT_NAMESPACE": f"e2e-dk-{uuid.uuid4().hex[:8]}",
        "CHALKOLA_SP_REPORT_POLL_SECONDS": "0.05",
        "CHALKOLA_DATA_KIOSK_POLL_SECONDS": "0.05",
    }
    with scratch_database(pg_server_url, "chalkola_e2e_dk") as url:
        env["DATABASE_URL"] = url
        yield Kiosk(url, simulator, env)
    simulator.state.brand_analytics = True


@pytest.fixture(scope="module")
def loaded(kiosk: Kiosk) -> Iterator[tuple[Kiosk, dg.Definitions, dg.DagsterInstance]]:
    defs = kiosk.defs()
    with dg.instance_for_test() as instance:
        first, last = _days()
        for code in ("US+CA", "JP"):  # a region run (NA) and a one-marketplace run (FE)
            result = kiosk.run(defs, instance, code, first, last)
            assert result.success, f"sp_sales_traffic {code} failed"
            if code == "US+CA":
                keys = {m.partition for m in result.asset_materializations_for_node("sp_sales_traffic")}
                assert keys == {f"{d}|{c}" for d in _days_range() for c in ("US", "CA")}
                checks = result.get_asset_check_evaluations()
                assert len(checks) == 3 and all(c.passed for c in checks)
                assert all(c.metadata["marketplaces"].text == "US, CA" for c in checks)
        yield kiosk, defs, instance


def _days_range() -> list[dt.date]:
    first, last = _days()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def test_data_kiosk_rows_equal_ground_truth_to_the_cent(loaded) -> None:
    kiosk, _, _ = loaded
    truth = kiosk.simulator.state.truth
    checked = 0
    for code in MARKETPLACES:
        for day in _days_range():
            rows = kiosk.query(
                f"select {ASIN_COLUMNS}, source from raw_amazon.sp_sales_traffic_by_asin "
                "where marketplace = %s and report_date = %s",
                (code, day),
            )
            assert rows and {r[-1] for r in rows} == {"data_kiosk"}
            got = {r[0]: r[1:-1] for r in rows}
            want = {
                t.child_asin: (t.parent_asin, t.units_ordered, t.ordered_sales, t.sessions, t.page_views)
                for t in truth.asin_days(code, day)
            }
            assert got == want, (code, day)
            # byDate is Amazon's own daily total (it differs from the sum over byAsin by a few tenths of a
            # percent, as real reports do): one row, compared with the report's in the reload test below
            assert (
                len(
                    kiosk.query(
                        "select 1 from raw_amazon.sp_sales_traffic_by_date "
                        "where marketplace = %s and report_date = %s and source = 'data_kiosk'",
                        (code, day),
                    )
                )
                == 1
            )
            checked += 1
    assert checked == len(MARKETPLACES) * len(_days_range())


def test_one_set_of_queries_serves_every_marketplace_of_a_region(loaded) -> None:
    kiosk, _, _ = loaded
    per_region = dict(
        kiosk.query(
            "select region, count(*) from raw_amazon.report_requests where source = 'data_kiosk' group by region"
        )
    )
    kinds = kiosk.query(
        "select region, report_type, count(*) from raw_amazon.report_requests where source = 'data_kiosk' "
        "group by 1, 2 order by 1, 2"
    )
    # NA (US + CA) asked discovery, trends and by-date once, not once per marketplace
    na = {t: n for r, t, n in kinds if r == "na"}
    assert na["salesAndTrafficByAsin"] == 1 and na["salesAndTrafficByDate"] == 1
    assert set(per_region) == {"na", "fe"} and per_region["na"] == sum(na.values())
    ids = kiosk.query(
        "select distinct report_id from raw_amazon.sp_sales_traffic_by_asin where marketplace in ('US', 'CA')"
    )
    trends = {
        r[0]
        for r in kiosk.query(
            "select report_id from raw_amazon.report_requests where source = 'data_kiosk' and region = 'na' "
            "and report_type = 'salesAndTrafficTrends'"
        )
    }
    assert {i for (i,) in ids} <= trends  # every US/CA row names the Trends query it came from


def test_a_day_reloaded_through_the_report_path_gives_the_same_rows(loaded) -> None:
    kiosk, _, instance = loaded
    day = _days()[0]
    sql = (
        f"select {ASIN_COLUMNS}, sku, currency_code from raw_amazon.sp_sales_traffic_by_asin "
        "where marketplace = 'US' and report_date = %s order by child_asin"
    )
    via_kiosk = kiosk.query(sql, (day,))
    by_date_sql = (
        "select ordered_product_sales, units_ordered, sessions, page_views from raw_amazon.sp_sales_traffic_by_date "
        "where marketplace = 'US' and report_date = %s"
    )
    kiosk_totals = kiosk.query(by_date_sql, (day,))
    defs = kiosk.defs(CHALKOLA_SALES_TRAFFIC_SOURCE="reports")
    result = kiosk.run(defs, instance, "US", day, day, CHALKOLA_SALES_TRAFFIC_SOURCE="reports")
    assert result.success
    assert kiosk.query(sql, (day,)) == via_kiosk
    assert kiosk.query(
        "select distinct source from raw_amazon.sp_sales_traffic_by_asin where marketplace = 'US' "
        "and report_date = %s",
        (day,),
    ) == [("report",)]
    # byDate: the report's totals and Data Kiosk's are Amazon's own figures for the same day
    assert kiosk.query(by_date_sql, (day,)) == kiosk_totals


def test_a_run_longer_than_one_query_window_is_cut_into_windows_in_flight_together(loaded) -> None:
    """95 days of JP (a history run): one discovery and one ByDate, then two ≤ 92-day windows of Trends,
    every day equal to the ground truth."""
    from chalkola_pipelines.amazon.data_kiosk_queries import MAX_WINDOW_DAYS, query_windows

    kiosk, defs, instance = loaded
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=20)
    first = last - dt.timedelta(days=94)
    windows = query_windows(first, last)
    assert [(b - a).days + 1 for a, b in windows] == [MAX_WINDOW_DAYS, 3]
    result = kiosk.run(defs, instance, "JP", first, last)
    assert result.success
    assert len(result.asset_materializations_for_node("sp_sales_traffic")) == 95
    asked = dict(
        kiosk.query(
            "select report_type, count(*) from raw_amazon.report_requests where source = 'data_kiosk' "
            "and region = 'fe' and window_end::date <= %s group by 1",
            (last + dt.timedelta(days=1),),
        )
    )
    assert asked["salesAndTrafficByAsin"] == 1 and asked["salesAndTrafficByDate"] == 1, asked
    assert asked["salesAndTrafficTrends"] >= 2, asked  # at least one per window
    truth = kiosk.simulator.state.truth
    for day in (first, windows[1][1], windows[0][0], last):  # both ends of both windows
        got = kiosk.query(
            "select child_asin, units_ordered, ordered_product_sales from raw_amazon.sp_sales_traffic_by_asin "
            "where marketplace = 'JP' and report_date = %s",
            (day,),
        )
        want = {(t.child_asin, t.units_ordered, t.ordered_sales) for t in truth.asin_days("JP", day)}
        assert set(got) == want and want, day


def test_without_brand_analytics_auto_falls_back_to_reports_once_and_paces_them(
    loaded, caplog: pytest.LogCaptureFixture
) -> None:
    kiosk, defs, instance = loaded
    kiosk.simulator.state.brand_analytics = False
    kiosk.simulator.state.meters.reset()
    today = dt.datetime.now(dt.UTC).date()
    first, last = (
        today - dt.timedelta(days=15),
        today - dt.timedelta(days=10),
    )  # 6 days: 4 at once, then paced
    try:
        with caplog.at_level(logging.INFO):
            result = kiosk.run(defs, instance, "JP", first, last)
        assert result.success
        logs = [e.user_message for e in instance.all_logs(result.run_id)]
        warnings = [m for m in logs if "lacks the Brand Analytics role" in m]
        assert len(warnings) == 1, warnings
        creates = [r.getMessage() for r in caplog.records if " createReport POST " in r.getMessage()]
        assert sum("-> 202" in m for m in creates) == 6  # six single-day reports, newest first
        assert not [m for m in creates if "-> 429" in m]  # our client paced itself to the per-seller meter
        assert kiosk.query(
            "select distinct source from raw_amazon.sp_sales_traffic_by_asin where marketplace = 'JP' "
            "and report_date between %s and %s",
            (first, last),
        ) == [("report",)]
        assert kiosk.query("select api, region from chalkola_ops.api_access_denied") == [("data_kiosk", "fe")]
        # remembered: the next run does not ask Data Kiosk again, and says so in one info line
        caplog.clear()
        with caplog.at_level(logging.INFO):
            again = kiosk.run(defs, instance, "JP", last, last)
        assert again.success
        assert not any("createQuery" in r.getMessage() for r in caplog.records)  # the HTTP layer's call log
        logs = [e.user_message for e in instance.all_logs(again.run_id)]
        assert any("asked again after 24 hours" in m for m in logs)
    finally:
        kiosk.simulator.state.brand_analytics = True


def test_data_kiosk_only_without_the_role_fails_with_one_clear_line(loaded) -> None:
    kiosk, _, instance = loaded
    kiosk.simulator.state.brand_analytics = False
    try:
        defs = kiosk.defs(CHALKOLA_SALES_TRAFFIC_SOURCE="data_kiosk")
        day = _days()[0]
        result = kiosk.run(defs, instance, "US", day, day, CHALKOLA_SALES_TRAFFIC_SOURCE="data_kiosk")
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.step_failure_data.error.message
        assert "Brand Analytics role" in message and "CHALKOLA_SALES_TRAFFIC_SOURCE=auto" in message
    finally:
        kiosk.simulator.state.brand_analytics = True
