"""SpReportsClient.fetch: create/poll/download, CANCELLED, FATAL, expired URL, reuse, resume, timeout."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from amazon_fakes import S3_BASE, FakeAmazon, SleepRecorder, json_response, make_http

from chalkola_pipelines.amazon.errors import (
    AmazonApiError,
    DocumentExpiredError,
    ReportFatalError,
    ReportTimeoutError,
)
from chalkola_pipelines.amazon.sp_reports import ReportSpec, SpReportsClient

R = r"/reports/2021-06-30/reports"
D = r"/reports/2021-06-30/documents"
ST = "GET_SALES_AND_TRAFFIC_REPORT"
SPEC = ReportSpec(
    report_type=ST,
    marketplace_ids=("A1F83G8C2ARO7P",),
    data_start_time=datetime(2026, 11, 1, 0, 0, tzinfo=UTC),
    data_end_time=datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC),
    report_options={"dateGranularity": "DAY", "asinGranularity": "CHILD"},
)
DOC = gzip.compress(b'{"reportSpecification": {}, "salesAndTrafficByDate": [], "salesAndTrafficByAsin": []}')


def report(status: str, report_id: str = "5001", **extra) -> dict:
    body = {
        "reportId": report_id,
        "reportType": ST,
        "processingStatus": status,
        "createdTime": "2026-11-03T10:00:00Z",
        "marketplaceIds": ["A1F83G8C2ARO7P"],
        "dataStartTime": "2026-11-01T00:00:00Z",
        "dataEndTime": "2026-11-01T23:59:59Z",
    }
    body.update(extra)
    return body


def document(doc_id: str = "amzn1.spdoc.1", sig: str = "SIG1") -> dict:
    return {
        "reportDocumentId": doc_id,
        "url": f"{S3_BASE}/{doc_id}?X-Amz-Signature={sig}",
        "compressionAlgorithm": "GZIP",
    }


def happy_fake(*statuses: str, reports_page: dict | None = None) -> FakeAmazon:
    fake = FakeAmazon()
    fake.on("GET", R + r"\?", json_response(200, reports_page or {"reports": []}))
    fake.on("POST", R + "$", json_response(202, {"reportId": "5001"}, request_id="rid-create"))
    polls = [
        json_response(
            200, report(s, **({"reportDocumentId": "amzn1.spdoc.1"} if s in ("DONE", "FATAL") else {}))
        )
        for s in statuses
    ]
    fake.on("GET", R + "/5001$", *polls)
    fake.on("GET", D + "/amzn1.spdoc.1$", json_response(200, document()))
    fake.on("GET", r"^https://tortuga", httpx.Response(200, content=DOC))
    return fake


def client(fake: FakeAmazon, sleep: SleepRecorder | None = None, **kw) -> SpReportsClient:
    return SpReportsClient(make_http(fake, sleep=sleep), poll_initial_seconds=2, poll_max_seconds=10, **kw)


def test_create_poll_done_download(tmp_path):
    fake = happy_fake("IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS", "DONE")
    seen: list[tuple[str, str]] = []
    sleep = SleepRecorder()
    result = client(fake, sleep).fetch(
        SPEC, lambda rid: tmp_path / f"{rid}.json.gz", on_report_id=lambda r, s: seen.append((r, s))
    )
    assert result.status == "DONE"
    assert result.report_id == "5001" and result.document_id == "amzn1.spdoc.1"
    assert result.compression == "GZIP"
    assert result.path == tmp_path / "5001.json.gz"
    assert result.path.read_bytes() == DOC  # archived as received (gzip)
    assert "rid-create" in result.request_ids
    # announced before polling, then on each status change
    assert seen == [("5001", "IN_QUEUE"), ("5001", "IN_PROGRESS"), ("5001", "DONE")]
    # backoff 2, 3, 4.5 (×1.5)
    assert sleep.sleeps == pytest.approx([2.0, 3.0, 4.5])
    sent = json.loads(fake.calls("POST", R + "$")[0].content)
    assert sent == {
        "reportType": ST,
        "marketplaceIds": ["A1F83G8C2ARO7P"],
        "dataStartTime": "2026-11-01T00:00:00Z",
        "dataEndTime": "2026-11-01T23:59:59Z",
        "reportOptions": {"dateGranularity": "DAY", "asinGranularity": "CHILD"},
    }
    # the presigned URL got no Amazon auth header
    s3 = fake.calls("GET", r"^https://tortuga")[0]
    assert "x-amz-access-token" not in s3.headers


def test_cancelled_is_a_non_error_outcome(tmp_path):
    fake = happy_fake("IN_QUEUE", "CANCELLED")
    result = client(fake).fetch(SPEC, tmp_path / "x.gz")
    assert result.status == "CANCELLED"
    assert result.path is None and result.document_id is None
    assert not (tmp_path / "x.gz").exists()
    assert fake.calls("GET", D) == []


def test_fatal_downloads_error_document_and_raises(tmp_path):
    fake = happy_fake("IN_PROGRESS", "FATAL")
    fake.routes[-1] = fake.routes[-1].__class__(
        "GET",
        fake.routes[-1].pattern,
        [
            httpx.Response(
                200, content=gzip.compress(b'{"errorDetails":"Report date range exceeds the maximum"}')
            )
        ],
    )
    with pytest.raises(ReportFatalError) as info:
        client(fake).fetch(SPEC, tmp_path / "x.gz")
    err = info.value
    assert err.report_id == "5001" and err.report_type == ST
    assert "2026-11-01T00:00:00Z" in err.window
    assert "Report date range exceeds the maximum" in err.amazon_message
    assert "5001" in str(err) and ST in str(err)
    assert not (tmp_path / "x.gz").exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4,
            "is not readable text: 1028 bytes, damaged or compressed",
        ),
        (
            b'{\n  "errorDetails": "Report date range\n exceeds the maximum"\n}',
            '{ "errorDetails": "Report date range',
        ),
    ],
)
def test_the_error_document_is_one_line_of_text_never_raw_bytes(tmp_path, body, expected):
    """A damaged (or still compressed) error document must not put binary into the one-line failure message."""
    fake = happy_fake("FATAL")
    fake.routes[-1] = fake.routes[-1].__class__(
        "GET", fake.routes[-1].pattern, [httpx.Response(200, content=body)]
    )
    with pytest.raises(ReportFatalError) as info:
        client(fake).fetch(SPEC, tmp_path / "x.gz")
    message = str(info.value)
    assert expected in message and "\n" not in message and "\ufffd" not in message


def test_expired_url_is_refetched(tmp_path):
    fake = happy_fake("DONE")
    fake.routes[3].responders = [
        json_response(200, document(sig="OLD")),
        json_response(200, document(sig="NEW")),
    ]
    fake.routes[4].responders = [
        httpx.Response(403, content=b"<Error>Request has expired</Error>"),
        httpx.Response(200, content=DOC),
    ]
    result = client(fake).fetch(SPEC, tmp_path / "x.gz")
    assert result.path.read_bytes() == DOC
    assert len(fake.calls("GET", D)) == 2
    sigs = [
        dict(parse_qsl(urlsplit(str(r.url)).query))["X-Amz-Signature"]
        for r in fake.calls("GET", r"^https://tortuga")
    ]
    assert sigs == ["OLD", "NEW"]


def test_url_refused_every_time_is_a_clear_error(tmp_path):
    fake = happy_fake("DONE")
    fake.routes[4].responders = [httpx.Response(403, content=b"")]
    with pytest.raises(DocumentExpiredError, match="amzn1.spdoc.1"):
        client(fake).fetch(SPEC, tmp_path / "x.gz")


def test_in_flight_report_with_identical_parameters_is_reused(tmp_path):
    page1 = {
        "reports": [
            report("IN_QUEUE", "other-window", dataStartTime="2026-10-31T00:00:00Z"),
            report("IN_PROGRESS", "other-mkt", marketplaceIds=["A1PA6795UKMFR9"]),
        ],
        "nextToken": "tok-2",
    }
    page2 = {"reports": [report("IN_PROGRESS", "5001", dataStartTime="2026-11-01T00:00:00.000Z")]}
    fake = happy_fake("DONE")
    fake.routes[0].responders = [json_response(200, page1), json_response(200, page2)]
    result = client(fake).fetch(SPEC, tmp_path / "x.gz")
    assert result.report_id == "5001"
    assert fake.calls("POST", R + "$") == []
    first, second = fake.calls("GET", R + r"\?")
    q1 = dict(parse_qsl(urlsplit(str(first.url)).query))
    assert q1["reportTypes"] == ST
    assert q1["processingStatuses"] == "IN_QUEUE,IN_PROGRESS"
    assert q1["marketplaceIds"] == "A1F83G8C2ARO7P"
    # nextToken is sent alone
    assert dict(parse_qsl(urlsplit(str(second.url)).query)) == {"nextToken": "tok-2"}


def test_no_matching_in_flight_report_creates_one(tmp_path):
    fake = happy_fake(
        "DONE", reports_page={"reports": [report("IN_QUEUE", "x", dataEndTime="2026-11-02T23:59:59Z")]}
    )
    result = client(fake).fetch(SPEC, tmp_path / "x.gz")
    assert result.report_id == "5001"
    assert len(fake.calls("POST", R + "$")) == 1


def test_resume_report_id_from_the_ledger(tmp_path):
    fake = happy_fake("IN_PROGRESS", "DONE")
    seen = []
    result = client(fake).fetch(
        SPEC, tmp_path / "x.gz", resume_report_id="5001", on_report_id=lambda r, s: seen.append(s)
    )
    assert result.status == "DONE"
    assert fake.calls("POST", R + "$") == [] and fake.calls("GET", R + r"\?") == []
    assert seen == ["IN_PROGRESS", "DONE"]


def test_resume_of_a_done_report_downloads_without_polling(tmp_path):
    fake = happy_fake("DONE")
    sleep = SleepRecorder()
    result = client(fake, sleep).fetch(SPEC, tmp_path / "x.gz", resume_report_id="5001")
    assert result.status == "DONE" and sleep.sleeps == []
    assert len(fake.calls("GET", R + "/5001$")) == 1


def test_resume_of_an_unknown_report_falls_back_to_create(tmp_path):
    fake = happy_fake("DONE")
    fake.on(
        "GET", R + "/gone$", json_response(404, {"errors": [{"code": "NotFound", "message": "not found"}]})
    )
    fake.routes.insert(0, fake.routes.pop())
    result = client(fake).fetch(SPEC, tmp_path / "x.gz", resume_report_id="gone")
    assert result.report_id == "5001"
    assert len(fake.calls("POST", R + "$")) == 1


@pytest.mark.parametrize("status", ["CANCELLED", "FATAL"])
def test_resume_of_a_cancelled_or_fatal_report_creates_a_new_one(tmp_path, status):
    """A ledger entry whose status was not updated (run killed) must not make the re-run ask the same dead report."""
    fake = happy_fake("DONE")
    fake.on("GET", R + "/old$", json_response(200, report(status, report_id="old")))
    fake.routes.insert(0, fake.routes.pop())
    result = client(fake).fetch(SPEC, tmp_path / "x.gz", resume_report_id="old")
    assert result.status == "DONE" and result.report_id == "5001"
    assert len(fake.calls("POST", R + "$")) == 1


def test_poll_timeout_names_the_report(tmp_path):
    fake = happy_fake("IN_PROGRESS")
    with pytest.raises(ReportTimeoutError, match="5001"):
        client(fake, poll_timeout_seconds=30).fetch(SPEC, tmp_path / "x.gz")


def test_done_without_document_is_an_error(tmp_path):
    fake = happy_fake("DONE")
    fake.routes[2].responders = [json_response(200, report("DONE"))]
    with pytest.raises(AmazonApiError, match="reportDocumentId"):
        client(fake).fetch(SPEC, tmp_path / "x.gz")


def test_reuse_can_be_disabled(tmp_path):
    fake = happy_fake("DONE")
    client(fake, reuse_in_flight=False).fetch(SPEC, tmp_path / "x.gz")
    assert fake.calls("GET", R + r"\?") == []


def test_spec_validation():
    with pytest.raises(ValueError):
        ReportSpec(ST, ("A",), datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError):
        ReportSpec(ST, (), datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
