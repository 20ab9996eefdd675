"""SP-API Data Kiosk 2023-11-15: createQuery, getQueries, getQuery, cancelQuery, getDocument, and the
presigned document download (``/_documents/dk/{documentId}``).

What Amazon rejects outright (no query, a GraphQL syntax or schema error, more than 8,000 characters after
whitespace removal, a bad paginationToken) is a 400 ``ErrorList``; what it accepts but cannot run (a start
date over two years ago, more than 30 ASINs in a Trends filter, an unknown marketplace) ends FATAL with an
error document ``{"errorMessage": ...}``. Documents are JSONL, served uncompressed unless large (gzip with
``Content-Encoding: gzip``, as the model's getDocument note describes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from chalkola_pipelines.simulator import wire_data_kiosk
from chalkola_pipelines.simulator.api_downloads import presigned_url
from chalkola_pipelines.simulator.api_params import (
    csv_param,
    decode_token,
    encode_token,
    json_body,
    page_size,
    parse_datetime,
)
from chalkola_pipelines.simulator.api_pipeline import ApiError, Ctx, json_response
from chalkola_pipelines.simulator.dk_queries import DK_DOCUMENT_URL_TTL, DK_STATUSES, DkQuery
from chalkola_pipelines.simulator.dk_schema import DkQueryError, parse_query
from chalkola_pipelines.simulator.document_encoding import (
    corrupt_gzip,
    drop_field_jsonl,
    gzip_bytes,
    truncate_body,
)

log = logging.getLogger(__name__)

GZIP_ABOVE_BYTES = 1_000_000  # documents larger than this are served gzip-encoded


def _query_digest(minified: str) -> str:
    return hashlib.sha256(minified.encode()).hexdigest()[:16]


def _page_token(query: DkQuery, offset: int) -> str:
    return encode_token({"q": _query_digest(query.parsed.minified), "o": offset, "n": uuid.uuid4().hex[:8]})


async def create_query(ctx: Ctx) -> Response:
    body = await json_body(ctx)
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidInput", "The request body must be a CreateQuerySpecification object")
    try:
        parsed = parse_query(body.get("query"))
    except DkQueryError as exc:
        raise ApiError(400, "InvalidInput", str(exc)) from None
    offset = 0
    token = body.get("paginationToken")
    if token is not None:
        data = decode_token(token, "paginationToken") if isinstance(token, str) else {}
        if not isinstance(data.get("o"), int) or data.get("q") != _query_digest(parsed.minified):
            raise ApiError(
                400,
                "InvalidInput",
                "Invalid paginationToken: it must come from pagination.nextToken of a query with the same "
                "query text",
            )
        offset = int(data["o"])
    state = ctx.state
    outcome, error = "DONE", None
    try:
        wire_data_kiosk.check_query(state.seller, parsed, ctx.region, state.clock.today())
    except wire_data_kiosk.DkQueryFatal as exc:
        outcome, error = "FATAL", str(exc)
    fault = state.faults.take("createQuery", ("fatal", "cancelled"))
    if fault is not None:
        outcome = "FATAL" if fault.kind == "fatal" else "CANCELLED"
        error = "Simulated fatal error: the query could not be processed. Submit a new query."
    expected = wire_data_kiosk.estimated_rows(state.seller, parsed) if outcome == "DONE" else 0
    query = state.data_kiosk.create(
        region=ctx.region,
        query=body["query"],
        parsed=parsed,
        expected_records=expected,
        outcome=outcome,  # type: ignore[arg-type]
        error_message=error if outcome == "FATAL" else None,
        offset=offset,
    )
    log.info("createQuery %s %s (%s records expected) → %s", query.query_id, parsed.field, expected, outcome)
    return json_response(202, {"queryId": query.query_id})


def _compute(ctx: Ctx):  # noqa: ANN202
    state = ctx.state

    def compute(query: DkQuery) -> list[dict[str, Any]]:
        return wire_data_kiosk.projected_records(state.seller, query.parsed, query.region, state.clock.now())

    return compute


async def _finished(ctx: Ctx, query: DkQuery) -> DkQuery:
    """``query`` with its results computed if it has reached DONE/FATAL."""
    if not query.finished and query.status(ctx.state.clock.elapsed()) in ("DONE", "FATAL"):
        await run_in_threadpool(ctx.state.data_kiosk.finish, query, _compute(ctx), _page_token)
    return query


def _query_or_404(ctx: Ctx) -> DkQuery:
    query_id = ctx.request.path_params["queryId"]
    query = ctx.state.data_kiosk.get(ctx.region, query_id)
    if query is None:
        raise ApiError(404, "NotFound", f"Query {query_id} not found")
    return query


async def get_query(ctx: Ctx) -> Response:
    query = await _finished(ctx, _query_or_404(ctx))
    return json_response(200, query.to_json(ctx.state.clock))


async def cancel_query(ctx: Ctx) -> Response:
    query = _query_or_404(ctx)
    elapsed = ctx.state.clock.elapsed()
    status = query.status(elapsed)
    if status in ("DONE", "FATAL"):
        raise ApiError(
            400,
            "InvalidInput",
            f"Query {query.query_id} cannot be cancelled: its processingStatus is {status}; only queries with "
            "a non-terminal processingStatus (IN_QUEUE, IN_PROGRESS) can be cancelled",
        )
    if status != "CANCELLED":
        query.cancelled_sim = elapsed
        query.cancelled_at = ctx.state.clock.now()
    return Response(b"", status_code=204)


async def get_queries(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    state = ctx.state
    statuses = csv_param(ctx.request, "processingStatuses")
    bad = [s for s in statuses if s not in DK_STATUSES]
    if bad or ("processingStatuses" in params and not statuses):
        raise ApiError(400, "InvalidInput", f"Invalid processingStatuses {bad}: {', '.join(DK_STATUSES)}")
    size = page_size(
        ctx.request,
        "pageSize",
        10,
        not_int="pageSize must be an integer from 1 to 100",
        out_of_range="pageSize must be from 1 to 100",
    )
    now = state.clock.now()
    since = parse_datetime(params["createdSince"], "createdSince") if "createdSince" in params else None
    until = parse_datetime(params["createdUntil"], "createdUntil") if "createdUntil" in params else None
    offset = 0
    if "paginationToken" in params:
        data = decode_token(params["paginationToken"], "paginationToken")
        try:
            offset = int(data["offset"])
            same = (data["statuses"] == sorted(statuses) and data["since"] == (since and since.isoformat())
                    and data["until"] == (until and until.isoformat()))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "InvalidInput", "Invalid paginationToken") from None
        if not same:
            raise ApiError(
                400,
                "InvalidInput",
                "Invalid paginationToken: all other parameters except pageSize must have the values of the "
                "request that generated it",
            )
        until = dt.datetime.fromisoformat(data["frozen_until"])
    token_until = until
    until = until or now
    lower = since or now - dt.timedelta(days=90)
    elapsed = state.clock.elapsed()
    matching = []
    for query in state.data_kiosk.list(ctx.region):
        if lower <= query.created_at <= until and (not statuses or query.status(elapsed) in statuses):
            matching.append(query)
    page = matching[offset : offset + size]
    for query in page:
        await _finished(ctx, query)
    body: dict[str, Any] = {"queries": [q.to_json(state.clock) for q in page]}
    if offset + size < len(matching):
        body["pagination"] = {
            "nextToken": encode_token({
                "offset": offset + size,
                "statuses": sorted(statuses),
                "since": since and since.isoformat(),
                "until": token_until and token_until.isoformat(),
                "frozen_until": until.isoformat(),
            })
        }  # fmt: skip
    return json_response(200, body)


async def get_document(ctx: Ctx) -> Response:
    document_id = ctx.request.path_params["documentId"]
    state = ctx.state
    document = state.data_kiosk.document(ctx.region, document_id)
    if document is None:
        raise ApiError(404, "NotFound", f"Document {document_id} not found")
    expired = state.faults.take("getDocument", ("expired_url",)) is not None
    gzip_encoded = len(document.content) > GZIP_ABOVE_BYTES
    signature = state.reports.presign(
        "dk",  # type: ignore[arg-type]
        document_id,
        DK_DOCUMENT_URL_TTL,
        content_encoding_gzip=gzip_encoded,
        expired=expired,
    )
    url = presigned_url(ctx, "dk", document_id, signature, int(DK_DOCUMENT_URL_TTL))
    return json_response(200, {"documentId": document_id, "documentUrl": url})


async def download_dk_document(ctx: Ctx) -> Response:
    """The presigned URL's bytes (S3-style errors: 403 SignatureDoesNotMatch / AccessDenied, 404 NoSuchKey)."""
    state = ctx.state
    key = ctx.request.path_params["key"]
    url, valid = state.reports.resolve_url(ctx.request.query_params.get("X-Amz-Signature", ""))
    if url is None or url.kind != "dk" or url.key != key:
        raise ApiError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if not valid or state.faults.take(ctx.operation, ("expired_url",)) is not None:
        raise ApiError(403, "AccessDenied", "Request has expired")
    document = state.data_kiosk.documents.get(key)
    if document is None or state.data_kiosk.document(document.region, key) is None:
        raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
    data = document.content
    mutation = state.faults.take(
        ctx.operation, ("truncated_json", "corrupt_gzip", "extra_field", "missing_field")
    )
    kind = mutation.kind if mutation else None
    if kind == "truncated_json":
        data = truncate_body(data)
    elif kind == "extra_field" and document.kind == "data":
        data = b"".join(
            line.rstrip(b"\n")[:-1] + b',"simulatorSchemaDriftField":"drift"}\n'
            for line in data.splitlines(keepends=True)
        )
    elif kind == "missing_field" and document.kind == "data":
        data = drop_field_jsonl(data, str(mutation.params.get("field", "")))
    headers = {"ETag": f'"{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}"'}
    if url.content_encoding_gzip or kind == "corrupt_gzip":
        data = gzip_bytes(data)
        headers["Content-Encoding"] = "gzip"
        if kind == "corrupt_gzip":
            data = corrupt_gzip(data)
    return Response(data, status_code=200, media_type="application/octet-stream", headers=headers)
