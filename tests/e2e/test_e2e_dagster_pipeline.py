"""End to end through Dagster: simulator over HTTP → raw assets → dbt build → marts == ground truth.

Real pieces only: the project's simulator on 127.0.0.1 (time scale 600), a fresh database on the embedded
PostgreSQL, a real ``DagsterInstance`` (ephemeral), the jobs of ``chalkola_pipelines.definitions`` executed
in process, and ``dbt build`` through ``dbt_marts_job``. Marketplaces: US (UTC-8), JP (UTC+9), DE (UTC+1).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

MARKETPLACES = ("US", "JP", "DE")
RAW_TABLES = (
    "raw_amazon.sp_sales_traffic_by_date",
    "raw_amazon.sp_sales_traffic_by_asin",
    "raw_amazon.sp_order_items",
    "raw_amazon.ads_sp_advertised_product",
)
CENT = Decimal("0.01")
RATIO = Decimal("0.000001")


def _days() -> tuple[dt.date, dt.date]:
    """Two complete local days in every marketplace (and older than S&T's ~34 h lag)."""
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=5), today - dt.timedelta(days=4)


@pytest.fixture(scope="module")
def e2e_db(pg_server_url: str) -> Iterator[str]:
    """A database of its own: the marts are compared with the truth of exactly what this module loaded."""
    from chalkola_pipelines.warehouse.postgres import scratch_database

    with scratch_database(pg_server_url, "chalkola_e2e") as url:
        yield url


class Pipeline:
    """The loaded state shared by the tests of this module."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, url: str, simulator) -> None:
        self.defs = defs
        self.instance = instance
        self.url = url
        self.simulator = simulator
        self.results: dict[str, dg.ExecuteInProcessResult] = {}
        self.landing: Path | None = None

    def run(self, job: str, *, tags: dict[str, str] | None = None, partition_key: str | None = None, **kw):
        return self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, tags=tags, partition_key=partition_key, **kw
        )

    def query(self, sql: str, params: object = None) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchall()

    def counts(self) -> dict[str, int]:
        return {t: self.query(f"select count(*) from {t}")[0][0] for t in RAW_TABLES}


@pytest.fixture(scope="module")
def pipeline(simulator, e2e_db: str, tmp_path_factory) -> Iterator[Pipeline]:
    """Profiles, then one raw_amazon_job range run per marketplace (2 days), then dbt build."""
    from chalkola_pipelines.defs.dbt import ensure_dbt_manifest
    from chalkola_pipelines.defs.jobs import run_tags_for
    from chalkola_pipelines.simulator.credentials import simulator_environment

    simulator.state.faults.clear()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in simulator_environment(simulator.base_url, simulator.state.time_scale).items():
            mp.setenv(key, value)
        mp.setenv("DATABASE_URL", e2e_db)
        landing = tmp_path_factory.mktemp("landing")
        mp.setenv("CHALKOLA_LANDING_DIR", str(landing))
        mp.setenv("CHALKOLA_MARKETPLACES", ",".join(MARKETPLACES))
        mp.setenv("CHALKOLA_RATE_LIMIT_NAMESPACE", f"e2e-{uuid.uuid4().hex[:8]}")
        mp.setenv("CHALKOLA_SP_REPORT_POLL_SECONDS", "0.05")
        mp.setenv("CHALKOLA_ADS_REPORT_POLL_SECONDS", "0.05")
        # this module checks the report path (CANCELLED, FATAL, resume); tests/e2e/test_e2e_data_kiosk.py the default
        mp.setenv("CHALKOLA_SALES_TRAFFIC_SOURCE", "reports")
        simulator.state.meters.reset()  # a fresh seller: its S&T allowance is 4 at once, then 1 per 15 minutes
        ensure_dbt_manifest()  # test-setup time: the definitions need the parsed dbt project
        from chalkola_pipelines.definitions import build_definitions

        defs = build_definitions()
        with dg.instance_for_test() as instance:
            p = Pipeline(defs, instance, e2e_db, simulator)
            p.landing = landing
            first, last = _days()
            p.results["profiles"] = p.run("ads_profiles_job")
            assert p.results["profiles"].success
            for code in MARKETPLACES:
                result = p.run("raw_amazon_job", tags=run_tags_for(code, first, last))
                assert result.success, f"raw_amazon_job {code} failed"
                p.results[code] = result
            p.results["dbt"] = p.run("dbt_marts_job")
            assert p.results["dbt"].success
            yield p


def _days_range() -> list[dt.date]:
    first, last = _days()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def test_landing_store_holds_no_buyer_personal_data_and_is_private(pipeline: Pipeline) -> None:
    """Grep every landed file (decompressed): no buyer address / tax id column header, no such value."""
    import gzip
    import stat

    assert pipeline.landing is not None
    files = [p for p in pipeline.landing.rglob("*") if p.is_file()]
    orders = [p for p in files if "ORDERS" in str(p)]
    assert orders, "the run archived order documents"
    personal = (b"ship-city", b"ship-postal-code", b"cpf", b"buyer-", b"recipient-", b"bill-")
    for path in files:
        data = path.read_bytes()
        text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        header = text.split(b"\n", 1)[0].split(b"\t")
        assert not [h for h in header if h.strip().startswith(personal)], path
        assert b"SIMTOWN" not in text and b"\tSIM-" not in text, path  # the simulator's city / postal values
        assert not path.name.endswith(".part"), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for directory in [pipeline.landing, *(p for p in pipeline.landing.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    header = gzip.decompress(orders[0].read_bytes()).split(b"\n", 1)[0].split(b"\t")
    assert b"ship-state" in header and b"ship-country" in header  # kept: not personal data (see README)


def test_marts_equal_ground_truth_to_the_cent(pipeline: Pipeline) -> None:
    truth = pipeline.simulator.state.truth
    rows = pipeline.query(
        "select marketplace, date, sum(ordered_sales), sum(ad_spend), sum(ad_sales_7d) from marts.fct_asin_daily "
        "where date between %s and %s group by 1, 2",
        _days(),
    )
    got = {(m, d): (o, s, a) for m, d, o, s, a in rows}
    campaign = {
        (m, d): (s, a)
        for m, d, s, a in pipeline.query(
            "select marketplace, date, sum(spend), sum(sales_7d) from marts.fct_ads_campaign_daily "
            "where date between %s and %s group by 1, 2",
            _days(),
        )
    }
    checked = 0
    for code in MARKETPLACES:
        for day in _days_range():
            ordered, spend, sales = got[(code, day)]
            assert ordered == truth.ordered_sales(code, day), (code, day)
            assert spend == truth.ad_spend(code, day), (code, day)
            assert campaign[(code, day)] == (truth.ad_spend(code, day), truth.ad_sales_7d(code, day)), (
                code,
                day,
            )
            assert truth.ordered_sales(code, day) > 0 and truth.ad_spend(code, day) > 0
            checked += 1
    assert checked == len(MARKETPLACES) * 2
    # per ASIN too: every child ASIN's ordered sales and units
    for code in MARKETPLACES:
        day = _days()[0]
        expected = {(r.child_asin): (r.ordered_sales, r.units_ordered) for r in truth.asin_days(code, day)}
        actual = {
            asin: (sales, units)
            for asin, sales, units in pipeline.query(
                "select asin, ordered_sales, units_ordered from marts.fct_asin_daily "
                "where marketplace = %s and date = %s and has_sales_traffic_row",
                (code, day),
            )
        }
        assert actual == expected


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO, rounding=ROUND_HALF_UP)


def test_acos_roas_tacos_equal_an_independent_computation(pipeline: Pipeline) -> None:
    truth = pipeline.simulator.state.truth
    compared = 0
    for code in MARKETPLACES:
        for day in _days_range():
            by_campaign: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
            by_asin_spend: dict[str, Decimal] = defaultdict(Decimal)
            for ad in truth.ad_rows(code, day):
                by_campaign[ad.campaign_id][0] += ad.spend
                by_campaign[ad.campaign_id][1] += ad.sales_7d
                by_asin_spend[ad.advertised_asin] += ad.spend
            mart = {
                cid: (acos, roas)
                for cid, acos, roas in pipeline.query(
                    "select campaign_id, acos, roas from marts.fct_ads_campaign_daily "
                    "where marketplace = %s and date = %s",
                    (code, day),
                )
            }
            assert set(mart) == set(by_campaign)
            for cid, (spend, sales) in by_campaign.items():
                assert mart[cid] == (_ratio(spend, sales), _ratio(sales, spend)), (code, day, cid)
                compared += 1
            ordered = {r.child_asin: r.ordered_sales for r in truth.asin_days(code, day)}
            for asin, tacos in pipeline.query(
                "select asin, tacos from marts.fct_asin_daily where marketplace = %s and date = %s",
                (code, day),
            ):
                assert tacos == _ratio(by_asin_spend.get(asin, Decimal(0)), ordered.get(asin, Decimal(0))), (
                    code,
                    day,
                    asin,
                )
                compared += 1
    assert compared > 50


def test_materialisation_metadata_checks_and_ledger(pipeline: Pipeline) -> None:
    first, last = _days()
    for code in MARKETPLACES:
        result = pipeline.results[code]
        mats = result.asset_materializations_for_node("sp_sales_traffic")
        assert sorted(m.partition for m in mats) == [f"{d.isoformat()}|{code}" for d in _days_range()]
        for mat in mats:
            md = mat.metadata
            assert md["status"].value == "DONE"
            assert md["rows"].value > 0
            assert md["report_id"].value and md["window"].value.endswith("T23:59:59Z")
            assert md["request_ids"].value not in ("", "-")
        orders = result.asset_materializations_for_node("sp_orders")
        assert len(orders) == 2 and len({m.metadata["report_id"].value for m in orders}) == 1  # one report
        ads = result.asset_materializations_for_node("ads_sp_advertised_product")
        assert len(ads) == 2 and len({m.metadata["report_id"].value for m in ads}) == 1
        assert all(m.metadata["rows"].value > 0 for m in ads)
        evaluations = result.get_asset_check_evaluations()
        by_name = {(e.asset_key.to_user_string(), e.check_name): e for e in evaluations}
        for asset in ("sp_sales_traffic", "sp_orders", "ads_sp_advertised_product"):
            assert by_name[(asset, "rows_match_document")].passed, (code, asset)
        for warn in (
            ("sp_sales_traffic", "by_date_totals_match_by_asin"),
            ("ads_sp_advertised_product", "attributed_sales_within_ordered_sales"),
        ):
            assert by_name[warn].severity == dg.AssetCheckSeverity.WARN
        # the simulator's byDate totals are within Amazon's usual ~0.3 % of the byAsin sums
        assert by_name[("sp_sales_traffic", "by_date_totals_match_by_asin")].passed
        # the partitions show as materialised in the instance
        materialized = pipeline.instance.get_materialized_partitions(dg.AssetKey("sp_orders"))
        assert {f"{first.isoformat()}|{code}", f"{last.isoformat()}|{code}"} <= materialized
    ledger = pipeline.query(
        "select source, status, count(*) from raw_amazon.report_requests group by 1, 2 order by 1, 2"
    )
    statuses = {(s, st): n for s, st, n in ledger}
    assert statuses.get(("sp_reports", "LOADED")) == len(MARKETPLACES) * 3  # 2 S&T days + 1 order report
    assert statuses.get(("ads_reporting", "LOADED")) == len(MARKETPLACES)
    # secrets never reach the ledger or the metadata
    from chalkola_pipelines.simulator.credentials import simulator_environment

    secrets = [v for k, v in simulator_environment("http://x").items() if "SECRET" in k or "TOKEN" in k]
    dump = repr(pipeline.query("select * from raw_amazon.report_requests"))
    dump += repr(
        [
            event.step_materialization_data.materialization.metadata
            for r in pipeline.results.values()
            for event in r.get_asset_materialization_events()
        ]
    )
    assert secrets and not any(s in dump for s in secrets)


def test_rematerialising_leaves_row_counts_unchanged(pipeline: Pipeline) -> None:
    from chalkola_pipelines.defs.jobs import run_tags_for

    before = pipeline.counts()
    first, last = _days()
    assert pipeline.run("sp_sales_traffic_job", partition_key=f"{first.isoformat()}|JP").success
    assert pipeline.run("sp_orders_job", tags=run_tags_for("US", first, last)).success
    assert pipeline.run("ads_sp_advertised_product_job", tags=run_tags_for("DE", first, last)).success
    assert pipeline.counts() == before


def test_cancelled_report_for_a_day_with_data_is_asked_again_then_kept(pipeline: Pipeline) -> None:
    """Nothing silent: a CANCELLED report next to a loaded day fails its partition (WARN check, one line naming
    the partition, the report and what happens next) and the next run requests a NEW report; when Amazon
    cancels that one too, the answer stands: an empty, successful partition that says so, still WARNed."""
    day = _days()[0] - dt.timedelta(days=1)  # next to a loaded day: an empty answer is suspicious
    key = f"{day.isoformat()}|US"
    pipeline.simulator.state.faults.add("createReport", "cancelled", count=2)
    try:
        first = pipeline.run("sp_sales_traffic_job", partition_key=key, raise_on_error=False)
        ((cancelled_id,),) = pipeline.query(
            "select report_id from raw_amazon.report_requests where status = 'CANCELLED' and marketplace = 'US' "
            "and report_type = 'GET_SALES_AND_TRAFFIC_REPORT' order by created_at desc limit 1"
        )
        second = pipeline.run("sp_sales_traffic_job", partition_key=key)
    finally:
        pipeline.simulator.state.faults.clear()

    assert not first.success
    assert first.asset_materializations_for_node("sp_sales_traffic") == []
    failure = next(e for e in first.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.user_failure_data.description
    assert "\n" not in message and key in message and cancelled_id in message
    assert "the neighbouring days have" in message
    assert (
        "the next run (the nightly refresh, a re-execution or the next backfill) requests a new report"
        in message
    )
    (check,) = [c for c in first.get_asset_check_evaluations() if c.check_name == "empty_days_are_plausible"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert day.isoformat() in str(check.metadata["suspicious"].value)

    (mat,) = second.asset_materializations_for_node("sp_sales_traffic")
    assert mat.partition == key
    assert mat.metadata["status"].value == "CANCELLED"
    assert mat.metadata["rows"].value == 0
    assert mat.metadata["report_id"].value != cancelled_id  # asked again, the CANCELLED report not reused
    assert pipeline.query(
        "select count(*) from raw_amazon.sp_sales_traffic_by_asin where marketplace = 'US' and report_date = %s",
        (day,),
    ) == [(0,)]
    assert key in pipeline.instance.get_materialized_partitions(dg.AssetKey("sp_sales_traffic"))
    assert pipeline.query(
        "select status from raw_amazon.report_requests where report_id = %s",
        (mat.metadata["report_id"].value,),
    ) == [("CANCELLED",)]
    (check,) = [c for c in second.get_asset_check_evaluations() if c.check_name == "empty_days_are_plausible"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert day.isoformat() in str(check.metadata["suspicious"].value)


def test_fatal_report_fails_naming_partition_and_report(pipeline: Pipeline) -> None:
    day = _days()[0] - dt.timedelta(days=4)
    key = f"{day.isoformat()}|JP"
    pipeline.simulator.state.faults.add("createReport", "fatal")
    try:
        result = pipeline.run("sp_sales_traffic_job", partition_key=key, raise_on_error=False)
    finally:
        pipeline.simulator.state.faults.clear()
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    (report_id,) = pipeline.query(
        "select report_id from raw_amazon.report_requests where marketplace = 'JP' and status = 'FATAL'"
    )[0]
    assert key in message and report_id in message and "FATAL" in message
    assert "re-run" in message


def test_ads_days_beyond_retention_are_unavailable_at_the_source(pipeline: Pipeline) -> None:
    from chalkola_pipelines.defs.jobs import run_tags_for

    today = dt.datetime.now(dt.UTC).date()
    first, last = today - dt.timedelta(days=110), today - dt.timedelta(days=100)
    before = pipeline.query("select count(*) from raw_amazon.report_requests")
    result = pipeline.run("ads_sp_advertised_product_job", tags=run_tags_for("US", first, last))
    assert result.success
    mats = result.asset_materializations_for_node("ads_sp_advertised_product")
    assert len(mats) == 11
    assert {m.metadata["status"].value for m in mats} == {"UNAVAILABLE_AT_SOURCE"}
    assert {m.metadata["rows"].value for m in mats} == {0}
    assert pipeline.query("select count(*) from raw_amazon.report_requests") == before  # Amazon not asked


def test_a_report_recorded_in_the_ledger_is_resumed_not_requested_again(pipeline: Pipeline) -> None:
    """A run that crashed after createReport left the report id in the ledger: the next run uses it."""
    import time

    from chalkola_pipelines.amazon.client_factories import sp_http_client
    from chalkola_pipelines.amazon.credentials import sp_credentials_from_env
    from chalkola_pipelines.amazon.sp_reports import SpReportsClient
    from chalkola_pipelines.defs.sales_traffic import sales_traffic_spec
    from chalkola_pipelines.marketplaces import get_marketplace
    from chalkola_pipelines.warehouse.ledger import ReportLedger

    de = get_marketplace("DE")
    day = _days()[0] - dt.timedelta(days=6)
    spec = sales_traffic_spec(de, day)
    with sp_http_client("eu", sp_credentials_from_env("eu")) as http:
        client = SpReportsClient(http)
        report_id = client.create_report(spec)
        for _ in range(200):  # finished at Amazon: getReports would no longer offer it for reuse
            if client.get_report(report_id)["processingStatus"] == "DONE":
                break
            time.sleep(0.05)
    ReportLedger.from_url(pipeline.url).record(
        source="sp_reports", report_type=spec.report_type, region="eu", marketplace="DE", profile_id=None,
        window_start=spec.data_start_time, window_end=spec.data_end_time, options=dict(spec.report_options),
        report_id=report_id, status="IN_QUEUE",
    )  # fmt: skip
    result = pipeline.run("sp_sales_traffic_job", partition_key=f"{day.isoformat()}|DE")
    assert result.success
    (mat,) = result.asset_materializations_for_node("sp_sales_traffic")
    assert mat.metadata["report_id"].value == report_id
    assert mat.metadata["rows"].value > 0
    assert pipeline.query(
        "select report_id, status from raw_amazon.report_requests where marketplace = 'DE' and window_start = %s",
        (spec.data_start_time,),
    ) == [(report_id, "LOADED")]


def test_a_fatal_day_in_a_range_run_keeps_the_other_days(pipeline: Pipeline) -> None:
    from chalkola_pipelines.defs.jobs import run_tags_for

    last = _days()[0] - dt.timedelta(days=10)
    first = last - dt.timedelta(days=2)
    pipeline.simulator.state.faults.add("createReport", "fatal")  # the first report asked: the newest day's
    try:
        result = pipeline.run(
            "sp_sales_traffic_job", tags=run_tags_for("US", first, last), raise_on_error=False
        )
    finally:
        pipeline.simulator.state.faults.clear()
    assert not result.success
    loaded = sorted(m.partition for m in result.asset_materializations_for_node("sp_sales_traffic"))
    assert loaded == [f"{(first + dt.timedelta(days=i)).isoformat()}|US" for i in (0, 1)]
    message = next(
        e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ).step_failure_data.error.message
    assert "1 of 3 sales & traffic days failed" in message and f"{last.isoformat()}|US" in message
    status = pipeline.instance.get_status_by_partition(
        dg.AssetKey("sp_sales_traffic"),
        [f"{(first + dt.timedelta(days=i)).isoformat()}|US" for i in range(3)],
        pipeline.defs.resolve_assets_def("sp_sales_traffic").partitions_def,
    )
    assert list(status.values()) == [
        dg.AssetPartitionStatus.MATERIALIZED,
        dg.AssetPartitionStatus.MATERIALIZED,
        dg.AssetPartitionStatus.FAILED,
    ]


def test_dbt_build_of_only_the_marts_affected_by_orders(pipeline: Pipeline) -> None:
    """What the dbt sensor launches after order loads: a subset of dbt_marts_job (dbt --select)."""
    from chalkola_pipelines.defs.sensors import affected_dbt_assets

    selection = affected_dbt_assets(pipeline.defs.get_repository_def(), [dg.AssetKey("sp_orders")])
    result = pipeline.defs.resolve_job_def("dbt_marts_job").execute_in_process(
        instance=pipeline.instance, asset_selection=selection
    )
    assert result.success
    built = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "marts/dim_product" in built and "marts/fct_ads_campaign_daily" not in built
    assert pipeline.query("select count(*) > 0 from marts.dim_product") == [(True,)]


def test_one_regions_bad_ads_token_fails_profiles_naming_the_region(pipeline: Pipeline, monkeypatch) -> None:
    monkeypatch.setenv("ADS_REFRESH_TOKEN_EU", "Atzr|not-a-valid-refresh-token")
    before = dict(
        pipeline.query("select region, max(loaded_at) from raw_amazon.ads_profiles group by region")
    )
    result = pipeline.run("ads_profiles_job", raise_on_error=False)
    assert not result.success
    message = next(
        e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ).step_failure_data.error.message
    assert "region EU" in message and "Login With Amazon refused ADS_REFRESH_TOKEN_EU" in message
    assert "not-a-valid-refresh-token" not in message
    after = dict(pipeline.query("select region, max(loaded_at) from raw_amazon.ads_profiles group by region"))
    assert after["na"] > before["na"] and after["fe"] > before["fe"]  # the other regions were refreshed
    assert after["eu"] == before["eu"]


def test_an_unreadable_landed_document_is_quarantined_and_fetched_again(pipeline: Pipeline) -> None:
    """A corrupt archived document fails once with one message, is moved aside, and the next run downloads
    the same report again by its id (no new createReport), loading the same rows."""
    from pathlib import Path

    day = _days()[0]
    key = f"{day.isoformat()}|US"
    (report_id, document_path) = pipeline.query(
        "select report_id, document_path from raw_amazon.report_requests where source = 'sp_reports' "
        "and marketplace = 'US' and report_type = 'GET_SALES_AND_TRAFFIC_REPORT' and window_start::date = %s",
        (day,),
    )[0]
    rows_before = pipeline.query(
        "select child_asin, units_ordered, ordered_product_sales from raw_amazon.sp_sales_traffic_by_asin "
        "where marketplace = 'US' and report_date = %s order by child_asin",
        (day,),
    )
    Path(document_path).write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream")
    failed = pipeline.run("sp_sales_traffic_job", partition_key=key, raise_on_error=False)
    assert not failed.success
    message = next(
        e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"
    ).step_failure_data.error.message
    assert report_id in message and "moved to" in message and "downloads the document again" in message
    assert "delete" not in message.lower()  # one next step: the pipeline heals itself, nothing to do by hand
    quarantined = list((Path(document_path).parent / "quarantine").glob(Path(document_path).name + ".*"))
    assert len(quarantined) == 1 and not Path(document_path).exists()
    assert (
        pipeline.query(  # nothing already loaded was lost
            "select child_asin, units_ordered, ordered_product_sales from raw_amazon.sp_sales_traffic_by_asin "
            "where marketplace = 'US' and report_date = %s order by child_asin",
            (day,),
        )
        == rows_before
    )
    healed = pipeline.run("sp_sales_traffic_job", partition_key=key)
    assert healed.success
    (mat,) = healed.asset_materializations_for_node("sp_sales_traffic")
    assert mat.metadata["report_id"].value == report_id  # the same report, downloaded again
    assert Path(document_path).is_file()
    assert pipeline.query(
        "select count(*) from raw_amazon.report_requests where source = 'sp_reports' and marketplace = 'US' "
        "and report_type = 'GET_SALES_AND_TRAFFIC_REPORT' and window_start::date = %s",
        (day,),
    ) == [(1,)]
