"""CHALKOLA_HTTP_READ_TIMEOUT_SECONDS: the Amazon clients' read timeout is a setting; an answer slower than it
(the simulator's ``slow`` fault, real HTTP) is retried like a dropped connection and the call succeeds."""

from __future__ import annotations

import time

import pytest
from amazon_sim_clients import FAST_RETRY, environment

from chalkola_pipelines.amazon.client_factories import sp_http_client
from chalkola_pipelines.amazon.credentials import sp_credentials_from_env
from chalkola_pipelines.amazon.endpoints import AmazonEndpoints

pytestmark = pytest.mark.integration


def test_a_response_slower_than_the_read_timeout_is_retried(simulator, clean_faults) -> None:
    env = {**environment(simulator), "CHALKOLA_HTTP_READ_TIMEOUT_SECONDS": "0.5"}
    endpoints = AmazonEndpoints.from_env(env)
    assert endpoints.read_timeout_seconds == 0.5
    http = sp_http_client("na", sp_credentials_from_env("na", env), endpoints=endpoints, retry=FAST_RETRY)
    try:
        assert http._client.timeout.read == 0.5
        clean_faults.add("getReports", "slow", count=1, delay=2.0)
        started = time.monotonic()
        response = http.request(
            "getReports",
            "GET",
            "/reports/2021-06-30/reports",
            params={"reportTypes": "GET_SALES_AND_TRAFFIC_REPORT"},
        )
        assert response.status_code == 200
        assert clean_faults.pending() == []  # the slow answer was consumed, the retry answered
        assert time.monotonic() - started < 2.0  # the client did not wait for the slow answer
    finally:
        http.close()


def test_the_read_timeout_setting_defaults_to_60_s_and_rejects_nonsense() -> None:
    assert AmazonEndpoints.from_env({}).read_timeout_seconds == 60.0
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ValueError, match="http_read_timeout_seconds"):
            AmazonEndpoints.from_env({"CHALKOLA_HTTP_READ_TIMEOUT_SECONDS": bad})
