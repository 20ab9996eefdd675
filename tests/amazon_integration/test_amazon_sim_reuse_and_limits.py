"""Against dedicated simulators: in-flight reuse (getReports, Ads 425) on a real-time simulator, and
client-side pacing (no 429) versus a naive client (429s) on a fresh time-scaled one."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from amazon_sim_clients import (
    StatusRecorder,
    ads_client,
    environment,
    order_spec,
    reports_client,
    sp_http,
    st_spec,
    utc_today,
)

from chalkola_pipelines.amazon.sp_reports import REPORTS_PATH
from chalkola_pipelines.marketplaces import get_marketplace

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def realtime_simulator():
    """time_scale 1: reports stay IN_QUEUE/IN_PROGRESS for 20-90 real seconds unless the clock is advanced."""
    from chalkola_pipelines.simulator.server import run_in_thread

    sim = run_in_thread(seed=7, time_scale=1.0)
    yield sim
    sim.stop()


def test_in_flight_report_with_identical_parameters_is_reused(realtime_simulator, tmp_path):
    spec = st_spec(20)
    created = reports_client(realtime_simulator).create_report(spec)
    recorder = StatusRecorder()
    client = reports_client(realtime_simulator, recorder=recorder)
    assert client.find_in_flight(spec) == created
    # the fetch reuses it; before polling, move the simulated clock past the processing time
    result = client.fetch(
        spec, tmp_path / "r.gz", on_report_id=lambda rid, status: realtime_simulator.state.clock.advance(300)
    )
    assert result.status == "DONE" and result.report_id == created
    assert [s for m, _, s in recorder.seen if m == "POST"] == []  # no second createReport


def test_in_flight_report_for_another_window_is_not_reused(realtime_simulator):
    client = reports_client(realtime_simulator)
    client.create_report(st_spec(21))
    assert client.find_in_flight(st_spec(22)) is None


def test_ads_425_duplicate_reuses_the_report_in_flight(realtime_simulator, tmp_path):
    profile_id = realtime_simulator.state.truth.profile_id("US")
    client = ads_client(realtime_simulator)
    start = utc_today() - timedelta(days=12)
    end = start + timedelta(days=2)
    first = client.create_report(profile_id, start, end)
    recorder = StatusRecorder()
    again = ads_client(realtime_simulator, recorder=recorder)
    assert again.create_report(profile_id, start, end) == first
    assert recorder.statuses("/reporting/reports") == [425]
    results = again.fetch_sp_advertised_product(
        profile_id,
        start,
        end,
        lambda rid: tmp_path / f"{rid}.json.gz",
        on_report_id=lambda s, e, rid, st: realtime_simulator.state.clock.advance(600),
    )
    assert [r.report_id for r in results] == [first]


# ---------------------------------------------------------------- rate limits


@pytest.fixture
def fresh_simulator():
    from chalkola_pipelines.simulator.server import run_in_thread

    sim = run_in_thread(seed=7, time_scale=600.0)
    yield sim
    sim.stop()


def test_our_client_paces_a_burst_of_create_report_without_429(fresh_simulator):
    recorder = StatusRecorder()
    client = reports_client(fresh_simulator, recorder=recorder)
    ids = [client.create_report(order_spec(30 + i % 5)) for i in range(22)]
    assert len(set(ids)) == 22
    statuses = recorder.statuses(REPORTS_PATH)
    assert statuses == [202] * 22, f"our client provoked throttling: {statuses}"


def test_our_client_paces_sales_and_traffic_reports_to_the_per_seller_meter(fresh_simulator):
    """amazon-facts §8.1: 4 at once, then one per 15 minutes, shared by the regions — 0 × 429 from us."""
    recorder = StatusRecorder()
    na = reports_client(fresh_simulator, recorder=recorder)
    eu = reports_client(fresh_simulator, recorder=recorder, region="eu")
    eu.http.rate_limiter = na.http.rate_limiter  # one limiter for the seller, as the Postgres one is
    started = fresh_simulator.state.clock.elapsed()
    uk = get_marketplace("UK").marketplace_id
    ids = [
        na.create_report(st_spec(30 + i)) if i % 2 else eu.create_report(st_spec(30 + i, uk))
        for i in range(7)
    ]
    assert len(set(ids)) == 7
    assert recorder.statuses(REPORTS_PATH) == [202] * 7
    simulated = fresh_simulator.state.clock.elapsed() - started
    assert simulated >= 3 * 900 * 0.9  # the 3 after the burst of 4 waited for the 15-minute refill


def _naive_creates(simulator, body: dict, n: int) -> list[int]:
    env = environment(simulator)
    base = env["CHALKOLA_AMAZON_SIMULATOR"]
    with httpx.Client(timeout=30) as plain:
        token = plain.post(
            f"{base}/lwa/na/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": env["SP_REFRESH_TOKEN_NA"],
                "client_id": env["SP_LWA_CLIENT_ID"],
                "client_secret": env["SP_LWA_CLIENT_SECRET"],
            },
        ).json()["access_token"]

        def create(_: int) -> int:
            return plain.post(
                f"{base}/sp/na{REPORTS_PATH}", json=body, headers={"x-amz-access-token": token}
            ).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(create, range(n)))


def test_a_naive_client_gets_429_from_the_same_simulator(fresh_simulator):
    statuses = _naive_creates(fresh_simulator, order_spec(31).create_body(), 40)
    assert statuses.count(429) > 0, statuses
    assert statuses.count(202) >= 15  # the burst went through


def test_a_naive_client_gets_four_sales_and_traffic_reports_then_429(fresh_simulator):
    statuses = _naive_creates(fresh_simulator, st_spec(31).create_body(), 10)
    assert statuses.count(202) == 4 and statuses.count(429) == 6, statuses


def test_rate_limit_header_is_learnt(fresh_simulator):
    http = sp_http(fresh_simulator)
    http.request("getReports", "GET", REPORTS_PATH, params={"reportTypes": "GET_SALES_AND_TRAFFIC_REPORT"})
    learnt = http._observed_rates[http.bucket("getReports")]
    assert learnt == pytest.approx(0.0222 * 600, rel=0.01)
