"""Amazon Ads API (one client per region): profiles and v3 reporting for Sponsored Products
``spAdvertisedProduct`` (DAILY, GZIP_JSON, groupBy advertiser).

Ranges are split into ≤ 31-day reports; days older than the 95-day retention are refused before any call
(``AdsRetentionError``); a 425 duplicate answer reuses the report already in flight.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from chalkola_pipelines.amazon.async_jobs import (
    DownloadedDocument,
    JobState,
    Phase,
    PolledJobClient,
    note_request_id,
)
from chalkola_pipelines.amazon.errors import (
    AdsReportFailedError,
    AdsRetentionError,
    AmazonApiError,
    DocumentExpiredError,
)
from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS
from chalkola_pipelines.amazon.transport import AmazonHttpClient
from chalkola_pipelines.marketplaces import (
    Marketplace,
    UnknownMarketplaceError,
    get_marketplace,
    get_marketplace_by_id,
)

logger = logging.getLogger(__name__)

PROFILES_PATH = "/v2/profiles"
REPORTS_PATH = "/reporting/reports"
CREATE_CONTENT_TYPE = "application/vnd.createasyncreportrequest.v3+json"
CREATE_ACCEPT = "application/vnd.createasyncreportresponse.v3+json, application/json"
GET_ACCEPT = "application/vnd.getasyncreportresponse.v3+json, application/json"
#: spAdvertisedProduct limits (Ads reporting v3 docs, report-types/advertised-product).
MAX_RANGE_DAYS = 31
RETENTION_DAYS = 95
_DUPLICATE_RE = re.compile(r"duplicate of\s*:?\s*([A-Za-z0-9-]+)", re.IGNORECASE)
MAX_URL_REFRESHES = 3


@dataclass(frozen=True)
class AdsReportJob:
    """One spAdvertisedProduct DAILY report request: a profile and ≤ 31 inclusive days."""

    profile_id: int
    start: date
    end: date


@dataclass
class AdsReportResult:
    """One downloaded report covering ``start``..``end`` (inclusive), archived as received at ``path``."""

    report_id: str
    start: date
    end: date
    path: Path
    request_ids: list[str] = field(default_factory=list)


def split_date_range(start: date, end: date, max_days: int = MAX_RANGE_DAYS) -> list[tuple[date, date]]:
    """Consecutive inclusive chunks of at most ``max_days`` days covering ``start``..``end``."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    chunks: list[tuple[date, date]] = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + timedelta(days=max_days - 1))
        chunks.append((cursor, last))
        cursor = last + timedelta(days=1)
    return chunks


def earliest_available_day(today: date, retention_days: int = RETENTION_DAYS) -> date:
    """The oldest day the Ads API still reports on ``today``."""
    return today - timedelta(days=retention_days)


def profile_marketplace(profile: Mapping[str, Any]) -> Marketplace | None:
    """The marketplace of a Profile: ``accountInfo.marketplaceStringId``, else ``countryCode`` ("UK" ok)."""
    account = profile.get("accountInfo") or {}
    marketplace_id = account.get("marketplaceStringId") if isinstance(account, Mapping) else None
    if marketplace_id:
        try:
            return get_marketplace_by_id(str(marketplace_id))
        except UnknownMarketplaceError:
            pass
    country = profile.get("countryCode")
    if country:
        try:
            return get_marketplace(str(country))
        except UnknownMarketplaceError:
            return None
    return None


def profiles_by_marketplace(
    profiles: Sequence[Mapping[str, Any]], *, account_types: Sequence[str] = ("seller", "vendor")
) -> dict[str, Mapping[str, Any]]:
    """Marketplace code → profile, for profiles of the given account types (the first one wins)."""
    out: dict[str, Mapping[str, Any]] = {}
    for profile in profiles:
        account = profile.get("accountInfo") or {}
        if account_types and account.get("type") not in account_types:
            continue
        marketplace = profile_marketplace(profile)
        if marketplace is not None:
            out.setdefault(marketplace.code, profile)
    return out


def sp_advertised_product_request(start: date, end: date) -> dict[str, Any]:
    """The createAsyncReport body for a DAILY spAdvertisedProduct report of ``start``..``end``."""
    return {
        "name": f"chalkola spAdvertisedProduct {start.isoformat()}..{end.isoformat()}",
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "configuration": {
            "adProduct": "SPONSORED_PRODUCTS",
            "groupBy": ["advertiser"],
            "columns": list(SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS),
            "reportTypeId": "spAdvertisedProduct",
            "timeUnit": "DAILY",
            "format": "GZIP_JSON",
        },
    }


class AdsClient(PolledJobClient):
    """Ads API for one region: ``list_profiles`` and ``fetch_sp_advertised_product``."""

    def __init__(
        self,
        http: AmazonHttpClient,
        *,
        poll_initial_seconds: float = 5.0,
        poll_max_seconds: float = 120.0,
        poll_timeout_seconds: float = 4 * 3600,
    ) -> None:
        if http.api != "ads":
            raise ValueError("AdsClient needs an Ads API AmazonHttpClient (api='ads')")
        self.http = http
        self.poll_initial_seconds = poll_initial_seconds
        self.poll_max_seconds = poll_max_seconds
        self.poll_timeout_seconds = poll_timeout_seconds
        self.last_request_id: str | None = None

    # -- profiles
    def list_profiles(self) -> list[dict[str, Any]]:
        """``GET /v2/profiles``: the raw Profile objects of this region (profileId kept as int)."""
        response = self.http.request("listProfiles", "GET", PROFILES_PATH)
        self.last_request_id = response.request_id
        body = response.json()
        if not isinstance(body, list):
            raise AmazonApiError(
                "listProfiles", response.status_code, None, "expected a JSON array", response.request_id
            )
        for profile in body:
            if isinstance(profile, dict) and "profileId" in profile:
                profile["profileId"] = int(profile["profileId"])
        return body

    # -- reporting v3
    def create_report(
        self, profile_id: int, start: date, end: date, request_ids: list[str] | None = None
    ) -> str:
        """createAsyncReport; a 425 duplicate answer returns the id of the report already in flight."""
        response = self.http.request(
            "createAsyncReport",
            "POST",
            REPORTS_PATH,
            json_body=sp_advertised_product_request(start, end),
            content_type=CREATE_CONTENT_TYPE,
            accept=CREATE_ACCEPT,
            profile_id=profile_id,
            ok_statuses=(200, 202),
            passthrough_statuses=(425,),
        )
        note_request_id(request_ids, response.request_id)
        body = response.json() if response.content else {}
        if response.status_code == 425:
            detail = (
                str(body.get("detail") or body.get("details") or body)
                if isinstance(body, dict)
                else str(body)
            )
            match = _DUPLICATE_RE.search(detail)
            if not match:
                raise AmazonApiError(
                    "createAsyncReport",
                    425,
                    "425",
                    f"duplicate request but no report id in the answer ({detail[:200]}); re-run later",
                    response.request_id,
                )
            logger.info(
                "Ads report for profile %s %s..%s is a duplicate of %s: reusing it",
                profile_id,
                start,
                end,
                match.group(1),
            )
            return match.group(1)
        report_id = body.get("reportId") if isinstance(body, dict) else None
        if not report_id:
            raise AmazonApiError(
                "createAsyncReport",
                response.status_code,
                None,
                "response without reportId",
                response.request_id,
            )
        return str(report_id)

    def get_report(
        self, profile_id: int, report_id: str, request_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """getAsyncReport: the AsyncReport object."""
        response = self.http.request(
            "getAsyncReport", "GET", f"{REPORTS_PATH}/{report_id}", profile_id=profile_id, accept=GET_ACCEPT
        )
        note_request_id(request_ids, response.request_id)
        return response.json()

    def fetch_sp_advertised_product(
        self,
        profile_id: int,
        start: date,
        end: date,
        dest: Callable[[str], Path],
        *,
        today: date | None = None,
        resume_report_ids: Mapping[tuple[date, date], str] | None = None,
        on_report_id: Callable[[date, date, str, str], None] | None = None,
    ) -> list[AdsReportResult]:
        """Daily spAdvertisedProduct rows for ``start``..``end`` (inclusive), one report per ≤ 31 days.

        Raises ``AdsRetentionError`` before any call if ``start`` is older than 95 days before ``today``
        (UTC date by default). Every report id is announced with ``on_report_id(start, end, id, status)``
        before polling (and again on each status change). All chunk reports are requested first, then
        polled and downloaded in order.
        """
        profile_id = int(profile_id)
        today = today or datetime.now(UTC).date()
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        earliest = earliest_available_day(today)
        if start < earliest:
            raise AdsRetentionError(start, earliest)
        resume = dict(resume_report_ids or {})
        jobs = [
            (AdsReportJob(profile_id, chunk_start, chunk_end), resume.get((chunk_start, chunk_end)))
            for chunk_start, chunk_end in split_date_range(start, end)
        ]
        on_status = (
            None
            if on_report_id is None
            else (lambda job, rid, status: on_report_id(job.start, job.end, rid, status))
        )
        return [
            AdsReportResult(r.job_id, r.job.start, r.job.end, r.document.path, r.request_ids)
            for r in self.runner().run(jobs, dest, on_status)
            if r.document is not None
        ]

    # -- AsyncJobApi for AsyncJobRunner
    created_status = "PENDING"
    reuse_in_flight = False  # a duplicate createAsyncReport answers 425 with the id in flight

    def describe(self, job: AdsReportJob) -> str:
        return f"Ads report (profile {job.profile_id}, spAdvertisedProduct {job.start}..{job.end})"

    def get(self, job: AdsReportJob, job_id: str, request_ids: list[str]) -> JobState:
        report = self.get_report(job.profile_id, job_id, request_ids)
        status = str(report.get("status"))
        phase: Phase = "done" if status == "COMPLETED" else "failed" if status == "FAILED" else "pending"
        return JobState(status, phase, report)

    def create(self, job: AdsReportJob, request_ids: list[str]) -> str:
        return self.create_report(job.profile_id, job.start, job.end, request_ids)

    def find_reusable(self, job: AdsReportJob, request_ids: list[str]) -> str | None:
        return None

    def resumable(self, state: JobState) -> bool:
        return state.status != "FAILED"

    def failure(self, job: AdsReportJob, job_id: str, state: JobState, request_ids: list[str]) -> Exception:
        return AdsReportFailedError(
            job_id,
            f"{state.raw.get('failureReason') or 'no failureReason given'} "
            f"(profile {job.profile_id}, spAdvertisedProduct {job.start}..{job.end})",
        )

    def download(
        self, job: AdsReportJob, job_id: str, state: JobState, path: Path, request_ids: list[str]
    ) -> DownloadedDocument:
        report = state.raw
        for attempt in range(1, MAX_URL_REFRESHES + 2):
            url = report.get("url")
            if not url:
                raise AmazonApiError(
                    "getAsyncReport", 200, None, f"report {job_id} is COMPLETED without a url", None
                )
            try:
                result = self.http.download("downloadAsyncReport", str(url), path)
            except DocumentExpiredError:
                logger.warning(
                    "Ads report %s: download URL expired (attempt %d); fetching a new one", job_id, attempt
                )
                report = self.get_report(job.profile_id, job_id, request_ids)
                continue
            request_ids.extend(result.request_ids)
            return DownloadedDocument(result.path)
        raise DocumentExpiredError(
            f"Ads report {job_id}: the download URL was refused {MAX_URL_REFRESHES + 1} times even when fresh. "
            "Check the machine's clock and network path to Amazon S3, then re-run."
        )
