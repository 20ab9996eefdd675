"""Fixtures of the simulator tests.

``sim``: the session simulator of tests/conftest.py (real SyntheticSeller). Until seller.py exists, a small
stand-in seller (below, test-only) is served instead so that the HTTP side can be tested on its own.
``slow_sim``: a dedicated simulator at time scale 1 (real Amazon speed) for rate-limit tests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_OFFICIAL_HEADER
from chalkola_pipelines.marketplaces import get_marketplace, get_marketplace_by_id
from chalkola_pipelines.simulator.credentials import (
    DEMO_ADS_CLIENT_ID,
    DEMO_ADS_CLIENT_SECRET,
    DEMO_REFRESH_TOKENS,
    DEMO_SP_CLIENT_ID,
    DEMO_SP_CLIENT_SECRET,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
MODELS = SHARED / "amazon-models"

try:
    from chalkola_pipelines.simulator.seller import SyntheticSeller  # noqa: F401

    HAVE_REAL_SELLER = True
except ImportError:
    HAVE_REAL_SELLER = False


class StandInSeller:
    """Test-only stand-in with the SyntheticSeller interface (used only while seller.py is missing)."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        self.seller_id = "A2STANDINSELLER"
        self.store_name = "Stand-in Store"
        self.marketplaces = [get_marketplace(c) for c in ("US", "CA", "UK", "DE", "JP")]
        self.truth = None

    def _h(self, *parts: object) -> int:
        return int(hashlib.sha256(":".join(map(str, (self.seed, *parts))).encode()).hexdigest()[:12], 16)

    def sales_and_traffic_document(
        self, marketplace_id, start, end, *, date_granularity="DAY", asin_granularity="PARENT"
    ):
        mkt = get_marketplace_by_id(marketplace_id)
        money = lambda v: {"amount": Decimal(v), "currencyCode": mkt.currency}  # noqa: E731
        by_date = []
        day = start
        while day <= end:
            by_date.append(
                {
                    "date": day.isoformat(),
                    "salesByDate": {
                        "orderedProductSales": money("123.45"),
                        "unitsOrdered": 5,
                        "totalOrderItems": 4,
                        "averageSalesPerOrderItem": money("30.86"),
                        "averageUnitsPerOrderItem": 1.25,
                        "averageSellingPrice": money("24.69"),
                        "unitsRefunded": 0,
                        "refundRate": 0.0,
                        "claimsGranted": 0,
                        "claimsAmount": money("0"),
                        "shippedProductSales": money("100.00"),
                        "unitsShipped": 4,
                        "ordersShipped": 3,
                    },
                    "trafficByDate": {
                        "browserPageViews": 10,
                        "mobileAppPageViews": 5,
                        "pageViews": 15,
                        "browserSessions": 8,
                        "mobileAppSessions": 4,
                        "sessions": 12,
                        "buyBoxPercentage": 99.5,
                        "orderItemSessionPercentage": 33.3,
                        "unitSessionPercentage": 41.7,
                        "averageOfferCount": 1,
                        "averageParentItems": 1,
                        "feedbackReceived": 0,
                        "negativeFeedbackReceived": 0,
                        "receivedNegativeFeedbackRate": 0.0,
                    },
                }
            )
            day += dt.timedelta(days=1)
        return {
            "reportSpecification": {
                "reportType": "GET_SALES_AND_TRAFFIC_REPORT",
                "reportOptions": {"dateGranularity": date_granularity, "asinGranularity": asin_granularity},
                "dataStartTime": start.isoformat(), "dataEndTime": end.isoformat(),
                "marketplaceIds": [marketplace_id],
            },
            "salesAndTrafficByDate": by_date,
            "salesAndTrafficByAsin": [{
                "parentAsin": "B0STANDIN1",
                "salesByAsin": {"unitsOrdered": 5, "orderedProductSales": money("123.45"), "totalOrderItems": 4},
                "trafficByAsin": {
                    "browserSessions": 8, "mobileAppSessions": 4, "sessions": 12, "browserSessionPercentage": 1.0,
                    "mobileAppSessionPercentage": 1.0, "sessionPercentage": 1.0, "browserPageViews": 10,
                    "mobileAppPageViews": 5, "pageViews": 15, "browserPageViewsPercentage": 1.0,
                    "mobileAppPageViewsPercentage": 1.0, "pageViewsPercentage": 1.0, "buyBoxPercentage": 99.5,
                    "unitSessionPercentage": 41.7,
                },
            }],
        }  # fmt: skip

    def _all_orders(self, marketplace_id: str) -> list[dict]:
        mkt = get_marketplace_by_id(marketplace_id)
        today = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        orders = []
        for hours in range(6, 24 * 40, 7):
            when = today - dt.timedelta(hours=hours)
            n = self._h(marketplace_id, hours)
            oid = f"{100 + n % 900:03d}-{n % 10_000_000:07d}-{(n // 7) % 10_000_000:07d}"
            orders.append({
                "AmazonOrderId": oid, "PurchaseDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "LastUpdateDate": (when + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "OrderStatus": "Shipped", "FulfillmentChannel": "AFN", "SalesChannel": mkt.sales_channel,
                "OrderTotal": {"CurrencyCode": mkt.currency, "Amount": "19.99"}, "NumberOfItemsShipped": 1,
                "NumberOfItemsUnshipped": 0, "MarketplaceId": marketplace_id, "OrderType": "StandardOrder",
                "IsBusinessOrder": False, "IsPrime": True,
            })  # fmt: skip
        return sorted(orders, key=lambda o: (o["PurchaseDate"], o["AmazonOrderId"]))

    def orders(self, marketplace_ids: Sequence[str], *, created_after=None, created_before=None,
               last_updated_after=None, last_updated_before=None) -> list[dict]:  # fmt: skip
        def ts(s: str) -> dt.datetime:
            return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))

        out = []
        for mid in marketplace_ids:
            for o in self._all_orders(mid):
                key = ts(o["PurchaseDate"]) if created_after else ts(o["LastUpdateDate"])
                lo, hi = (
                    (created_after, created_before)
                    if created_after
                    else (last_updated_after, last_updated_before)
                )
                if lo <= key and (hi is None or key < hi):
                    out.append(o)
        return sorted(out, key=lambda o: (o["PurchaseDate"], o["AmazonOrderId"]))

    def order_items(self, order_id: str) -> list[dict] | None:
        for m in self.marketplaces:
            for o in self._all_orders(m.marketplace_id):
                if o["AmazonOrderId"] == order_id:
                    return [{
                        "ASIN": "B0STANDIN1", "SellerSKU": "SKU-1", "OrderItemId": f"{self._h(order_id) % 10**14:014d}",
                        "Title": "Stand-in", "QuantityOrdered": 1, "QuantityShipped": 1,
                        "ItemPrice": {"CurrencyCode": m.currency, "Amount": "19.99"}, "IsGift": "false",
                    }]  # fmt: skip
        return None

    def order_report_rows(
        self, marketplace_id: str, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, str]]:
        rows = []
        for o in self.orders([marketplace_id], created_after=start, created_before=end):
            row = {h: "" for h in ORDER_REPORT_OFFICIAL_HEADER}
            row.update({
                "amazon-order-id": o["AmazonOrderId"], "purchase-date": o["PurchaseDate"].replace("Z", "+00:00"),
                "last-updated-date": o["LastUpdateDate"].replace("Z", "+00:00"), "order-status": "Shipped",
                "fulfillment-channel": "Amazon", "sales-channel": o["SalesChannel"], "sku": "SKU-1",
                "asin": "B0STANDIN1", "item-status": "Shipped", "quantity": "1",
                "currency": o["OrderTotal"]["CurrencyCode"], "item-price": "19.99", "is-business-order": "false",
            })  # fmt: skip
            rows.append(row)
        return rows

    def marketplace_participations(self) -> list[dict]:
        return [
            {
                "marketplace": {
                    "id": m.marketplace_id, "name": m.sales_channel, "countryCode": m.country_code,
                    "defaultCurrencyCode": m.currency, "defaultLanguageCode": "en_US",
                    "domainName": "www." + m.sales_channel.lower(),
                },
                "participation": {"isParticipating": True, "hasSuspendedListings": False},
                "storeName": self.store_name,
            }
            for m in self.marketplaces
        ]  # fmt: skip

    def _profile_id(self, m) -> int:
        return 3_000_000_000_000_000 + self._h("profile", m.code) % 10**15  # > 2**53

    def ads_profiles(self, region: str) -> list[dict]:
        return [
            {"profileId": self._profile_id(m), "countryCode": m.country_code if m.code != "UK" else "UK",
             "currencyCode": m.currency, "timezone": m.timezone, "dailyBudget": 100.0,
             "accountInfo": {"marketplaceStringId": m.marketplace_id, "id": "A2STANDINSELLER", "type": "seller",
                             "name": self.store_name, "validPaymentMethod": True}}
            for m in self.marketplaces if m.region == region
        ]  # fmt: skip

    def profile_region(self, profile_id: int) -> str | None:
        for m in self.marketplaces:
            if self._profile_id(m) == profile_id:
                return m.region
        return None

    def sp_advertised_product_rows(
        self, profile_id, start, end, columns, *, time_unit="DAILY"
    ) -> Iterator[dict]:
        day = start
        while day <= end:
            row = {"date": day.isoformat(), "startDate": start.isoformat(), "endDate": end.isoformat(),
                   "campaignId": 9_007_199_254_740_993 + day.toordinal(), "adId": 2**60 + day.toordinal(),
                   "impressions": 100, "clicks": 3, "cost": Decimal("1.23"), "spend": Decimal("1.23"),
                   "advertisedAsin": "B0STANDIN1", "campaignName": "Stand-in", "sales7d": Decimal("19.99")}  # fmt: skip
            yield {c: row.get(c) for c in columns}
            if time_unit == "SUMMARY":
                break
            day += dt.timedelta(days=1)


def _standin_state(time_scale: float):
    from chalkola_pipelines.simulator.clock import SimulatedClock
    from chalkola_pipelines.simulator.state import SimulatorState

    return SimulatorState(seller=StandInSeller(), clock=SimulatedClock(time_scale), seed=7)


@pytest.fixture(scope="session")
def sim(request):
    """The simulator under test (RunningSimulator)."""
    if HAVE_REAL_SELLER:
        yield request.getfixturevalue("simulator")
        return
    from chalkola_pipelines.simulator.server import start_state_in_thread

    running = start_state_in_thread(_standin_state(600.0))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def slow_sim():
    """A simulator at time scale 1: buckets refill at Amazon's real rates (for 429 tests)."""
    from chalkola_pipelines.simulator.server import run_in_thread, start_state_in_thread

    running = (
        run_in_thread(seed=7, time_scale=1.0)
        if HAVE_REAL_SELLER
        else start_state_in_thread(_standin_state(1.0))
    )
    yield running
    running.stop()


@pytest.fixture
def faults(sim):
    sim.state.faults.clear()
    yield sim.state.faults
    sim.state.faults.clear()


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


@pytest.fixture(scope="session")
def sp(sim) -> httpx.Client:
    """An httpx client for the NA SP-API of ``sim`` with a valid access token."""
    token = lwa_token(sim.base_url, "sp", "na")
    with httpx.Client(
        base_url=f"{sim.base_url}/sp/na", headers={"x-amz-access-token": token}, timeout=30
    ) as c:
        yield c


@pytest.fixture(scope="session")
def ads(sim) -> httpx.Client:
    """An httpx client for the NA Ads API of ``sim`` (no scope header: add it per request)."""
    token = lwa_token(sim.base_url, "ads", "na")
    headers = {"Authorization": f"Bearer {token}", "Amazon-Advertising-API-ClientId": DEMO_ADS_CLIENT_ID}
    with httpx.Client(base_url=f"{sim.base_url}/ads/na", headers=headers, timeout=30) as c:
        yield c
