"""AdsClient: profiles (big ids, UK), v3 spAdvertisedProduct: 31-day split, 95-day refusal, 425 reuse,
FAILED, 429 Retry-After while polling, expired URL, headers."""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta

import httpx
import pytest
from amazon_fakes import FakeAmazon, SleepRecorder, json_response, make_http

from chalkola_pipelines.amazon.ads import (
    AdsClient,
    earliest_available_day,
    profile_marketplace,
    profiles_by_marketplace,
    split_date_range,
)
from chalkola_pipelines.amazon.errors import AdsReportFailedError, AdsRetentionError, AmazonApiError
from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS

TODAY = date(2026, 11, 23)
PROFILE = 3_456_789_012_345_678_901  # > 2**53
ROWS = gzip.compress(
    json.dumps([{"date": "2026-11-01", "campaignId": 144158449488730278, "cost": 1.5}]).encode()
)
S3 = "https://offline-report-storage-eu-west-1-prod.s3.amazonaws.com"


def async_report(
    report_id: str, status: str, start: str = "2026-11-01", end: str = "2026-11-10", **extra
) -> dict:
    body = {
        "reportId": report_id,
        "status": status,
        "startDate": start,
        "endDate": end,
        "configuration": {},
        "createdAt": "2026-11-23T10:00:00Z",
        "updatedAt": "2026-11-23T10:00:00Z",
        "url": None,
        "failureReason": None,
    }
    body.update(extra)
    return body


def completed(report_id: str, sig: str = "S") -> dict:
    return async_report(
        report_id, "COMPLETED", url=f"{S3}/{report_id}.json.gz?X-Amz-Signature={sig}", fileSize=len(ROWS)
    )


def ads_client(fake: FakeAmazon, sleep: SleepRecorder | None = None) -> AdsClient:
    return AdsClient(
        make_http(fake, api="ads", sleep=sleep),
        poll_initial_seconds=1,
        poll_max_seconds=5,
        poll_timeout_seconds=600,
    )


def test_list_profiles_keeps_big_ids_exact_and_maps_marketplaces():
    raw = (
        b'[{"profileId": 3456789012345678901, "countryCode": "UK", "currencyCode": "GBP", "timezone": "Europe/London",'
        b' "accountInfo": {"id": "A1", "type": "seller", "name": "Chalkola"}},'
        b' {"profileId": 2, "countryCode": "DE", "accountInfo": {"marketplaceStringId": "A1PA6795UKMFR9", "type": "seller"}},'
        b' {"profileId": 3, "countryCode": "FR", "accountInfo": {"marketplaceStringId": "A13V1IB3VIYZZH", "type": "agency"}}]'
    )
    fake = FakeAmazon()
    fake.on("GET", r"/v2/profiles$", httpx.Response(200, content=raw, headers={"x-amzn-RequestId": "prof-1"}))
    client = ads_client(fake)
    profiles = client.list_profiles()
    assert profiles[0]["profileId"] == PROFILE and isinstance(profiles[0]["profileId"], int)
    assert client.last_request_id == "prof-1"
    assert profile_marketplace(profiles[0]).code == "UK"
    assert profile_marketplace(profiles[1]).code == "DE"
    mapping = profiles_by_marketplace(profiles)
    assert set(mapping) == {"UK", "DE"}  # agency profile skipped
    assert "amazon-advertising-api-scope" not in fake.requests[0].headers


def test_split_date_range():
    chunks = split_date_range(date(2026, 9, 1), date(2026, 11, 9))
    assert chunks == [
        (date(2026, 9, 1), date(2026, 10, 1)),
        (date(2026, 10, 2), date(2026, 11, 1)),
        (date(2026, 11, 2), date(2026, 11, 9)),
    ]
    assert all((e - s).days + 1 <= 31 for s, e in chunks)
    assert split_date_range(date(2026, 1, 1), date(2026, 1, 1)) == [(date(2026, 1, 1), date(2026, 1, 1))]


def test_older_than_retention_is_refused_before_any_call(tmp_path):
    fake = FakeAmazon()
    start = TODAY - timedelta(days=96)
    with pytest.raises(AdsRetentionError) as info:
        ads_client(fake).fetch_sp_advertised_product(
            PROFILE, start, TODAY, lambda r: tmp_path / r, today=TODAY
        )
    assert fake.requests == []
    assert info.value.earliest == earliest_available_day(TODAY) == TODAY - timedelta(days=95)
    assert start.isoformat() in str(info.value) and "95 days" in str(info.value)


def test_70_days_are_three_reports_created_first_then_polled_and_downloaded(tmp_path):
    fake = FakeAmazon()
    created = iter(["r1", "r2", "r3"])
    bodies: list[dict] = []

    def create(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return json_response(200, async_report(next(created), "PENDING"))

    fake.on("POST", r"/reporting/reports$", create)
    for rid in ("r1", "r2", "r3"):
        fake.on(
            "GET",
            rf"/reporting/reports/{rid}$",
            json_response(200, async_report(rid, "PROCESSING")),
            json_response(200, completed(rid)),
        )
    fake.on("GET", r"^https://offline-report-storage", httpx.Response(200, content=ROWS))
    seen = []
    start = TODAY - timedelta(days=80)
    end = start + timedelta(days=69)
    results = ads_client(fake).fetch_sp_advertised_product(
        PROFILE,
        start,
        end,
        lambda rid: tmp_path / f"{rid}.json.gz",
        today=TODAY,
        on_report_id=lambda s, e, r, st: seen.append((s, e, r, st)),
    )
    assert [(r.report_id, r.start, r.end) for r in results] == [
        ("r1", start, start + timedelta(days=30)),
        ("r2", start + timedelta(days=31), start + timedelta(days=61)),
        ("r3", start + timedelta(days=62), end),
    ]
    assert all(r.path.read_bytes() == ROWS for r in results)
    # ids announced before any polling
    assert [s[3] for s in seen[:3]] == ["PENDING"] * 3
    assert ("r1", "COMPLETED") in [(s[2], s[3]) for s in seen]
    # the request body and headers
    body = bodies[0]
    assert (
        body["startDate"] == start.isoformat() and body["endDate"] == (start + timedelta(days=30)).isoformat()
    )
    config = body["configuration"]
    assert config == {
        "adProduct": "SPONSORED_PRODUCTS",
        "groupBy": ["advertiser"],
        "columns": list(SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS),
        "reportTypeId": "spAdvertisedProduct",
        "timeUnit": "DAILY",
        "format": "GZIP_JSON",
    }
    post = fake.calls("POST", r"/reporting/reports$")[0]
    assert post.headers["content-type"] == "application/vnd.createasyncreportrequest.v3+json"
    assert post.headers["amazon-advertising-api-scope"] == str(PROFILE)
    for s3 in fake.calls("GET", r"^https://offline-report-storage"):
        assert "authorization" not in s3.headers and "amazon-advertising-api-clientid" not in s3.headers


def test_425_duplicate_reuses_the_report_in_flight(tmp_path):
    fake = FakeAmazon()
    fake.on(
        "POST",
        r"/reporting/reports$",
        json_response(
            425,
            {"code": "425", "detail": "The Request is a duplicate of : 8adca409-98e1-442c-9e74-28147f9f7bc8"},
        ),
    )
    fake.on(
        "GET",
        r"/reporting/reports/8adca409-98e1-442c-9e74-28147f9f7bc8$",
        json_response(200, completed("8adca409-98e1-442c-9e74-28147f9f7bc8")),
    )
    fake.on("GET", r"^https://offline-report-storage", httpx.Response(200, content=ROWS))
    (result,) = ads_client(fake).fetch_sp_advertised_product(
        PROFILE, TODAY - timedelta(days=3), TODAY - timedelta(days=1), lambda r: tmp_path / r, today=TODAY
    )
    assert result.report_id == "8adca409-98e1-442c-9e74-28147f9f7bc8"
    assert len(fake.calls("POST", r"/reporting/reports$")) == 1  # not retried as an error


def test_425_without_an_id_is_a_clear_error(tmp_path):
    fake = FakeAmazon()
    fake.on("POST", r"/reporting/reports$", json_response(425, {"code": "425", "detail": "Too early"}))
    with pytest.raises(AmazonApiError, match="duplicate"):
        ads_client(fake).fetch_sp_advertised_product(
            PROFILE, TODAY - timedelta(days=2), TODAY, lambda r: tmp_path / r, today=TODAY
        )


def test_failed_report_raises_with_failure_reason(tmp_path):
    fake = FakeAmazon()
    fake.on("POST", r"/reporting/reports$", json_response(200, async_report("rf", "PENDING")))
    fake.on(
        "GET",
        r"/reporting/reports/rf$",
        json_response(
            200,
            async_report(
                "rf",
                "FAILED",
                failureReason="Report generation failed due to an internal error. Please retry",
            ),
        ),
    )
    seen = []
    with pytest.raises(AdsReportFailedError) as info:
        ads_client(fake).fetch_sp_advertised_product(
            PROFILE,
            TODAY - timedelta(days=2),
            TODAY,
            lambda r: tmp_path / r,
            today=TODAY,
            on_report_id=lambda s, e, r, st: seen.append(st),
        )
    assert info.value.report_id == "rf"
    assert "internal error" in str(info.value)
    assert seen == ["PENDING", "FAILED"]  # the ledger learns FAILED so it won't resume it


def test_polling_429_honours_retry_after(tmp_path):
    fake = FakeAmazon()
    fake.on("POST", r"/reporting/reports$", json_response(200, async_report("r1", "PENDING")))
    fake.on(
        "GET",
        r"/reporting/reports/r1$",
        json_response(429, {"code": "429", "detail": "Too Many Requests"}, headers={"Retry-After": "12"}),
        json_response(200, completed("r1")),
    )
    fake.on("GET", r"^https://offline-report-storage", httpx.Response(200, content=ROWS))
    sleep = SleepRecorder()
    ads_client(fake, sleep).fetch_sp_advertised_product(
        PROFILE, TODAY - timedelta(days=2), TODAY, lambda r: tmp_path / r, today=TODAY
    )
    assert any(12.0 <= s <= 13.2 for s in sleep.sleeps)


def test_expired_download_url_gets_a_fresh_one(tmp_path):
    fake = FakeAmazon()
    fake.on("POST", r"/reporting/reports$", json_response(200, async_report("r1", "PENDING")))
    fake.on(
        "GET",
        r"/reporting/reports/r1$",
        json_response(200, completed("r1", "OLD")),
        json_response(200, completed("r1", "NEW")),
    )
    fake.on(
        "GET",
        r"^https://offline-report-storage",
        httpx.Response(403, content=b"expired"),
        httpx.Response(200, content=ROWS),
    )
    (result,) = ads_client(fake).fetch_sp_advertised_product(
        PROFILE, TODAY - timedelta(days=2), TODAY, lambda r: tmp_path / r, today=TODAY
    )
    assert result.path.read_bytes() == ROWS
    assert "NEW" in str(fake.calls("GET", r"^https://offline-report-storage")[-1].url)


def test_resume_report_ids_skip_creation(tmp_path):
    fake = FakeAmazon()
    fake.on("GET", r"/reporting/reports/old$", json_response(200, completed("old")))
    fake.on("GET", r"^https://offline-report-storage", httpx.Response(200, content=ROWS))
    start, end = TODAY - timedelta(days=5), TODAY - timedelta(days=1)
    (result,) = ads_client(fake).fetch_sp_advertised_product(
        PROFILE, start, end, lambda r: tmp_path / r, today=TODAY, resume_report_ids={(start, end): "old"}
    )
    assert result.report_id == "old"
    assert fake.calls("POST", r"/reporting/reports$") == []


def test_resume_of_unknown_report_creates_a_new_one(tmp_path):
    fake = FakeAmazon()
    fake.on("GET", r"/reporting/reports/old$", json_response(404, {"code": "404", "detail": "not found"}))
    fake.on("POST", r"/reporting/reports$", json_response(200, async_report("new", "PENDING")))
    fake.on("GET", r"/reporting/reports/new$", json_response(200, completed("new")))
    fake.on("GET", r"^https://offline-report-storage", httpx.Response(200, content=ROWS))
    start, end = TODAY - timedelta(days=5), TODAY - timedelta(days=1)
    (result,) = ads_client(fake).fetch_sp_advertised_product(
        PROFILE, start, end, lambda r: tmp_path / r, today=TODAY, resume_report_ids={(start, end): "old"}
    )
    assert result.report_id == "new"
