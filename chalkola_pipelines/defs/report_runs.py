"""The report workflow every SP-API asset shares: ledger → resume/reuse/create → archive → outcome.

1. ``ReportLedger.find_resumable`` for the same request (report type, region, marketplace, window, options).
   A finished report whose document is still in the landing store is re-parsed without calling Amazon;
   an in-flight or finished one is resumed by id (no new quota spent). For windows Amazon still restates,
   only reports younger than ``REFRESH_REUSE_MAX_AGE`` count, so tonight's refresh asks for fresh data.
2. ``SpReportsClient.fetch`` with ``on_report_id`` → ``ledger.record`` BEFORE polling and on every status
   change; the document is archived as received under ``LandingStore``.
3. The caller parses the archived file and loads it, then ``mark_loaded``.

Errors become ``dagster.Failure`` with one message naming the partition(s), the report id, the window and
what to do (``report_failure``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from chalkola_pipelines.marketplaces import Marketplace, iso_z

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.sp_reports import ReportSpec, SpReportsClient
    from chalkola_pipelines.warehouse.landing import LandingStore
    from chalkola_pipelines.warehouse.ledger import LedgerEntry, ReportLedger

log = logging.getLogger(__name__)

SP_SOURCE = "sp_reports"
ADS_SOURCE = "ads_reporting"
# Amazon restates S&T ~72 h, order statuses for weeks, Ads attribution up to 28 days: for windows that
# end within RESTATEMENT_DAYS of today, a report older than REFRESH_REUSE_MAX_AGE is not reused.
RESTATEMENT_DAYS = 45
REFRESH_REUSE_MAX_AGE = dt.timedelta(hours=12)
FINISHED_WITH_DOCUMENT = frozenset({"DONE", "COMPLETED", "LOADED"})


def reuse_max_age(last_day: dt.date, local_today: dt.date) -> dt.timedelta | None:
    """How old a ledger entry may be to be reused for a window ending ``last_day`` (None = 90-day default)."""
    return REFRESH_REUSE_MAX_AGE if (local_today - last_day).days <= RESTATEMENT_DAYS else None


def local_today(marketplace: Marketplace, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(marketplace.tz).date()


def landed_document(entry: LedgerEntry | None) -> Path | None:
    """The archived document of a finished ledger entry, if it is still on disk."""
    if entry is None or entry.status not in FINISHED_WITH_DOCUMENT or not entry.document_path:
        return None
    path = Path(entry.document_path)
    return path if path.is_file() and path.stat().st_size > 0 else None


@dataclass
class ReportOutcome:
    """What one report request ended as (before parsing)."""

    status: str  # DONE | CANCELLED (SP-API) ; COMPLETED (Ads)
    report_id: str
    window: str
    path: Path | None = None
    request_ids: list[str] = field(default_factory=list)
    source_of_document: str = "amazon"  # amazon | landing (re-parsed without calling Amazon)

    def metadata(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "status": self.status,
            "window": self.window,
            "request_ids": ", ".join(self.request_ids) or "-",
            "document": str(self.path) if self.path else "-",
            "document_from": self.source_of_document,
        }


class LazyClient:
    """Creates the API client on first use (a run whose documents are all landed never logs in)."""

    def __init__(self, factory: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        self._factory = factory
        self._stack = contextlib.ExitStack()
        self._client: Any = None

    def get(self) -> Any:
        if self._client is None:
            self._client = self._stack.enter_context(self._factory())
        return self._client

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> LazyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sp_report_window(spec: ReportSpec) -> str:
    return f"{iso_z(spec.data_start_time)}..{iso_z(spec.data_end_time)}"


def fetch_sp_report(
    *,
    client: LazyClient,
    ledger: ReportLedger,
    landing: LandingStore,
    marketplace: Marketplace,
    spec: ReportSpec,
    max_age: dt.timedelta | None,
    log_fn: Callable[[str], None] = log.info,
) -> ReportOutcome:
    """Resume / reuse / create one SP-API report and archive its document (see module docstring)."""
    options = dict(spec.report_options)
    ident = {
        "source": SP_SOURCE,
        "report_type": spec.report_type,
        "region": marketplace.region,
        "window_start": spec.data_start_time,
        "window_end": spec.data_end_time,
        "options": options,
    }
    window = sp_report_window(spec)
    entry = ledger.find_resumable(scope=marketplace.code, max_age=max_age, **ident)
    landed = landed_document(entry)
    if entry is not None and entry.report_id and landed is not None:
        log_fn(
            f"report {entry.report_id} ({spec.report_type} {window}) re-parsed from the landing store {landed}"
        )
        return ReportOutcome("DONE", entry.report_id, window, landed, list(entry.request_ids), "landing")

    def on_report_id(report_id: str, status: str) -> None:
        ledger.record(
            marketplace=marketplace.code, profile_id=None, report_id=report_id, status=status, **ident
        )

    def dest(report_id: str) -> Path:
        return landing.path_for(SP_SOURCE, spec.report_type, marketplace.code, report_id, ".gz")

    resume = entry.report_id if entry is not None else None
    if resume:
        log_fn(
            f"resuming report {resume} ({spec.report_type} {window}) from the ledger (status {entry.status})"
        )
    sp: SpReportsClient = client.get()
    result = sp.fetch(spec, dest, resume_report_id=resume, on_report_id=on_report_id)
    ledger.update(
        SP_SOURCE,
        result.report_id,
        region=marketplace.region,
        status=result.status,
        document_id=result.document_id,
        document_path=result.path,
        request_ids=result.request_ids,
        row_count=0 if result.status == "CANCELLED" else None,
    )
    log_fn(f"report {result.report_id} ({spec.report_type} {window}) {result.status}")
    return ReportOutcome(result.status, result.report_id, window, result.path, list(result.request_ids))


def mark_loaded(ledger: ReportLedger, source: str, report_id: str, rows: int, region: str) -> None:
    """The report's rows are in the warehouse (report ids are unique per region only)."""
    ledger.update(source, report_id, region=region, status="LOADED", row_count=rows)


def mark_failed(
    ledger: ReportLedger,
    source: str,
    report_id: str | None,
    status: str | None,
    error: str,
    region: str | None = None,
) -> None:
    """Record an error on the ledger entry (never raises: the original error matters more)."""
    if not report_id:
        return
    try:
        ledger.update(source, report_id, region=region, status=status, error=error)
    except Exception:  # noqa: BLE001 - best effort; the caller raises the real error
        log.warning("could not record the error of report %s in the ledger", report_id, exc_info=True)


def report_failure(
    what: str,
    exc: BaseException,
    *,
    report_id: str | None = None,
    document: Path | None = None,
    todo: str = "",
) -> dg.Failure:
    """One clear Failure: '<partitions>: <error>. <what to do>' (no secrets: errors never carry them)."""
    parts = [f"{what}: {exc}"]
    if report_id and report_id not in str(exc):
        parts.append(f"(report {report_id})")
    if document is not None:
        parts.append(f"The document is kept at {document}.")
    if todo:
        parts.append(todo)
    metadata: dict[str, Any] = {"error": type(exc).__name__}
    if report_id:
        metadata["report_id"] = report_id
    return dg.Failure(description=" ".join(parts), metadata=metadata)


def is_partition_specific(failure: BaseException) -> bool:
    """True when a failure concerns one report/document only (FATAL, bad document, load error), so the other
    days of a range run are still worth trying; False for credentials, network, throttling and the like."""
    from chalkola_pipelines.amazon.errors import (
        AdsReportFailedError,
        AdsReportFormatError,
        DocumentCorruptError,
        OrderReportFormatError,
        ReportFatalError,
        SalesTrafficFormatError,
    )
    from chalkola_pipelines.warehouse.loaders import WarehouseLoadError

    specific = (
        ReportFatalError,
        AdsReportFailedError,
        SalesTrafficFormatError,
        OrderReportFormatError,
        AdsReportFormatError,
        DocumentCorruptError,
        WarehouseLoadError,
    )
    return isinstance(failure.__cause__, specific)


PARSE_TODO = (
    "The archived document does not match the expected format, so nothing was changed for these partitions. "
    "If Amazon changed the report format, update chalkola_pipelines.amazon.parsers; if the file is damaged, "
    "delete it and re-run the partition to download it again."
)


@contextlib.contextmanager
def failures_named(
    what: str,
    ledger: ReportLedger,
    source: str,
    current: Mapping[str, Any],
    region: str | None = None,
) -> Iterator[None]:
    """Turn Amazon / parse / load errors into one Failure naming ``what`` and the current report.

    ``current`` is a dict the caller fills with ``report_id`` and ``path`` as they become known.
    """
    from chalkola_pipelines.amazon.errors import (
        AdsReportFailedError,
        AdsReportFormatError,
        AmazonError,
        DocumentCorruptError,
        OrderReportFormatError,
        ReportFatalError,
        SalesTrafficFormatError,
    )
    from chalkola_pipelines.warehouse.loaders import WarehouseLoadError

    try:
        yield
    except dg.Failure:
        raise
    except (ReportFatalError, AdsReportFailedError) as exc:
        report_id = getattr(exc, "report_id", None) or current.get("report_id")
        mark_failed(ledger, source, report_id, "FATAL" if source == SP_SOURCE else "FAILED", str(exc), region)
        raise report_failure(what, exc, report_id=report_id) from exc
    except (
        SalesTrafficFormatError,
        OrderReportFormatError,
        AdsReportFormatError,
        DocumentCorruptError,
    ) as exc:
        mark_failed(ledger, source, current.get("report_id"), None, str(exc), region)
        raise report_failure(
            what, exc, report_id=current.get("report_id"), document=current.get("path"), todo=PARSE_TODO
        ) from exc
    except WarehouseLoadError as exc:
        mark_failed(ledger, source, current.get("report_id"), None, str(exc), region)
        raise report_failure(
            what,
            exc,
            report_id=current.get("report_id"),
            document=current.get("path"),
            todo="The previous rows of these partitions are intact; fix the cause and re-run.",
        ) from exc
    except AmazonError as exc:
        raise report_failure(
            what,
            exc,
            report_id=current.get("report_id"),
            todo="Nothing was loaded for these partitions; the report (if any) stays in the ledger and is resumed "
            "on the next run.",
        ) from exc
