"""DataKioskClient + query builder + JSONL parser against the real simulator over HTTP: Trends records equal the
single-day S&T reports' records to the cent; ByDate equals the reports' byDate; ASIN discovery (ByAsin); no
data; FATAL with the error document; expired URL; truncated document; schema drift; reuse, resume; 403."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from amazon_sim_clients import US as US_MARKETPLACE
from amazon_sim_clients import reports_client, sp_http, st_spec

from chalkola_pipelines.amazon.data_kiosk import DataKioskClient, DataKioskResult
from chalkola_pipelines.amazon.data_kiosk_queries import (
    sales_traffic_by_asin_query,
    sales_traffic_by_date_query,
    sales_traffic_trends_queries,
)
from chalkola_pipelines.amazon.documents import open_document
from chalkola_pipelines.amazon.errors import (
    DataKioskAccessDeniedError,
    DataKioskQueryFatalError,
    SalesTrafficFormatError,
)
from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import (
    iter_data_kiosk_sales_traffic,
    sales_traffic_documents,
)
from chalkola_pipelines.amazon.parsers.sales_traffic import parse_sales_and_traffic

pytestmark = pytest.mark.integration

US = US_MARKETPLACE.marketplace_id
CA = "A2EUQ1WTGCTBG2"
DAYS_AGO = (5, 4, 3)


def utc_day(days_ago: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=days_ago)


def dk_client(simulator, **kw) -> DataKioskClient:
    return DataKioskClient(
        sp_http(simulator), poll_initial_seconds=0.05, poll_max_seconds=0.5, poll_timeout_seconds=120, **kw
    )


def records(result: DataKioskResult) -> list[dict]:
    assert result.phase == "done" and result.path is not None
    with open_document(result.path) as stream:
        rows = iter_data_kiosk_sales_traffic(stream, result.query.kind, source=f"query {result.query_id}")
        out = list(rows)
    assert rows.unknown_fields == set()
    return out


def fetch_records(client: DataKioskClient, query, tmp_path) -> list[dict]:
    out: list[dict] = []
    for result in client.fetch_pages(query, lambda qid: tmp_path / f"dk-{qid}.jsonl"):
        out += records(result)
    return out


def test_trends_for_a_few_days_equal_the_single_day_reports_to_the_cent(simulator, clean_faults, tmp_path):
    httpx.post(f"{simulator.base_url}/_simulator/quotas", json={"salesAndTrafficTokens": None})
    days = [utc_day(n) for n in DAYS_AGO]
    start, end = min(days), max(days)
    client = dk_client(simulator)
    # ASIN discovery over the window, then Trends for every child ASIN found
    discovered = fetch_records(client, sales_traffic_by_asin_query(start, end, [US]), tmp_path)
    assert discovered and all(r["report_date"] is None and r["end_date"] == end for r in discovered)
    asins = sorted({r["child_asin"] for r in discovered})
    trends = sales_traffic_trends_queries(start, end, {US: asins})
    assert all(len(q.text) <= 8000 for q in trends)
    dk = []
    for query in trends:
        dk += fetch_records(client, query, tmp_path)
    dk += fetch_records(client, sales_traffic_by_date_query(start, end, [US]), tmp_path)
    documents = sales_traffic_documents(dk)
    assert sorted(documents) == [(US, d) for d in days]

    reports = reports_client(simulator)
    compared = 0
    for days_ago, day in zip(DAYS_AGO, days, strict=True):
        result = reports.fetch(st_spec(days_ago), tmp_path / f"st-{days_ago}.json.gz")
        assert result.status == "DONE"
        with open_document(result.path) as stream:
            report = parse_sales_and_traffic(stream)
        ours = documents[(US, day)]
        # byAsin: the same child ASINs, every report key equal (Decimal amounts: to the cent)
        theirs_by_asin = {r["child_asin"]: r for r in report.by_asin}
        ours_by_asin = {r["child_asin"]: r for r in ours.by_asin}
        assert set(ours_by_asin) == set(theirs_by_asin) and theirs_by_asin
        for asin, theirs in theirs_by_asin.items():
            assert {k: ours_by_asin[asin][k] for k in theirs} == theirs, (day, asin)
            compared += 1
        # byDate: the day's totals
        (theirs_day,) = [r for r in report.by_date if r["report_date"] == day]
        (ours_day,) = ours.by_date
        assert {k: ours_day[k] for k in theirs_day} == theirs_day
        # Amazon's byDate sales are the byAsin sum, or up to 0.4 % lower on some days (as real reports are)
        ours_sum = sum(r["ordered_product_sales"] for r in ours.by_asin)
        assert ours_sum == sum(r["ordered_product_sales"] for r in report.by_asin)
        assert 0 <= ours_sum - theirs_day["ordered_product_sales"] <= ours_sum * Decimal("0.004")
    assert compared >= len(days)


def test_by_date_for_several_marketplaces_in_one_query(simulator, clean_faults, tmp_path):
    day = utc_day(6)
    rows = fetch_records(dk_client(simulator), sales_traffic_by_date_query(day, day, [US, CA]), tmp_path)
    assert sorted((r["marketplace_id"], r["report_date"]) for r in rows) == [(CA, day), (US, day)]
    assert {r["currency_code"] for r in rows} == {"USD", "CAD"}


def test_no_data_fatal_and_cancelled(simulator, clean_faults, tmp_path):
    client = dk_client(simulator)
    today = datetime.now(UTC).date() + timedelta(days=1)  # after the marketplace-local yesterday: no data
    result = client.fetch(sales_traffic_by_date_query(today, today, [US]), tmp_path / "none.jsonl")
    assert result.phase == "no_data" and result.path is None
    too_old = today - timedelta(days=3 * 365)
    query = sales_traffic_by_date_query(too_old, too_old + timedelta(days=1), [US])
    with pytest.raises(DataKioskQueryFatalError, match="two years ago") as info:
        client.fetch(query, tmp_path / "old.jsonl")
    assert info.value.query_id in str(info.value)
    clean_faults.add("createQuery", "cancelled")
    day = utc_day(7)
    with pytest.raises(DataKioskQueryFatalError, match="CANCELLED"):
        client.fetch(sales_traffic_by_date_query(day, day, [CA]), tmp_path / "c.jsonl")


def test_expired_url_is_refreshed_and_a_truncated_document_is_a_format_error(
    simulator, clean_faults, tmp_path
):
    day = utc_day(8)
    client = dk_client(simulator, reuse=False)
    query = sales_traffic_by_date_query(day, day, [US, CA])
    clean_faults.add("getDocument", "expired_url")
    assert len(records(client.fetch(query, tmp_path / "a.jsonl"))) == 2
    assert clean_faults.pending() == []
    clean_faults.add("downloadDataKioskDocument", "truncated_json")
    result = client.fetch(query, tmp_path / "b.jsonl")
    with pytest.raises(SalesTrafficFormatError, match=r"line \d+: malformed or truncated JSON"):
        records(result)
    clean_faults.add("downloadDataKioskDocument", "extra_field")
    result = client.fetch(query, tmp_path / "c.jsonl")
    with open_document(result.path) as stream:
        rows = iter_data_kiosk_sales_traffic(stream, "by_date")
        assert len(list(rows)) == 2
    assert rows.unknown_fields == {"simulatorSchemaDriftField"}


def test_identical_query_is_reused_and_a_ledger_id_is_resumed(simulator, clean_faults, tmp_path):
    day = utc_day(9)
    query = sales_traffic_by_date_query(day, day, [US])
    client = dk_client(simulator)
    query_id = client.create_query(query.text)
    reused = client.fetch(query, tmp_path / "r.jsonl")
    assert reused.query_id == query_id  # found by getQueries (same text), no new query
    seen: list[tuple[str, str]] = []
    resumed = dk_client(simulator, reuse=False).fetch(
        query, tmp_path / "s.jsonl", resume_query_id=query_id, on_query_id=lambda q, s: seen.append((q, s))
    )
    assert resumed.query_id == query_id and seen[0] == (query_id, "DONE")
    assert records(resumed) == records(reused)


def test_without_the_brand_analytics_role_the_client_says_so(simulator, clean_faults, tmp_path):
    control = f"{simulator.base_url}/_simulator/data-kiosk"
    day = utc_day(10)
    assert httpx.post(control, json={"brandAnalytics": False}).json() == {"brandAnalytics": False}
    try:
        for reuse in (True, False):  # getQueries first, or createQuery straight away
            with pytest.raises(DataKioskAccessDeniedError, match="Brand Analytics role") as info:
                dk_client(simulator, reuse=reuse).fetch(
                    sales_traffic_by_date_query(day, day, [US]), tmp_path / "x.jsonl"
                )
            assert info.value.status_code == 403
            assert info.value.operation == ("getQueries" if reuse else "createQuery")
            assert "fall back" in str(info.value)
    finally:
        httpx.post(control, json={"brandAnalytics": True})
