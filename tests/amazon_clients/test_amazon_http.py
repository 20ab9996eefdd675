"""AmazonHttpClient: retries, Retry-After, jitter, limiter hooks, auth headers, logging, downloads."""

from __future__ import annotations

import gzip
import logging
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from amazon_fakes import (
    ACCESS_TOKEN,
    S3_BASE,
    FakeAmazon,
    FakeTokens,
    SleepRecorder,
    json_response,
    make_http,
)

from chalkola_pipelines.amazon.errors import AmazonApiError, DocumentExpiredError
from chalkola_pipelines.amazon.retries import RetryPolicy, parse_json, parse_retry_after
from chalkola_pipelines.amazon.token_buckets import InMemoryRateLimiter
from chalkola_pipelines.amazon.transport import AmazonHttpClient, strip_url_query

QUOTA = {
    "errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}]
}


def test_429_with_retry_after_is_retried_after_the_advertised_delay():
    fake = FakeAmazon()
    fake.on(
        "POST",
        r"/reports/2021-06-30/reports$",
        json_response(429, QUOTA, request_id="r1", headers={"Retry-After": "7"}),
        json_response(429, QUOTA, request_id="r2", headers={"Retry-After": "3"}),
        json_response(202, {"reportId": "42"}, request_id="r3"),
    )
    sleep = SleepRecorder()
    http = make_http(fake, sleep=sleep)
    response = http.request("createReport", "POST", "/reports/2021-06-30/reports", json_body={"a": 1})
    assert response.status_code == 202
    assert response.request_id == "r3"
    assert len(fake.requests) == 3
    assert len(sleep.sleeps) == 2
    assert 7.0 <= sleep.sleeps[0] <= 8.0
    assert 3.0 <= sleep.sleeps[1] <= 3.5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_are_retried_then_succeed(status):
    fake = FakeAmazon()
    fake.on(
        "GET",
        r"/reports/2021-06-30/reports/9$",
        json_response(status, {}),
        json_response(200, {"reportId": "9"}),
    )
    http = make_http(fake)
    assert http.request("getReport", "GET", "/reports/2021-06-30/reports/9").json() == {"reportId": "9"}
    assert len(fake.requests) == 2


def test_transport_errors_are_retried():
    fake = FakeAmazon()
    state = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.ConnectError("connection reset by peer", request=request)
        if state["n"] == 2:
            raise httpx.ReadTimeout("timed out", request=request)
        return json_response(200, {"ok": True})

    fake.on("GET", r"/x$", flaky)
    http = make_http(fake)
    assert http.request("getReport", "GET", "/x").json() == {"ok": True}
    assert state["n"] == 3


def test_attempts_are_bounded_and_the_error_names_operation_status_and_request_id():
    fake = FakeAmazon()
    fake.on(
        "GET",
        r"/x$",
        json_response(
            503, {"errors": [{"code": "ServiceUnavailable", "message": "down"}]}, request_id="rid-503"
        ),
    )
    sleep = SleepRecorder()
    http = make_http(fake, sleep=sleep, retry=RetryPolicy(max_attempts=4, max_total_seconds=600))
    with pytest.raises(AmazonApiError) as info:
        http.request("getReport", "GET", "/x")
    assert len(fake.requests) == 4
    assert len(sleep.sleeps) == 3
    err = info.value
    assert err.status_code == 503 and err.code == "ServiceUnavailable" and err.request_id == "rid-503"
    assert "sp:eu:getReport" in str(err)


def test_transport_errors_exhausted_become_amazon_api_error():
    fake = FakeAmazon()

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    fake.on("GET", r"/x$", reset)
    http = make_http(fake, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(AmazonApiError) as info:
        http.request("getReport", "GET", "/x")
    assert info.value.status_code is None
    assert info.value.code == "RemoteProtocolError"
    assert len(fake.requests) == 3


def test_4xx_is_not_retried():
    fake = FakeAmazon()
    fake.on(
        "POST",
        r"/x$",
        json_response(400, {"errors": [{"code": "InvalidInput", "message": "bad marketplace"}]}),
    )
    http = make_http(fake)
    with pytest.raises(AmazonApiError) as info:
        http.request("createReport", "POST", "/x", json_body={})
    assert len(fake.requests) == 1
    assert info.value.status_code == 400 and info.value.code == "InvalidInput"
    assert "bad marketplace" in str(info.value)


def test_backoff_without_retry_after_is_full_jitter_exponential():
    fake = FakeAmazon()
    fake.on("GET", r"/x$", json_response(500, {}))
    sleep = SleepRecorder()
    policy = RetryPolicy(max_attempts=6, initial_backoff_seconds=2.0, max_backoff_seconds=10.0)
    http = AmazonHttpClient(
        api="sp",
        region="eu",
        base_url="https://sp.example",
        tokens=FakeTokens(),
        rate_limiter=InMemoryRateLimiter(clock=sleep.clock, sleep=sleep),
        retry=policy,
        client=httpx.Client(transport=fake.transport()),
        sleep=sleep,
        clock=sleep.clock,
        rng=random.Random(1),
    )
    with pytest.raises(AmazonApiError):
        http.request("getReport", "GET", "/x")
    caps = [2.0, 4.0, 8.0, 10.0, 10.0]
    assert len(sleep.sleeps) == 5
    for delay, cap in zip(sleep.sleeps, caps, strict=True):
        assert 0.0 <= delay <= cap
    # full jitter: not simply the cap every time
    assert any(d < c * 0.9 for d, c in zip(sleep.sleeps, caps, strict=True))


def test_429_without_retry_after_waits_at_least_one_token_interval():
    fake = FakeAmazon()
    fake.on("POST", r"/x$", json_response(429, QUOTA), json_response(202, {"reportId": "1"}))
    sleep = SleepRecorder()
    http = make_http(fake, sleep=sleep)
    http.request("createReport", "POST", "/x", json_body={})
    # createReport's official rate is 0.0167/s → about 60 s between tokens
    assert sleep.sleeps[0] >= 1 / 0.0167 - 0.01


def test_total_time_budget_stops_retries_honouring_retry_after():
    fake = FakeAmazon()
    fake.on("GET", r"/x$", json_response(429, QUOTA, headers={"Retry-After": "100"}))
    sleep = SleepRecorder()
    http = make_http(fake, sleep=sleep, retry=RetryPolicy(max_attempts=50, max_total_seconds=30))
    # tenacity measures real time; with a 100 s Retry-After the first sleep would already exceed 30 s
    with pytest.raises(AmazonApiError) as info:
        http.request("getReport", "GET", "/x")
    assert info.value.status_code == 429
    assert len(fake.requests) == 1
    assert sleep.sleeps == []


def test_sp_api_sends_access_token_header_only():
    fake = FakeAmazon()
    fake.on("GET", r"/x$", json_response(200, {}))
    make_http(fake).request("getReport", "GET", "/x")
    request = fake.requests[0]
    assert request.headers["x-amz-access-token"] == ACCESS_TOKEN
    assert "authorization" not in request.headers
    assert "amazon-advertising-api-scope" not in request.headers


def test_ads_headers_and_scope():
    fake = FakeAmazon()
    fake.on("GET", r"/v2/profiles$", json_response(200, []))
    fake.on("GET", r"/reporting/reports/abc$", json_response(200, {}))
    http = make_http(fake, api="ads")
    http.request("listProfiles", "GET", "/v2/profiles")
    http.request("getAsyncReport", "GET", "/reporting/reports/abc", profile_id=3_456_789_012_345_678_901)
    profiles, report = fake.requests
    for r in (profiles, report):
        assert r.headers["amazon-advertising-api-clientid"] == "amzn1.application-oa2-client.unit"
        assert r.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert "x-amz-access-token" not in r.headers
    assert "amazon-advertising-api-scope" not in profiles.headers
    assert report.headers["amazon-advertising-api-scope"] == "3456789012345678901"


def test_401_refreshes_the_token_once_then_retries():
    fake = FakeAmazon()
    fake.on(
        "GET",
        r"/x$",
        json_response(403, {"errors": [{"code": "Unauthorized", "message": "Access denied"}]}),
        json_response(200, {"ok": 1}),
    )
    tokens = FakeTokens()
    http = make_http(fake, tokens=tokens)
    assert http.request("getReport", "GET", "/x").json() == {"ok": 1}
    assert tokens.invalidated == 1


def test_persistent_403_fails_after_one_refresh():
    fake = FakeAmazon()
    fake.on(
        "GET",
        r"/x$",
        json_response(
            403, {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}
        ),
    )
    tokens = FakeTokens()
    http = make_http(fake, tokens=tokens)
    with pytest.raises(AmazonApiError) as info:
        http.request("getReport", "GET", "/x")
    assert len(fake.requests) == 2
    assert info.value.status_code == 403
    assert "authorization" in str(info.value).lower()


def test_rate_limit_header_is_passed_to_the_limiter():
    class SpyLimiter:
        def __init__(self):
            self.acquired: list[tuple[str, float, int]] = []
            self.observed: list[tuple[str, float]] = []

        def acquire(self, bucket, rate, burst):
            self.acquired.append((bucket, rate, burst))

        def observe_limit(self, bucket, rate):
            self.observed.append((bucket, rate))

    fake = FakeAmazon()
    fake.on(
        "POST", r"/x$", json_response(202, {"reportId": "1"}, headers={"x-amzn-RateLimit-Limit": "10.02"})
    )
    spy = SpyLimiter()
    http = make_http(fake, limiter=spy)
    http.request("createReport", "POST", "/x", json_body={})
    http.request("createReport", "POST", "/x", json_body={})
    assert spy.acquired == [("sp:eu:createReport", 0.0167, 15)] * 2
    assert spy.observed == [("sp:eu:createReport", 10.02)]  # only when it changes


def test_every_call_is_logged_with_request_id_and_never_the_token(caplog):
    fake = FakeAmazon()
    fake.on(
        "GET", r"/x", json_response(500, {}, request_id="rid-a"), json_response(200, {}, request_id="rid-b")
    )
    caplog.set_level(logging.DEBUG)
    make_http(fake).request("getReport", "GET", "/x", params={"marketplaceIds": "A1"})
    text = caplog.text
    assert (
        "getReport" in text and "rid-a" in text and "rid-b" in text and "-> 500" in text and "-> 200" in text
    )
    assert ACCESS_TOKEN not in text
    assert "Atza|" not in text


def test_ids_are_parsed_as_int_and_amounts_as_decimal():
    body = b'{"profileId": 3456789012345678901, "amount": 12.34}'
    parsed = parse_json(body)
    assert parsed["profileId"] == 3456789012345678901 and isinstance(parsed["profileId"], int)
    assert str(parsed["amount"]) == "12.34"


def test_retry_after_parsing():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=lambda: now) == 30.0
    )


def test_download_streams_raw_bytes_without_auth_and_without_logging_the_query(tmp_path, caplog):
    payload = gzip.compress(b'{"rows": [1, 2, 3]}' * 1000)
    fake = FakeAmazon()
    fake.on(
        "GET",
        r"^https://tortuga",
        httpx.Response(200, content=payload, headers={"Content-Type": "application/octet-stream"}),
    )
    caplog.set_level(logging.DEBUG)
    http = make_http(fake)
    url = f"{S3_BASE}/doc/abc.gz?X-Amz-Signature=SECRETSIG&X-Amz-Credential=AKIAXXX"
    # httpx's own request log line also goes through the redaction filter
    with httpx.Client(transport=fake.transport()) as plain:
        plain.get(url)
    result = http.download("downloadReportDocument", url, tmp_path / "sub" / "abc.gz")
    assert result.path.read_bytes() == payload
    assert result.size == len(payload)
    assert not (tmp_path / "sub" / "abc.gz.part").exists()
    request = fake.requests[-1]
    assert "x-amz-access-token" not in request.headers and "authorization" not in request.headers
    assert "SECRETSIG" not in caplog.text and "AKIAXXX" not in caplog.text
    assert "/doc/abc.gz" in caplog.text


def test_download_403_raises_document_expired(tmp_path):
    fake = FakeAmazon()
    fake.on(
        "GET", r"^https://tortuga", httpx.Response(403, content=b"<Error><Code>AccessDenied</Code></Error>")
    )
    http = make_http(fake)
    with pytest.raises(DocumentExpiredError) as info:
        http.download("downloadReportDocument", f"{S3_BASE}/d?X-Amz-Signature=S", tmp_path / "d.gz")
    assert "X-Amz-Signature" not in str(info.value)
    assert not (tmp_path / "d.gz").exists()
    assert len(fake.requests) == 1


def test_download_retries_a_connection_drop(tmp_path):
    payload = b"\x1f\x8b" + b"x" * 5000
    fake = FakeAmazon()
    fake.on(
        "GET",
        r"^https://tortuga",
        httpx.Response(503, content=b""),
        httpx.Response(200, content=payload),
    )
    http = make_http(fake)
    result = http.download("downloadReportDocument", f"{S3_BASE}/d", tmp_path / "d.gz")
    assert result.path.read_bytes() == payload
    assert len(fake.requests) == 2


def test_strip_url_query():
    assert strip_url_query("https://h.example/a/b.gz?X-Amz-Signature=1#f") == "https://h.example/a/b.gz"


def test_a_429_without_rate_header_halves_the_bucket_until_a_header_says_otherwise():
    limiter = InMemoryRateLimiter(clock=lambda: 0.0, sleep=lambda s: None)
    observed: list[tuple[str, float]] = []
    real_observe = limiter.observe_limit
    limiter.observe_limit = lambda bucket, rate: (observed.append((bucket, rate)), real_observe(bucket, rate))
    fake = FakeAmazon()
    fake.on(
        "POST",
        r"/x$",
        json_response(429, QUOTA),
        json_response(429, QUOTA),
        json_response(202, {"reportId": "1"}),
        json_response(202, {"reportId": "2"}, headers={"x-amzn-RateLimit-Limit": "0.0167"}),
    )
    http = make_http(fake, limiter=limiter, sleep=SleepRecorder())
    assert http.request("createReport", "POST", "/x", json_body={}).status_code == 202
    # two 429s: the model's 0.0167/s halved twice; never below an eighth of it
    assert observed == [("sp:eu:createReport", 0.0167 / 2), ("sp:eu:createReport", 0.0167 / 4)]
    http.request("createReport", "POST", "/x", json_body={})
    assert observed[-1] == ("sp:eu:createReport", 0.0167)  # Amazon's header restores the rate
