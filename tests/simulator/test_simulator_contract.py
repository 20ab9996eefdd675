"""Every simulator response shape validates against Amazon's official models (../shared/amazon-models)."""

from __future__ import annotations

import datetime as dt
import gzip

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
    st_window,
    today,
    wait_ads,
    wait_report,
)
from simulator_models import (
    PROFILES_SCHEMA,
    assert_ads_response,
    assert_sales_traffic_document,
    assert_sp_response,
)

from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_OFFICIAL_HEADER
from chalkola_pipelines.simulator.credentials import (
    DEMO_REFRESH_TOKENS,
    DEMO_SP_CLIENT_ID,
    DEMO_SP_CLIENT_SECRET,
)


def test_lwa_token_and_errors(sim) -> None:
    url = f"{sim.base_url}/lwa/na/auth/o2/token"
    form = {"grant_type": "refresh_token", "refresh_token": DEMO_REFRESH_TOKENS["sp"]["eu"],
            "client_id": DEMO_SP_CLIENT_ID, "client_secret": DEMO_SP_CLIENT_SECRET}  # fmt: skip
    ok = httpx.post(url, data=form)
    assert ok.status_code == 200
    body = ok.json()
    assert (
        body["token_type"] == "bearer"
        and body["expires_in"] == 3600
        and body["access_token"].startswith("Atza|")
    )
    bad_grant = httpx.post(url, data={**form, "refresh_token": "Atzr|nope"})
    assert bad_grant.status_code == 400
    assert bad_grant.json()["error"] == "invalid_grant" and bad_grant.json()["error_description"]
    bad_client = httpx.post(url, data={**form, "client_secret": "wrong"})
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    # an ads refresh token is not a grant of the SP client
    cross = httpx.post(url, data={**form, "refresh_token": DEMO_REFRESH_TOKENS["ads"]["na"]})
    assert cross.status_code == 400 and cross.json()["error"] == "invalid_grant"


def test_sales_traffic_report_life_cycle_matches_models(sim, sp) -> None:
    start, end = st_window(today() - dt.timedelta(days=2))
    created = create_report(sp, ST, [US], start, end, dateGranularity="DAY", asinGranularity="CHILD")
    report_id = assert_sp_response("reports", "createReport", created)["reportId"]
    first = call(sp, "GET", f"/reports/2021-06-30/reports/{report_id}")
    assert assert_sp_response("reports", "getReport", first)["processingStatus"] in (
        "IN_QUEUE",
        "IN_PROGRESS",
        "DONE",
    )
    report = wait_report(sp, report_id)
    assert report["processingStatus"] == "DONE"
    final = call(sp, "GET", f"/reports/2021-06-30/reports/{report_id}")
    assert_sp_response("reports", "getReport", final)
    listed = call(sp, "GET", "/reports/2021-06-30/reports", params={"reportTypes": ST, "pageSize": 100})
    reports = assert_sp_response("reports", "getReports", listed)["reports"]
    assert report_id in {r["reportId"] for r in reports}
    doc = call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}")
    meta = assert_sp_response("reports", "getReportDocument", doc)
    assert meta["compressionAlgorithm"] == "GZIP"
    got = download(meta["url"])  # a presigned URL: no auth headers
    assert got.status_code == 200
    document = gunzip_json(got.content)
    assert_sales_traffic_document(document)
    assert document["reportSpecification"]["marketplaceIds"] == [US]


def test_order_report_is_official_tsv(sim, sp) -> None:
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    start = end - dt.timedelta(days=3)
    created = create_report(
        sp, ORDERS, [US], start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    report = wait_report(sp, created.json()["reportId"])
    assert report["processingStatus"] == "DONE"
    meta = call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()
    text = gzip.decompress(download(meta["url"]).content).decode("utf-8")
    lines = text.splitlines()
    assert lines[0].split("\t") == list(ORDER_REPORT_OFFICIAL_HEADER)
    assert len(lines) > 1, "three days of a seller's orders should not be empty"
    assert all(len(line.split("\t")) == len(ORDER_REPORT_OFFICIAL_HEADER) for line in lines[1:])


def test_sp_error_responses_match_models(sim, sp) -> None:
    missing = call(sp, "GET", "/reports/2021-06-30/reports/999")
    assert missing.status_code == 404
    assert_sp_response("reports", "getReport", missing)
    invalid = call(sp, "POST", "/reports/2021-06-30/reports", json={"reportType": ST})
    assert invalid.status_code == 400
    assert_sp_response("reports", "createReport", invalid)
    no_token = httpx.get(f"{sim.base_url}/sp/na/reports/2021-06-30/reports/1")
    assert no_token.status_code == 403
    assert no_token.json()["errors"][0]["code"] == "Unauthorized"
    assert_sp_response("reports", "getReport", no_token)
    wrong_region = httpx.get(f"{sim.base_url}/sp/eu/orders/v0/orders", headers=dict(sp.headers))
    assert wrong_region.status_code == 403
    assert_sp_response("orders", "getOrders", wrong_region)
    only_token = call(sp, "GET", "/reports/2021-06-30/reports", params={"nextToken": "abc", "pageSize": 5})
    assert only_token.status_code == 400
    assert_sp_response("reports", "getReports", only_token)


def test_orders_and_items_match_models(sim, sp) -> None:
    after = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = call(
        sp,
        "GET",
        "/orders/v0/orders",
        params={"MarketplaceIds": US, "CreatedAfter": after, "MaxResultsPerPage": 3},
    )
    payload = assert_sp_response("orders", "getOrders", page)["payload"]
    assert 1 <= len(payload["Orders"]) <= 3 and "CreatedBefore" in payload
    seen = [o["AmazonOrderId"] for o in payload["Orders"]]
    if "NextToken" in payload:
        nxt = call(
            sp, "GET", "/orders/v0/orders", params={"MarketplaceIds": US, "NextToken": payload["NextToken"]}
        )
        more = assert_sp_response("orders", "getOrders", nxt)["payload"]["Orders"]
        assert not set(seen) & {o["AmazonOrderId"] for o in more}
    items = call(sp, "GET", f"/orders/v0/orders/{seen[0]}/orderItems")
    assert assert_sp_response("orders", "getOrderItems", items)["payload"]["AmazonOrderId"] == seen[0]
    unknown = call(sp, "GET", "/orders/v0/orders/999-9999999-9999999/orderItems")
    assert unknown.status_code == 404
    assert_sp_response("orders", "getOrderItems", unknown)
    bad = call(sp, "GET", "/orders/v0/orders/not-an-id/orderItems")
    assert bad.status_code == 400
    assert_sp_response("orders", "getOrderItems", bad)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "CreatedAfter or LastUpdatedAfter"),
        ({"CreatedAfter": "A", "LastUpdatedAfter": "A"}, "cannot be set"),
        ({"CreatedAfter": "A", "CreatedBefore": "NOW"}, "two minutes"),
        ({"CreatedAfter": "A", "MaxResultsPerPage": "101"}, "1 - 100"),
        ({"CreatedAfter": "A", "MaxResultsPerPage": "0"}, "1 - 100"),
        ({"LastUpdatedAfter": "A", "CreatedBefore": "A"}, "cannot be set"),
    ],
)
def test_get_orders_validation(sim, sp, params, fragment) -> None:
    a = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = {"MarketplaceIds": US, **{k: {"A": a, "NOW": now}.get(v, v) for k, v in params.items()}}
    r = call(sp, "GET", "/orders/v0/orders", params=query)
    assert r.status_code == 400
    body = assert_sp_response("orders", "getOrders", r)
    assert fragment in body["errors"][0]["message"]


def test_marketplace_participations_match_model(sim) -> None:
    from simulator_helpers import lwa_token

    token = lwa_token(sim.base_url, "sp", "eu")
    r = httpx.get(
        f"{sim.base_url}/sp/eu/sellers/v1/marketplaceParticipations", headers={"x-amz-access-token": token}
    )
    payload = assert_sp_response("sellers", "getMarketplaceParticipations", r)["payload"]
    assert payload and all(p["marketplace"]["id"] not in (US, CA) for p in payload)


def _profile(ads: httpx.Client) -> int:
    profiles = call(ads, "GET", "/v2/profiles").json()
    us = [p for p in profiles if p["accountInfo"]["marketplaceStringId"] == US]
    return int(us[0]["profileId"])


def test_ads_profiles_and_report_match_spec(sim, ads) -> None:
    import jsonschema

    r = call(ads, "GET", "/v2/profiles")
    assert r.status_code == 200
    jsonschema.validate(r.json(), PROFILES_SCHEMA)
    profile = _profile(ads)
    scope = {"Amazon-Advertising-API-Scope": str(profile)}
    end = today() - dt.timedelta(days=5)
    body = ads_request(end - dt.timedelta(days=2), end)
    created = call(ads, "POST", "/reporting/reports", json=body, headers={**scope, **ADS_CT})
    assert created.status_code == 200, created.text
    report = assert_ads_response("createAsyncReport", created)
    assert report["status"] == "PENDING" and report["url"] is None and report["fileSize"] is None
    dup = call(ads, "POST", "/reporting/reports", json=body, headers={**scope, **ADS_CT})
    assert dup.status_code == 425
    assert assert_ads_response("createAsyncReport", dup) == {
        "code": "425", "detail": f"The Request is a duplicate of : {report['reportId']}"
    }  # fmt: skip
    pending = call(ads, "GET", f"/reporting/reports/{report['reportId']}", headers=scope)
    assert_ads_response("getAsyncReport", pending)
    done = wait_ads(ads, report["reportId"], profile)
    assert done["status"] == "COMPLETED"
    final = call(ads, "GET", f"/reporting/reports/{report['reportId']}", headers=scope)
    done = assert_ads_response("getAsyncReport", final)
    generated = dt.datetime.fromisoformat(done["generatedAt"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(done["urlExpiresAt"].replace("Z", "+00:00"))
    assert expires - generated == dt.timedelta(seconds=3600)
    got = download(done["url"])
    assert got.status_code == 200 and len(got.content) == done["fileSize"]
    rows = gunzip_json(got.content)
    assert isinstance(rows, list) and rows
    assert set(rows[0]) == set(body["configuration"]["columns"])
    assert isinstance(rows[0]["campaignId"], int) and isinstance(rows[0]["adId"], int)
    missing = call(ads, "GET", "/reporting/reports/00000000-0000-4000-8000-000000000000", headers=scope)
    assert missing.status_code == 404
    assert_ads_response("getAsyncReport", missing)


def test_ads_ids_above_2_53_are_json_integers(sim, ads) -> None:
    profile = _profile(ads)
    scope = {"Amazon-Advertising-API-Scope": str(profile)}
    day = today() - dt.timedelta(days=9)
    created = call(ads, "POST", "/reporting/reports", json=ads_request(day, day, ["date", "campaignId", "adId"]),
                   headers={**scope, "Content-Type": "application/json"})  # fmt: skip
    done = wait_ads(ads, created.json()["reportId"], profile)
    raw = gzip.decompress(download(done["url"]).content).decode()
    assert "e+" not in raw and ".0," not in raw  # never a float rendering of an id
    import json

    rows = json.loads(raw)
    assert all(type(r["campaignId"]) is int and type(r["adId"]) is int for r in rows)


def test_ads_errors_match_spec(sim, ads) -> None:
    profile = _profile(ads)
    scope = {"Amazon-Advertising-API-Scope": str(profile)}
    t = today()
    too_long = call(ads, "POST", "/reporting/reports", json=ads_request(t - dt.timedelta(days=40), t - dt.timedelta(days=8)),
                    headers={**scope, **ADS_CT})  # fmt: skip
    assert too_long.status_code == 400 and "31 days" in too_long.json()["detail"]
    assert_ads_response("createAsyncReport", too_long)
    too_old = call(ads, "POST", "/reporting/reports", json=ads_request(t - dt.timedelta(days=100), t - dt.timedelta(days=97)),
                   headers={**scope, **ADS_CT})  # fmt: skip
    assert too_old.status_code == 400 and "95" in too_old.json()["detail"]
    assert_ads_response("createAsyncReport", too_old)
    bad_column = call(ads, "POST", "/reporting/reports", json=ads_request(t - dt.timedelta(days=3), t - dt.timedelta(days=2), ["date", "purchasesOtherSku7d"]),
                      headers={**scope, **ADS_CT})  # fmt: skip
    assert bad_column.status_code == 400 and "purchasesOtherSku7d" in bad_column.json()["detail"]
    bad_filter = call(ads, "POST", "/reporting/reports",
                      json=ads_request(t - dt.timedelta(days=3), t - dt.timedelta(days=2), filters=[{"field": "campaignStatus", "values": ["ENABLED"]}]),
                      headers={**scope, **ADS_CT})  # fmt: skip
    assert bad_filter.status_code == 400 and "adCreativeStatus" in bad_filter.json()["detail"]
    no_scope = call(
        ads,
        "POST",
        "/reporting/reports",
        json=ads_request(t - dt.timedelta(days=3), t - dt.timedelta(days=2)),
        headers=ADS_CT,
    )
    assert no_scope.status_code == 401
    assert_ads_response("createAsyncReport", no_scope)
    other_region_scope = {"Amazon-Advertising-API-Scope": "12345"}
    assert call(ads, "GET", "/reporting/reports/x", headers=other_region_scope).status_code == 401
    no_token = httpx.get(
        f"{sim.base_url}/ads/na/v2/profiles", headers={"Amazon-Advertising-API-ClientId": "x"}
    )
    assert no_token.status_code == 401


def test_cancel_and_delete_match_models(slow_sim) -> None:
    """At time scale 1 a new report stays IN_QUEUE / PENDING long enough to be cancelled."""
    from simulator_helpers import lwa_token

    from chalkola_pipelines.simulator.credentials import DEMO_ADS_CLIENT_ID

    slow_sim.state.buckets.reset()
    token = lwa_token(slow_sim.base_url, "sp", "na")
    with httpx.Client(base_url=f"{slow_sim.base_url}/sp/na", headers={"x-amz-access-token": token}) as sp:
        report_id = create_report(sp, ST, [US], *st_window(today() - dt.timedelta(days=1))).json()["reportId"]
        assert_sp_response("reports", "cancelReport", sp.delete(f"/reports/2021-06-30/reports/{report_id}"))
        refused = sp.delete(f"/reports/2021-06-30/reports/{report_id}")
        assert refused.status_code == 400
        assert_sp_response("reports", "cancelReport", refused)
    token = lwa_token(slow_sim.base_url, "ads", "na")
    headers = {"Authorization": f"Bearer {token}", "Amazon-Advertising-API-ClientId": DEMO_ADS_CLIENT_ID}
    with httpx.Client(base_url=f"{slow_sim.base_url}/ads/na", headers=headers) as ads:
        profile = _profile(ads)
        scope = {"Amazon-Advertising-API-Scope": str(profile)}
        day = today() - dt.timedelta(days=4)
        created = ads.post(
            "/reporting/reports", json=ads_request(day, day), headers={**scope, **ADS_CT}
        ).json()
        deleted = ads.delete(f"/reporting/reports/{created['reportId']}", headers=scope)
        assert deleted.status_code == 200
        assert assert_ads_response("deleteAsyncReport", deleted)["reportId"] == created["reportId"]
        gone = ads.get(f"/reporting/reports/{created['reportId']}", headers=scope)
        assert gone.status_code == 404
        assert_ads_response("getAsyncReport", gone)
