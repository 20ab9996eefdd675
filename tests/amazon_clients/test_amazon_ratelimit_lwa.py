"""Token buckets (injected clock), LWA token cache / thread safety / redaction, endpoints, credentials."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
from amazon_fakes import FakeAmazon, SleepRecorder, json_response

from chalkola_pipelines.amazon.credentials import (
    LwaCredentials,
    ads_credentials_from_env,
    sp_credentials_from_env,
)
from chalkola_pipelines.amazon.endpoints import ENDPOINT_SETTINGS, AmazonEndpoints
from chalkola_pipelines.amazon.errors import AmazonAuthError
from chalkola_pipelines.amazon.lwa import LwaTokenProvider, clear_token_cache
from chalkola_pipelines.amazon.retries import RetryPolicy
from chalkola_pipelines.amazon.token_buckets import InMemoryRateLimiter, RateLimiter

SECRET = "amzn1.oa2-cs.v1.SUPER-SECRET-CLIENT-SECRET"
REFRESH = "Atzr|IwEBIREFRESH-TOKEN-THAT-MUST-NEVER-LEAK"
ACCESS = "Atza|IwEBIACCESS-TOKEN-THAT-MUST-NEVER-LEAK"
LWA_URL = "https://api.amazon.co.uk/auth/o2/token"


# ---------------------------------------------------------------- rate limiter


def test_bucket_allows_burst_then_paces_at_rate():
    clock = SleepRecorder()
    limiter = InMemoryRateLimiter(clock=clock.clock, sleep=clock)
    assert isinstance(limiter, RateLimiter)
    for _ in range(3):
        limiter.acquire("sp:eu:createReport", 0.5, 3)
    assert clock.sleeps == []
    limiter.acquire("sp:eu:createReport", 0.5, 3)
    limiter.acquire("sp:eu:createReport", 0.5, 3)
    assert clock.sleeps == pytest.approx([2.0, 2.0])


def test_bucket_refills_over_time_up_to_burst():
    clock = SleepRecorder()
    limiter = InMemoryRateLimiter(clock=clock.clock, sleep=clock)
    for _ in range(2):
        limiter.acquire("b", 1.0, 2)
    clock.now += 100.0  # long idle: refills to burst (2), not 100
    for _ in range(2):
        limiter.acquire("b", 1.0, 2)
    assert clock.sleeps == []
    limiter.acquire("b", 1.0, 2)
    assert clock.sleeps == pytest.approx([1.0])


def test_observed_limit_overrides_the_official_rate():
    clock = SleepRecorder()
    limiter = InMemoryRateLimiter(clock=clock.clock, sleep=clock)
    limiter.acquire("sp:eu:createReport", 0.0167, 1)
    limiter.observe_limit("sp:eu:createReport", 10.0)
    limiter.acquire("sp:eu:createReport", 0.0167, 1)
    assert clock.sleeps == pytest.approx([0.1])


def test_buckets_are_independent():
    clock = SleepRecorder()
    limiter = InMemoryRateLimiter(clock=clock.clock, sleep=clock)
    limiter.acquire("sp:eu:getReport", 1.0, 1)
    limiter.acquire("sp:na:getReport", 1.0, 1)
    assert clock.sleeps == []


def test_concurrent_acquirers_get_distinct_slots():
    lock = threading.Lock()
    clock = SleepRecorder()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    limiter = InMemoryRateLimiter(clock=clock.clock, sleep=sleep)
    threads = [threading.Thread(target=limiter.acquire, args=("b", 2.0, 2)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 2 immediate, then 4 reserved slots 0.5 s apart (time frozen): 0.5, 1.0, 1.5, 2.0
    assert sorted(waits) == pytest.approx([0.5, 1.0, 1.5, 2.0])


# ---------------------------------------------------------------- LWA


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_token_cache()
    yield
    clear_token_cache()


def _creds() -> LwaCredentials:
    return LwaCredentials("amzn1.application-oa2-client.abc", SECRET, REFRESH)


def _provider(fake: FakeAmazon, clock: SleepRecorder | None = None, **kw) -> LwaTokenProvider:
    clock = clock or SleepRecorder()
    return LwaTokenProvider(
        _creds(),
        LWA_URL,
        label="Ads API EU refresh token",
        client=httpx.Client(transport=fake.transport()),
        sleep=clock,
        clock=clock.clock,
        **kw,
    )


def test_token_request_form_and_cache_until_expiry_minus_60s():
    fake = FakeAmazon()
    fake.on(
        "POST",
        r"/auth/o2/token$",
        json_response(200, {"access_token": ACCESS, "token_type": "bearer", "expires_in": 3600}),
        json_response(200, {"access_token": ACCESS + "2", "token_type": "bearer", "expires_in": 3600}),
    )
    clock = SleepRecorder()
    provider = _provider(fake, clock)
    assert provider.access_token() == ACCESS
    form = dict(httpx.QueryParams(fake.requests[0].content.decode()))
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": "amzn1.application-oa2-client.abc",
        "client_secret": SECRET,
    }
    clock.now += 3600 - 61
    assert provider.access_token() == ACCESS
    # a second provider for the same credentials shares the cache
    assert _provider(fake, clock).access_token() == ACCESS
    assert len(fake.requests) == 1
    clock.now += 2  # now within 60 s of expiry
    assert provider.access_token() == ACCESS + "2"
    assert len(fake.requests) == 2


def test_invalidate_forces_a_new_token():
    fake = FakeAmazon()
    fake.on("POST", r"/auth/o2/token$", json_response(200, {"access_token": ACCESS, "expires_in": 3600}))
    provider = _provider(fake)
    provider.access_token()
    provider.invalidate()
    provider.access_token()
    assert len(fake.requests) == 2


def test_cache_is_per_refresh_token():
    fake = FakeAmazon()
    fake.on("POST", r"/auth/o2/token$", json_response(200, {"access_token": ACCESS, "expires_in": 3600}))
    clock = SleepRecorder()
    a = _provider(fake, clock)
    b = LwaTokenProvider(
        LwaCredentials("amzn1.application-oa2-client.abc", SECRET, "Atzr|other"),
        LWA_URL,
        client=httpx.Client(transport=fake.transport()),
        clock=clock.clock,
    )
    a.access_token()
    b.access_token()
    assert len(fake.requests) == 2


def test_concurrent_callers_trigger_one_token_request():
    fake = FakeAmazon()
    calls = {"n": 0}

    def slow_token(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        time.sleep(0.05)
        return json_response(200, {"access_token": ACCESS, "expires_in": 3600})

    fake.on("POST", r"/auth/o2/token$", slow_token)
    provider = LwaTokenProvider(_creds(), LWA_URL, client=httpx.Client(transport=fake.transport()))
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(provider.access_token())) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [ACCESS] * 12
    assert calls["n"] == 1


@pytest.mark.parametrize(
    ("error", "expected"),
    [("invalid_grant", "refresh token"), ("invalid_client", "client id and client secret")],
)
def test_lwa_refusal_is_a_clear_auth_error_without_secrets(error, expected, caplog):
    fake = FakeAmazon()
    fake.on(
        "POST",
        r"/auth/o2/token$",
        json_response(
            400,
            # a hostile server echoing the secrets must not make them leak either
            {
                "error": error,
                "error_description": f"The request has an invalid parameter: {REFRESH} {SECRET}",
            },
        ),
    )
    caplog.set_level(logging.DEBUG)
    provider = _provider(fake)
    with pytest.raises(AmazonAuthError) as info:
        provider.access_token()
    message = str(info.value)
    assert "Ads API EU refresh token" in message
    assert error in message and expected in message
    for secret in (SECRET, REFRESH):
        assert secret not in message
        assert secret not in caplog.text
        assert secret not in repr(provider)
        assert secret not in repr(info.value)
    assert len(fake.requests) == 1  # not retried


def test_lwa_5xx_is_retried():
    fake = FakeAmazon()
    fake.on(
        "POST",
        r"/auth/o2/token$",
        json_response(503, {}),
        json_response(200, {"access_token": ACCESS, "expires_in": 3600}),
    )
    assert _provider(fake).access_token() == ACCESS


def test_lwa_down_for_good_is_an_auth_error():
    fake = FakeAmazon()
    fake.on("POST", r"/auth/o2/token$", json_response(500, {}))
    with pytest.raises(AmazonAuthError) as info:
        _provider(fake, retry=RetryPolicy(max_attempts=2)).access_token()
    assert "Ads API EU refresh token" in str(info.value)


def test_access_token_never_logged(caplog):
    fake = FakeAmazon()
    fake.on("POST", r"/auth/o2/token$", json_response(200, {"access_token": ACCESS, "expires_in": 3600}))
    caplog.set_level(logging.DEBUG)
    _provider(fake).access_token()
    assert ACCESS not in caplog.text and REFRESH not in caplog.text and SECRET not in caplog.text


def test_credentials_repr_is_redacted():
    creds = _creds()
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text and REFRESH not in text
        assert "***" in text
    assert creds.client_id in repr(creds)


# ---------------------------------------------------------------- endpoints & env


def test_production_endpoints():
    ep = AmazonEndpoints.production()
    assert ep.sp_lwa_token_url == "https://api.amazon.com/auth/o2/token"
    assert ep.ads_lwa_token_urls == {
        "na": "https://api.amazon.com/auth/o2/token",
        "eu": "https://api.amazon.co.uk/auth/o2/token",
        "fe": "https://api.amazon.co.jp/auth/o2/token",
    }
    assert ep.sp_api_base_urls["eu"] == "https://sellingpartnerapi-eu.amazon.com"
    assert ep.ads_api_base_urls["na"] == "https://advertising-api.amazon.com"
    assert ep.ads_api_base_urls["fe"] == "https://advertising-api-fe.amazon.com"
    assert not ep.is_simulator


def test_simulator_layout_and_env():
    ep = AmazonEndpoints.from_env({"CHALKOLA_AMAZON_SIMULATOR": "http://127.0.0.1:9999/"})
    assert ep.sp_lwa_token_url == "http://127.0.0.1:9999/lwa/na/auth/o2/token"
    assert ep.ads_lwa_token_urls["eu"] == "http://127.0.0.1:9999/lwa/eu/auth/o2/token"
    assert ep.sp_api_base_urls["fe"] == "http://127.0.0.1:9999/sp/fe"
    assert ep.ads_api_base_urls["eu"] == "http://127.0.0.1:9999/ads/eu"
    assert ep.is_simulator
    assert AmazonEndpoints.from_env({}) == AmazonEndpoints.production()


def test_individual_overrides():
    ep = AmazonEndpoints.from_env(
        {
            "CHALKOLA_SP_API_URL_EU": "https://proxy.example/sp-eu/",
            "CHALKOLA_ADS_LWA_TOKEN_URL_FE": "https://x/t",
        }
    )
    assert ep.sp_api_base_urls["eu"] == "https://proxy.example/sp-eu"
    assert ep.sp_api_base_urls["na"] == "https://sellingpartnerapi-na.amazon.com"
    assert ep.ads_lwa_token_urls["fe"] == "https://x/t"


def test_settings_are_the_environment_variables_by_another_name():
    env = {
        "CHALKOLA_AMAZON_SIMULATOR": " http://127.0.0.1:9999/ ",
        "CHALKOLA_SP_LWA_TOKEN_URL": "https://lwa.example/t/",
        "CHALKOLA_ADS_API_URL_NA": "https://ads.example/na",
        "CHALKOLA_SP_API_URL_FE": "   ",  # blank = not set
    }
    settings = {name: env.get(var) for name, var in ENDPOINT_SETTINGS.items()}
    ep = AmazonEndpoints.from_settings(settings)
    assert ep == AmazonEndpoints.from_env(env)
    assert ep.sp_lwa_token_url == "https://lwa.example/t"
    assert ep.ads_api_base_urls["na"] == "https://ads.example/na"
    assert ep.sp_api_base_urls["fe"] == "http://127.0.0.1:9999/sp/fe"
    assert AmazonEndpoints.from_settings({}) == AmazonEndpoints.production()
    with pytest.raises(ValueError, match="unknown endpoint setting"):
        AmazonEndpoints.from_settings({"sp_api_url_xx": "https://x"})


def test_credentials_from_env():
    env = {
        "SP_LWA_CLIENT_ID": "sp-id",
        "SP_LWA_CLIENT_SECRET": SECRET,
        "SP_REFRESH_TOKEN_EU": REFRESH,
        "ADS_CLIENT_ID": "ads-id",
        "ADS_CLIENT_SECRET": SECRET,
    }
    creds = sp_credentials_from_env("eu", env)
    assert (creds.client_id, creds.refresh_token) == ("sp-id", REFRESH)
    with pytest.raises(AmazonAuthError, match="SP_REFRESH_TOKEN_NA"):
        sp_credentials_from_env("na", env)
    with pytest.raises(AmazonAuthError, match="ADS_REFRESH_TOKEN_FE"):
        ads_credentials_from_env("fe", env)
