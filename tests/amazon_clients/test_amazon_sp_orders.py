"""SpOrdersClient: NextToken pagination, the two-minute rule, PII removal, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from amazon_fakes import FakeAmazon, json_response, make_http

from chalkola_pipelines.amazon.errors import AmazonApiError
from chalkola_pipelines.amazon.sp_orders import SpOrdersClient, strip_pii

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
US = "ATVPDKIKX0DER"


def order(order_id: str) -> dict:
    return {
        "AmazonOrderId": order_id,
        "PurchaseDate": "2026-11-20T10:00:00Z",
        "LastUpdateDate": "2026-11-20T11:00:00Z",
        "OrderStatus": "Shipped",
        "OrderTotal": {"CurrencyCode": "USD", "Amount": "11.01"},
        "BuyerInfo": {"BuyerEmail": "x@marketplace.amazon.com", "BuyerName": "Jane"},
        "ShippingAddress": {"City": "Seattle", "PostalCode": "98101"},
        "BuyerTaxInformation": {"BuyerTaxRegistrationId": "123"},
        "IsPrime": False,
    }


def query(request) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(str(request.url)).query)


def make_client(fake: FakeAmazon) -> SpOrdersClient:
    return SpOrdersClient(make_http(fake), now=lambda: NOW)


def test_get_orders_follows_next_token_with_marketplace_ids_only():
    fake = FakeAmazon()
    fake.on(
        "GET",
        r"/orders/v0/orders\?",
        json_response(
            200,
            {"payload": {"Orders": [order("111-1"), order("111-2")], "NextToken": "NT1=="}},
            request_id="p1",
        ),
        json_response(200, {"payload": {"Orders": [order("111-3")], "NextToken": "NT2=="}}, request_id="p2"),
        json_response(200, {"payload": {"Orders": [order("111-4")]}}, request_id="p3"),
    )
    orders_client = make_client(fake)
    orders = list(
        orders_client.iter_orders(
            [US],
            created_after=datetime(2026, 11, 20, tzinfo=UTC),
            created_before=datetime(2026, 11, 21, tzinfo=UTC),
        )
    )
    assert [o["AmazonOrderId"] for o in orders] == ["111-1", "111-2", "111-3", "111-4"]
    first, second, third = fake.requests
    assert dict(query(first)) == {
        "MarketplaceIds": US,
        "CreatedAfter": "2026-11-20T00:00:00Z",
        "CreatedBefore": "2026-11-21T00:00:00Z",
        "MaxResultsPerPage": "100",
    }
    assert query(second) == [("MarketplaceIds", US), ("NextToken", "NT1==")]
    assert query(third) == [("MarketplaceIds", US), ("NextToken", "NT2==")]
    assert orders_client.request_ids == ["p1", "p2", "p3"]


def test_no_buyer_pii_in_returned_orders():
    fake = FakeAmazon()
    fake.on("GET", r"/orders/v0/orders\?", json_response(200, {"payload": {"Orders": [order("111-1")]}}))
    (o,) = make_client(fake).iter_orders([US], created_after=datetime(2026, 11, 20, tzinfo=UTC))
    for key in ("BuyerInfo", "ShippingAddress", "BuyerTaxInformation"):
        assert key not in o
    assert "Jane" not in repr(o) and "98101" not in repr(o)
    assert o["OrderTotal"] == {"CurrencyCode": "USD", "Amount": "11.01"}  # money stays a string
    assert o["IsPrime"] is False


def test_before_bounds_are_clamped_to_two_minutes_ago():
    fake = FakeAmazon()
    fake.on("GET", r"/orders/v0/orders\?", json_response(200, {"payload": {"Orders": []}}))
    client = make_client(fake)
    list(client.iter_orders([US], created_after=NOW - timedelta(hours=3), created_before=NOW))
    list(
        client.iter_orders(
            [US], last_updated_after=NOW - timedelta(hours=1), last_updated_before=NOW + timedelta(hours=1)
        )
    )
    first, second = fake.requests
    assert dict(query(first))["CreatedBefore"] == "2026-11-23T11:58:00Z"
    assert dict(query(second))["LastUpdatedBefore"] == "2026-11-23T11:58:00Z"
    assert dict(query(second))["LastUpdatedAfter"] == "2026-11-23T11:00:00Z"
    assert "CreatedAfter" not in dict(query(second))


def test_window_entirely_within_the_last_two_minutes_makes_no_call():
    fake = FakeAmazon()
    assert list(make_client(fake).iter_orders([US], created_after=NOW - timedelta(seconds=30))) == []
    assert fake.requests == []


def test_order_statuses_are_comma_separated():
    fake = FakeAmazon()
    fake.on("GET", r"/orders/v0/orders\?", json_response(200, {"payload": {"Orders": []}}))
    list(
        make_client(fake).iter_orders(
            [US, "A2EUQ1WTGCTBG2"],
            created_after=NOW - timedelta(days=1),
            order_statuses=["Shipped", "Unshipped"],
        )
    )
    q = dict(query(fake.requests[0]))
    assert q["OrderStatuses"] == "Shipped,Unshipped"
    assert q["MarketplaceIds"] == f"{US},A2EUQ1WTGCTBG2"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"created_after": NOW - timedelta(days=1), "last_updated_after": NOW - timedelta(days=1)},
        {"created_after": NOW - timedelta(days=1), "last_updated_before": NOW},
        {"last_updated_after": NOW - timedelta(days=1), "created_before": NOW},
        {"created_after": datetime(2026, 11, 1)},  # naive
    ],
)
def test_invalid_filter_combinations_are_refused(kwargs):
    with pytest.raises(ValueError):
        make_client(FakeAmazon()).iter_orders([US], **kwargs)  # validated eagerly, before iteration


def test_order_items_pagination_and_pii():
    fake = FakeAmazon()
    item = {
        "ASIN": "B0A",
        "OrderItemId": "1",
        "QuantityOrdered": 2,
        "ItemPrice": {"CurrencyCode": "USD", "Amount": "20.00"},
        "BuyerInfo": {"GiftMessageText": "Happy birthday Jane"},
    }
    fake.on(
        "GET",
        r"/orders/v0/orders/111-1/orderItems",
        json_response(200, {"payload": {"AmazonOrderId": "111-1", "OrderItems": [item], "NextToken": "IT1"}}),
        json_response(
            200, {"payload": {"AmazonOrderId": "111-1", "OrderItems": [dict(item, OrderItemId="2")]}}
        ),
    )
    items = list(make_client(fake).iter_order_items("111-1"))
    assert [i["OrderItemId"] for i in items] == ["1", "2"]
    assert all("BuyerInfo" not in i for i in items)
    assert query(fake.requests[0]) == []
    assert query(fake.requests[1]) == [("NextToken", "IT1")]


def test_errors_inside_a_200_payload_raise():
    fake = FakeAmazon()
    fake.on(
        "GET",
        r"/orders/v0/orders\?",
        json_response(200, {"errors": [{"code": "InvalidInput", "message": "bad date"}]}),
    )
    with pytest.raises(AmazonApiError, match="bad date"):
        list(make_client(fake).iter_orders([US], created_after=NOW - timedelta(days=1)))


def test_strip_pii_is_deep():
    assert strip_pii({"a": [{"BuyerEmail": "e", "b": 1}], "ShippingAddress": {}}) == {"a": [{"b": 1}]}
