"""An independent client, python-amazon-sp-api (package ``sp_api``), works against the simulator.

Only the client's configuration is adapted (its LWA host and its marketplace endpoint), never the
simulator: this shows the simulator is shaped like Amazon, not like our own client.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from urllib.parse import urlsplit

import pytest

from chalkola_pipelines.simulator.credentials import (
    DEMO_REFRESH_TOKENS,
    DEMO_SP_CLIENT_ID,
    DEMO_SP_CLIENT_SECRET,
)

sp_api = pytest.importorskip("sp_api", reason="python-amazon-sp-api (dev extra) is not installed")
from sp_api.api import Orders, Reports  # noqa: E402
from sp_api.auth import AccessTokenClient  # noqa: E402
from sp_api.base import ReportType  # noqa: E402

US = "ATVPDKIKX0DER"


class _Marketplace:
    """What sp_api reads from a ``Marketplaces`` member: endpoint, marketplace_id, region."""

    def __init__(self, endpoint: str, marketplace_id: str) -> None:
        self.endpoint = endpoint
        self.marketplace_id = marketplace_id
        self.region = "us-east-1"


def _client_kwargs(base_url: str) -> dict:
    parts = urlsplit(base_url)

    class SimulatorTokenClient(AccessTokenClient):  # sp_api builds scheme + host + path
        scheme = f"{parts.scheme}://"
        host = parts.netloc
        path = "/lwa/na/auth/o2/token"

    return {
        "marketplace": _Marketplace(f"{base_url}/sp/na", US),
        "credentials": {
            "refresh_token": DEMO_REFRESH_TOKENS["sp"]["na"],
            "lwa_app_id": DEMO_SP_CLIENT_ID,
            "lwa_client_secret": DEMO_SP_CLIENT_SECRET,
        },
        "auth_token_client_class": SimulatorTokenClient,
    }


def test_sp_api_reports_round_trip(sim) -> None:
    kwargs = _client_kwargs(sim.base_url)
    reports = Reports(**kwargs)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    created = reports.create_report(
        reportType=ReportType.GET_SALES_AND_TRAFFIC_REPORT,
        marketplaceIds=[US],
        dataStartTime=f"{day.isoformat()}T00:00:00Z",
        dataEndTime=f"{day.isoformat()}T23:59:59Z",
    )
    report_id = created.payload["reportId"]
    deadline = time.monotonic() + 30
    while True:
        report = reports.get_report(report_id).payload
        if report["processingStatus"] in ("DONE", "FATAL", "CANCELLED") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert report["processingStatus"] == "DONE"
    document = reports.get_report_document(report["reportDocumentId"], download=True)
    body = document.payload["document"]
    parsed = json.loads(body)
    assert parsed["reportSpecification"]["marketplaceIds"] == [US]
    assert parsed["salesAndTrafficByDate"][0]["date"] == day.isoformat()


def test_sp_api_get_orders(sim) -> None:
    orders = Orders(**_client_kwargs(sim.base_url))
    after = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = orders.get_orders(CreatedAfter=after, MarketplaceIds=[US], MaxResultsPerPage=5)
    page = first.payload
    assert page["Orders"], "the seller should have orders in the last three days"
    assert all(o["MarketplaceId"] == US for o in page["Orders"])
    assert "CreatedBefore" in page
    if page.get("NextToken"):
        second = orders.get_orders(NextToken=page["NextToken"], MarketplaceIds=[US]).payload
        ids = {o["AmazonOrderId"] for o in page["Orders"]}
        assert not ids & {o["AmazonOrderId"] for o in second["Orders"]}
    items = orders.get_order_items(page["Orders"][0]["AmazonOrderId"]).payload
    assert items["AmazonOrderId"] == page["Orders"][0]["AmazonOrderId"]
    assert items["OrderItems"]
