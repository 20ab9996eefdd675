"""The request pipeline every API route goes through: injected request faults, authentication, the
usage-plan token bucket, the handler; then the headers the official models declare for that status code.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from chalkola_pipelines.marketplaces import REGIONS
from chalkola_pipelines.simulator.document_encoding import dumps_json
from chalkola_pipelines.simulator.faults import REQUEST_KINDS, Fault
from chalkola_pipelines.simulator.state import SimulatorState
from chalkola_pipelines.simulator.throttling import format_rate, usage_plan

log = logging.getLogger(__name__)

JSON = "application/json"
RAW_SEND_KEY = "chalkola.raw_send"

# Status codes on which each operation's model declares x-amzn-RateLimit-Limit (x-amzn-RequestId is
# declared on every code). shared/amazon-facts.md §1; checked against the models by the contract tests.
_REPORTS_L = frozenset({200, 202, 400, 404})
_ORDERS_L = frozenset({200, 400, 404})
RATE_LIMIT_HEADER_STATUSES: dict[str, frozenset[int]] = {
    "createReport": _REPORTS_L,
    "getReports": _REPORTS_L,
    "getReport": _REPORTS_L,
    "cancelReport": _REPORTS_L,
    "getReportDocument": _REPORTS_L,
    "getOrders": _ORDERS_L,
    "getOrderItems": _ORDERS_L,
    "getMarketplaceParticipations": frozenset({200, 400, 404, 413, 415, 429, 500, 503}),
    **dict.fromkeys(
        ("createQuery", "getQueries", "getQuery", "cancelQuery", "getDocument"),
        frozenset({200, 202, 204, 400, 404}),
    ),
}


class ApiError(Exception):
    """Raised by handlers: becomes the API's error response."""

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class Ctx:
    request: Request
    state: SimulatorState
    api: str  # "sp" | "ads" | "lwa" | "download" | "control"
    operation: str
    region: str
    request_id: str
    profile_id: int | None = None


Handler = Callable[[Ctx], Awaitable[Response]]


# -- responses -----------------------------------------------------------------------------------------


def json_response(
    status: int, body: Any, media_type: str = JSON, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(dumps_json(body), status_code=status, media_type=media_type, headers=dict(headers or {}))


def _error_body(api: str, status: int, code: str, message: str) -> Any:
    if api == "ads":
        return {"code": code, "detail": message}
    if api == "lwa":
        return {"error": code, "error_description": message}
    return {"errors": [{"code": code, "message": message, "details": ""}]}


def _finish(ctx: Ctx, response: Response) -> Response:
    """Adds x-amzn-RequestId, and x-amzn-RateLimit-Limit where the model declares it."""
    if ctx.api in ("sp", "ads"):
        response.headers["x-amzn-RequestId"] = ctx.request_id
    if ctx.api == "sp":
        plan = usage_plan(ctx.operation)
        declared = RATE_LIMIT_HEADER_STATUSES.get(ctx.operation, frozenset())
        if plan is not None and response.status_code in declared:
            response.headers["x-amzn-RateLimit-Limit"] = format_rate(plan.rate * ctx.state.time_scale)
    return response


def _error_response(ctx: Ctx, err: ApiError) -> Response:
    if ctx.api == "download":
        return _s3_error(err.status, err.code, err.message)
    if ctx.operation == "listProfiles":  # the general Ads error object: {code, details}
        return json_response(err.status, {"code": err.code, "details": err.message}, headers=err.headers)
    return json_response(
        err.status, _error_body(ctx.api, err.status, err.code, err.message), headers=err.headers
    )


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


def _retry_after(state: SimulatorState, simulated_seconds: float) -> str:
    """Retry-After in whole real seconds (scaled), at least 1 when any wait is needed."""
    if simulated_seconds <= 0:
        return "0"
    return str(max(1, math.ceil(state.clock.to_real_seconds(simulated_seconds))))


# -- injected request faults -------------------------------------------------------------------------


async def _reset_connection(scope: Scope) -> None:
    """Close the client's TCP connection without any response (RST where the platform allows it)."""
    send = scope.get(RAW_SEND_KEY)
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionResetError("simulated connection reset")  # unknown server: let it drop
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()
    for _ in range(5):  # let the server notice the disconnection so that it sends nothing
        await asyncio.sleep(0)


async def _apply_request_fault(ctx: Ctx, fault: Fault) -> Response | None:
    state = ctx.state
    if fault.kind == "slow":
        await asyncio.sleep(float(fault.params.get("delay", 5.0)))
        return None
    if fault.kind == "reset":
        await _reset_connection(ctx.request.scope)
        return Response(b"", status_code=500)
    status = int(fault.kind)
    if ctx.api == "download":
        codes = {429: "SlowDown", 500: "InternalError", 503: "ServiceUnavailable"}
        return _s3_error(status, codes[status], "Injected fault")
    headers: dict[str, str] = {}
    if status == 429:
        retry_after = fault.params.get("retry_after", 1.0)
        if retry_after is not None:
            headers["Retry-After"] = _retry_after(state, float(retry_after))
        if ctx.api == "sp":
            code, message = "QuotaExceeded", "You exceeded your quota for the requested resource."
        elif ctx.api == "ads":
            code, message = "429", "Too Many Requests"
        else:
            code, message = "too_many_requests", "Too many requests"
    elif status == 500:
        code, message = {
            "sp": ("InternalFailure", "We encountered an internal error. Please try again."),
            "ads": ("500", "Internal Server Error"),
        }.get(ctx.api, ("server_error", "Internal server error"))
    else:
        code, message = {
            "sp": ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
            "ads": ("503", "Service Unavailable"),
        }.get(ctx.api, ("temporarily_unavailable", "Service temporarily unavailable"))
    return json_response(status, _error_body(ctx.api, status, code, message), headers=headers)


# -- authentication ----------------------------------------------------------------------------------


def _auth_sp(ctx: Ctx) -> None:
    token = ctx.request.headers.get("x-amz-access-token", "")
    grant, valid = ctx.state.lookup_access_token(token) if token else (None, False)
    denied = {"x-amzn-ErrorType": "AccessDeniedException"}
    if grant is None or grant.api != "sp":
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.", headers=denied)
    if not valid:
        raise ApiError(
            403,
            "Unauthorized",
            "Access to requested resource is denied. The access token you provided has expired.",
            headers=denied,
        )
    if grant.region != ctx.region:
        raise ApiError(
            403,
            "Unauthorized",
            f"Access to requested resource is denied. The access token was issued for the {grant.region.upper()} "
            f"region, not {ctx.region.upper()}.",
            headers=denied,
        )


def _auth_ads(ctx: Ctx, *, scope_required: bool) -> None:
    headers = ctx.request.headers
    client_id = headers.get("amazon-advertising-api-clientid", "")
    authorization = headers.get("authorization", "")
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    code = "UNAUTHORIZED" if ctx.operation == "listProfiles" else "401"
    grant, valid = ctx.state.lookup_access_token(token) if token else (None, False)
    if not client_id:
        raise ApiError(401, code, "Amazon-Advertising-API-ClientId header is missing")
    if grant is None or grant.api != "ads":
        raise ApiError(401, code, "Not authorized: invalid or missing access token (Authorization: Bearer)")
    if not valid:
        raise ApiError(401, code, "Not authorized: the access token has expired")
    if grant.client_id != client_id:
        raise ApiError(401, code, "Amazon-Advertising-API-ClientId does not match the access token's client")
    if not scope_required:
        return
    scope = headers.get("amazon-advertising-api-scope", "").strip()
    if not scope:
        raise ApiError(401, code, "Scope header is missing")
    try:
        profile_id = int(scope)
    except ValueError:
        raise ApiError(401, code, f"No matching advertiser found for scope {scope!r}") from None
    if ctx.state.seller.profile_region(profile_id) != ctx.region:
        raise ApiError(401, code, f"No matching advertiser found for scope {profile_id}")
    ctx.profile_id = profile_id


def _rate_limit(ctx: Ctx) -> None:
    plan = usage_plan(ctx.operation)
    if plan is None:
        return
    decision = ctx.state.buckets.take((ctx.state.seller.seller_id, ctx.region, ctx.operation), plan)
    if decision.allowed:
        return
    if ctx.api == "ads":
        raise ApiError(
            429,
            "429",
            "Too Many Requests",
            headers={"Retry-After": _retry_after(ctx.state, decision.retry_after_simulated)},
        )
    raise ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")


def endpoint(api: str, operation: str, handler: Handler, *, auth: str | None = None) -> Callable:
    """Wraps a handler with faults → auth → rate limit → headers. ``auth``: None | "sp" | "ads" | "ads-scope" |
    "sp-brand-analytics" (SP-API, and the app must have the Brand Analytics role: Data Kiosk)."""

    async def route(request: Request) -> Response:
        state: SimulatorState = request.app.state.simulator
        region = request.path_params.get("region", "na")
        ctx = Ctx(request, state, api, operation, region, str(uuid.uuid4()))
        if region not in REGIONS:
            return Response("Not Found", status_code=404, media_type="text/plain")
        try:
            while True:
                fault = state.faults.take(operation, REQUEST_KINDS)
                if fault is None:
                    break
                log.info("simulator fault %s on %s", fault.kind, operation)
                injected = await _apply_request_fault(ctx, fault)
                if injected is not None:
                    state.request_stats.record(operation, region, injected.status_code)
                    return _finish(ctx, injected)
            if auth in ("sp", "sp-brand-analytics"):
                _auth_sp(ctx)
            if auth == "sp-brand-analytics" and not state.brand_analytics:
                raise ApiError(
                    403,
                    "Unauthorized",
                    "Access to requested resource is denied.",
                    headers={"x-amzn-ErrorType": "AccessDeniedException"},
                )
            elif auth in ("ads", "ads-scope"):
                _auth_ads(ctx, scope_required=auth == "ads-scope")
            _rate_limit(ctx)
            response = await handler(ctx)
        except ApiError as err:
            response = _error_response(ctx, err)
        # the path only: never the query string (presigned signatures) nor any header (tokens)
        log.info("%s %s %s → %s", operation, request.method, request.url.path, response.status_code)
        state.request_stats.record(operation, region, response.status_code)
        return _finish(ctx, response)

    route.__name__ = operation
    return route


class KeepRawSend:
    """Outermost ASGI layer: keeps the server's own ``send`` so that a fault can reset the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND_KEY] = send
        await self.app(scope, receive, send)
