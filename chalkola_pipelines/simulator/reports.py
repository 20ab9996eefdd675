"""Report life-cycles (SP-API Reports 2021-06-30 and Ads reporting v3) and presigned document URLs.

Statuses are derived from the simulated clock: a report spends a deterministic (per seed and report id)
queue time then processing time, 20–90 simulated seconds in all, and ends with the outcome decided when
it was created. Records are retained 90 days, like Amazon's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from chalkola_pipelines.simulator.clock import SimulatedClock

SP_RETENTION = dt.timedelta(days=90)
SP_DOCUMENT_URL_TTL = 300.0  # simulated seconds ("This URL expires after 5 minutes")
ADS_URL_TTL = 3600.0  # simulated seconds ("urlExpires at this time defaults to 3600 seconds")

SpOutcome = Literal["DONE", "FATAL", "CANCELLED"]
AdsOutcome = Literal["COMPLETED", "FAILED"]


def iso_ms(instant: dt.datetime) -> str:
    """2024-03-10T13:47:20.677Z (Amazon's date-time rendering)."""
    instant = instant.astimezone(dt.UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def iso_s(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SpReport:
    report_id: str
    region: str
    report_type: str
    marketplace_ids: list[str]
    data_start: dt.datetime | None
    data_end: dt.datetime | None
    options: dict[str, str]
    created_at: dt.datetime
    created_sim: float
    queue_seconds: float
    processing_seconds: float
    outcome: SpOutcome
    error_message: str | None = None  # FATAL: the text of the error document
    cancelled_sim: float | None = None  # explicit cancelReport while IN_QUEUE
    document_id: str | None = None

    def status(self, elapsed: float) -> str:
        if self.cancelled_sim is not None:
            return "CANCELLED"
        age = elapsed - self.created_sim
        if age < self.queue_seconds:
            return "IN_QUEUE"
        if age < self.queue_seconds + self.processing_seconds:
            return "IN_PROGRESS"
        return self.outcome

    def to_json(self, clock: SimulatedClock) -> dict[str, Any]:
        """The official ``Report`` object as of now."""
        status = self.status(clock.elapsed())
        out: dict[str, Any] = {
            "reportId": self.report_id,
            "reportType": self.report_type,
            "marketplaceIds": list(self.marketplace_ids),
        }
        if self.data_start is not None:
            out["dataStartTime"] = iso_s(self.data_start)
        if self.data_end is not None:
            out["dataEndTime"] = iso_s(self.data_end)
        out["createdTime"] = iso_s(self.created_at)
        out["processingStatus"] = status
        ts = clock.time_scale
        if status != "IN_QUEUE" and self.cancelled_sim is None:
            out["processingStartTime"] = iso_s(
                self.created_at + dt.timedelta(seconds=self.queue_seconds / ts)
            )
        if status in ("DONE", "FATAL", "CANCELLED") and self.cancelled_sim is None:
            done = self.created_at + dt.timedelta(seconds=(self.queue_seconds + self.processing_seconds) / ts)
            out["processingEndTime"] = iso_s(done)
        if status in ("DONE", "FATAL") and self.document_id:
            out["reportDocumentId"] = self.document_id
        return out


@dataclass
class SpDocument:
    document_id: str
    report_id: str
    region: str
    kind: Literal["report", "error"]
    content: bytes | None = None  # cached gzip body once generated


@dataclass
class AdsReport:
    report_id: str
    region: str
    profile_id: int
    name: str | None
    start_date: dt.date
    end_date: dt.date
    configuration: dict[str, Any]
    created_at: dt.datetime
    created_sim: float
    pending_seconds: float
    processing_seconds: float
    outcome: AdsOutcome
    failure_reason: str | None = None
    content: bytes | None = None  # gzip body, generated when first seen COMPLETED
    url_token: str | None = None
    url_issued_sim: float | None = None
    deleted: bool = False

    def status(self, elapsed: float) -> str:
        age = elapsed - self.created_sim
        if age < self.pending_seconds:
            return "PENDING"
        if age < self.pending_seconds + self.processing_seconds:
            return "PROCESSING"
        return self.outcome

    def finished_at(self, clock: SimulatedClock) -> dt.datetime:
        real = (self.pending_seconds + self.processing_seconds) / clock.time_scale
        return self.created_at + dt.timedelta(seconds=real)

    def request_key(self) -> tuple[Any, ...]:
        """What makes two create requests "identical" (for 425)."""
        return (self.region, self.profile_id, self.start_date, self.end_date, _canonical(self.configuration))


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_canonical(v) for v in value)
    return value


@dataclass
class PresignedUrl:
    kind: Literal["sp", "ads"]
    key: str  # document id or Ads report id
    issued_sim: float
    ttl_sim: float
    content_encoding_gzip: bool = False
    expired_on_issue: bool = False
    issued_real: float = 0.0  # time.monotonic() at issue
    issued_offset: float = 0.0  # the clock's advance() total at issue


# At a high time scale Amazon's 5 minutes shrink to well under a second (0.5 s at 600×), less than a loaded
# machine may take between getting a URL and fetching it: a URL stays valid for this many real seconds unless
# the clock is advanced (how tests make it expire).
URL_REAL_GRACE_SECONDS = 10.0

_ID_SLOTS_DIGITS = 6  # room for 10**6 ids of one kind per simulator start
_last_base_lock = threading.Lock()
_last_base = 0


def start_id_base() -> int:
    """The base of the ids one simulator start hands out: its start time in tenths of a second, shifted by
    ``_ID_SLOTS_DIGITS`` decimal digits (strictly increasing within a process). A simulator restarted against
    the same warehouse never repeats a report, query or document id of an earlier start — Amazon's ids are
    unique per seller account, and the ledger refuses an id it already holds for another request."""
    global _last_base
    with _last_base_lock:
        _last_base = max(time.time_ns() // 100_000_000, _last_base + 1)
        return _last_base * 10**_ID_SLOTS_DIGITS


@dataclass
class ReportStore:
    """Every report, document and presigned URL of one simulator; thread-safe."""

    clock: SimulatedClock
    seed: int
    _lock: threading.RLock = field(default_factory=threading.RLock)
    sp_reports: dict[str, SpReport] = field(default_factory=dict)
    sp_documents: dict[str, SpDocument] = field(default_factory=dict)
    ads_reports: dict[str, AdsReport] = field(default_factory=dict)
    urls: dict[str, PresignedUrl] = field(default_factory=dict)
    _sp_counter: int = 0

    def __post_init__(self) -> None:
        self._id_base = start_id_base()
        self._id_rng = random.Random(f"chalkola-simulator-ids:{self.seed}:{self._id_base}")
        # processing delays stay a function of the seed and the n-th job, as before ids became per-start
        self._delay_rng = random.Random(f"chalkola-simulator-ids:{self.seed}")
        self._signing_key = secrets.token_bytes(32)

    # -- SP-API reports ------------------------------------------------------------------------------

    def _delays(self, report_id: str) -> tuple[float, float]:
        rng = random.Random(f"{self.seed}:{report_id}")
        total = rng.uniform(20.0, 90.0)
        queue = rng.uniform(3.0, total / 3.0)
        return queue, total - queue

    def create_sp_report(
        self,
        *,
        region: str,
        report_type: str,
        marketplace_ids: list[str],
        data_start: dt.datetime | None,
        data_end: dt.datetime | None,
        options: dict[str, str],
        outcome: SpOutcome,
        error_message: str | None = None,
    ) -> SpReport:
        with self._lock:
            self._sp_counter += 1
            report_id = str(self._id_base + self._sp_counter)
            queue, processing = self._delays(
                str(50_000_000_000 + self.seed * 1_000_000 + self._sp_counter * 17)
            )
            report = SpReport(
                report_id=report_id,
                region=region,
                report_type=report_type,
                marketplace_ids=list(marketplace_ids),
                data_start=data_start,
                data_end=data_end,
                options=dict(options),
                created_at=self.clock.now(),
                created_sim=self.clock.elapsed(),
                queue_seconds=queue,
                processing_seconds=processing,
                outcome=outcome,
                error_message=error_message,
            )
            if outcome in ("DONE", "FATAL"):
                self._delay_rng.getrandbits(128)  # keeps the Ads delay keys where they were
                document_id = f"amzn1.spdoc.1.4.{region}.{uuid.UUID(int=self._id_rng.getrandbits(128))}"
                report.document_id = document_id
                self.sp_documents[document_id] = SpDocument(
                    document_id, report_id, region, "report" if outcome == "DONE" else "error"
                )
            self.sp_reports[report_id] = report
            return report

    def _retained(self, report: SpReport) -> bool:
        return report.created_at >= self.clock.now() - SP_RETENTION

    def get_sp_report(self, region: str, report_id: str) -> SpReport | None:
        with self._lock:
            report = self.sp_reports.get(report_id)
        if report is None or report.region != region or not self._retained(report):
            return None
        return report

    def list_sp_reports(self, region: str) -> list[SpReport]:
        """Retained reports of ``region``, newest first."""
        with self._lock:
            reports = [r for r in self.sp_reports.values() if r.region == region and self._retained(r)]
        return sorted(reports, key=lambda r: (r.created_sim, int(r.report_id)), reverse=True)

    def get_sp_document(self, region: str, document_id: str) -> SpDocument | None:
        with self._lock:
            document = self.sp_documents.get(document_id)
        if document is None or document.region != region:
            return None
        report = self.get_sp_report(region, document.report_id)
        if report is None or report.status(self.clock.elapsed()) not in ("DONE", "FATAL"):
            return None
        return document

    # -- Ads reports ---------------------------------------------------------------------------------

    def find_in_flight_ads_report(self, key: tuple[Any, ...]) -> AdsReport | None:
        elapsed = self.clock.elapsed()
        with self._lock:
            for report in self.ads_reports.values():
                if (
                    not report.deleted
                    and report.status(elapsed) in ("PENDING", "PROCESSING")
                    and report.request_key() == key
                ):
                    return report
        return None

    def create_ads_report(
        self,
        *,
        region: str,
        profile_id: int,
        name: str | None,
        start_date: dt.date,
        end_date: dt.date,
        configuration: dict[str, Any],
        outcome: AdsOutcome,
        failure_reason: str | None = None,
    ) -> AdsReport:
        with self._lock:
            report_id = str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))
            pending, processing = self._delays(
                str(uuid.UUID(int=self._delay_rng.getrandbits(128), version=4))
            )
            report = AdsReport(
                report_id=report_id,
                region=region,
                profile_id=profile_id,
                name=name,
                start_date=start_date,
                end_date=end_date,
                configuration=configuration,
                created_at=self.clock.now(),
                created_sim=self.clock.elapsed(),
                pending_seconds=pending,
                processing_seconds=processing,
                outcome=outcome,
                failure_reason=failure_reason,
            )
            self.ads_reports[report_id] = report
            return report

    def get_ads_report(self, region: str, report_id: str) -> AdsReport | None:
        with self._lock:
            report = self.ads_reports.get(report_id)
        if report is None or report.region != region or report.deleted:
            return None
        return report

    # -- presigned URLs ------------------------------------------------------------------------------

    def presign(
        self,
        kind: Literal["sp", "ads"],
        key: str,
        ttl_sim: float,
        *,
        content_encoding_gzip: bool = False,
        expired: bool = False,
        issued_sim: float | None = None,
    ) -> str:
        """A fresh signature for ``key``; the URL expires after ``ttl_sim`` simulated seconds."""
        nonce = secrets.token_hex(8)
        signature = hmac.new(self._signing_key, f"{kind}:{key}:{nonce}".encode(), hashlib.sha256).hexdigest()
        with self._lock:
            self.urls[signature] = PresignedUrl(
                kind,
                key,
                self.clock.elapsed() if issued_sim is None else issued_sim,
                ttl_sim,
                content_encoding_gzip,
                expired_on_issue=expired,
                issued_real=time.monotonic(),
                issued_offset=self.clock.advanced_seconds(),
            )
        return signature

    def resolve_url(self, signature: str) -> tuple[PresignedUrl | None, bool]:
        """(the URL, whether it is still valid). Unknown signature → (None, False)."""
        with self._lock:
            url = self.urls.get(signature)
        if url is None:
            return None, False
        in_grace = (
            time.monotonic() - url.issued_real <= URL_REAL_GRACE_SECONDS
            and self.clock.advanced_seconds() == url.issued_offset
        )
        valid = not url.expired_on_issue and (
            self.clock.elapsed() - url.issued_sim <= url.ttl_sim or in_grace
        )
        return url, valid
