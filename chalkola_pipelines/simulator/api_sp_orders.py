"""SP-API Orders v0 (orders, order items) and Sellers v1 (marketplace participations)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from chalkola_pipelines.marketplaces import UnknownMarketplaceError, get_marketplace_by_id
from chalkola_pipelines.simulator.api_params import (
    check_marketplaces,
    csv_list,
    csv_param,
    decode_token,
    encode_token,
    page_size,
    parse_datetime,
)
from chalkola_pipelines.simulator.api_pipeline import ApiError, Ctx, json_response
from chalkola_pipelines.simulator.reports import iso_s

ORDER_STATUSES = (
    "PendingAvailability",
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
    "Unfulfillable",
)
ORDER_ID_RE = re.compile(r"^\d{3}-\d{7}-\d{7}$")


async def get_orders(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    state = ctx.state
    now = state.clock.now()
    latest = now - dt.timedelta(minutes=2)
    if "NextToken" in params:
        query = decode_token(params["NextToken"], "NextToken")
    else:
        marketplace_ids = csv_list(
            ctx.request, "MarketplaceIds", at_most=50, missing="MarketplaceIds is required"
        )
        check_marketplaces(ctx, marketplace_ids)
        created_after = params.get("CreatedAfter")
        updated_after = params.get("LastUpdatedAfter")
        if not created_after and not updated_after:
            raise ApiError(
                400,
                "InvalidInput",
                "Either CreatedAfter or LastUpdatedAfter is required. Both cannot be empty.",
            )
        if created_after and ("LastUpdatedAfter" in params or "LastUpdatedBefore" in params):
            raise ApiError(
                400,
                "InvalidInput",
                "LastUpdatedAfter and LastUpdatedBefore cannot be set when CreatedAfter is set.",
            )
        if updated_after and ("CreatedAfter" in params or "CreatedBefore" in params):
            raise ApiError(
                400,
                "InvalidInput",
                "CreatedAfter or CreatedBefore cannot be set when LastUpdatedAfter is set.",
            )
        mode = "Created" if created_after else "LastUpdated"
        after = parse_datetime(params[f"{mode}After"], f"{mode}After")
        before = (
            parse_datetime(params[f"{mode}Before"], f"{mode}Before") if f"{mode}Before" in params else latest
        )
        if after > latest:
            raise ApiError(
                400, "InvalidInput", f"{mode}After must be at least two minutes before the current time"
            )
        if before > latest:
            raise ApiError(
                400, "InvalidInput", f"{mode}Before must be at least two minutes before the current time"
            )
        if before < after:
            raise ApiError(400, "InvalidInput", f"{mode}Before must be equal to or after {mode}After")
        statuses = csv_param(ctx.request, "OrderStatuses")
        bad = [s for s in statuses if s not in ORDER_STATUSES]
        if bad:
            raise ApiError(400, "InvalidInput", f"Invalid OrderStatuses {bad}")
        channels = csv_param(ctx.request, "FulfillmentChannels")
        if any(c not in ("AFN", "MFN") for c in channels):
            raise ApiError(400, "InvalidInput", "FulfillmentChannels values must be AFN or MFN")
        size = page_size(
            ctx.request,
            "MaxResultsPerPage",
            100,
            not_int="MaxResultsPerPage must be an integer from 1 to 100",
            out_of_range="MaxResultsPerPage value must be 1 - 100",
        )
        query = {
            "mids": marketplace_ids,
            "mode": mode,
            "after": after.isoformat(),
            "before": before.isoformat(),
            "statuses": statuses,
            "channels": channels,
            "size": size,
            "offset": 0,
        }
    try:
        mode = query["mode"]
        after = dt.datetime.fromisoformat(query["after"])
        before = dt.datetime.fromisoformat(query["before"])
        offset, size = int(query["offset"]), int(query["size"])
        mids, statuses, channels = list(query["mids"]), set(query["statuses"]), set(query["channels"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, "InvalidInput", "Invalid NextToken") from None
    window = (
        {"created_after": after, "created_before": before}
        if mode == "Created"
        else {"last_updated_after": after, "last_updated_before": before}
    )
    orders = await run_in_threadpool(state.seller.orders, mids, **window)
    orders = [
        o
        for o in orders
        if (not statuses or o.get("OrderStatus") in statuses)
        and (not channels or o.get("FulfillmentChannel") in channels)
    ]
    payload: dict[str, Any] = {"Orders": orders[offset : offset + size]}
    if offset + size < len(orders):
        payload["NextToken"] = encode_token({**query, "offset": offset + size})
    payload["CreatedBefore" if mode == "Created" else "LastUpdatedBefore"] = iso_s(before)
    return json_response(200, {"payload": payload})


async def get_order_items(ctx: Ctx) -> Response:
    order_id = ctx.request.path_params["orderId"]
    if not ORDER_ID_RE.match(order_id):
        raise ApiError(400, "InvalidInput", f"Invalid orderId {order_id!r}: expected the 3-7-7 format")
    items = await run_in_threadpool(ctx.state.seller.order_items, order_id)
    if items is None:
        raise ApiError(404, "NotFound", f"Order {order_id} not found")
    offset = 0
    if "NextToken" in ctx.request.query_params:
        token = decode_token(ctx.request.query_params["NextToken"], "NextToken")
        if token.get("order") != order_id:
            raise ApiError(400, "InvalidInput", "Invalid NextToken")
        offset = int(token.get("offset", 0))
    page_size = 100
    payload: dict[str, Any] = {"OrderItems": items[offset : offset + page_size], "AmazonOrderId": order_id}
    if offset + page_size < len(items):
        payload["NextToken"] = encode_token({"order": order_id, "offset": offset + page_size})
    return json_response(200, {"payload": payload})


async def get_marketplace_participations(ctx: Ctx) -> Response:
    participations = []
    for item in ctx.state.seller.marketplace_participations():
        try:
            region = get_marketplace_by_id(item["marketplace"]["id"]).region
        except (UnknownMarketplaceError, KeyError):
            region = None
        if region == ctx.region:
            participations.append(item)
    return json_response(200, {"payload": participations})
