"""SP-API Reports against the real simulator over HTTP, with every fault kind."""

from __future__ import annotations

import gzip
import json
import logging
import zlib

import pytest
from amazon_sim_clients import StatusRecorder, reports_client, sp_http, st_spec

from chalkola_pipelines.amazon.errors import AmazonAuthError, ReportFatalError
from chalkola_pipelines.amazon.retries import parse_json

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def fresh_seller_quota(simulator):
    """Each test is a seller with a full S&T allowance (4 an hour, amazon-facts §8.1): the session simulator
    is shared, and the tests here are about document handling, not about that meter."""
    simulator.state.meters.reset()
    yield
    simulator.state.meters.reset()


def _load(path) -> dict:
    return parse_json(gzip.decompress(path.read_bytes()))


def test_sales_and_traffic_report_done(simulator, clean_faults, tmp_path):
    seen: list[tuple[str, str]] = []
    result = reports_client(simulator).fetch(
        st_spec(3), lambda rid: tmp_path / f"{rid}.json.gz", on_report_id=lambda r, s: seen.append((r, s))
    )
    assert result.status == "DONE"
    assert result.compression == "GZIP"
    assert result.path == tmp_path / f"{result.report_id}.json.gz"
    document = _load(result.path)
    assert document["reportSpecification"]["reportType"] == "GET_SALES_AND_TRAFFIC_REPORT"
    assert document["salesAndTrafficByAsin"], "the synthetic seller sells something every day"
    assert seen[0][0] == result.report_id and seen[-1] == (result.report_id, "DONE")
    assert len(result.request_ids) >= 3  # create, getReport, getReportDocument, download


def test_429_storm_with_retry_after_is_ridden_out(simulator, clean_faults, tmp_path, caplog):
    clean_faults.add("createReport", "429", count=2, retry_after=60)
    clean_faults.add("getReport", "429", count=1, retry_after=30)
    recorder = StatusRecorder()
    caplog.set_level(logging.WARNING, logger="chalkola_pipelines.amazon")
    result = reports_client(simulator, recorder=recorder).fetch(st_spec(4), tmp_path / "r.gz")
    assert result.status == "DONE"
    # >= : other suites sharing this session simulator may also have drained the real buckets
    assert recorder.statuses("/reports/2021-06-30/reports").count(429) >= 3
    assert "Retry-After" in caplog.text
    assert clean_faults.pending() == []


@pytest.mark.parametrize(
    ("operation", "kind"), [("getReport", "500"), ("getReportDocument", "503"), ("createReport", "503")]
)
def test_server_errors_are_retried(simulator, clean_faults, tmp_path, operation, kind):
    clean_faults.add(operation, kind, count=2)
    recorder = StatusRecorder()
    result = reports_client(simulator, recorder=recorder, reuse_in_flight=False).fetch(
        st_spec(5), tmp_path / "r.gz"
    )
    assert result.status == "DONE"
    assert recorder.statuses("/").count(int(kind)) == 2
    assert clean_faults.pending() == []


@pytest.mark.parametrize(
    "operation", ["createReport", "getReport", "getReportDocument", "downloadReportDocument"]
)
def test_connection_reset_is_retried(simulator, clean_faults, tmp_path, operation):
    clean_faults.add(operation, "reset", count=1)
    result = reports_client(simulator, reuse_in_flight=False).fetch(st_spec(6), tmp_path / "r.gz")
    assert result.status == "DONE"
    assert _load(result.path)["reportSpecification"]
    assert clean_faults.pending() == []


def test_slow_response_beyond_the_read_timeout_is_retried(simulator, clean_faults, tmp_path):
    clean_faults.add("getReport", "slow", count=1, delay=2.0)
    result = reports_client(simulator, timeout=0.5).fetch(st_spec(7), tmp_path / "r.gz")
    assert result.status == "DONE"
    assert clean_faults.pending() == []


def test_slow_response_within_the_timeout_just_succeeds(simulator, clean_faults, tmp_path):
    clean_faults.add("getReportDocument", "slow", count=1, delay=0.3)
    assert reports_client(simulator).fetch(st_spec(7), tmp_path / "r.gz").status == "DONE"


def test_fatal_report_raises_with_amazons_message(simulator, clean_faults, tmp_path):
    clean_faults.add("createReport", "fatal", count=1)
    spec = st_spec(8)
    with pytest.raises(ReportFatalError) as info:
        reports_client(simulator, reuse_in_flight=False).fetch(spec, tmp_path / "r.gz")
    err = info.value
    assert err.report_type == "GET_SALES_AND_TRAFFIC_REPORT"
    assert err.report_id and err.report_id in str(err)
    assert "Simulated fatal error" in err.amazon_message
    assert spec.window == err.window
    assert not (tmp_path / "r.gz").exists()


def test_multi_marketplace_sales_traffic_is_fatal_with_the_reason(simulator, clean_faults, tmp_path):
    from dataclasses import replace

    spec = replace(st_spec(8), marketplace_ids=("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"))
    with pytest.raises(ReportFatalError, match="only one"):
        reports_client(simulator, reuse_in_flight=False).fetch(spec, tmp_path / "r.gz")


def test_cancelled_report_is_no_data(simulator, clean_faults, tmp_path):
    clean_faults.add("createReport", "cancelled", count=1)
    result = reports_client(simulator, reuse_in_flight=False).fetch(st_spec(9), tmp_path / "r.gz")
    assert result.status == "CANCELLED"
    assert result.path is None and not (tmp_path / "r.gz").exists()


@pytest.mark.parametrize("operation", ["getReportDocument", "downloadReportDocument"])
def test_expired_document_url_is_fetched_again(simulator, clean_faults, tmp_path, operation):
    clean_faults.add(operation, "expired_url", count=1)
    recorder = StatusRecorder()
    result = reports_client(simulator, recorder=recorder).fetch(st_spec(10), tmp_path / "r.gz")
    assert result.status == "DONE"
    assert _load(result.path)["reportSpecification"]
    assert recorder.statuses("/_documents/").count(403) == 1
    assert len([s for s in recorder.statuses("/reports/2021-06-30/documents/") if s == 200]) == 2


def _clean_copy(simulator, spec, report_id, tmp_path) -> bytes:
    """The same document downloaded again without a fault (resume → getReportDocument → download)."""
    again = reports_client(simulator).fetch(spec, tmp_path / "clean.gz", resume_report_id=report_id)
    return again.path.read_bytes()


def test_corrupt_gzip_is_archived_exactly_as_served(simulator, clean_faults, tmp_path):
    from chalkola_pipelines.simulator.document_encoding import corrupt_gzip

    clean_faults.add("downloadReportDocument", "corrupt_gzip", count=1)
    spec = st_spec(11)
    result = reports_client(simulator).fetch(spec, tmp_path / "r.gz")
    assert result.status == "DONE"  # the download itself is fine; parsing is the parser's job
    served = result.path.read_bytes()
    clean = _clean_copy(simulator, spec, result.report_id, tmp_path)
    assert served == corrupt_gzip(clean)
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(served)


def test_truncated_json_is_archived_exactly_as_served(simulator, clean_faults, tmp_path):
    from chalkola_pipelines.simulator.document_encoding import truncate_body

    clean_faults.add("downloadReportDocument", "truncated_json", count=1)
    spec = st_spec(12)
    result = reports_client(simulator).fetch(spec, tmp_path / "r.gz")
    raw = gzip.decompress(result.path.read_bytes())
    clean_raw = gzip.decompress(_clean_copy(simulator, spec, result.report_id, tmp_path))
    assert raw == truncate_body(clean_raw)
    with pytest.raises(ValueError):
        json.loads(raw)


def test_extra_field_is_archived_as_served(simulator, clean_faults, tmp_path):
    from chalkola_pipelines.simulator.document_encoding import EXTRA_FIELD_NAME

    clean_faults.add("downloadReportDocument", "extra_field", count=1)
    result = reports_client(simulator).fetch(st_spec(13), tmp_path / "r.gz")
    assert EXTRA_FIELD_NAME in _load(result.path)


def test_resume_from_ledger_id(simulator, clean_faults, tmp_path):
    client = reports_client(simulator)
    spec = st_spec(15)
    first = client.fetch(spec, tmp_path / "a.gz")
    recorder = StatusRecorder()
    again = reports_client(simulator, recorder=recorder).fetch(
        spec, tmp_path / "b.gz", resume_report_id=first.report_id
    )
    assert again.report_id == first.report_id
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert [s for m, p, s in recorder.seen if m == "POST"] == []


def test_expired_access_token_is_refreshed(simulator, clean_faults, tmp_path):
    http = sp_http(simulator)
    http.request(
        "getReports",
        "GET",
        "/reports/2021-06-30/reports",
        params={"reportTypes": "GET_SALES_AND_TRAFFIC_REPORT"},
    )
    simulator.state.expire_access_tokens()
    response = http.request(
        "getReports",
        "GET",
        "/reports/2021-06-30/reports",
        params={"reportTypes": "GET_SALES_AND_TRAFFIC_REPORT"},
    )
    assert response.status_code == 200


def test_lwa_faults_are_retried(simulator, clean_faults):
    from chalkola_pipelines.amazon.lwa import clear_token_cache

    clear_token_cache()
    clean_faults.add("lwaToken", "503", count=1)
    clean_faults.add("lwaToken", "reset", count=1)
    http = sp_http(simulator, region="eu")
    assert http.tokens.access_token().startswith("Atza|")
    assert clean_faults.pending() == []


def test_wrong_refresh_token_is_a_clear_auth_error(simulator, clean_faults, caplog):
    from chalkola_pipelines.amazon.credentials import LwaCredentials
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
    from chalkola_pipelines.amazon.lwa import LwaTokenProvider
    from chalkola_pipelines.simulator.credentials import DEMO_SP_CLIENT_ID, DEMO_SP_CLIENT_SECRET

    bad = "Atzr|revoked-refresh-token-secret-value"
    provider = LwaTokenProvider(
        LwaCredentials(DEMO_SP_CLIENT_ID, DEMO_SP_CLIENT_SECRET, bad),
        AmazonEndpoints.simulator(simulator.base_url).sp_lwa_token_url,
        label="SP-API EU refresh token",
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AmazonAuthError) as info:
        provider.access_token()
    message = str(info.value)
    assert "SP-API EU refresh token" in message and "invalid_grant" in message
    for secret in (bad, DEMO_SP_CLIENT_SECRET):
        assert secret not in message and secret not in caplog.text and secret not in repr(provider)
