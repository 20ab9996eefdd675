"""SP-API Reports 2021-06-30: create (or reuse) a report, poll it, download its document to disk.

``SpReportsClient`` implements ``AsyncJobApi`` (amazon/async_jobs): a report id from the ledger is resumed;
else an in-flight report with identical parameters (getReports) is reused; only then is a new report
created; its id is announced before polling so the caller can record it first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from chalkola_pipelines.amazon.async_jobs import (
    DownloadedDocument,
    JobResult,
    JobState,
    Phase,
    PolledJobClient,
    note_request_id,
    parse_instant,
)
from chalkola_pipelines.amazon.document_filters import filter_for
from chalkola_pipelines.amazon.documents import error_document_text, gunzip_prefix
from chalkola_pipelines.amazon.errors import AmazonApiError, DocumentExpiredError, ReportFatalError
from chalkola_pipelines.amazon.presigned import DownloadResult, Transform
from chalkola_pipelines.amazon.transport import AmazonHttpClient
from chalkola_pipelines.marketplaces import iso_z

logger = logging.getLogger(__name__)

REPORTS_PATH = "/reports/2021-06-30/reports"
DOCUMENTS_PATH = "/reports/2021-06-30/documents"
IN_FLIGHT = ("IN_QUEUE", "IN_PROGRESS")
TERMINAL = ("DONE", "CANCELLED", "FATAL")
_PHASES: dict[str, Phase] = {"DONE": "done", "CANCELLED": "no_data", "FATAL": "failed"}
MAX_URL_REFRESHES = 3
MAX_REUSE_PAGES = 3


@dataclass(frozen=True)
class ReportSpec:
    """What to ask createReport for. Datetimes must be timezone-aware (sent as UTC ``...Z``)."""

    report_type: str
    marketplace_ids: tuple[str, ...]
    data_start_time: datetime
    data_end_time: datetime
    report_options: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.marketplace_ids:
            raise ValueError("ReportSpec.marketplace_ids must not be empty")
        for name in ("data_start_time", "data_end_time"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"ReportSpec.{name} must be timezone-aware (UTC)")
        if self.data_end_time < self.data_start_time:
            raise ValueError("ReportSpec.data_end_time is before data_start_time")
        object.__setattr__(self, "marketplace_ids", tuple(self.marketplace_ids))

    @property
    def window(self) -> str:
        """Human-readable window for messages: ``2024-01-02T08:00:00Z..2024-01-03T07:59:59Z [ATVPDKIKX0DER]``."""
        return (
            f"{iso_z(self.data_start_time)}..{iso_z(self.data_end_time)} [{','.join(self.marketplace_ids)}]"
        )

    def create_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reportType": self.report_type,
            "marketplaceIds": list(self.marketplace_ids),
            "dataStartTime": iso_z(self.data_start_time),
            "dataEndTime": iso_z(self.data_end_time),
        }
        if self.report_options:
            body["reportOptions"] = {str(k): str(v) for k, v in self.report_options.items()}
        return body


@dataclass
class ReportResult:
    """A finished report: DONE with its document archived at ``path``, or CANCELLED (no data)."""

    status: Literal["DONE", "CANCELLED"]
    report_id: str
    document_id: str | None
    path: Path | None
    compression: str | None
    request_ids: list[str] = field(default_factory=list)


def _same_instant(a: Any, b: datetime) -> bool:
    parsed = parse_instant(a)
    return parsed is not None and parsed.replace(microsecond=0) == b.astimezone(UTC).replace(microsecond=0)


class SpReportsClient(PolledJobClient):
    """createReport → getReport (polled) → getReportDocument → streamed download, for one region."""

    def __init__(
        self,
        http: AmazonHttpClient,
        *,
        poll_initial_seconds: float = 1.0,
        poll_max_seconds: float = 60.0,
        poll_timeout_seconds: float = 4 * 3600,
        reuse_in_flight: bool = True,
    ) -> None:
        self.http = http
        self.poll_initial_seconds = poll_initial_seconds
        self.poll_max_seconds = poll_max_seconds
        self.poll_timeout_seconds = poll_timeout_seconds
        self.reuse_in_flight = reuse_in_flight

    # -- single operations
    def create_report(self, spec: ReportSpec, request_ids: list[str] | None = None) -> str:
        """createReport; returns the report id."""
        response = self.http.request(
            "createReport", "POST", REPORTS_PATH, json_body=spec.create_body(), metered_as=spec.report_type
        )
        note_request_id(request_ids, response.request_id)
        report_id = response.json().get("reportId")
        if not report_id:
            raise AmazonApiError(
                "createReport", response.status_code, None, "response without reportId", response.request_id
            )
        return str(report_id)

    def get_report(self, report_id: str, request_ids: list[str] | None = None) -> dict[str, Any]:
        """getReport: the Report object."""
        response = self.http.request("getReport", "GET", f"{REPORTS_PATH}/{report_id}")
        note_request_id(request_ids, response.request_id)
        return response.json()

    def get_report_document(self, document_id: str, request_ids: list[str] | None = None) -> dict[str, Any]:
        """getReportDocument: ``{reportDocumentId, url, compressionAlgorithm?}`` (url valid 5 minutes)."""
        response = self.http.request("getReportDocument", "GET", f"{DOCUMENTS_PATH}/{document_id}")
        note_request_id(request_ids, response.request_id)
        return response.json()

    def iter_reports(
        self,
        report_types: tuple[str, ...],
        *,
        processing_statuses: tuple[str, ...] = (),
        marketplace_ids: tuple[str, ...] = (),
        max_pages: int = MAX_REUSE_PAGES,
        request_ids: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """getReports with nextToken pagination (the token is sent alone, as the model requires)."""
        params: list[tuple[str, str]] = [("reportTypes", ",".join(report_types)), ("pageSize", "100")]
        if processing_statuses:
            params.append(("processingStatuses", ",".join(processing_statuses)))
        if marketplace_ids:
            params.append(("marketplaceIds", ",".join(marketplace_ids)))
        for _ in range(max_pages):
            response = self.http.request("getReports", "GET", REPORTS_PATH, params=params)
            note_request_id(request_ids, response.request_id)
            body = response.json()
            yield from body.get("reports") or []
            token = body.get("nextToken")
            if not token:
                return
            params = [("nextToken", str(token))]

    def find_in_flight(self, spec: ReportSpec, request_ids: list[str] | None = None) -> str | None:
        """An IN_QUEUE/IN_PROGRESS report with the same type, marketplaces and window, if any."""
        wanted = set(spec.marketplace_ids)
        for report in self.iter_reports(
            (spec.report_type,),
            processing_statuses=IN_FLIGHT,
            marketplace_ids=spec.marketplace_ids,
            request_ids=request_ids,
        ):
            if (
                report.get("reportType") == spec.report_type
                and report.get("processingStatus") in IN_FLIGHT
                and set(report.get("marketplaceIds") or ()) == wanted
                and _same_instant(report.get("dataStartTime"), spec.data_start_time)
                and _same_instant(report.get("dataEndTime"), spec.data_end_time)
            ):
                return str(report["reportId"])
        return None

    # -- the workflow (AsyncJobApi for AsyncJobRunner)
    created_status = "IN_QUEUE"

    def fetch(
        self,
        spec: ReportSpec,
        dest: Path | Callable[[str], Path],
        *,
        resume_report_id: str | None = None,
        on_report_id: Callable[[str, str], None] | None = None,
    ) -> ReportResult:
        """Resume, reuse or create the report for ``spec``; poll it; archive its document at ``dest``.

        DONE → ReportResult("DONE", path=the document as received); CANCELLED → ReportResult("CANCELLED")
        (Amazon has no data for this range); FATAL → ReportFatalError with Amazon's error document;
        still not finished after ``poll_timeout_seconds`` → ReportTimeoutError.
        """
        return report_result(self.run_one(spec, dest, resume_report_id, on_report_id))

    def describe(self, job: ReportSpec) -> str:
        return f"SP-API report ({job.report_type}, {job.window})"

    def get(self, job: ReportSpec, job_id: str, request_ids: list[str]) -> JobState:
        report = self.get_report(job_id, request_ids)
        status = str(report.get("processingStatus"))
        return JobState(status, _PHASES.get(status, "pending"), report)

    def create(self, job: ReportSpec, request_ids: list[str]) -> str:
        return self.create_report(job, request_ids)

    def find_reusable(self, job: ReportSpec, request_ids: list[str]) -> str | None:
        return self.find_in_flight(job, request_ids)

    def resumable(self, state: JobState) -> bool:
        # a FATAL report from the ledger would fail again, a CANCELLED one answer "no data" again (a stale
        # ledger status: a run killed before recording it): request a new report instead
        return state.phase not in ("failed", "no_data")

    def failure(self, job: ReportSpec, job_id: str, state: JobState, request_ids: list[str]) -> Exception:
        document_id = state.raw.get("reportDocumentId")
        message = self._error_document_text(str(document_id), request_ids) if document_id else ""
        return ReportFatalError(
            job_id, job.report_type, job.window, message or "no error document was provided"
        )

    def download(
        self, job: ReportSpec, job_id: str, state: JobState, path: Path, request_ids: list[str]
    ) -> DownloadedDocument:
        document_id = state.raw.get("reportDocumentId")
        if not document_id:
            raise AmazonApiError(
                "getReport", 200, None, f"report {job_id} is DONE without a reportDocumentId", None
            )
        transform = filter_for(job.report_type)
        download, compression = self._download_document(
            str(document_id), path, job_id, request_ids, transform
        )
        logger.info(
            "report %s (%s): document %s, %d bytes", job_id, job.report_type, document_id, download.size
        )
        report = download.filter_report
        if report is not None:
            # the archive is the filtered document, gzip'd, whatever Amazon's compression was
            compression = "GZIP"
            logger.info(
                "report %s (%s): archived %d of %d columns; removed (buyer personal data): %s; "
                "values dropped (unknown columns, schema drift): %s",
                job_id, job.report_type, len(report.kept) + len(report.blanked), report.columns_in,
                ", ".join(report.removed) or "none", ", ".join(report.blanked) or "none",
            )  # fmt: skip
        return DownloadedDocument(download.path, str(document_id), compression)

    def _download_document(
        self,
        document_id: str,
        path: Path,
        report_id: str,
        request_ids: list[str],
        transform: Transform | None = None,
    ) -> tuple[DownloadResult, str | None]:
        for attempt in range(1, MAX_URL_REFRESHES + 2):
            document = self.get_report_document(document_id, request_ids)
            url = document.get("url")
            if not url:
                raise AmazonApiError(
                    "getReportDocument", 200, None, f"document {document_id} has no url", None
                )
            try:
                result = self.http.download("downloadReportDocument", str(url), path, transform=transform)
            except DocumentExpiredError:
                logger.warning(
                    "document %s of report %s: URL expired (attempt %d); fetching a new one",
                    document_id,
                    report_id,
                    attempt,
                )
                continue
            request_ids.extend(result.request_ids)
            return result, document.get("compressionAlgorithm")
        raise DocumentExpiredError(
            f"document {document_id} of report {report_id}: the presigned URL was refused {MAX_URL_REFRESHES + 1} "
            "times in a row even when fresh. Check the machine's clock and network path to Amazon S3, then re-run."
        )

    def _error_document_text(self, document_id: str, request_ids: list[str]) -> str:
        try:
            for _ in range(MAX_URL_REFRESHES + 1):
                document = self.get_report_document(document_id, request_ids)
                try:
                    data = self.http.download_bytes(
                        "downloadReportDocument", str(document["url"]), max_bytes=64 * 1024
                    )
                except DocumentExpiredError:
                    continue
                if document.get("compressionAlgorithm") == "GZIP" or data[:2] == b"\x1f\x8b":
                    data = gunzip_prefix(data)
                return error_document_text(document_id, data)
        except (AmazonApiError, KeyError) as exc:
            return f"(the error document {document_id} could not be read: {exc})"
        return f"(the error document {document_id} could not be downloaded: URL expired)"


def report_result(result: JobResult[ReportSpec]) -> ReportResult:
    """The runner's result in this client's terms."""
    document = result.document
    return ReportResult(
        "DONE" if result.phase == "done" else "CANCELLED",
        result.job_id,
        document.document_id if document else None,
        document.path if document else None,
        document.compression if document else None,
        result.request_ids,
    )
