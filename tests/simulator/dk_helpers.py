"""Data Kiosk helpers for the simulator tests (raw httpx): query text, create, wait, fetch the JSONL."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from simulator_helpers import call

DK = "/dataKiosk/2023-11-15"
ROOT = "analytics_salesAndTraffic_2024_04_24"
TERMINAL = ("DONE", "FATAL", "CANCELLED")

AMOUNT = "{ amount currencyCode }"
ASIN_SALES = (
    f"orderedProductSales {AMOUNT} orderedProductSalesB2B {AMOUNT} shippedProductSales {AMOUNT} "
    "unitsOrdered unitsOrderedB2B totalOrderItems totalOrderItemsB2B unitsShipped ordersShipped unitsRefunded "
    "refundRate"
)
ASIN_TRAFFIC = (
    "browserSessions mobileAppSessions sessions browserSessionPercentage mobileAppSessionPercentage "
    "sessionPercentage browserPageViews mobileAppPageViews pageViews browserPageViewsPercentage "
    "mobileAppPageViewsPercentage pageViewsPercentage buyBoxPercentage unitSessionPercentage"
)
DATE_SALES = (
    f"orderedProductSales {AMOUNT} unitsOrdered totalOrderItems averageSalesPerOrderItem {AMOUNT} "
    f"averageUnitsPerOrderItem averageSellingPrice {AMOUNT} unitsRefunded refundRate claimsGranted "
    f"claimsAmount {AMOUNT} shippedProductSales {AMOUNT} unitsShipped ordersShipped"
)
DATE_TRAFFIC = (
    "browserPageViews mobileAppPageViews pageViews browserSessions mobileAppSessions sessions "
    "buyBoxPercentage orderItemSessionPercentage unitSessionPercentage averageOfferCount averageParentItems "
    "feedbackReceived negativeFeedbackReceived receivedNegativeFeedbackRate"
)


def trends_query(start: str, end: str, filters: list[tuple[str, list[str]]], fields: str = "",
                 date_aggregation: str = "DAY", asin_aggregation: str = "CHILD") -> str:  # fmt: skip
    rendered = ", ".join(f'{{marketplaceId: "{m}", asins: {json.dumps(a)}}}' for m, a in filters)
    fields = fields or (
        f"startDate endDate marketplaceId parentAsin childAsin sales {{ {ASIN_SALES} }} "
        f"traffic {{ {ASIN_TRAFFIC} }}"
    )
    return (
        f"query Trends {{ {ROOT} {{ salesAndTrafficTrends(asinAggregation: {asin_aggregation}, "
        f'dateAggregation: {date_aggregation}, startDate: "{start}", endDate: "{end}", filters: [{rendered}]) '
        f"{{ {fields} }} }} }}"
    )


def by_date_query(start: str, end: str, marketplace_ids: list[str], aggregate_by: str = "DAY") -> str:
    return (
        f'query {{ {ROOT} {{ salesAndTrafficByDate(aggregateBy: {aggregate_by}, startDate: "{start}", '
        f'endDate: "{end}", marketplaceIds: {json.dumps(marketplace_ids)}) {{ startDate endDate marketplaceId '
        f"sales {{ {DATE_SALES} }} traffic {{ {DATE_TRAFFIC} }} }} }} }}"
    )


def by_asin_query(start: str, end: str, marketplace_ids: list[str], aggregate_by: str = "CHILD") -> str:
    return (
        f'query {{ {ROOT} {{ salesAndTrafficByAsin(aggregateBy: {aggregate_by}, startDate: "{start}", '
        f'endDate: "{end}", marketplaceIds: {json.dumps(marketplace_ids)}) {{ startDate endDate marketplaceId '
        f"parentAsin childAsin sku sales {{ {ASIN_SALES} }} traffic {{ {ASIN_TRAFFIC} }} }} }} }}"
    )


def create_query(sp: httpx.Client, query: str, **extra: Any) -> httpx.Response:
    return call(sp, "POST", f"{DK}/queries", json={"query": query, **extra})


def wait_query(sp: httpx.Client, query_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        query = call(sp, "GET", f"{DK}/queries/{query_id}").json()
        if query["processingStatus"] in TERMINAL or time.monotonic() > deadline:
            return query
        time.sleep(0.03)


def run_query(sp: httpx.Client, query: str) -> dict[str, Any]:
    created = create_query(sp, query)
    assert created.status_code == 202, created.text
    return wait_query(sp, created.json()["queryId"])


def document_url(sp: httpx.Client, document_id: str) -> str:
    r = call(sp, "GET", f"{DK}/documents/{document_id}")
    assert r.status_code == 200, r.text
    return r.json()["documentUrl"]


def fetch_jsonl(sp: httpx.Client, document_id: str) -> list[dict[str, Any]]:
    r = httpx.get(document_url(sp, document_id), timeout=30)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


def records(sp: httpx.Client, query: str) -> list[dict[str, Any]]:
    done = run_query(sp, query)
    assert done["processingStatus"] == "DONE", done
    return fetch_jsonl(sp, done["dataDocumentId"]) if "dataDocumentId" in done else []
