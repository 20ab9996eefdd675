"""GET_SALES_AND_TRAFFIC_REPORT createReport is metered per seller (amazon-facts §8.1): a bucket of 4, one
token per 15 simulated minutes, 96 per simulated UTC day, shared by the NA, EU and FE endpoints."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from simulator_helpers import ORDERS, ST, US, lwa_token, st_window, today
from simulator_models import assert_sp_response

from chalkola_pipelines.amazon.usage_plans import SellerQuota, seller_quota, usage_plan
from chalkola_pipelines.simulator.clock import SimulatedClock
from chalkola_pipelines.simulator.throttling import SellerMeters

UK = "A1F83G8C2ARO7P"
THROTTLED = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.",
                         "details": ""}]}  # fmt: skip


def test_one_table_for_simulator_and_client() -> None:
    assert seller_quota("createReport", ST) == SellerQuota(burst=4, refill_seconds=900.0, daily_cap=96)
    assert seller_quota("createReport", ORDERS) is None
    assert usage_plan("sp", "createReport") == (0.0167, 15)
    assert usage_plan("sp", "createQuery") == (0.0167, 15)
    assert usage_plan("sp", "getQuery") == (2.0, 15)
    assert usage_plan("sp", "getQueries") == usage_plan("sp", "cancelQuery") == (0.0222, 10)
    assert usage_plan("sp", "getDocument") == (0.0167, 15)


@pytest.fixture(scope="module")
def quota_sim():
    from chalkola_pipelines.simulator.server import run_in_thread

    running = run_in_thread(seed=7, time_scale=1.0)
    yield running
    running.stop()


def _client(running, region: str) -> httpx.Client:
    token = lwa_token(running.base_url, "sp", region)
    return httpx.Client(base_url=f"{running.base_url}/sp/{region}", headers={"x-amz-access-token": token},
                        timeout=30)  # fmt: skip


def _body(report_type: str, marketplace: str) -> dict:
    start, end = st_window(today() - dt.timedelta(days=2))
    return {
        "reportType": report_type,
        "marketplaceIds": [marketplace],
        "dataStartTime": start,
        "dataEndTime": end,
    }


def test_sales_and_traffic_429_after_four_shared_by_regions(quota_sim) -> None:
    quota_sim.state.meters.reset()
    quota_sim.state.buckets.reset()
    with _client(quota_sim, "na") as na, _client(quota_sim, "eu") as eu:
        codes = [na.post("/reports/2021-06-30/reports", json=_body(ST, US)).status_code for _ in range(3)]
        codes.append(eu.post("/reports/2021-06-30/reports", json=_body(ST, UK)).status_code)
        assert codes == [202] * 4
        for client, marketplace in ((na, US), (eu, UK)):
            throttled = client.post("/reports/2021-06-30/reports", json=_body(ST, marketplace))
            assert throttled.status_code == 429 and throttled.json() == THROTTLED
            assert_sp_response("reports", "createReport", throttled)  # same headers as the other 429s
        # other report types keep the model's plan (burst 15)
        assert na.post("/reports/2021-06-30/reports", json=_body(ORDERS, US)).status_code == 202
        status = httpx.get(f"{quota_sim.base_url}/_simulator/quotas").json()["salesAndTraffic"]
        assert status["usedToday"] == 4 and status["tokens"] < 1
        quota_sim.state.clock.advance(900)  # one token per 15 minutes
        assert na.post("/reports/2021-06-30/reports", json=_body(ST, US)).status_code == 202
        assert na.post("/reports/2021-06-30/reports", json=_body(ST, US)).status_code == 429


def test_initial_bucket_option_and_control_route(quota_sim) -> None:
    control = f"{quota_sim.base_url}/_simulator/quotas"
    assert httpx.post(control, json={"salesAndTrafficTokens": 0}).json()["salesAndTraffic"]["tokens"] == 0
    with _client(quota_sim, "na") as na:
        assert na.post("/reports/2021-06-30/reports", json=_body(ST, US)).status_code == 429
    assert httpx.delete(control).json()["salesAndTraffic"]["tokens"] == 4


def test_daily_cap_of_96_per_simulated_utc_day() -> None:
    clock = SimulatedClock(1.0)
    meters = SellerMeters(clock)
    quota = SellerQuota(burst=4, refill_seconds=900.0, daily_cap=96)
    epoch0 = clock.now().timestamp() - clock.elapsed()
    to_midnight = 86400 - (epoch0 + clock.elapsed()) % 86400
    clock.advance(to_midnight + 1)  # start of a simulated UTC day
    allowed = 0
    for _ in range(200):  # one request every 15 minutes plus the initial burst: the cap binds first
        while meters.take(("s",), quota).allowed:
            allowed += 1
        clock.advance(900)
        if allowed >= 96:
            break
    assert allowed == 96
    decision = meters.take(("s",), quota)
    assert not decision.allowed and decision.retry_after_simulated > 900  # until simulated midnight
    clock.advance(decision.retry_after_simulated + 1)
    assert meters.take(("s",), quota).allowed  # a new day
    assert meters.take(("other-seller",), quota).allowed
