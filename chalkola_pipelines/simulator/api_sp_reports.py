"""SP-API Reports 2021-06-30: create, list, get, cancel reports and get report documents."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from starlette.responses import Response

from chalkola_pipelines.amazon.usage_plans import seller_quota
from chalkola_pipelines.simulator import report_documents
from chalkola_pipelines.simulator.api_downloads import presigned_url
from chalkola_pipelines.simulator.api_params import (
    check_marketplaces,
    csv_list,
    csv_param,
    decode_token,
    encode_token,
    json_body,
    page_size,
    parse_datetime,
)
from chalkola_pipelines.simulator.api_pipeline import JSON, ApiError, Ctx, json_response
from chalkola_pipelines.simulator.reports import SP_DOCUMENT_URL_TTL, SpReport

log = logging.getLogger(__name__)

REPORT_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
TWO_YEARS = dt.timedelta(days=730)
ORDER_REPORT_MAX_RANGE = dt.timedelta(days=30)


async def create_report(ctx: Ctx) -> Response:
    body = await json_body(ctx)
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
    if report_type not in report_documents.SUPPORTED_REPORT_TYPES:
        raise ApiError(
            400,
            "InvalidInput",
            f"Report type {report_type} is not supported by the chalkola simulator "
            f"(supported: {', '.join(report_documents.SUPPORTED_REPORT_TYPES)})",
        )
    check_marketplaces(ctx, marketplace_ids)
    options = body.get("reportOptions") or {}
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        raise ApiError(400, "InvalidInput", "reportOptions must be an object of string values")
    for name in ("dataStartTime", "dataEndTime"):
        if name not in body:
            raise ApiError(400, "InvalidInput", f"{name} is required for {report_type} by this simulator")
    start = parse_datetime(body["dataStartTime"], "dataStartTime")
    end = parse_datetime(body["dataEndTime"], "dataEndTime")
    now = ctx.state.clock.now()
    if start > end:
        raise ApiError(400, "InvalidInput", "dataStartTime must be before or equal to dataEndTime")
    # S&T reads only the date part (a marketplace-local day, up to 14 h ahead of UTC); others are instants
    latest_start = (
        (now + dt.timedelta(hours=14)).date() if report_type == report_documents.SALES_AND_TRAFFIC else None
    )
    if (start.date() > latest_start) if latest_start else (start > now):
        raise ApiError(400, "InvalidInput", "dataStartTime must be prior to the current date and time")

    outcome, error = "DONE", None
    if report_type == report_documents.SALES_AND_TRAFFIC:
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
    _meter_per_seller(ctx, report_type)
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
    return json_response(202, {"reportId": report.report_id})


def _meter_per_seller(ctx: Ctx, report_type: str) -> None:
    """The per-seller meter of ``report_type`` (amazon-facts §8.1), shared by NA, EU and FE: the same 429 as
    the usage-plan throttle."""
    quota = seller_quota("createReport", report_type)
    if quota is None:
        return
    decision = ctx.state.meters.take((ctx.state.seller.seller_id, "createReport", report_type), quota)
    if not decision.allowed:
        log.info("createReport %s: per-seller quota exhausted (next in %.0f simulated s)", report_type,
                 decision.retry_after_simulated)  # fmt: skip
        raise ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")


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
        query = decode_token(next_token, "nextToken")
    else:
        report_types = csv_list(
            ctx.request, "reportTypes", at_most=10, missing="Either reportTypes or nextToken is required"
        )
        statuses = csv_param(ctx.request, "processingStatuses")
        bad = [s for s in statuses if s not in REPORT_STATUSES]
        if bad:
            raise ApiError(
                400, "InvalidInput", f"Invalid processingStatuses {bad}: {', '.join(REPORT_STATUSES)}"
            )
        marketplace_ids = csv_list(ctx.request, "marketplaceIds", at_most=10)
        size = page_size(
            ctx.request,
            "pageSize",
            10,
            not_int="pageSize must be an integer from 1 to 100",
            out_of_range="pageSize must be from 1 to 100",
        )
        now = state.clock.now()
        since = parse_datetime(params["createdSince"], "createdSince") if "createdSince" in params else None
        until = parse_datetime(params["createdUntil"], "createdUntil") if "createdUntil" in params else now
        since = since or now - dt.timedelta(days=90)
        query = {
            "types": report_types,
            "statuses": statuses,
            "mids": marketplace_ids,
            "size": size,
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
        body["nextToken"] = encode_token({**query, "offset": offset + size})
    return json_response(200, body)


def _report_or_404(ctx: Ctx) -> SpReport:
    report_id = ctx.request.path_params["reportId"]
    report = ctx.state.reports.get_sp_report(ctx.region, report_id)
    if report is None:
        raise ApiError(404, "NotFound", f"Report {report_id} not found")
    return report


async def get_report(ctx: Ctx) -> Response:
    return json_response(200, _report_or_404(ctx).to_json(ctx.state.clock))


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
    url = presigned_url(ctx, "sp", document_id, signature, int(SP_DOCUMENT_URL_TTL))
    return json_response(200, {"reportDocumentId": document_id, "url": url, "compressionAlgorithm": "GZIP"})
