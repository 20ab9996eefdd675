"""Small helpers shared by the simulator tests (raw httpx, no project client)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from typing import Any

import httpx

from chalkola_pipelines.simulator.credentials import (
    DEMO_ADS_CLIENT_ID,
    DEMO_ADS_CLIENT_SECRET,
    DEMO_REFRESH_TOKENS,
    DEMO_SP_CLIENT_ID,
    DEMO_SP_CLIENT_SECRET,
)

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
ST = "GET_SALES_AND_TRAFFIC_REPORT"
ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
TERMINAL = ("DONE", "FATAL", "CANCELLED")


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def call(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, retried on 429 only (the shared simulator's buckets are shared by all tests)."""
    for _ in range(100):
        response = client.request(method, url, **kwargs)
        if response.status_code != 429:
            return response
        time.sleep(0.1)
    return response


def create_report(sp: httpx.Client, report_type: str, marketplace_ids: list[str], start: str, end: str,
                  **options: str) -> httpx.Response:  # fmt: skip
    body: dict[str, Any] = {"reportType": report_type, "marketplaceIds": marketplace_ids,
                            "dataStartTime": start, "dataEndTime": end}  # fmt: skip
    if options:
        body["reportOptions"] = options
    return call(sp, "POST", "/reports/2021-06-30/reports", json=body)


def st_window(day: dt.date) -> tuple[str, str]:
    return f"{day.isoformat()}T00:00:00Z", f"{day.isoformat()}T23:59:59Z"


def wait_report(sp: httpx.Client, report_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        report = call(sp, "GET", f"/reports/2021-06-30/reports/{report_id}").json()
        if report["processingStatus"] in TERMINAL or time.monotonic() > deadline:
            return report
        time.sleep(0.03)


def wait_ads(ads: httpx.Client, report_id: str, profile_id: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = call(
            ads,
            "GET",
            f"/reporting/reports/{report_id}",
            headers={"Amazon-Advertising-API-Scope": str(profile_id)},
        )
        report = r.json()
        if report["status"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            return report
        time.sleep(0.03)


def download(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


def gunzip_json(data: bytes) -> Any:
    return json.loads(gzip.decompress(data))


def ads_request(
    start: dt.date, end: dt.date, columns: list[str] | None = None, **config: Any
) -> dict[str, Any]:
    return {
        "name": "test",
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "configuration": {
            "adProduct": "SPONSORED_PRODUCTS",
            "groupBy": ["advertiser"],
            "columns": columns
            or ["date", "campaignId", "adId", "impressions", "clicks", "cost", "advertisedAsin"],
            "reportTypeId": "spAdvertisedProduct",
            "timeUnit": "DAILY",
            "format": "GZIP_JSON",
            **config,
        },
    }


ADS_CT = {"Content-Type": "application/vnd.createasyncreportrequest.v3+json"}


def lwa_token(base_url: str, api: str = "sp", region: str = "na") -> str:
    client = (
        (DEMO_SP_CLIENT_ID, DEMO_SP_CLIENT_SECRET)
        if api == "sp"
        else (DEMO_ADS_CLIENT_ID, DEMO_ADS_CLIENT_SECRET)
    )
    r = httpx.post(
        f"{base_url}/lwa/{region}/auth/o2/token",
        data={"grant_type": "refresh_token", "refresh_token": DEMO_REFRESH_TOKENS[api][region],
              "client_id": client[0], "client_secret": client[1]},
    )  # fmt: skip
    r.raise_for_status()
    return r.json()["access_token"]
