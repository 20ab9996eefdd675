"""The simulator's HTTP side: LWA, SP-API (Reports, Orders v0, Sellers), Ads (profiles, reporting v3),
presigned document downloads and the /_simulator control routes, all under one base URL.

Layout: ``/lwa/{region}/auth/o2/token``, ``/sp/{region}/<official path>``, ``/ads/{region}/<official path>``,
``/_documents/{sp|ads}/{key}?X-Amz-…`` (no auth headers, like S3), ``/_simulator/faults``.
Every API request goes through the same steps: injected request faults, authentication, the usage-plan
token bucket, the handler; then the headers the official models declare for that status code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import logging
import math
import re
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_COLUMNS
from chalkola_pipelines.marketplaces import REGIONS, UnknownMarketplaceError, get_marketplace_by_id
from chalkola_pipelines.simulator import content
from chalkola_pipelines.simulator.credentials import DEMO_CLIENTS, DEMO_REFRESH_TOKENS
from chalkola_pipelines.simulator.documents import corrupt_gzip, dumps_json, gzip_bytes, truncate_body
from chalkola_pipelines.simulator.faults import REQUEST_KINDS, Fault, FaultError
from chalkola_pipelines.simulator.reports import (
    ADS_URL_TTL,
    SP_DOCUMENT_URL_TTL,
    AdsReport,
    SpReport,
    iso_ms,
    iso_s,
)
from chalkola_pipelines.simulator.state import SimulatorState
from chalkola_pipelines.simulator.usage_plans import format_rate, usage_plan

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
}

REPORT_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
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
TWO_YEARS = dt.timedelta(days=730)
ORDER_REPORT_MAX_RANGE = dt.timedelta(days=30)
ADS_MAX_RANGE_DAYS = 31
ADS_RETENTION_DAYS = 95
ADS_COLUMNS = frozenset(c.name for c in SP_ADVERTISED_PRODUCT_COLUMNS)
ADS_CREATE_MEDIA_TYPES = ("application/vnd.createasyncreportrequest.v3+json", JSON)
ADS_CREATE_RESPONSE = "application/vnd.createasyncreportresponse.v3+json"
ADS_GET_RESPONSE = "application/vnd.getasyncreportresponse.v3+json"
ADS_DELETE_RESPONSE = "application/vnd.deleteasyncreportresponse.v3+json"
ADS_FAILURE_REASON = "Report generation failed due to an internal error. Please retry"


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


def _json(
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
        return _json(err.status, {"code": err.code, "details": err.message}, headers=err.headers)
    return _json(err.status, _error_body(ctx.api, err.status, err.code, err.message), headers=err.headers)


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
        headers["Retry-After"] = _retry_after(state, float(fault.params.get("retry_after", 1.0)))
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
    return _json(status, _error_body(ctx.api, status, code, message), headers=headers)


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
    """Wraps a handler with faults → auth → rate limit → headers. ``auth``: None | "sp" | "ads" | "ads-scope"."""

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
                    return _finish(ctx, injected)
            if auth == "sp":
                _auth_sp(ctx)
            elif auth in ("ads", "ads-scope"):
                _auth_ads(ctx, scope_required=auth == "ads-scope")
            _rate_limit(ctx)
            response = await handler(ctx)
        except ApiError as err:
            response = _error_response(ctx, err)
        # the path only: never the query string (presigned signatures) nor any header (tokens)
        log.info("%s %s %s → %s", operation, request.method, request.url.path, response.status_code)
        return _finish(ctx, response)

    route.__name__ = operation
    return route


# -- helpers -----------------------------------------------------------------------------------------


def _base_url(ctx: Ctx) -> str:
    if ctx.state.base_url:
        return ctx.state.base_url.rstrip("/")
    return str(ctx.request.base_url).rstrip("/")


def _parse_datetime(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "InvalidInput", f"{name} must be an ISO 8601 date-time string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "InvalidInput", f"{name} {value!r} is not a valid ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _csv_param(request: Request, name: str) -> list[str]:
    """Swagger ``collectionFormat: csv`` (also accepts the parameter repeated)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def _encode_token(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str, name: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidInput", f"Invalid {name}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidInput", f"Invalid {name}")
    return data


def _seller_marketplace_ids(state: SimulatorState) -> set[str]:
    return {m.marketplace_id for m in state.seller.marketplaces}


def _check_marketplaces(ctx: Ctx, marketplace_ids: list[str]) -> None:
    participating = _seller_marketplace_ids(ctx.state)
    for marketplace_id in marketplace_ids:
        try:
            marketplace = get_marketplace_by_id(marketplace_id)
        except UnknownMarketplaceError:
            raise ApiError(400, "InvalidInput", f"Invalid marketplace id {marketplace_id!r}") from None
        if marketplace.region != ctx.region:
            raise ApiError(
                400,
                "InvalidInput",
                f"Marketplace {marketplace_id} ({marketplace.code}) belongs to the {marketplace.region.upper()} "
                f"endpoint, not {ctx.region.upper()}",
            )
        if marketplace_id not in participating:
            raise ApiError(
                400, "InvalidInput", f"The seller does not participate in marketplace {marketplace_id}"
            )


async def _json_body(ctx: Ctx) -> Any:
    raw = await ctx.request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError:
        code = "400" if ctx.api == "ads" else "InvalidInput"
        raise ApiError(400, code, "The request body is not valid JSON") from None


# -- LWA ---------------------------------------------------------------------------------------------


async def lwa_token(ctx: Ctx) -> Response:
    # application/x-www-form-urlencoded, parsed here (Starlette's form() needs python-multipart)
    form = {k: v[0] for k, v in parse_qs((await ctx.request.body()).decode("utf-8", "replace")).items()}
    grant_type = str(form.get("grant_type", ""))
    client_id = str(form.get("client_id", ""))
    client_secret = str(form.get("client_secret", ""))
    refresh_token = str(form.get("refresh_token", ""))
    client = DEMO_CLIENTS.get(client_id)
    if client is None or client[0] != client_secret:
        raise ApiError(401, "invalid_client", "Client authentication failed")
    if grant_type != "refresh_token":
        raise ApiError(
            400, "unsupported_grant_type", f"The grant type {grant_type!r} is not supported by this server"
        )
    api = client[1]
    region = next((r for r, t in DEMO_REFRESH_TOKENS[api].items() if t == refresh_token), None)
    if region is None:
        raise ApiError(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
    access_token = ctx.state.issue_access_token(api, region, client_id)
    body = {
        "access_token": access_token,
        "refresh_token": refresh_token,
        "token_type": "bearer",
        "expires_in": 3600,
    }
    return _json(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


# -- SP-API: Reports ---------------------------------------------------------------------------------


async def create_report(ctx: Ctx) -> Response:
    body = await _json_body(ctx)
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidInput", "The request body must be a CreateReportSpecification object")
    report_type = body.get("reportType")
    marketplace_ids = body.get("marketplaceIds")
    if not isinstance(report_type, str) or not report_type:
        raise ApiError(400, "InvalidInput", "reportType is required")
    if (
        not isinstance(marketplace_ids, list)
        or not 1 <= len(marketplace_ids) <= 25
        or not all(isinstance(m, str) for m in marketplace_ids)
    ):
        raise ApiError(400, "InvalidInput", "marketplaceIds must be an array of 1 to 25 marketplace ids")
    if report_type not in content.SUPPORTED_REPORT_TYPES:
        raise ApiError(
            400,
            "InvalidInput",
            f"Report type {report_type} is not supported by the chalkola simulator "
            f"(supported: {', '.join(content.SUPPORTED_REPORT_TYPES)})",
        )
    _check_marketplaces(ctx, marketplace_ids)
    options = body.get("reportOptions") or {}
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        raise ApiError(400, "InvalidInput", "reportOptions must be an object of string values")
    for name in ("dataStartTime", "dataEndTime"):
        if name not in body:
            raise ApiError(400, "InvalidInput", f"{name} is required for {report_type} by this simulator")
    start = _parse_datetime(body["dataStartTime"], "dataStartTime")
    end = _parse_datetime(body["dataEndTime"], "dataEndTime")
    now = ctx.state.clock.now()
    if start > end:
        raise ApiError(400, "InvalidInput", "dataStartTime must be before or equal to dataEndTime")
    # S&T reads only the date part (a marketplace-local day, up to 14 h ahead of UTC); others are instants
    latest_start = (now + dt.timedelta(hours=14)).date() if report_type == content.SALES_AND_TRAFFIC else None
    if (start.date() > latest_start) if latest_start else (start > now):
        raise ApiError(400, "InvalidInput", "dataStartTime must be prior to the current date and time")

    outcome, error = "DONE", None
    if report_type == content.SALES_AND_TRAFFIC:
        granularity = options.get("dateGranularity", "DAY")
        asin = options.get("asinGranularity", "PARENT")
        if granularity not in ("DAY", "WEEK", "MONTH"):
            raise ApiError(
                400, "InvalidInput", f"Invalid dateGranularity {granularity!r}: DAY, WEEK or MONTH"
            )
        if asin not in ("PARENT", "CHILD", "SKU"):
            raise ApiError(400, "InvalidInput", f"Invalid asinGranularity {asin!r}: PARENT, CHILD or SKU")
        if len(marketplace_ids) > 1:
            outcome = "FATAL"
            error = (
                "Report request could not be processed: GET_SALES_AND_TRAFFIC_REPORT supports only one "
                f"marketplace per request ({len(marketplace_ids)} were requested)."
            )
        elif start.date() < now.date() - TWO_YEARS:
            outcome = "CANCELLED"
    else:
        if end - start > ORDER_REPORT_MAX_RANGE:
            outcome, error = "FATAL", "Date range exceeded. Report can be requested only upto 30 days"
        elif start < now - TWO_YEARS:
            outcome = "CANCELLED"
    fault = ctx.state.faults.take("createReport", ("fatal", "cancelled"))
    if fault is not None:
        outcome = "FATAL" if fault.kind == "fatal" else "CANCELLED"
        error = "Simulated fatal error: the report could not be generated. Request a new report."
    report = ctx.state.reports.create_sp_report(
        region=ctx.region,
        report_type=report_type,
        marketplace_ids=marketplace_ids,
        data_start=start,
        data_end=end,
        options=options,
        outcome=outcome,  # type: ignore[arg-type]
        error_message=error if outcome == "FATAL" else None,
    )
    log.info("createReport %s %s → %s (will end %s)", report.report_id, report_type, ctx.region, outcome)
    return _json(202, {"reportId": report.report_id})


async def get_reports(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    next_token = params.get("nextToken")
    state = ctx.state
    if next_token is not None:
        if len([k for k in params.keys() if k != "nextToken"]) > 0:
            raise ApiError(
                400,
                "InvalidInput",
                "nextToken must be the only parameter: specifying nextToken with any other parameters "
                "will cause the request to fail",
            )
        query = _decode_token(next_token, "nextToken")
    else:
        report_types = _csv_param(ctx.request, "reportTypes")
        if not report_types:
            raise ApiError(400, "InvalidInput", "Either reportTypes or nextToken is required")
        if len(report_types) > 10:
            raise ApiError(400, "InvalidInput", "reportTypes accepts at most 10 values")
        statuses = _csv_param(ctx.request, "processingStatuses")
        bad = [s for s in statuses if s not in REPORT_STATUSES]
        if bad:
            raise ApiError(
                400, "InvalidInput", f"Invalid processingStatuses {bad}: {', '.join(REPORT_STATUSES)}"
            )
        marketplace_ids = _csv_param(ctx.request, "marketplaceIds")
        if len(marketplace_ids) > 10:
            raise ApiError(400, "InvalidInput", "marketplaceIds accepts at most 10 values")
        try:
            page_size = int(params.get("pageSize", "10"))
        except ValueError:
            raise ApiError(400, "InvalidInput", "pageSize must be an integer from 1 to 100") from None
        if not 1 <= page_size <= 100:
            raise ApiError(400, "InvalidInput", "pageSize must be from 1 to 100")
        now = state.clock.now()
        since = _parse_datetime(params["createdSince"], "createdSince") if "createdSince" in params else None
        until = _parse_datetime(params["createdUntil"], "createdUntil") if "createdUntil" in params else now
        since = since or now - dt.timedelta(days=90)
        query = {
            "types": report_types,
            "statuses": statuses,
            "mids": marketplace_ids,
            "size": page_size,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "offset": 0,
        }
    try:
        since = dt.datetime.fromisoformat(query["since"])
        until = dt.datetime.fromisoformat(query["until"])
        offset, size = int(query["offset"]), int(query["size"])
        types, statuses, mids = set(query["types"]), set(query["statuses"]), set(query["mids"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, "InvalidInput", "Invalid nextToken") from None
    elapsed = state.clock.elapsed()
    matching = [
        r
        for r in state.reports.list_sp_reports(ctx.region)
        if r.report_type in types
        and (not statuses or r.status(elapsed) in statuses)
        and (not mids or mids.intersection(r.marketplace_ids))
        and since <= r.created_at <= until
    ]
    page = matching[offset : offset + size]
    body: dict[str, Any] = {"reports": [r.to_json(state.clock) for r in page]}
    if offset + size < len(matching):
        body["nextToken"] = _encode_token({**query, "offset": offset + size})
    return _json(200, body)


def _report_or_404(ctx: Ctx) -> SpReport:
    report_id = ctx.request.path_params["reportId"]
    report = ctx.state.reports.get_sp_report(ctx.region, report_id)
    if report is None:
        raise ApiError(404, "NotFound", f"Report {report_id} not found")
    return report


async def get_report(ctx: Ctx) -> Response:
    return _json(200, _report_or_404(ctx).to_json(ctx.state.clock))


async def cancel_report(ctx: Ctx) -> Response:
    report = _report_or_404(ctx)
    status = report.status(ctx.state.clock.elapsed())
    if status != "IN_QUEUE":
        raise ApiError(
            400,
            "InvalidInput",
            f"Report {report.report_id} cannot be cancelled: its processingStatus is {status}; only reports "
            "with processingStatus IN_QUEUE can be cancelled",
        )
    report.cancelled_sim = ctx.state.clock.elapsed()
    return Response(b"", status_code=200, media_type=JSON)


async def get_report_document(ctx: Ctx) -> Response:
    document_id = ctx.request.path_params["reportDocumentId"]
    state = ctx.state
    document = state.reports.get_sp_document(ctx.region, document_id)
    if document is None:
        raise ApiError(404, "NotFound", f"Report document {document_id} not found")
    encoding = ctx.request.query_params.get("enableContentEncodingUrlHeader", "false").lower() == "true"
    expired = state.faults.take("getReportDocument", ("expired_url",)) is not None
    signature = state.reports.presign(
        "sp", document_id, SP_DOCUMENT_URL_TTL, content_encoding_gzip=encoding, expired=expired
    )
    url = _presigned_url(ctx, "sp", document_id, signature, int(SP_DOCUMENT_URL_TTL))
    return _json(200, {"reportDocumentId": document_id, "url": url, "compressionAlgorithm": "GZIP"})


def _presigned_url(ctx: Ctx, kind: str, key: str, signature: str, ttl: int) -> str:
    query = urlencode(
        {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Date": ctx.state.clock.now().strftime("%Y%m%dT%H%M%SZ"),
            "X-Amz-Expires": str(ttl),
            "X-Amz-Signature": signature,
        }
    )
    suffix = ".json.gz" if kind == "ads" else ""
    return f"{_base_url(ctx)}/_documents/{kind}/{key}{suffix}?{query}"


# -- SP-API: Orders v0, Sellers ----------------------------------------------------------------------


async def get_orders(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    state = ctx.state
    now = state.clock.now()
    latest = now - dt.timedelta(minutes=2)
    if "NextToken" in params:
        query = _decode_token(params["NextToken"], "NextToken")
    else:
        marketplace_ids = _csv_param(ctx.request, "MarketplaceIds")
        if not marketplace_ids:
            raise ApiError(400, "InvalidInput", "MarketplaceIds is required")
        if len(marketplace_ids) > 50:
            raise ApiError(400, "InvalidInput", "MarketplaceIds accepts at most 50 values")
        _check_marketplaces(ctx, marketplace_ids)
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
        after = _parse_datetime(params[f"{mode}After"], f"{mode}After")
        before = (
            _parse_datetime(params[f"{mode}Before"], f"{mode}Before") if f"{mode}Before" in params else latest
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
        statuses = _csv_param(ctx.request, "OrderStatuses")
        bad = [s for s in statuses if s not in ORDER_STATUSES]
        if bad:
            raise ApiError(400, "InvalidInput", f"Invalid OrderStatuses {bad}")
        channels = _csv_param(ctx.request, "FulfillmentChannels")
        if any(c not in ("AFN", "MFN") for c in channels):
            raise ApiError(400, "InvalidInput", "FulfillmentChannels values must be AFN or MFN")
        try:
            size = int(params.get("MaxResultsPerPage", "100"))
        except ValueError:
            raise ApiError(
                400, "InvalidInput", "MaxResultsPerPage must be an integer from 1 to 100"
            ) from None
        if not 1 <= size <= 100:
            raise ApiError(400, "InvalidInput", "MaxResultsPerPage value must be 1 - 100")
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
        payload["NextToken"] = _encode_token({**query, "offset": offset + size})
    payload["CreatedBefore" if mode == "Created" else "LastUpdatedBefore"] = iso_s(before)
    return _json(200, {"payload": payload})


async def get_order_items(ctx: Ctx) -> Response:
    order_id = ctx.request.path_params["orderId"]
    if not ORDER_ID_RE.match(order_id):
        raise ApiError(400, "InvalidInput", f"Invalid orderId {order_id!r}: expected the 3-7-7 format")
    items = await run_in_threadpool(ctx.state.seller.order_items, order_id)
    if items is None:
        raise ApiError(404, "NotFound", f"Order {order_id} not found")
    offset = 0
    if "NextToken" in ctx.request.query_params:
        token = _decode_token(ctx.request.query_params["NextToken"], "NextToken")
        if token.get("order") != order_id:
            raise ApiError(400, "InvalidInput", "Invalid NextToken")
        offset = int(token.get("offset", 0))
    page_size = 100
    payload: dict[str, Any] = {"OrderItems": items[offset : offset + page_size], "AmazonOrderId": order_id}
    if offset + page_size < len(items):
        payload["NextToken"] = _encode_token({"order": order_id, "offset": offset + page_size})
    return _json(200, {"payload": payload})


async def get_marketplace_participations(ctx: Ctx) -> Response:
    participations = []
    for item in ctx.state.seller.marketplace_participations():
        try:
            region = get_marketplace_by_id(item["marketplace"]["id"]).region
        except (UnknownMarketplaceError, KeyError):
            region = None
        if region == ctx.region:
            participations.append(item)
    return _json(200, {"payload": participations})


# -- Ads API -----------------------------------------------------------------------------------------


async def list_profiles(ctx: Ctx) -> Response:
    return _json(200, list(ctx.state.seller.ads_profiles(ctx.region)))


def _ads_400(detail: str) -> ApiError:
    return ApiError(400, "400", detail)


def _parse_ads_date(value: Any, name: str) -> dt.date:
    if not isinstance(value, str):
        raise _ads_400(f"{name} is required and must be a YYYY-MM-DD string")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _ads_400(f"{name} {value!r} is not a valid YYYY-MM-DD date") from None


def _profile_today(ctx: Ctx, profile_id: int) -> dt.date:
    for profile in ctx.state.seller.ads_profiles(ctx.region):
        if int(profile.get("profileId", -1)) == profile_id and profile.get("timezone"):
            return ctx.state.clock.now().astimezone(ZoneInfo(profile["timezone"])).date()
    return ctx.state.clock.today()


def _validate_ads_configuration(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise _ads_400("configuration is required and must be an object")
    required = ("adProduct", "columns", "format", "groupBy", "reportTypeId", "timeUnit")
    missing = [k for k in required if config.get(k) in (None, "", [])]
    if missing:
        raise _ads_400(f"configuration is missing required fields: {', '.join(missing)}")
    if config["reportTypeId"] != "spAdvertisedProduct":
        raise _ads_400(
            f"reportTypeId {config['reportTypeId']!r} is not supported by the chalkola simulator "
            "(supported: spAdvertisedProduct)"
        )
    if config["adProduct"] != "SPONSORED_PRODUCTS":
        raise _ads_400(f"adProduct {config['adProduct']!r} is invalid for reportTypeId spAdvertisedProduct")
    if config["groupBy"] != ["advertiser"]:
        raise _ads_400(
            f"groupBy {config['groupBy']!r} is invalid for spAdvertisedProduct. Allowed: (advertiser)"
        )
    columns = config["columns"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _ads_400("configuration columns must be a non-empty array of strings")
    invalid = [c for c in columns if c not in ADS_COLUMNS]
    if invalid:
        raise _ads_400(
            f"configuration columns includes invalid values: ({', '.join(invalid)}) for reportTypeId spAdvertisedProduct"
        )
    if config["timeUnit"] not in ("DAILY", "SUMMARY"):
        raise _ads_400(f"timeUnit {config['timeUnit']!r} is invalid: DAILY or SUMMARY")
    if config["timeUnit"] == "DAILY" and {"startDate", "endDate"} & set(columns):
        raise _ads_400("columns startDate and endDate are only supported with timeUnit SUMMARY")
    if config["timeUnit"] == "SUMMARY" and "date" in columns:
        raise _ads_400("column date is only supported with timeUnit DAILY")
    if config["format"] != "GZIP_JSON":
        raise _ads_400(f"format {config['format']!r} is invalid for spAdvertisedProduct: GZIP_JSON")
    filters = config.get("filters")
    if filters is not None:
        if not isinstance(filters, list):
            raise _ads_400("configuration filters must be an array or null")
        for f in filters:
            field = f.get("field") if isinstance(f, dict) else None
            if field != "adCreativeStatus":
                raise _ads_400(
                    f"configuration filters includes fields: ({field}) which are invalid for groupBys: advertiser. "
                    "Allowed filters for groupBy advertiser: (field: adCreativeStatus, values: ENABLED, PAUSED, ARCHIVED)"
                )
            values = f.get("values")
            if (
                not isinstance(values, list)
                or not values
                or any(v not in ("ENABLED", "PAUSED", "ARCHIVED") for v in values)
            ):
                raise _ads_400("adCreativeStatus filter values must be among ENABLED, PAUSED, ARCHIVED")
    return {**config, "filters": filters}


async def create_async_report(ctx: Ctx) -> Response:
    media_type = ctx.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ADS_CREATE_MEDIA_TYPES:
        raise ApiError(
            415,
            "415",
            f"Content-Type {media_type or '(none)'} is not supported: use {ADS_CREATE_MEDIA_TYPES[0]}",
        )
    body = await _json_body(ctx)
    if not isinstance(body, dict):
        raise _ads_400("The request body must be a CreateAsyncReportRequest object")
    assert ctx.profile_id is not None
    config = _validate_ads_configuration(body.get("configuration"))
    start = _parse_ads_date(body.get("startDate"), "startDate")
    end = _parse_ads_date(body.get("endDate"), "endDate")
    if end < start:
        raise _ads_400("endDate must be on or after startDate")
    if (end - start).days + 1 > ADS_MAX_RANGE_DAYS:
        raise _ads_400(
            f"Report date range ({start} to {end}, {(end - start).days + 1} days) exceeds the maximum of "
            f"{ADS_MAX_RANGE_DAYS} days for spAdvertisedProduct"
        )
    today = _profile_today(ctx, ctx.profile_id)
    earliest = today - dt.timedelta(days=ADS_RETENTION_DAYS)
    if start < earliest:
        raise _ads_400(
            f"startDate {start} is older than the {ADS_RETENTION_DAYS}-day data retention of "
            f"spAdvertisedProduct (earliest: {earliest})"
        )
    if end > today:
        raise _ads_400(f"endDate {end} is in the future (today is {today} in the profile's time zone)")
    name = body.get("name")
    state = ctx.state
    probe = AdsReport(
        report_id="", region=ctx.region, profile_id=ctx.profile_id, name=None, start_date=start,
        end_date=end, configuration=config, created_at=state.clock.now(), created_sim=0.0,
        pending_seconds=0.0, processing_seconds=0.0, outcome="COMPLETED",
    )  # fmt: skip
    duplicate = state.reports.find_in_flight_ads_report(probe.request_key())
    if duplicate is not None:
        raise ApiError(425, "425", f"The Request is a duplicate of : {duplicate.report_id}")
    failed = state.faults.take("createAsyncReport", ("failed",)) is not None
    report = state.reports.create_ads_report(
        region=ctx.region,
        profile_id=ctx.profile_id,
        name=name if isinstance(name, str) else None,
        start_date=start,
        end_date=end,
        configuration=config,
        outcome="FAILED" if failed else "COMPLETED",
        failure_reason=ADS_FAILURE_REASON if failed else None,
    )
    return _json(200, await _async_report_json(ctx, report), ADS_CREATE_RESPONSE)


async def _ads_content(ctx: Ctx, report: AdsReport) -> bytes:
    if report.content is None:
        raw = await run_in_threadpool(content.ads_report_document, ctx.state.seller, report)
        report.content = gzip_bytes(raw)
    return report.content


async def _async_report_json(ctx: Ctx, report: AdsReport, *, expired_url: bool = False) -> dict[str, Any]:
    state = ctx.state
    elapsed = state.clock.elapsed()
    status = report.status(elapsed)
    updated = report.created_at
    if status != "PENDING":
        updated = report.created_at + dt.timedelta(
            seconds=state.clock.to_real_seconds(report.pending_seconds)
        )
    body: dict[str, Any] = {
        "reportId": report.report_id,
        "name": report.name,
        "status": status,
        "configuration": report.configuration,
        "startDate": report.start_date.isoformat(),
        "endDate": report.end_date.isoformat(),
        "createdAt": iso_ms(report.created_at),
        "updatedAt": iso_ms(updated),
        "generatedAt": None,
        "url": None,
        "urlExpiresAt": None,
        "fileSize": None,
        "failureReason": None,
    }
    if status == "FAILED":
        body["updatedAt"] = iso_ms(report.finished_at(state.clock))
        body["failureReason"] = report.failure_reason or ADS_FAILURE_REASON
    elif status == "COMPLETED":
        generated = report.finished_at(state.clock)
        data = await _ads_content(ctx, report)
        done_sim = report.created_sim + report.pending_seconds + report.processing_seconds
        if expired_url:
            token = state.reports.presign("ads", report.report_id, ADS_URL_TTL, expired=True)
            issued = state.clock.now()
        else:
            issued_sim = report.url_issued_sim if report.url_token else None
            if issued_sim is None or elapsed - issued_sim > ADS_URL_TTL:
                # the first URL dates from generation; a fresh one is signed once it has expired
                fresh = report.url_token is None and elapsed - done_sim <= ADS_URL_TTL
                issued_sim = done_sim if fresh else elapsed
                report.url_token = state.reports.presign(
                    "ads", report.report_id, ADS_URL_TTL, issued_sim=issued_sim
                )
                report.url_issued_sim = issued_sim
            token = report.url_token
            issued = state.clock.at_elapsed(issued_sim)
        body.update(
            updatedAt=iso_ms(generated),
            generatedAt=iso_ms(generated),
            url=_presigned_url(ctx, "ads", report.report_id, token, int(ADS_URL_TTL)),
            urlExpiresAt=iso_ms(issued + dt.timedelta(seconds=ADS_URL_TTL)),
            fileSize=len(data),
        )
    return body


def _ads_report_or_404(ctx: Ctx) -> AdsReport:
    report_id = ctx.request.path_params["reportId"]
    report = ctx.state.reports.get_ads_report(ctx.region, report_id)
    if report is None or report.profile_id != ctx.profile_id:
        raise ApiError(404, "404", f"Report {report_id} not found")
    return report


async def get_async_report(ctx: Ctx) -> Response:
    report = _ads_report_or_404(ctx)
    state = ctx.state
    if report.status(state.clock.elapsed()) in ("PENDING", "PROCESSING"):
        if state.faults.take("getAsyncReport", ("failed",)) is not None:
            report.outcome, report.failure_reason = "FAILED", ADS_FAILURE_REASON
    expired = False
    if report.status(state.clock.elapsed()) == "COMPLETED":
        expired = state.faults.take("getAsyncReport", ("expired_url",)) is not None
    return _json(200, await _async_report_json(ctx, report, expired_url=expired), ADS_GET_RESPONSE)


async def delete_async_report(ctx: Ctx) -> Response:
    report = _ads_report_or_404(ctx)
    status = report.status(ctx.state.clock.elapsed())
    if status != "PENDING":
        raise _ads_400(f"Report {report.report_id} is {status}: only PENDING reports can be cancelled")
    report.deleted = True
    body = {"code": "200", "detail": f"Report {report.report_id} was cancelled", "reportId": report.report_id}
    return _json(200, body, ADS_DELETE_RESPONSE)


# -- presigned downloads -----------------------------------------------------------------------------


async def download_document(ctx: Ctx) -> Response:
    state = ctx.state
    kind = "sp" if ctx.operation == "downloadReportDocument" else "ads"
    key = ctx.request.path_params["key"]
    if kind == "ads" and key.endswith(".json.gz"):
        key = key[: -len(".json.gz")]
    signature = ctx.request.query_params.get("X-Amz-Signature", "")
    url, valid = state.reports.resolve_url(signature)
    if url is None or url.kind != kind or url.key != key:
        raise ApiError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if not valid or state.faults.take(ctx.operation, ("expired_url",)) is not None:
        raise ApiError(403, "AccessDenied", "Request has expired")
    mutation = state.faults.take(ctx.operation, ("corrupt_gzip", "truncated_json", "extra_field"))
    if kind == "sp":
        data = await _sp_document_bytes(ctx, key, mutation.kind if mutation else None)
    else:
        report = state.reports.ads_reports.get(key)
        if report is None:
            raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
        if mutation is not None and mutation.kind in ("truncated_json", "extra_field"):
            raw = await run_in_threadpool(
                content.ads_report_document, state.seller, report, extra_field=mutation.kind == "extra_field"
            )
            data = gzip_bytes(truncate_body(raw) if mutation.kind == "truncated_json" else raw)
        else:
            data = await _ads_content(ctx, report)
    if mutation is not None and mutation.kind == "corrupt_gzip":
        data = corrupt_gzip(data)
    headers = {"ETag": f'"{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}"'}
    if url.content_encoding_gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(data, status_code=200, media_type="application/octet-stream", headers=headers)


async def _sp_document_bytes(ctx: Ctx, document_id: str, mutation: str | None) -> bytes:
    state = ctx.state
    document = state.reports.sp_documents.get(document_id)
    report = state.reports.sp_reports.get(document.report_id) if document else None
    if document is None or report is None:
        raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
    if document.kind == "error":
        return gzip_bytes(content.error_document(report))
    if mutation in ("truncated_json", "extra_field"):
        raw = await run_in_threadpool(
            content.sp_report_document, state.seller, report, extra_field=mutation == "extra_field"
        )
        return gzip_bytes(truncate_body(raw) if mutation == "truncated_json" else raw)
    if document.content is None:
        raw = await run_in_threadpool(content.sp_report_document, state.seller, report)
        document.content = gzip_bytes(raw)
    return document.content


# -- control routes ----------------------------------------------------------------------------------


async def faults_route(request: Request) -> Response:
    state: SimulatorState = request.app.state.simulator
    if request.method == "DELETE":
        state.faults.clear()
        return _json(200, {"faults": []})
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"null")
            items = body if isinstance(body, list) else [body]
            for item in items:
                if not isinstance(item, dict):
                    raise FaultError("each fault must be an object with operation and kind")
                state.faults.add_from_json(item)
        except (ValueError, TypeError, FaultError) as exc:
            return _json(400, {"error": str(exc)})
    return _json(200, {"faults": state.faults.pending()})


async def health_route(request: Request) -> Response:
    state: SimulatorState = request.app.state.simulator
    body = {
        "status": "ok",
        "seed": state.seed,
        "timeScale": state.time_scale,
        "sellerId": state.seller.seller_id,
    }
    return _json(200, body)


async def advance_route(request: Request) -> Response:
    """POST {"seconds": N}: move the simulated clock forward (demo and manual testing)."""
    state: SimulatorState = request.app.state.simulator
    try:
        seconds = float(json.loads(await request.body() or b"{}").get("seconds", 0))
        state.clock.advance(seconds)
    except (ValueError, TypeError, AttributeError) as exc:
        return _json(400, {"error": str(exc)})
    return _json(200, {"elapsed": state.clock.elapsed()})


# -- the app -----------------------------------------------------------------------------------------


class _KeepRawSend:
    """Outermost ASGI layer: keeps the server's own ``send`` so that a fault can reset the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND_KEY] = send
        await self.app(scope, receive, send)


def create_app(state: SimulatorState) -> ASGIApp:
    """The Starlette application serving every route of the simulator for ``state``."""
    sp = "/sp/{region}"
    ads = "/ads/{region}"
    routes = [
        Route("/lwa/{region}/auth/o2/token", endpoint("lwa", "lwaToken", lwa_token), methods=["POST"]),
        Route(f"{sp}/reports/2021-06-30/reports", endpoint("sp", "createReport", create_report, auth="sp"), methods=["POST"]),
        Route(f"{sp}/reports/2021-06-30/reports", endpoint("sp", "getReports", get_reports, auth="sp"), methods=["GET"]),
        Route(f"{sp}/reports/2021-06-30/reports/{{reportId}}", endpoint("sp", "getReport", get_report, auth="sp"), methods=["GET"]),
        Route(f"{sp}/reports/2021-06-30/reports/{{reportId}}", endpoint("sp", "cancelReport", cancel_report, auth="sp"), methods=["DELETE"]),
        Route(f"{sp}/reports/2021-06-30/documents/{{reportDocumentId}}", endpoint("sp", "getReportDocument", get_report_document, auth="sp"), methods=["GET"]),
        Route(f"{sp}/orders/v0/orders", endpoint("sp", "getOrders", get_orders, auth="sp"), methods=["GET"]),
        Route(f"{sp}/orders/v0/orders/{{orderId}}/orderItems", endpoint("sp", "getOrderItems", get_order_items, auth="sp"), methods=["GET"]),
        Route(f"{sp}/sellers/v1/marketplaceParticipations", endpoint("sp", "getMarketplaceParticipations", get_marketplace_participations, auth="sp"), methods=["GET"]),
        Route(f"{ads}/v2/profiles", endpoint("ads", "listProfiles", list_profiles, auth="ads"), methods=["GET"]),
        Route(f"{ads}/reporting/reports", endpoint("ads", "createAsyncReport", create_async_report, auth="ads-scope"), methods=["POST"]),
        Route(f"{ads}/reporting/reports/{{reportId}}", endpoint("ads", "getAsyncReport", get_async_report, auth="ads-scope"), methods=["GET"]),
        Route(f"{ads}/reporting/reports/{{reportId}}", endpoint("ads", "deleteAsyncReport", delete_async_report, auth="ads-scope"), methods=["DELETE"]),
        Route("/_documents/sp/{key}", endpoint("download", "downloadReportDocument", download_document), methods=["GET"]),
        Route("/_documents/ads/{key}", endpoint("download", "downloadAsyncReport", download_document), methods=["GET"]),
        Route("/_simulator/faults", faults_route, methods=["GET", "POST", "DELETE"]),
        Route("/_simulator/health", health_route, methods=["GET"]),
        Route("/_simulator/clock/advance", advance_route, methods=["POST"]),
    ]  # fmt: skip
    app = Starlette(routes=routes)
    app.state.simulator = state
    return _KeepRawSend(app)
