"""SP-API Orders v0: getOrders and getOrderItems with NextToken pagination, without buyer PII.

No Restricted Data Token is ever requested; restricted blocks Amazon may still send (BuyerInfo,
ShippingAddress, buyer e-mail/name, tax ids) are dropped from every returned dict.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chalkola_pipelines.amazon.errors import AmazonApiError
from chalkola_pipelines.amazon.transport import AmazonHttpClient
from chalkola_pipelines.marketplaces import iso_z

logger = logging.getLogger(__name__)

ORDERS_PATH = "/orders/v0/orders"
#: Amazon refuses CreatedBefore/LastUpdatedBefore later than two minutes before now.
MIN_AGE = timedelta(minutes=2)
MAX_MARKETPLACES = 50

#: Keys that carry buyer identity or address; removed wherever they appear (orders and items).
PII_KEYS = frozenset(
    {
        "BuyerInfo",
        "ShippingAddress",
        "BillingAddress",
        "BuyerEmail",
        "BuyerName",
        "BuyerCounty",
        "BuyerPhoneNumber",
        "BuyerTaxInfo",
        "BuyerTaxInformation",
        "BuyerCustomizedInfo",
        "RecipientName",
        "Phone",
    }
)


def strip_pii(value: Any) -> Any:
    """``value`` without PII keys, at any depth (a new object; ``value`` is left as is)."""
    if isinstance(value, dict):
        return {k: strip_pii(v) for k, v in value.items() if k not in PII_KEYS}
    if isinstance(value, list):
        return [strip_pii(v) for v in value]
    return value


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


class SpOrdersClient:
    """getOrders / getOrderItems for one region. ``now`` is injectable (the two-minute rule)."""

    def __init__(
        self,
        http: AmazonHttpClient,
        *,
        max_results_per_page: int = 100,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 1 <= max_results_per_page <= 100:
            raise ValueError("max_results_per_page must be 1..100")
        self.http = http
        self.max_results_per_page = max_results_per_page
        self._now = now
        self.request_ids: list[str] = []

    def iter_orders(
        self,
        marketplace_ids: Sequence[str],
        *,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        last_updated_after: datetime | None = None,
        last_updated_before: datetime | None = None,
        order_statuses: Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every order matching the filters, page after page (PII removed).

        Give either ``created_after`` (optionally ``created_before``) or ``last_updated_after`` (optionally
        ``last_updated_before``). An upper bound later than now − 2 minutes is clamped to it, as Amazon
        requires.
        """
        marketplaces = [m for m in marketplace_ids if m]
        if not marketplaces:
            raise ValueError("iter_orders needs at least one marketplace id")
        if len(marketplaces) > MAX_MARKETPLACES:
            raise ValueError(f"getOrders accepts at most {MAX_MARKETPLACES} marketplace ids")
        if (created_after is None) == (last_updated_after is None):
            raise ValueError("give exactly one of created_after or last_updated_after")
        if created_after is not None and (last_updated_after or last_updated_before):
            raise ValueError("created_* and last_updated_* filters cannot be combined")
        if last_updated_after is not None and created_before is not None:
            raise ValueError("created_before cannot be combined with last_updated_after")

        latest = self._now().astimezone(UTC) - MIN_AGE
        params: list[tuple[str, str]] = [("MarketplaceIds", ",".join(marketplaces))]
        if created_after is not None:
            lower = _utc(created_after, "created_after")
            upper = min(_utc(created_before, "created_before"), latest) if created_before else None
            params.append(("CreatedAfter", iso_z(lower)))
            if upper is not None:
                params.append(("CreatedBefore", iso_z(upper)))
        else:
            assert last_updated_after is not None
            lower = _utc(last_updated_after, "last_updated_after")
            upper = (
                min(_utc(last_updated_before, "last_updated_before"), latest) if last_updated_before else None
            )
            params.append(("LastUpdatedAfter", iso_z(lower)))
            if upper is not None:
                params.append(("LastUpdatedBefore", iso_z(upper)))
        if lower >= (upper if upper is not None else latest):
            logger.info(
                "getOrders: empty window (lower bound %s is not before the allowed upper bound)", iso_z(lower)
            )
            return iter(())
        statuses = [s for s in (order_statuses or ()) if s]
        if statuses:
            params.append(("OrderStatuses", ",".join(statuses)))
        params.append(("MaxResultsPerPage", str(self.max_results_per_page)))

        return self._order_pages(params, marketplaces)

    def _order_pages(
        self, params: list[tuple[str, str]], marketplaces: list[str]
    ) -> Iterator[dict[str, Any]]:
        page = 0
        while True:
            page += 1
            response = self.http.request("getOrders", "GET", ORDERS_PATH, params=params)
            if response.request_id:
                self.request_ids.append(response.request_id)
            payload = _payload(response.json(), "getOrders", response.request_id)
            orders = payload.get("Orders") or []
            logger.info("getOrders page %d: %d orders", page, len(orders))
            for order in orders:
                yield strip_pii(order)
            token = payload.get("NextToken")
            if not token:
                return
            # the model: NextToken with the required MarketplaceIds only; filters are kept by Amazon
            params = [("MarketplaceIds", ",".join(marketplaces)), ("NextToken", str(token))]

    def iter_order_items(self, order_id: str) -> Iterator[dict[str, Any]]:
        """Every item of ``order_id`` (PII removed), following NextToken."""
        if not order_id:
            raise ValueError("order_id is required")
        params: list[tuple[str, str]] = []
        path = f"{ORDERS_PATH}/{order_id}/orderItems"
        while True:
            response = self.http.request("getOrderItems", "GET", path, params=params or None)
            if response.request_id:
                self.request_ids.append(response.request_id)
            payload = _payload(response.json(), "getOrderItems", response.request_id)
            for item in payload.get("OrderItems") or []:
                yield strip_pii(item)
            token = payload.get("NextToken")
            if not token:
                return
            params = [("NextToken", str(token))]


def _payload(body: Any, operation: str, request_id: str | None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise AmazonApiError(operation, 200, None, "response is not a JSON object", request_id)
    errors = body.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and errors else {}
        raise AmazonApiError(
            operation, 200, str(first.get("code") or ""), str(first.get("message") or errors), request_id
        )
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise AmazonApiError(operation, 200, None, "response without a payload object", request_id)
    return payload
