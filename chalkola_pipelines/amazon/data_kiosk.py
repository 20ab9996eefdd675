"""SP-API Data Kiosk 2023-11-15: create (or reuse) a GraphQL query, poll it, download its JSONL document.

``DataKioskClient`` implements ``AsyncJobApi`` (amazon/async_jobs) exactly as ``SpReportsClient`` does: a
query id from the ledger is resumed; else an identical query Amazon already has (getQueries, matched on the
query text: in flight, or DONE within ``reuse_done_within``) is reused; only then is a new query created;
its id is announced before polling so the caller can record it first.

Outcomes: DONE with ``dataDocumentId`` → the document (JSONL, stored as received) at the caller's path;
DONE without one → "no data" (Amazon has nothing for the window); FATAL → ``DataKioskQueryFatalError`` with
the error document's text; CANCELLED (by someone) → the same error class (a re-run creates a new query).
403 (or 401) on any Data Kiosk operation (after one token refresh) → ``DataKioskAccessDeniedError``: the app lacks
the Brand Analytics role; the caller can fall back to the S&T report. A DONE query whose results continue
carries ``pagination.nextToken``: :meth:`DataKioskClient.fetch_pages` follows it (createQuery with the same
text and the token).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chalkola_pipelines.amazon.async_jobs import (
    DownloadedDocument,
    JobResult,
    JobState,
    PolledJobClient,
    note_request_id,
    parse_instant,
)
from chalkola_pipelines.amazon.client_factories import sp_http_client
from chalkola_pipelines.amazon.data_kiosk_queries import DataKioskQuery
from chalkola_pipelines.amazon.documents import error_document_text, gunzip_prefix
from chalkola_pipelines.amazon.errors import (
    AmazonApiError,
    DataKioskAccessDeniedError,
    DataKioskQueryFatalError,
    DocumentExpiredError,
)
from chalkola_pipelines.amazon.retries import RetryPolicy
from chalkola_pipelines.amazon.transport import AmazonHttpClient, AmazonResponse

if TYPE_CHECKING:
    import httpx

    from chalkola_pipelines.amazon.credentials import LwaCredentials
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
    from chalkola_pipelines.amazon.token_buckets import RateLimiter
    from chalkola_pipelines.marketplaces import Region

logger = logging.getLogger(__name__)

QUERIES_PATH = "/dataKiosk/2023-11-15/queries"
DOCUMENTS_PATH = "/dataKiosk/2023-11-15/documents"
IN_FLIGHT = ("IN_QUEUE", "IN_PROGRESS")
#: operation names = usage-plan names of the model (dataKiosk_2023-11-15.json)
OPERATIONS = ("createQuery", "getQuery", "getQueries", "cancelQuery", "getDocument")
DOWNLOAD_OPERATION = "downloadDataKioskDocument"  # the presigned URL (S3): no usage plan, no auth
MAX_URL_REFRESHES = 3
MAX_REUSE_PAGES = 3
MAX_RESULT_PAGES = 100


@dataclass
class DataKioskDocument(DownloadedDocument):
    """A downloaded data document, plus the token of the next page of results (None = last page)."""

    next_token: str | None = None


@dataclass
class DataKioskResult:
    """A finished query: ``done`` with its JSONL document at ``path``, or ``no_data``."""

    query_id: str
    phase: Literal["done", "no_data"]
    document_id: str | None
    path: Path | None
    compression: str | None
    next_token: str | None
    query: DataKioskQuery
    request_ids: list[str] = field(default_factory=list)


class DataKioskClient(PolledJobClient):
    """createQuery → getQuery (polled) → getDocument → streamed download, for one SP-API region."""

    created_status = "IN_QUEUE"

    def __init__(
        self,
        http: AmazonHttpClient,
        *,
        poll_initial_seconds: float = 10.0,
        # getQuery allows 2 calls/s (burst 15): polling every ≤ 15 s costs little (a region has ≤ ~10 queries
        # in flight) and finds a finished query within 15 s instead of up to 2 minutes (the nightly's critical
        # path is discovery → Trends, two queries of a few minutes each)
        poll_max_seconds: float = 15.0,
        poll_timeout_seconds: float = 6 * 3600,
        reuse: bool = True,
        reuse_done_within: timedelta | None = timedelta(hours=12),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = http
        self.poll_initial_seconds = poll_initial_seconds
        self.poll_max_seconds = poll_max_seconds
        self.poll_timeout_seconds = poll_timeout_seconds
        self.reuse_in_flight = reuse
        self.reuse_done_within = reuse_done_within
        self.now = now

    # -- single operations
    def _call(self, operation: str, method: str, path: str, **kw: Any) -> AmazonResponse:
        try:
            return self.http.request(operation, method, path, **kw)
        except AmazonApiError as exc:
            # 403 "Access to requested resource is denied" (401 seen too, #5296), after one fresh token
            if exc.status_code in (401, 403) and not isinstance(exc, DataKioskAccessDeniedError):
                raise DataKioskAccessDeniedError(
                    operation, exc.status_code, exc.code, exc.request_id
                ) from None
            raise

    def create_query(
        self, query: str, pagination_token: str | None = None, request_ids: list[str] | None = None
    ) -> str:
        """createQuery; returns the query id."""
        body: dict[str, str] = {"query": query}
        if pagination_token:
            body["paginationToken"] = pagination_token
        response = self._call("createQuery", "POST", QUERIES_PATH, json_body=body)
        note_request_id(request_ids, response.request_id)
        query_id = response.json().get("queryId")
        if not query_id:
            raise AmazonApiError(
                "createQuery", response.status_code, None, "response without queryId", response.request_id
            )
        return str(query_id)

    def get_query(self, query_id: str, request_ids: list[str] | None = None) -> dict[str, Any]:
        """getQuery: the Query object."""
        response = self._call("getQuery", "GET", f"{QUERIES_PATH}/{query_id}")
        note_request_id(request_ids, response.request_id)
        return response.json()

    def iter_queries(
        self,
        *,
        processing_statuses: tuple[str, ...] = (),
        created_since: datetime | None = None,
        max_pages: int = MAX_REUSE_PAGES,
        request_ids: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """getQueries (pageSize 100), following ``pagination.nextToken`` with the same filters."""
        base: list[tuple[str, str]] = [("pageSize", "100")]
        if processing_statuses:
            base.append(("processingStatuses", ",".join(processing_statuses)))
        if created_since is not None:
            base.append(("createdSince", created_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        params = base
        for _ in range(max_pages):
            response = self._call("getQueries", "GET", QUERIES_PATH, params=params)
            note_request_id(request_ids, response.request_id)
            body = response.json()
            yield from body.get("queries") or []
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                return
            params = [*base, ("paginationToken", str(token))]  # "all other parameters … the same values"

    def cancel_query(self, query_id: str, request_ids: list[str] | None = None) -> None:
        """cancelQuery (IN_QUEUE/IN_PROGRESS only; a CANCELLED query is a no-op at Amazon)."""
        response = self._call("cancelQuery", "DELETE", f"{QUERIES_PATH}/{query_id}", ok_statuses=(200, 204))
        note_request_id(request_ids, response.request_id)

    def get_document(self, document_id: str, request_ids: list[str] | None = None) -> dict[str, Any]:
        """getDocument: ``{documentId, documentUrl}`` (the presigned URL lives 5 minutes)."""
        response = self._call("getDocument", "GET", f"{DOCUMENTS_PATH}/{document_id}")
        note_request_id(request_ids, response.request_id)
        return response.json()

    def find_reusable_query(self, job: DataKioskQuery, request_ids: list[str] | None = None) -> str | None:
        """An identical query (same text) Amazon already has: in flight, else DONE within the window.

        Only first pages are looked up: getQueries does not say which page a query was created for.
        """
        if job.pagination_token:
            return None
        statuses = IN_FLIGHT + (("DONE",) if self.reuse_done_within is not None else ())
        now = self.now()
        lookback = max(self.reuse_done_within or timedelta(0), timedelta(days=1))
        done: list[tuple[datetime, str]] = []
        for query in self.iter_queries(
            processing_statuses=statuses, created_since=now - lookback, request_ids=request_ids
        ):
            if query.get("query") != job.text or not query.get("queryId"):
                continue
            status = query.get("processingStatus")
            if status in IN_FLIGHT:
                return str(query["queryId"])
            created = parse_instant(query.get("createdTime"))
            if (
                status == "DONE"
                and self.reuse_done_within is not None
                and created is not None
                and now - created <= self.reuse_done_within
            ):
                done.append((created, str(query["queryId"])))
        return max(done)[1] if done else None

    # -- the workflow (AsyncJobApi for AsyncJobRunner)
    def fetch(
        self,
        query: DataKioskQuery,
        dest: Path | Callable[[str], Path],
        *,
        resume_query_id: str | None = None,
        on_query_id: Callable[[str, str], None] | None = None,
    ) -> DataKioskResult:
        """Resume, reuse or create ``query`` (one page); poll it; archive its document at ``dest``.

        ``on_query_id(query id, status)`` is called before polling and on every status change.
        """
        return data_kiosk_result(self.run_one(query, dest, resume_query_id, on_query_id))

    def fetch_pages(
        self,
        query: DataKioskQuery,
        dest: Callable[[str], Path],
        *,
        resume_query_ids: tuple[str, ...] = (),
        on_query_id: Callable[[str, str], None] | None = None,
        max_pages: int = MAX_RESULT_PAGES,
    ) -> list[DataKioskResult]:
        """Every page of ``query``'s results: page n+1 is createQuery(text, pagination.nextToken of page n).

        ``resume_query_ids[i]`` (from the ledger) resumes page i.
        """
        results: list[DataKioskResult] = []
        job = query
        for page in range(max_pages):
            resume = resume_query_ids[page] if page < len(resume_query_ids) else None
            result = self.fetch(job, dest, resume_query_id=resume, on_query_id=on_query_id)
            results.append(result)
            if not result.next_token:
                return results
            job = query.next_page(result.next_token)
        raise AmazonApiError(
            "createQuery", None, None, f"{self.describe(query)} still has results after {max_pages} pages"
        )

    def describe(self, job: DataKioskQuery) -> str:
        page = " (next page)" if job.pagination_token else ""
        return f"Data Kiosk query ({job.kind}, {job.window}){page}"

    def get(self, job: DataKioskQuery, job_id: str, request_ids: list[str]) -> JobState:
        query = self.get_query(job_id, request_ids)
        status = str(query.get("processingStatus"))
        if status == "DONE":
            if query.get("dataDocumentId"):
                return JobState(status, "done", query)
            if query.get("errorDocumentId"):
                return JobState(status, "failed", query)
            return JobState(status, "no_data", query)
        if status in ("FATAL", "CANCELLED"):
            return JobState(status, "failed", query)
        return JobState(status, "pending", query)

    def create(self, job: DataKioskQuery, request_ids: list[str]) -> str:
        return self.create_query(job.text, job.pagination_token, request_ids)

    def find_reusable(self, job: DataKioskQuery, request_ids: list[str]) -> str | None:
        return self.find_reusable_query(job, request_ids)

    def resumable(self, state: JobState) -> bool:
        # a FATAL/CANCELLED query from the ledger would fail again: create a new one instead
        return state.phase != "failed"

    def failure(self, job: DataKioskQuery, job_id: str, state: JobState, request_ids: list[str]) -> Exception:
        document_id = state.raw.get("errorDocumentId")
        if document_id:
            message = self._error_document_text(str(document_id), request_ids)
        elif state.status == "CANCELLED":
            message = "the query was cancelled before it was processed (cancelQuery)"
        else:
            message = "no error document was provided"
        return DataKioskQueryFatalError(job_id, self.describe(job), state.status, message)

    def download(
        self, job: DataKioskQuery, job_id: str, state: JobState, path: Path, request_ids: list[str]
    ) -> DataKioskDocument:
        document_id = str(state.raw["dataDocumentId"])
        for attempt in range(1, MAX_URL_REFRESHES + 2):
            url = self._document_url(document_id, request_ids)
            try:
                result = self.http.download(DOWNLOAD_OPERATION, url, path)
            except DocumentExpiredError:
                logger.warning(
                    "document %s of Data Kiosk query %s: URL expired (attempt %d); fetching a new one",
                    document_id,
                    job_id,
                    attempt,
                )
                continue
            request_ids.extend(result.request_ids)
            encoding = (result.content_encoding or "").lower()
            logger.info("Data Kiosk query %s: document %s, %d bytes", job_id, document_id, result.size)
            return DataKioskDocument(
                result.path,
                document_id,
                "GZIP" if encoding == "gzip" else None,
                (state.raw.get("pagination") or {}).get("nextToken"),
            )
        raise DocumentExpiredError(
            f"document {document_id} of Data Kiosk query {job_id}: the presigned URL was refused "
            f"{MAX_URL_REFRESHES + 1} times in a row even when fresh. Check the machine's clock and network "
            "path to Amazon S3, then re-run."
        )

    def _document_url(self, document_id: str, request_ids: list[str]) -> str:
        url = self.get_document(document_id, request_ids).get("documentUrl")
        if not url:
            raise AmazonApiError("getDocument", 200, None, f"document {document_id} has no documentUrl", None)
        return str(url)

    def _error_document_text(self, document_id: str, request_ids: list[str]) -> str:
        try:
            for _ in range(MAX_URL_REFRESHES + 1):
                url = self._document_url(document_id, request_ids)
                try:
                    data = self.http.download_bytes(DOWNLOAD_OPERATION, url, max_bytes=64 * 1024)
                except DocumentExpiredError:
                    continue
                if data[:2] == b"\x1f\x8b":
                    data = gunzip_prefix(data)
                return error_document_text(document_id, data)
        except DataKioskAccessDeniedError:
            raise
        except AmazonApiError as exc:
            return f"(the error document {document_id} could not be read: {exc})"
        return f"(the error document {document_id} could not be downloaded: URL expired)"


def data_kiosk_result(result: JobResult[DataKioskQuery]) -> DataKioskResult:
    """The runner's result in this client's terms."""
    document = result.document
    return DataKioskResult(
        result.job_id,
        result.phase,
        document.document_id if document else None,
        document.path if document else None,
        document.compression if document else None,
        document.next_token if isinstance(document, DataKioskDocument) else None,
        result.job,
        result.request_ids,
    )


def data_kiosk_client(
    region: Region,
    credentials: LwaCredentials,
    *,
    endpoints: AmazonEndpoints | None = None,
    rate_limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **options: Any,
) -> DataKioskClient:
    """A Data Kiosk client for ``region`` on the SP-API HTTP layer (same host, LWA token and buckets
    ``sp:{region}:createQuery`` …; ``options`` go to :class:`DataKioskClient`)."""
    http = sp_http_client(
        region,
        credentials,
        endpoints=endpoints,
        rate_limiter=rate_limiter,
        retry=retry,
        client=client,
        sleep=sleep,
    )
    return DataKioskClient(http, **options)
