"""Simulator behaviour observed with raw httpx: rate limits, life-cycles, Amazon's rules, every fault kind."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
import zlib

import httpx
import pytest
from simulator_helpers import (
    ADS_CT,
    CA,
    ORDERS,
    ST,
    US,
    ads_request,
    call,
    create_report,
    download,
    gunzip_json,
    lwa_token,
    st_window,
    today,
    wait_ads,
    wait_report,
)
from simulator_models import assert_sp_response

from chalkola_pipelines.simulator.credentials import simulator_environment
from chalkola_pipelines.simulator.document_encoding import EXTRA_FIELD_NAME
from chalkola_pipelines.simulator.faults import FaultError, FaultPlan


def _sp_client(running, region: str = "na") -> httpx.Client:
    token = lwa_token(running.base_url, "sp", region)
    return httpx.Client(
        base_url=f"{running.base_url}/sp/{region}", headers={"x-amz-access-token": token}, timeout=30
    )


def _ads_client(running) -> tuple[httpx.Client, int]:
    from chalkola_pipelines.simulator.credentials import DEMO_ADS_CLIENT_ID

    token = lwa_token(running.base_url, "ads", "na")
    client = httpx.Client(
        base_url=f"{running.base_url}/ads/na",
        headers={"Authorization": f"Bearer {token}", "Amazon-Advertising-API-ClientId": DEMO_ADS_CLIENT_ID},
        timeout=30,
    )
    profiles = call(client, "GET", "/v2/profiles").json()
    profile = next(int(p["profileId"]) for p in profiles if p["accountInfo"]["marketplaceStringId"] == US)
    return client, profile


def _done_st_report(sp: httpx.Client, days_ago: int = 2) -> dict:
    report = wait_report(
        sp, create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=days_ago))).json()["reportId"]
    )
    assert report["processingStatus"] == "DONE"
    return report


# -- rate limits -------------------------------------------------------------------------------------


def test_sp_usage_plan_is_enforced_with_official_burst(slow_sim) -> None:
    # the order report: S&T createReport has a per-seller meter of 4 on top (test_simulator_st_quota.py)
    slow_sim.state.buckets.reset()
    with _sp_client(slow_sim) as sp:
        start, end = st_window(today() - dt.timedelta(days=1))
        body = {"reportType": ORDERS, "marketplaceIds": [US], "dataStartTime": start, "dataEndTime": end}
        statuses = [sp.post("/reports/2021-06-30/reports", json=body) for _ in range(16)]
        assert [r.status_code for r in statuses[:15]] == [202] * 15
        assert statuses[0].headers["x-amzn-RateLimit-Limit"] == "0.0167"  # time scale 1: the official rate
        throttled = statuses[15]
        assert throttled.status_code == 429
        assert throttled.json() == {"errors": [{"code": "QuotaExceeded",
                                                "message": "You exceeded your quota for the requested resource.",
                                                "details": ""}]}  # fmt: skip
        assert_sp_response("reports", "createReport", throttled)  # 429: x-amzn-RequestId only
        # other operations have their own buckets
        assert sp.get(f"/reports/2021-06-30/reports/{statuses[0].json()['reportId']}").status_code == 200


def test_rate_limit_header_is_scaled(sim, sp) -> None:
    r = create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=1)))
    assert float(r.headers["x-amzn-RateLimit-Limit"]) == pytest.approx(
        0.0167 * sim.state.time_scale, rel=1e-3
    )


def test_ads_rate_limit_has_retry_after(slow_sim) -> None:
    slow_sim.state.buckets.reset()
    ads, _ = _ads_client(slow_sim)  # the helper used 1 profiles call
    try:
        codes = [ads.get("/v2/profiles") for _ in range(5)]
    finally:
        ads.close()
    assert [r.status_code for r in codes[:4]] == [200] * 4
    assert codes[4].status_code == 429
    assert codes[4].json()["code"] == "429" and int(codes[4].headers["Retry-After"]) >= 1


# -- report life-cycle over simulated time -----------------------------------------------------------


def test_report_moves_through_statuses_on_simulated_time(slow_sim) -> None:
    state = slow_sim.state
    with _sp_client(slow_sim) as sp:
        state.buckets.reset()
        report_id = create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=1))).json()["reportId"]
        record = state.reports.sp_reports[report_id]
        assert 20.0 <= record.queue_seconds + record.processing_seconds <= 90.0
        seen = [sp.get(f"/reports/2021-06-30/reports/{report_id}").json()["processingStatus"]]
        state.clock.advance(record.queue_seconds + 0.5)
        seen.append(sp.get(f"/reports/2021-06-30/reports/{report_id}").json()["processingStatus"])
        state.clock.advance(record.processing_seconds + 0.5)
        final = sp.get(f"/reports/2021-06-30/reports/{report_id}").json()
        seen.append(final["processingStatus"])
        assert seen == ["IN_QUEUE", "IN_PROGRESS", "DONE"]
        assert "reportDocumentId" in final and final["processingEndTime"] >= final["processingStartTime"]


def test_cancel_report_only_in_queue(slow_sim) -> None:
    state = slow_sim.state
    with _sp_client(slow_sim) as sp:
        state.buckets.reset()
        report_id = create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=1))).json()["reportId"]
        cancelled = sp.delete(f"/reports/2021-06-30/reports/{report_id}")
        assert cancelled.status_code == 200
        assert sp.get(f"/reports/2021-06-30/reports/{report_id}").json()["processingStatus"] == "CANCELLED"
        again = sp.delete(f"/reports/2021-06-30/reports/{report_id}")
        assert again.status_code == 400 and "IN_QUEUE" in again.json()["errors"][0]["message"]


def test_document_url_expires_after_five_simulated_minutes(slow_sim) -> None:
    state = slow_sim.state
    with _sp_client(slow_sim) as sp:
        state.buckets.reset()
        report_id = create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=1))).json()["reportId"]
        state.clock.advance(91)
        report = sp.get(f"/reports/2021-06-30/reports/{report_id}").json()
        url = sp.get(f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()["url"]
        assert download(url).status_code == 200
        state.clock.advance(301)
        expired = download(url)
        assert expired.status_code == 403
        assert "<Code>AccessDenied</Code>" in expired.text and "expired" in expired.text
        tampered = download(url.replace("X-Amz-Signature=", "X-Amz-Signature=00"))
        assert tampered.status_code == 403


def test_access_token_expiry_is_refused(slow_sim) -> None:
    with _sp_client(slow_sim) as sp:
        slow_sim.state.buckets.reset()
        assert sp.get("/reports/2021-06-30/reports", params={"reportTypes": ST}).status_code == 200
        slow_sim.state.expire_access_tokens()
        r = sp.get("/reports/2021-06-30/reports", params={"reportTypes": ST})
        assert r.status_code == 403 and "expired" in r.json()["errors"][0]["message"]


def test_reports_are_retained_90_days() -> None:
    from chalkola_pipelines.simulator.server import run_in_thread

    running = run_in_thread(time_scale=1.0)
    try:
        with _sp_client(running) as sp:
            report_id = create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=1))).json()[
                "reportId"
            ]
            running.state.clock.advance(89 * 86400)
            assert sp.get(f"/reports/2021-06-30/reports/{report_id}").status_code == 200
            running.state.clock.advance(2 * 86400)
            assert sp.get(f"/reports/2021-06-30/reports/{report_id}").status_code == 404
    finally:
        running.stop()


# -- Amazon's rules ----------------------------------------------------------------------------------


def test_sales_traffic_older_than_two_years_is_cancelled(sim, sp) -> None:
    old = today() - dt.timedelta(days=800)
    report = wait_report(sp, create_report(sp, ST, [US], *st_window(old)).json()["reportId"])
    assert report["processingStatus"] == "CANCELLED" and "reportDocumentId" not in report


def test_sales_traffic_with_two_marketplaces_is_fatal(sim, sp) -> None:
    report = wait_report(
        sp, create_report(sp, ST, [US, CA], *st_window(today() - dt.timedelta(days=2))).json()["reportId"]
    )
    assert report["processingStatus"] == "FATAL"
    meta = call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()
    assert "one marketplace" in gunzip_json(download(meta["url"]).content)["errorDetails"]


def test_order_report_wider_than_30_days_is_fatal(sim, sp) -> None:
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    start = end - dt.timedelta(days=31)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    report = wait_report(
        sp, create_report(sp, ORDERS, [US], start.strftime(fmt), end.strftime(fmt)).json()["reportId"]
    )
    assert report["processingStatus"] == "FATAL"
    meta = call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()
    assert "Date range exceeded" in gunzip_json(download(meta["url"]).content)["errorDetails"]


def test_get_reports_filters_and_next_token(sim, sp) -> None:
    ids = {
        create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=d))).json()["reportId"]
        for d in (3, 4, 5)
    }
    first = call(sp, "GET", "/reports/2021-06-30/reports", params={"reportTypes": ST, "pageSize": 2})
    body = first.json()
    assert len(body["reports"]) == 2 and "nextToken" in body
    collected = [r["reportId"] for r in body["reports"]]
    while "nextToken" in body:
        body = call(sp, "GET", "/reports/2021-06-30/reports", params={"nextToken": body["nextToken"]}).json()
        collected.extend(r["reportId"] for r in body["reports"])
    assert ids <= set(collected) and len(collected) == len(set(collected))
    none = call(
        sp,
        "GET",
        "/reports/2021-06-30/reports",
        params={
            "reportTypes": ORDERS,
            "processingStatuses": "IN_QUEUE,IN_PROGRESS",
            "marketplaceIds": "A1VC38T7YXB528",
        },
    )
    assert none.json()["reports"] == []
    assert call(sp, "GET", "/reports/2021-06-30/reports").status_code == 400


def test_create_report_rejects_bad_input(sim, sp) -> None:
    start, end = st_window(today() - dt.timedelta(days=1))
    eu = create_report(sp, ST, ["A1PA6795UKMFR9"], start, end)
    assert eu.status_code == 400 and "EU" in eu.json()["errors"][0]["message"]
    unknown = create_report(sp, "GET_MERCHANT_LISTINGS_ALL_DATA", [US], start, end)
    assert unknown.status_code == 400
    reversed_window = create_report(sp, ST, [US], end, start)
    assert reversed_window.status_code == 400


# -- faults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "503", "429"])
def test_status_faults(sim, sp, faults, kind) -> None:
    faults.add("getReports", kind, count=2, retry_after=30)
    for _ in range(2):
        r = sp.get("/reports/2021-06-30/reports", params={"reportTypes": ST})
        assert r.status_code == int(kind)
        assert r.json()["errors"][0]["code"]
        if kind == "429":
            assert r.headers["Retry-After"] == "1"  # 30 simulated seconds at time scale 600
    assert call(sp, "GET", "/reports/2021-06-30/reports", params={"reportTypes": ST}).status_code == 200


def test_429_fault_without_retry_after(sim, sp, faults) -> None:
    faults.add_spec("getReports:429:1:retry_after=none")
    r = sp.get("/reports/2021-06-30/reports", params={"reportTypes": ST})
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.json()["errors"][0]["code"] == "QuotaExceeded"
    assert call(sp, "GET", "/reports/2021-06-30/reports", params={"reportTypes": ST}).status_code == 200


def test_reset_fault_drops_the_connection(sim, sp, faults) -> None:
    faults.add("getOrders", "reset")
    with pytest.raises(httpx.TransportError):
        sp.get("/orders/v0/orders", params={"MarketplaceIds": US, "CreatedAfter": "2020-01-01T00:00:00Z"})
    after = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        call(sp, "GET", "/orders/v0/orders", params={"MarketplaceIds": US, "CreatedAfter": after}).status_code
        == 200
    )


def test_slow_fault_delays_the_response(sim, sp, faults) -> None:
    faults.add("getReports", "slow", delay=3)
    with pytest.raises(httpx.ReadTimeout):
        sp.get("/reports/2021-06-30/reports", params={"reportTypes": ST}, timeout=0.3)


@pytest.mark.parametrize(("kind", "status"), [("fatal", "FATAL"), ("cancelled", "CANCELLED")])
def test_report_outcome_faults(sim, sp, faults, kind, status) -> None:
    faults.add("createReport", kind)
    report = wait_report(
        sp, create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=1))).json()["reportId"]
    )
    assert report["processingStatus"] == status


def test_expired_url_faults(sim, sp, faults) -> None:
    report = _done_st_report(sp)
    faults.add("getReportDocument", "expired_url")
    url = call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()["url"]
    assert download(url).status_code == 403
    url = call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()["url"]
    faults.add("downloadReportDocument", "expired_url")
    assert download(url).status_code == 403
    assert download(url).status_code == 200


def test_corrupt_and_truncated_and_drifted_documents(sim, sp, faults) -> None:
    report = _done_st_report(sp)

    def url() -> str:  # a fresh presigned URL per download: it lives 300 simulated s (0.5 s at scale 600)
        return call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()["url"]

    faults.add("downloadReportDocument", "corrupt_gzip")
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(download(url()).content)
    faults.add("downloadReportDocument", "truncated_json")
    with pytest.raises(json.JSONDecodeError):
        gunzip_json(download(url()).content)
    faults.add("downloadReportDocument", "extra_field")
    drifted = gunzip_json(download(url()).content)
    assert EXTRA_FIELD_NAME in drifted
    assert EXTRA_FIELD_NAME not in gunzip_json(download(url()).content)


def test_ads_faults(sim, ads, faults) -> None:
    profiles = call(ads, "GET", "/v2/profiles").json()
    profile = next(int(p["profileId"]) for p in profiles if p["accountInfo"]["marketplaceStringId"] == US)
    scope = {"Amazon-Advertising-API-Scope": str(profile)}
    day = today() - dt.timedelta(days=20)
    faults.add("createAsyncReport", "failed")
    failed = call(
        ads, "POST", "/reporting/reports", json=ads_request(day, day), headers={**scope, **ADS_CT}
    ).json()
    done = wait_ads(ads, failed["reportId"], profile)
    assert done["status"] == "FAILED" and done["failureReason"] and done["url"] is None
    created = call(
        ads, "POST", "/reporting/reports", json=ads_request(day, day), headers={**scope, **ADS_CT}
    ).json()
    done = wait_ads(ads, created["reportId"], profile)
    assert done["status"] == "COMPLETED"
    faults.add("downloadAsyncReport", "extra_field")
    assert all(EXTRA_FIELD_NAME in row for row in gunzip_json(download(done["url"]).content))
    faults.add("downloadAsyncReport", "truncated_json")
    with pytest.raises(json.JSONDecodeError):
        gunzip_json(download(done["url"]).content)
    faults.add("getAsyncReport", "expired_url")
    stale = call(ads, "GET", f"/reporting/reports/{created['reportId']}", headers=scope).json()
    assert download(stale["url"]).status_code == 403
    faults.add("createAsyncReport", "429", retry_after=600)
    throttled = ads.post("/reporting/reports", json=ads_request(day, day), headers={**scope, **ADS_CT})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["code"] == "429"


def test_faults_over_http_and_from_cli_specs(sim, sp, faults) -> None:
    r = httpx.post(
        f"{sim.base_url}/_simulator/faults", json={"operation": "getReports", "kind": "503", "count": 1}
    )
    assert r.status_code == 200 and r.json()["faults"][0]["kind"] == "503"
    assert sp.get("/reports/2021-06-30/reports", params={"reportTypes": ST}).status_code == 503
    httpx.post(
        f"{sim.base_url}/_simulator/faults", json={"operation": "getReports", "kind": "500", "count": 5}
    )
    assert httpx.delete(f"{sim.base_url}/_simulator/faults").json() == {"faults": []}
    assert call(sp, "GET", "/reports/2021-06-30/reports", params={"reportTypes": ST}).status_code == 200
    bad = httpx.post(f"{sim.base_url}/_simulator/faults", json={"operation": "nope", "kind": "500"})
    assert bad.status_code == 400 and "Unknown operation" in bad.json()["error"]
    plan = FaultPlan()
    plan.add_many(["createReport:429:3", "getReportDocument:expired_url:1", "getReports:slow:2:delay=1.5"])
    assert plan.pending() == [
        {"operation": "createReport", "kind": "429", "count": 3},
        {"operation": "getReportDocument", "kind": "expired_url", "count": 1},
        {"operation": "getReports", "kind": "slow", "count": 2, "delay": 1.5},
    ]
    with pytest.raises(FaultError):
        plan.add_spec("createReport")
    with pytest.raises(FaultError):
        plan.add_spec("createReport:explode")


def test_lwa_fault(sim, faults) -> None:
    faults.add("lwaToken", "503")
    r = httpx.post(f"{sim.base_url}/lwa/na/auth/o2/token", data={"grant_type": "refresh_token"})
    assert r.status_code == 503 and "error" in r.json()


# -- CLI ---------------------------------------------------------------------------------------------


def test_cli_env_prints_the_pipeline_variables() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "chalkola_pipelines.cli", "simulator", "env", "--base", "http://127.0.0.1:9999"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    expected = simulator_environment("http://127.0.0.1:9999")
    assert set(expected) == {
        "CHALKOLA_AMAZON_SIMULATOR", "SP_LWA_CLIENT_ID", "SP_LWA_CLIENT_SECRET", "ADS_CLIENT_ID", "ADS_CLIENT_SECRET",
        "SP_REFRESH_TOKEN_NA", "SP_REFRESH_TOKEN_EU", "SP_REFRESH_TOKEN_FE",
        "ADS_REFRESH_TOKEN_NA", "ADS_REFRESH_TOKEN_EU", "ADS_REFRESH_TOKEN_FE",
    }  # fmt: skip
    for key in expected:
        assert f"export {key}=" in out
    assert "export CHALKOLA_AMAZON_SIMULATOR=http://127.0.0.1:9999" in out


def test_ads_report_life_cycle_and_url_expiry(slow_sim) -> None:
    state = slow_sim.state
    state.buckets.reset()
    ads, profile = _ads_client(slow_sim)
    scope = {"Amazon-Advertising-API-Scope": str(profile)}
    try:
        day = today() - dt.timedelta(days=6)
        report_id = ads.post(
            "/reporting/reports", json=ads_request(day, day), headers={**scope, **ADS_CT}
        ).json()["reportId"]
        record = state.reports.ads_reports[report_id]
        seen = [ads.get(f"/reporting/reports/{report_id}", headers=scope).json()["status"]]
        state.clock.advance(record.pending_seconds + 0.5)
        seen.append(ads.get(f"/reporting/reports/{report_id}", headers=scope).json()["status"])
        state.clock.advance(record.processing_seconds + 0.5)
        done = ads.get(f"/reporting/reports/{report_id}", headers=scope).json()
        seen.append(done["status"])
        assert seen == ["PENDING", "PROCESSING", "COMPLETED"]
        assert download(done["url"]).status_code == 200
        state.clock.advance(3601)
        assert download(done["url"]).status_code == 403
        fresh = ads.get(f"/reporting/reports/{report_id}", headers=scope).json()
        assert fresh["url"] != done["url"] and download(fresh["url"]).status_code == 200
    finally:
        ads.close()


def test_cli_serve_answers_with_injected_faults() -> None:
    """`chalkola simulator serve --port 0 --fault …` in a subprocess, driven over HTTP."""
    import re
    import time

    from chalkola_pipelines.simulator.credentials import DEMO_SP_CLIENT_ID, DEMO_SP_CLIENT_SECRET

    proc = subprocess.Popen(
        [sys.executable, "-m", "chalkola_pipelines.cli", "simulator", "serve", "--port", "0", "--time-scale", "60",
         "--fault", "lwaToken:503:1", "getReports:500:1"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        base = None
        deadline = time.monotonic() + 60
        while base is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            match = re.search(r"chalkola simulator on (http://\S+)", line)
            base = match.group(1) if match else None
        assert base, "the serve command did not announce its URL"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/_simulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        form = {"grant_type": "refresh_token", "refresh_token": simulator_environment(base)["SP_REFRESH_TOKEN_NA"],
                "client_id": DEMO_SP_CLIENT_ID, "client_secret": DEMO_SP_CLIENT_SECRET}  # fmt: skip
        assert httpx.post(f"{base}/lwa/na/auth/o2/token", data=form).status_code == 503
        token = httpx.post(f"{base}/lwa/na/auth/o2/token", data=form).json()["access_token"]
        headers = {"x-amz-access-token": token}
        url = f"{base}/sp/na/reports/2021-06-30/reports"
        assert httpx.get(url, params={"reportTypes": ST}, headers=headers).status_code == 500
        ok = httpx.get(url, params={"reportTypes": ST}, headers=headers)
        assert ok.status_code == 200 and ok.headers["x-amzn-RateLimit-Limit"] == "1.332"  # 0.0222 × 60
    finally:
        proc.terminate()
        proc.wait(timeout=20)
