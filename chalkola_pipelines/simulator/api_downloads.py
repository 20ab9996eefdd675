"""Presigned-style document downloads (``/_documents/{sp|ads}/{key}?X-Amz-…``, no auth headers, like S3):
the URLs the Reports and Ads handlers hand out, and the document bytes they serve.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from chalkola_pipelines.simulator import report_documents
from chalkola_pipelines.simulator.api_pipeline import ApiError, Ctx
from chalkola_pipelines.simulator.document_encoding import corrupt_gzip, gzip_bytes, truncate_body
from chalkola_pipelines.simulator.faults import Fault
from chalkola_pipelines.simulator.reports import AdsReport


def _base_url(ctx: Ctx) -> str:
    if ctx.state.base_url:
        return ctx.state.base_url.rstrip("/")
    return str(ctx.request.base_url).rstrip("/")


def presigned_url(ctx: Ctx, kind: str, key: str, signature: str, ttl: int) -> str:
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


async def ads_content(ctx: Ctx, report: AdsReport) -> bytes:
    """The gzipped document of a COMPLETED Ads report, built once and kept on the report."""
    if report.content is None:
        raw = await run_in_threadpool(report_documents.ads_report_document, ctx.state.seller, report)
        report.content = gzip_bytes(raw)
    return report.content


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
    mutation = state.faults.take(ctx.operation, _DOCUMENT_KINDS)
    if kind == "sp":
        data = await _sp_document_bytes(ctx, key, mutation)
    else:
        report = state.reports.ads_reports.get(key)
        if report is None:
            raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
        if mutation is not None and mutation.kind in _REBUILT_KINDS:
            raw = await run_in_threadpool(
                functools.partial(report_documents.ads_report_document, **_build_options(mutation)),
                state.seller,
                report,
            )
            data = gzip_bytes(truncate_body(raw) if mutation.kind == "truncated_json" else raw)
        else:
            data = await ads_content(ctx, report)
    if mutation is not None and mutation.kind == "corrupt_gzip":
        data = corrupt_gzip(data)
    headers = {"ETag": f'"{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}"'}
    if url.content_encoding_gzip:
        headers["Content-Encoding"] = "gzip"
    return Response(data, status_code=200, media_type="application/octet-stream", headers=headers)


_DOCUMENT_KINDS = ("corrupt_gzip", "truncated_json", "extra_field", "missing_field")
_REBUILT_KINDS = ("truncated_json", "extra_field", "missing_field")  # the document is built anew


def _build_options(mutation: Fault) -> dict[str, Any]:
    """The document builder's keyword arguments for a fault."""
    if mutation.kind == "extra_field":
        return {"extra_field": True}
    if mutation.kind == "missing_field":
        return {"missing_field": str(mutation.params.get("field", ""))}
    return {}


async def _sp_document_bytes(ctx: Ctx, document_id: str, mutation: Fault | None) -> bytes:
    state = ctx.state
    document = state.reports.sp_documents.get(document_id)
    report = state.reports.sp_reports.get(document.report_id) if document else None
    if document is None or report is None:
        raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
    if document.kind == "error":
        return gzip_bytes(report_documents.error_document(report))
    if mutation is not None and mutation.kind in _REBUILT_KINDS:
        raw = await run_in_threadpool(
            functools.partial(report_documents.sp_report_document, **_build_options(mutation)),
            state.seller,
            report,
        )
        return gzip_bytes(truncate_body(raw) if mutation.kind == "truncated_json" else raw)
    if document.content is None:
        raw = await run_in_threadpool(report_documents.sp_report_document, state.seller, report)
        document.content = gzip_bytes(raw)
    return document.content
