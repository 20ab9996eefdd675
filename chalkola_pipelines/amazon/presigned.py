"""Presigned document URLs (SP-API report documents, Ads async reports): downloaded as received.

A document may pass through a filter on its way to disk (``transform``, e.g. the order-column filter of
``amazon.document_filters``): then the file holds the filter's output, never the bytes as received. Files are
created private to the service user (0600), the ``.part`` file included.

No Amazon auth header is sent and the query string (which carries the signature) never reaches a log or
an error message. Both downloads share one status rule (``_refuse_unless_ok``): 200 goes on, 403 means the
URL expired (``DocumentExpiredError`` at once, so the caller fetches a fresh URL), 429/5xx are retried,
anything else is an ``AmazonApiError``.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import httpx

from chalkola_pipelines.amazon.errors import AmazonApiError, DocumentExpiredError
from chalkola_pipelines.amazon.retries import (
    RETRYABLE_STATUSES,
    RetryableResponse,
    call_with_retries,
    error_details,
    parse_retry_after,
    request_id_of,
)
from chalkola_pipelines.amazon.transport import USER_AGENT, strip_url_query

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.transport import AmazonHttpClient

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16
FILE_MODE = 0o600


class DocumentSink(Protocol):
    """A filter between the response and the file: ``write`` the bytes as received, ``close`` at the end
    (returns what it did, kept in ``DownloadResult.filter_report``)."""

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> Any: ...


#: transform(file, document name) → the sink the response bytes go to
Transform = Callable[[BinaryIO, str], DocumentSink]


def open_private(path: Path) -> BinaryIO:
    """A new file (``O_EXCL``) opened for writing, readable by the service user only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # whatever the umask
    return os.fdopen(fd, "wb")


@dataclass
class DownloadResult:
    """A document downloaded to ``path``: exactly as served (e.g. gzip bytes), or the filter's output."""

    path: Path
    size: int  # bytes received
    content_encoding: str | None
    content_type: str | None
    request_ids: list[str] = field(default_factory=list)
    filter_report: Any = None  # what the transform's sink returned on close


def _refuse_unless_ok(response: httpx.Response, operation: str, safe_url: str) -> None:
    """Return on 200; otherwise read the (small) body and raise what the status means."""
    if response.status_code == 200:
        return
    response.read()
    if response.status_code == 403:
        raise DocumentExpiredError(
            f"{operation}: the presigned URL {safe_url} was refused (HTTP 403, expired)"
        )
    if response.status_code in RETRYABLE_STATUSES:
        raise RetryableResponse(response, parse_retry_after(response.headers.get("Retry-After")))
    code, message = error_details(response.content)
    raise AmazonApiError(
        operation,
        response.status_code,
        code,
        f"{message} (GET {safe_url})",
        request_id_of(response.headers),
    )


def _retrying(http: AmazonHttpClient, operation: str, attempt: Any) -> None:
    call_with_retries(
        attempt,
        operation=f"{http.api}:{http.region}:{operation}",
        policy=http.retry,
        sleep=http.sleep,
        rng=http._rng,
    )


def download_to_file(
    http: AmazonHttpClient, operation: str, url: str, dest: Path, *, transform: Transform | None = None
) -> DownloadResult:
    """Stream ``url`` to ``dest`` byte for byte (no decompression), atomically (``.part`` then rename),
    or through ``transform``'s sink when given. The file is private (0600).

    A 403 (expired presigned URL) raises ``DocumentExpiredError`` at once so the caller can fetch a fresh
    URL; 429/5xx, transport errors and a body shorter than ``Content-Length`` are retried.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own per download: two runs may fetch the same document (a region's order report)
    part = dest.with_name(f"{dest.name}.{os.getpid()}-{random.getrandbits(32):08x}.part")
    safe_url = strip_url_query(url)
    holder: dict[str, Any] = {}

    def attempt() -> httpx.Response:
        started = http.clock()
        size = 0
        try:
            with http._client.stream("GET", url, headers={"User-Agent": USER_AGENT}) as response:
                _refuse_unless_ok(response, operation, safe_url)
                part.unlink(missing_ok=True)  # a failed attempt's leftovers
                with open_private(part) as fh:
                    sink: Any = fh if transform is None else transform(fh, str(dest))
                    for chunk in response.iter_raw(chunk_size=_CHUNK):
                        sink.write(chunk)
                        size += len(chunk)
                    expected = response.headers.get("Content-Length")
                    if expected is not None and expected.isdigit() and int(expected) != size:
                        raise httpx.RemoteProtocolError(
                            f"incomplete body: {size} of {expected} bytes", request=response.request
                        )
                    if transform is not None:
                        holder["filter_report"] = sink.close()
                    fh.flush()
                    os.fsync(fh.fileno())
                holder.update(
                    size=size,
                    encoding=response.headers.get("Content-Encoding"),
                    content_type=response.headers.get("Content-Type"),
                    request_id=request_id_of(response.headers),
                )
                logger.info(
                    "amazon %s %s %s GET %s -> %d, %d bytes in %.0f ms",
                    http.api,
                    http.region,
                    operation,
                    safe_url,
                    response.status_code,
                    size,
                    (http.clock() - started) * 1000.0,
                )
                return response
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    _retrying(http, operation, attempt)
    os.replace(part, dest)
    rid = holder.get("request_id")
    return DownloadResult(
        path=dest,
        size=int(holder["size"]),
        content_encoding=holder.get("encoding"),
        content_type=holder.get("content_type"),
        request_ids=[rid] if rid else [],
        filter_report=holder.get("filter_report"),
    )


def download_bytes(http: AmazonHttpClient, operation: str, url: str, *, max_bytes: int = 1 << 20) -> bytes:
    """A small document (e.g. a FATAL report's error document) read into memory, at most ``max_bytes``."""
    safe_url = strip_url_query(url)
    holder: dict[str, bytes] = {}

    def attempt() -> httpx.Response:
        with http._client.stream("GET", url, headers={"User-Agent": USER_AGENT}) as response:
            _refuse_unless_ok(response, operation, safe_url)
            chunks: list[bytes] = []
            total = 0
            for chunk in response.iter_raw(chunk_size=_CHUNK):
                chunks.append(chunk)
                total += len(chunk)
                if total >= max_bytes:
                    break
            data = b"".join(chunks)[:max_bytes]
            logger.info(
                "amazon %s %s %s GET %s -> %d, %d bytes",
                http.api,
                http.region,
                operation,
                safe_url,
                response.status_code,
                len(data),
            )
            holder["data"] = data
            return response

    _retrying(http, operation, attempt)
    return holder["data"]
