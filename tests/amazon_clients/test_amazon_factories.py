"""sp_http_client / ads_http_client wiring: the right LWA host per API and region, headers, pacing."""

from __future__ import annotations

import httpx
import pytest
from amazon_fakes import FakeAmazon, SleepRecorder, json_response

from chalkola_pipelines.amazon.client_factories import ads_http_client, sp_http_client
from chalkola_pipelines.amazon.credentials import LwaCredentials
from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
from chalkola_pipelines.amazon.lwa import clear_token_cache
from chalkola_pipelines.amazon.token_buckets import InMemoryRateLimiter
from chalkola_pipelines.amazon.transport import AmazonHttpClient


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_token_cache()
    yield
    clear_token_cache()


def _fake() -> FakeAmazon:
    fake = FakeAmazon()
    fake.on("POST", r"/auth/o2/token$", json_response(200, {"access_token": "Atza|tok", "expires_in": 3600}))
    fake.on("GET", r".", json_response(200, []))
    return fake


def test_sp_client_uses_the_na_lwa_host_for_every_region():
    fake = _fake()
    creds = LwaCredentials("sp-client", "sp-secret", "Atzr|sp-fe")
    http = sp_http_client(
        "fe", creds, endpoints=AmazonEndpoints.production(), client=httpx.Client(transport=fake.transport())
    )
    http.request("getReports", "GET", "/reports/2021-06-30/reports")
    token_call, api_call = fake.requests
    assert str(token_call.url) == "https://api.amazon.com/auth/o2/token"
    assert str(api_call.url) == "https://sellingpartnerapi-fe.amazon.com/reports/2021-06-30/reports"
    assert api_call.headers["x-amz-access-token"] == "Atza|tok"
    assert "SP-API FE refresh token" in repr(http.tokens)


@pytest.mark.parametrize(
    ("region", "lwa", "api"),
    [
        ("na", "https://api.amazon.com/auth/o2/token", "https://advertising-api.amazon.com/v2/profiles"),
        ("eu", "https://api.amazon.co.uk/auth/o2/token", "https://advertising-api-eu.amazon.com/v2/profiles"),
        ("fe", "https://api.amazon.co.jp/auth/o2/token", "https://advertising-api-fe.amazon.com/v2/profiles"),
    ],
)
def test_ads_client_uses_the_regional_lwa_host(region, lwa, api):
    fake = _fake()
    creds = LwaCredentials("ads-client", "ads-secret", f"Atzr|ads-{region}")
    http = ads_http_client(
        region, creds, endpoints=AmazonEndpoints.production(), client=httpx.Client(transport=fake.transport())
    )
    http.request("listProfiles", "GET", "/v2/profiles")
    token_call, api_call = fake.requests
    assert str(token_call.url) == lwa
    assert str(api_call.url) == api
    assert api_call.headers["amazon-advertising-api-clientid"] == "ads-client"


def test_simulator_layout_via_env():
    fake = _fake()
    endpoints = AmazonEndpoints.from_env({"CHALKOLA_AMAZON_SIMULATOR": "http://127.0.0.1:1234"})
    creds = LwaCredentials("ads-client", "ads-secret", "Atzr|x")
    http = ads_http_client("eu", creds, endpoints=endpoints, client=httpx.Client(transport=fake.transport()))
    http.request("listProfiles", "GET", "/v2/profiles")
    assert [str(r.url) for r in fake.requests] == [
        "http://127.0.0.1:1234/lwa/eu/auth/o2/token",
        "http://127.0.0.1:1234/ads/eu/v2/profiles",
    ]


def test_client_paces_itself_with_the_learnt_rate():
    fake = FakeAmazon()
    fake.on("POST", r"/x$", json_response(202, {"reportId": "1"}, headers={"x-amzn-RateLimit-Limit": "4"}))
    clock = SleepRecorder()

    class Tokens:
        def access_token(self):
            return "t"

        def invalidate(self):
            pass

    http = AmazonHttpClient(
        api="sp",
        region="na",
        base_url="https://sp.example",
        tokens=Tokens(),
        rate_limiter=InMemoryRateLimiter(clock=clock.clock, sleep=clock),
        client=httpx.Client(transport=fake.transport()),
        sleep=clock,
        clock=clock.clock,
    )
    for _ in range(18):
        http.request("createReport", "POST", "/x", json_body={})
    # burst 15 immediately, then 1/4 s apart (learnt rate), not 60 s (official rate)
    assert clock.sleeps == pytest.approx([0.25, 0.25, 0.25])


def test_refused_refresh_token_names_the_environment_variable_not_its_value():
    from chalkola_pipelines.amazon.errors import AmazonAuthError

    fake = FakeAmazon()
    fake.on(
        "POST", r"/auth/o2/token$", json_response(400, {"error": "invalid_grant", "error_description": "bad"})
    )
    creds = LwaCredentials("sp-client", "sp-secret-value", "Atzr|sp-eu-secret-value")
    http = sp_http_client(
        "eu", creds, endpoints=AmazonEndpoints.production(), client=httpx.Client(transport=fake.transport())
    )
    with pytest.raises(AmazonAuthError) as info:
        http.request("getReports", "GET", "/reports/2021-06-30/reports")
    message = str(info.value)
    assert "SP-API EU refresh token" in message and "SP_REFRESH_TOKEN_EU" in message
    assert "secret-value" not in message
    assert len(fake.requests) == 1  # the API was never called without a token
