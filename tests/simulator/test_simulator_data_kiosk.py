"""Data Kiosk 2023-11-15 over real HTTP: contract (official model), figures against the S&T report and the
ground truth, GraphQL validation (400) and run-time limits (FATAL), faults, the Brand Analytics switch."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest
from dk_helpers import (
    DK,
    ROOT,
    by_asin_query,
    by_date_query,
    create_query,
    document_url,
    fetch_jsonl,
    records,
    run_query,
    trends_query,
    wait_query,
)
from simulator_helpers import CA, ST, US, call, create_report, download, gunzip_json, st_window, today
from simulator_models import DATA_KIOSK_SDL, assert_sp_response

from chalkola_pipelines.simulator.dk_schema import SCHEMA_FILE, minified_length

DAY = today() - dt.timedelta(days=3)


def _report(sp: httpx.Client, day: dt.date, marketplace: str, asin_granularity: str) -> dict:
    from simulator_helpers import wait_report

    created = create_report(sp, ST, [marketplace], *st_window(day), dateGranularity="DAY",
                            asinGranularity=asin_granularity)  # fmt: skip
    assert created.status_code == 202, created.text
    report = wait_report(sp, created.json()["reportId"])
    meta = call(sp, "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()
    return gunzip_json(download(meta["url"]).content)


def _us_asins(sim, day: dt.date, n: int = 30) -> list[str]:
    return [row.child_asin for row in sim.state.truth.asin_days("US", day)][:n]


# -- contract ------------------------------------------------------------------------------------------


def test_shipped_schema_is_amazons_file() -> None:
    assert SCHEMA_FILE.read_bytes() == DATA_KIOSK_SDL.read_bytes()


def test_life_cycle_matches_model(sim, sp) -> None:
    created = create_query(sp, trends_query(DAY.isoformat(), DAY.isoformat(), [(US, _us_asins(sim, DAY, 3))]))
    query_id = assert_sp_response("dataKiosk", "createQuery", created)["queryId"]
    assert float(created.headers["x-amzn-RateLimit-Limit"]) == pytest.approx(0.0167 * sim.state.time_scale)
    first = call(sp, "GET", f"{DK}/queries/{query_id}")
    assert assert_sp_response("dataKiosk", "getQuery", first)["processingStatus"] in (
        "IN_QUEUE", "IN_PROGRESS", "DONE")  # fmt: skip
    done = wait_query(sp, query_id)
    assert done["processingStatus"] == "DONE" and "errorDocumentId" not in done
    assert done["createdTime"] <= done["processingStartTime"] <= done["processingEndTime"]
    assert_sp_response("dataKiosk", "getQuery", call(sp, "GET", f"{DK}/queries/{query_id}"))
    listed = call(sp, "GET", f"{DK}/queries", params={"processingStatuses": "DONE", "pageSize": 100})
    assert query_id in {
        q["queryId"] for q in assert_sp_response("dataKiosk", "getQueries", listed)["queries"]
    }
    doc = call(sp, "GET", f"{DK}/documents/{done['dataDocumentId']}")
    meta = assert_sp_response("dataKiosk", "getDocument", doc)
    assert meta["documentId"] == done["dataDocumentId"]
    got = download(meta["documentUrl"])  # presigned: no auth headers
    assert got.status_code == 200 and "content-encoding" not in got.headers  # small: plain JSONL
    lines = got.text.splitlines()
    assert len(lines) == 3 and all(json.loads(line)["marketplaceId"] == US for line in lines)
    cancel = call(sp, "DELETE", f"{DK}/queries/{query_id}")  # DONE: cannot be cancelled
    assert assert_sp_response("dataKiosk", "cancelQuery", cancel)["errors"][0]["code"] == "InvalidInput"


def test_errors_match_model(sim, sp) -> None:
    missing = call(sp, "GET", f"{DK}/queries/99999999999")
    assert assert_sp_response("dataKiosk", "getQuery", missing)["errors"][0]["code"] == "NotFound"
    assert_sp_response("dataKiosk", "getDocument", call(sp, "GET", f"{DK}/documents/amzn1.tortuga.4.na.x"))
    assert_sp_response("dataKiosk", "cancelQuery", call(sp, "DELETE", f"{DK}/queries/1"))
    for params in ({"pageSize": 0}, {"processingStatuses": "DONE,ENDED"}, {"paginationToken": "%%%"}):
        bad = call(sp, "GET", f"{DK}/queries", params=params)
        assert bad.status_code == 400, params
        assert_sp_response("dataKiosk", "getQueries", bad)
    no_query = create_query(sp, "")
    assert assert_sp_response("dataKiosk", "createQuery", no_query)["errors"][0]["code"] == "InvalidInput"
    unauth = httpx.get(f"{sim.base_url}/sp/na{DK}/queries")
    assert assert_sp_response("dataKiosk", "getQueries", unauth)["errors"][0]["code"] == "Unauthorized"


def test_get_queries_filters_and_pages(sim, sp) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    ids = []
    for _ in range(3):
        created = create_query(sp, by_date_query(DAY.isoformat(), DAY.isoformat(), [US]))
        ids.append(created.json()["queryId"])
    for query_id in ids:
        wait_query(sp, query_id)
    params = {"createdSince": since.isoformat(), "processingStatuses": "DONE"}
    first = call(sp, "GET", f"{DK}/queries", params={**params, "pageSize": 2}).json()
    assert len(first["queries"]) == 2 and "nextToken" in first["pagination"]
    second = call(sp, "GET", f"{DK}/queries", params={**params, "pageSize": 5,
                                                       "paginationToken": first["pagination"]["nextToken"]})  # fmt: skip
    body = assert_sp_response("dataKiosk", "getQueries", second)
    seen = [q["queryId"] for q in first["queries"] + body["queries"]]
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    assert [q["queryId"] for q in first["queries"]] == sorted(ids, key=int, reverse=True)[:2]  # newest first
    changed = call(sp, "GET", f"{DK}/queries", params={"processingStatuses": "FATAL",
                                                        "paginationToken": first["pagination"]["nextToken"]})  # fmt: skip
    assert changed.status_code == 400
    none = call(sp, "GET", f"{DK}/queries", params={**params, "processingStatuses": "IN_QUEUE"}).json()
    assert none["queries"] == [] and "pagination" not in none


# -- figures -------------------------------------------------------------------------------------------


def test_trends_one_day_equals_single_day_report_to_the_cent(sim, sp) -> None:
    asins = _us_asins(sim, DAY, 59)  # 30 + 29, and one ASIN without data in the second filter
    report = _report(sp, DAY, US, "CHILD")
    by_asin = {e["childAsin"]: e for e in report["salesAndTrafficByAsin"]}
    absent = "B0NOSUCHASN"
    rows = records(
        sp, trends_query(DAY.isoformat(), DAY.isoformat(), [(US, asins[:30]), (US, asins[30:] + [absent])])
    )
    assert [r["childAsin"] for r in rows] == asins  # one record per ASIN with data; the unknown one left out
    truth = {t.child_asin: t for t in sim.state.truth.asin_days("US", DAY)}
    for row in rows:
        entry = by_asin[row["childAsin"]]
        assert row["startDate"] == row["endDate"] == DAY.isoformat() and row["marketplaceId"] == US
        assert row["parentAsin"] == entry["parentAsin"]
        assert row["sales"]["orderedProductSales"] == entry["salesByAsin"]["orderedProductSales"]
        for key in ("unitsOrdered", "unitsOrderedB2B", "totalOrderItems", "totalOrderItemsB2B"):
            assert row["sales"][key] == entry["salesByAsin"][key]
        assert row["traffic"] == {k: entry["trafficByAsin"][k] for k in row["traffic"]}
        t = truth[row["childAsin"]]
        assert Decimal(str(row["sales"]["orderedProductSales"]["amount"])) == t.ordered_sales
        assert (row["sales"]["unitsOrdered"], row["traffic"]["sessions"]) == (t.units_ordered, t.sessions)
        sales = row["sales"]
        assert (
            sales["unitsShipped"] <= sales["unitsOrdered"] and sales["unitsRefunded"] <= sales["unitsOrdered"]
        )
        shipped = Decimal(str(sales["shippedProductSales"]["amount"]))
        assert shipped <= Decimal(str(sales["orderedProductSales"]["amount"]))


def test_by_date_equals_report_by_date_for_several_marketplaces(sim, sp) -> None:
    rows = records(sp, by_date_query(DAY.isoformat(), DAY.isoformat(), [US, CA]))
    assert [(r["marketplaceId"], r["startDate"], r["endDate"]) for r in rows] == [
        (US, DAY.isoformat(), DAY.isoformat()), (CA, DAY.isoformat(), DAY.isoformat())]  # fmt: skip
    for row, marketplace in zip(rows, (US, CA), strict=True):
        entry = _report(sp, DAY, marketplace, "PARENT")["salesAndTrafficByDate"][0]
        assert row["sales"] == {k: entry["salesByDate"][k] for k in row["sales"]}
        assert row["traffic"] == {k: entry["trafficByDate"][k] for k in row["traffic"]}


def test_by_asin_over_a_range_and_granularities(sim, sp) -> None:
    start, end = DAY - dt.timedelta(days=6), DAY
    expected = sim.state.seller.sales_and_traffic_document(US, start, end, asin_granularity="SKU")
    rows = records(sp, by_asin_query(start.isoformat(), end.isoformat(), [US], "SKU"))
    assert [(r["childAsin"], r["sku"]) for r in rows] == [
        (e["childAsin"], e["sku"]) for e in expected["salesAndTrafficByAsin"]]  # fmt: skip
    truth = sum(
        (sim.state.truth.ordered_sales("US", start + dt.timedelta(days=i)) for i in range(7)), Decimal(0)
    )
    assert sum(Decimal(str(r["sales"]["orderedProductSales"]["amount"])) for r in rows) == truth
    assert {(r["startDate"], r["endDate"]) for r in rows} == {(start.isoformat(), end.isoformat())}
    parents = records(sp, by_asin_query(start.isoformat(), end.isoformat(), [US], "PARENT"))
    assert all(r["childAsin"] is None and r["sku"] is None for r in parents)
    assert len(parents) < len(rows)


def test_week_aggregation_contracts_the_range(sim, sp) -> None:
    end = today() - dt.timedelta(days=2)
    start = end - dt.timedelta(days=20)
    rows = records(sp, by_date_query(start.isoformat(), end.isoformat(), [US], "WEEK"))
    assert rows
    for row in rows:
        first, last = dt.date.fromisoformat(row["startDate"]), dt.date.fromisoformat(row["endDate"])
        assert first.weekday() == 6 and last == first + dt.timedelta(days=6)  # Sunday to Saturday
        assert start <= first and last <= end


def test_only_requested_fields_with_aliases(sim, sp) -> None:
    fields = "childAsin sales { sales: orderedProductSales { amount } } traffic { pv: pageViews __typename }"
    rows = records(sp, trends_query(DAY.isoformat(), DAY.isoformat(), [(US, _us_asins(sim, DAY, 2))], fields))
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"childAsin", "sales", "traffic"}
        assert set(row["sales"]) == {"sales"} and set(row["sales"]["sales"]) == {"amount"}
        assert row["traffic"]["__typename"] == "ByAsinTraffic" and isinstance(row["traffic"]["pv"], int)


def test_done_without_data_has_no_document(sim, sp) -> None:
    future = (today() + dt.timedelta(days=5)).isoformat()
    for query in (trends_query(DAY.isoformat(), DAY.isoformat(), [(US, ["B0NOSUCHASN"])]),
                  by_date_query(future, future, [US])):  # fmt: skip
        done = run_query(sp, query)
        assert done["processingStatus"] == "DONE"
        assert "dataDocumentId" not in done and "errorDocumentId" not in done


# -- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, fragment",
    [
        (f"query {{ {ROOT} {{ salesAndTrafficByDate(aggregateBy: DAY, startDate: \"2026-01-01\", "
         f'endDate: "2026-01-02", marketplaceIds: ["{US}"]) {{ startDate unitsSold }} }} }}',
         "Cannot query field 'unitsSold'"),
        (f"query {{ {ROOT} {{ salesAndTrafficByDate(aggregateBy: HOUR, startDate: \"2026-01-01\", "
         f'endDate: "2026-01-02", marketplaceIds: ["{US}"]) {{ startDate }} }} }}', "DateGranularity"),
        (f"query {{ {ROOT} {{ salesAndTrafficByAsin(aggregateBy: CHILD, startDate: \"2026-01-01\", "
         f'marketplaceIds: ["{US}"]) {{ childAsin }} }} }}', "argument 'endDate'"),
        (f"query {{ {ROOT} {{ salesAndTrafficByAsin(aggregateBy: CHILD, startDate: \"2026-02-30\", "
         f'endDate: "2026-03-01", marketplaceIds: ["{US}"]) {{ childAsin }} }} }}', "Date"),
        (f"query {{ {ROOT} {{ salesAndTrafficByDate {{ startDate }} }} }}", "required"),
        ("query { analytics_salesAndTraffic_2024_04_24 { ", "Syntax Error"),
        (f"query {{ {ROOT} {{ __typename }} }}", "select exactly one"),
    ],
)  # fmt: skip
def test_invalid_queries_are_rejected_with_400(sim, sp, query, fragment) -> None:
    r = create_query(sp, query)
    body = assert_sp_response("dataKiosk", "createQuery", r)
    assert r.status_code == 400 and body["errors"][0]["code"] == "InvalidInput"
    assert fragment in body["errors"][0]["message"]


def test_query_over_8000_characters_after_whitespace_removal(sim, sp) -> None:
    asins = [f"B0{i:08d}" for i in range(30)]
    long_query = trends_query(DAY.isoformat(), DAY.isoformat(), [(US, asins)] * 20, "childAsin")
    assert 8000 < minified_length(long_query) < len(long_query)
    r = create_query(sp, long_query)
    assert r.status_code == 400 and "8000" in r.json()["errors"][0]["message"]
    padded = trends_query(DAY.isoformat(), DAY.isoformat(), [(US, asins)], "childAsin").replace(
        " ", " " * 400
    )
    assert len(padded) > 8000
    assert create_query(sp, padded).status_code == 202  # whitespace does not count


def _fatal_message(sp: httpx.Client, query: str) -> str:
    done = run_query(sp, query)
    assert done["processingStatus"] == "FATAL" and "dataDocumentId" not in done, done
    got = httpx.get(document_url(sp, done["errorDocumentId"]), timeout=30)
    return got.json()["errorMessage"]


def test_runtime_limits_end_fatal_with_error_document(sim, sp) -> None:
    asins = [f"B0{i:08d}" for i in range(31)]
    assert "30" in _fatal_message(sp, trends_query(DAY.isoformat(), DAY.isoformat(), [(US, asins)]))
    old = (today() - dt.timedelta(days=800)).isoformat()
    assert "two years" in _fatal_message(sp, by_date_query(old, DAY.isoformat(), [US]))
    assert "marketplaceId" in _fatal_message(
        sp, by_date_query(DAY.isoformat(), DAY.isoformat(), ["A1PA6795UKMFR9"])
    )
    parent = trends_query(DAY.isoformat(), DAY.isoformat(), [(US, ["B0X"])], asin_aggregation="PARENT")
    assert "CHILD" in _fatal_message(sp, parent)


# -- faults, access, documents -------------------------------------------------------------------------


def test_faults(sim, sp, faults) -> None:
    query = trends_query(DAY.isoformat(), DAY.isoformat(), [(US, _us_asins(sim, DAY, 5))])
    faults.add("createQuery", "fatal")
    assert "Simulated" in _fatal_message(sp, query)
    faults.add("createQuery", "cancelled")
    cancelled = run_query(sp, query)
    assert cancelled["processingStatus"] == "CANCELLED" and "processingStartTime" not in cancelled
    done = run_query(sp, query)
    faults.add("getDocument", "expired_url")
    expired = httpx.get(document_url(sp, done["dataDocumentId"]), timeout=30)
    assert expired.status_code == 403 and b"AccessDenied" in expired.content
    faults.add("downloadDataKioskDocument", "truncated_json")
    cut = httpx.get(document_url(sp, done["dataDocumentId"]), timeout=30).text
    with pytest.raises(json.JSONDecodeError):
        [json.loads(line) for line in cut.splitlines()]
    faults.add("downloadDataKioskDocument", "corrupt_gzip")
    with pytest.raises(httpx.DecodingError):
        httpx.get(document_url(sp, done["dataDocumentId"]), timeout=30)
    faults.add("getQuery", "503")
    assert call(sp, "GET", f"{DK}/queries/{done['queryId']}").status_code == 503
    assert len(fetch_jsonl(sp, done["dataDocumentId"])) == 5  # faults are one-shot


def test_without_brand_analytics_role_every_operation_is_403(sim, sp) -> None:
    control = f"{sim.base_url}/_simulator/data-kiosk"
    assert httpx.post(control, json={"brandAnalytics": False}).json() == {"brandAnalytics": False}
    try:
        for method, path in (("POST", "/queries"), ("GET", "/queries"), ("GET", "/queries/1"),
                             ("DELETE", "/queries/1"), ("GET", "/documents/x")):  # fmt: skip
            r = sp.request(method, f"{DK}{path}", json={"query": "{}"} if method == "POST" else None)
            assert r.status_code == 403
            assert r.json() == {"errors": [{"code": "Unauthorized", "details": "",
                                            "message": "Access to requested resource is denied."}]}  # fmt: skip
        operation = {"/queries": "createQuery"}
        assert_sp_response("dataKiosk", operation["/queries"], sp.post(f"{DK}/queries", json={"query": "{}"}))
    finally:
        httpx.post(control, json={"brandAnalytics": True})
    assert call(sp, "GET", f"{DK}/queries").status_code == 200


@pytest.fixture(scope="module")
def dk_slow():
    """A simulator at time scale 1: queries stay IN_QUEUE for seconds and URLs live 5 real minutes."""
    from chalkola_pipelines.simulator.server import run_in_thread

    running = run_in_thread(seed=7, time_scale=1.0)
    yield running
    running.stop()


def _client(running) -> httpx.Client:
    from simulator_helpers import lwa_token

    token = lwa_token(running.base_url, "sp", "na")
    return httpx.Client(
        base_url=f"{running.base_url}/sp/na", headers={"x-amz-access-token": token}, timeout=30
    )


def test_cancel_in_queue_and_document_expiry(dk_slow) -> None:
    with _client(dk_slow) as sp:
        query = by_date_query(DAY.isoformat(), DAY.isoformat(), [US])
        query_id = sp.post(f"{DK}/queries", json={"query": query}).json()["queryId"]
        assert sp.get(f"{DK}/queries/{query_id}").json()["processingStatus"] == "IN_QUEUE"
        cancel = sp.delete(f"{DK}/queries/{query_id}")
        assert assert_sp_response("dataKiosk", "cancelQuery", cancel) is None and cancel.status_code == 204
        assert cancel.headers["x-amzn-RateLimit-Limit"] == "0.0222"
        assert sp.delete(f"{DK}/queries/{query_id}").status_code == 204  # CANCELLED again: no-op
        got = sp.get(f"{DK}/queries/{query_id}").json()
        assert got["processingStatus"] == "CANCELLED" and "dataDocumentId" not in got
        second = sp.post(f"{DK}/queries", json={"query": query}).json()["queryId"]
        dk_slow.state.clock.advance(3600)
        done = sp.get(f"{DK}/queries/{second}").json()
        assert done["processingStatus"] == "DONE"
        url = sp.get(f"{DK}/documents/{done['dataDocumentId']}").json()["documentUrl"]
        assert httpx.get(url).status_code == 200
        dk_slow.state.clock.advance(301)  # "This URL expires after 5 minutes"
        expired = httpx.get(url)
        assert expired.status_code == 403 and b"<Code>AccessDenied</Code>" in expired.content
        dk_slow.state.clock.advance(31 * 86400)  # P30D: the query and its document are gone
        assert sp.get(f"{DK}/queries/{second}").status_code == 404
        assert sp.get(f"{DK}/documents/{done['dataDocumentId']}").status_code == 404
