"""The one workflow every asynchronous Amazon source goes through inside an asset.

A raw asset turns its run's partitions into ``Unit``s — one Amazon job (SP-API report, Ads report, Data
Kiosk query) and the day-partitions its document fills — and hands them to ``run_units``:

1. ledger look-up per unit (``ReportLedger.find_resumable``): a finished job whose document is still in the
   landing store is re-parsed without calling Amazon; an unfinished or finished one is resumed by id. For
   windows Amazon still restates only entries younger than ``REFRESH_REUSE_MAX_AGE`` count.
2. every remaining job is started (resume → reuse an identical in-flight job → create; ``AsyncJobRunner``),
   its id written to the ledger *before* polling; then each is polled, its document archived in the landing
   store, and the ledger updated.
3. the asset's ``load`` parses and loads the document (one transaction per partition family); the ledger
   entry becomes LOADED. A job with no data (CANCELLED) and days the asset knows are unavailable end as
   empty, successful partitions that say so (``kept_partition``), rows of earlier loads untouched — unless
   the asset's ``CancelledPolicy`` says the days should have data: then they fail and are asked again by the
   next run (``defs/cancelled_reports``).

A failure that concerns one document only (FATAL, bad document, load error) fails that unit's partitions and
the others are still loaded; anything else (credentials, network, throttling) stops the run. Errors become
one ``dagster.Failure`` naming the partitions, the job id and what to do (``failures_named``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from chalkola_pipelines.defs.cancelled_reports import REASK_TODO, CancelledPolicy, CancelledWindowError
from chalkola_pipelines.defs.partitions import MarketplaceDays
from chalkola_pipelines.defs.report_errors import (
    failures_named,
    is_partition_specific,
    mark_failed,
    report_failure,
)
from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.warehouse.ledger import ADS_REPORTING, SP_REPORTS

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.async_jobs import AsyncJobRunner, JobResult, StartedJob
    from chalkola_pipelines.warehouse.landing import LandingStore
    from chalkola_pipelines.warehouse.ledger import LedgerEntry, ReportLedger

log = logging.getLogger(__name__)

SP_SOURCE = SP_REPORTS
ADS_SOURCE = ADS_REPORTING
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


@dataclass(frozen=True)
class LedgerRequest:
    """A job's identity in the ledger and its place in the landing store."""

    source: str
    report_type: str
    region: str
    window_start: dt.datetime | dt.date
    window_end: dt.datetime | dt.date
    options: Mapping[str, Any]
    marketplace: str | None = None
    profile_id: int | None = None
    landing_suffix: str = ".gz"
    # a job whose document serves a whole region (the order report): its ledger scope and landing folder,
    # e.g. "NA", so that every marketplace of the region finds the same entry
    region_scope: str | None = None

    @property
    def scope(self) -> str:
        if self.region_scope is not None:
            return self.region_scope
        return str(self.profile_id) if self.profile_id is not None else str(self.marketplace)

    def ident(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "report_type": self.report_type,
            "region": self.region,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "options": dict(self.options),
        }


@dataclass
class Unit:
    """One Amazon job of a run and the day-partitions its document fills."""

    job: Any
    request: LedgerRequest
    days: MarketplaceDays
    label: str  # "sp_orders US 2024-01-01..2024-01-30": names the partitions in messages
    window: str  # the job's window for metadata
    max_age: dt.timedelta | None = None


@dataclass
class ReportOutcome:
    """What one job ended as (before parsing)."""

    status: str  # DONE | CANCELLED (SP-API) ; COMPLETED (Ads)
    report_id: str
    window: str
    path: Path | None = None
    request_ids: list[str] = field(default_factory=list)
    source_of_document: str = "amazon"  # amazon | landing (re-parsed without calling Amazon)
    next_token: str | None = None  # Data Kiosk: the results continue in another page

    @property
    def has_data(self) -> bool:
        return self.path is not None

    def metadata(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "status": self.status,
            "window": self.window,
            "request_ids": ", ".join(self.request_ids) or "-",
            "document": str(self.path) if self.path else "-",
            "document_from": self.source_of_document,
        }


@dataclass
class Loaded:
    """What ``load`` did with one document: metadata per day (``rows`` included) and the document's own
    counts per day for the exact rows-match check."""

    per_day: dict[dt.date, dict[str, Any]]
    expected: dict[dt.date, Any]
    rows: int


@dataclass
class RunSummary:
    """Filled by ``run_units``: what the checks at the end of the asset need."""

    expected: dict[dt.date, Any] = field(default_factory=dict)
    loaded: list[dt.date] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    empty: list[dt.date] = field(default_factory=list)  # materialised empty: Amazon had no data
    # CANCELLED for days that should have data: failed, asked again by the next run (day → why)
    reasked: dict[dt.date, str] = field(default_factory=dict)
    units: int = 0

    def raise_if_failed(self, what: str, scope: MarketplaceDays) -> None:
        """One Failure for the run once everything else is loaded: '2 of 7 sales & traffic days failed …'."""
        if self.failures:
            others = "; the other partitions were loaded" if len(self.failures) < self.units else ""
            raise dg.Failure(
                description=f"{len(self.failures)} of {self.units} {what} failed ({scope.describe()}){others}. "
                + " | ".join(self.failures),
            )


class LazyClient:
    """Creates the API client on first use (a run whose documents are all landed never logs in)."""

    def __init__(self, factory: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        self._factory = factory
        self._stack = contextlib.ExitStack()
        self._client: Any = None
        self._lock = threading.Lock()  # fetch_documents starts and finishes jobs from two threads

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._stack.enter_context(self._factory())
            return self._client

    def runner(self) -> AsyncJobRunner[Any]:
        return self.get().runner()

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> LazyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kept_partition(
    context: dg.AssetExecutionContext,
    days: MarketplaceDays,
    day: dt.date,
    *,
    status: str,
    note: str,
    kept_rows: int,
    metadata: Mapping[str, Any] | None = None,
) -> dg.AssetMaterialization:
    """An empty, successful partition that says why (no data at Amazon, unavailable, no profile): rows of
    earlier loads are left as they are and counted."""
    key = days.key_for(day)
    context.log.info(
        f"{context.asset_key.to_user_string()} {key}: {status} ({note}); {kept_rows} earlier rows kept"
    )
    return dg.AssetMaterialization(
        asset_key=context.asset_key,
        partition=key,
        metadata={
            "marketplace": days.marketplace.code,
            **(metadata or {}),
            "date": day.isoformat(),
            "status": status,
            "rows": 0,
            "rows_kept_from_earlier_loads": int(kept_rows),
            "note": note,
        },
    )


def run_units(
    context: dg.AssetExecutionContext,
    *,
    units: Sequence[Unit],
    client: LazyClient,
    ledger: ReportLedger,
    landing: LandingStore,
    load: Callable[[Unit, ReportOutcome], Loaded],
    kept_rows: Callable[[dt.date], int],
    no_data_note: str,
    summary: RunSummary,
    cancelled: CancelledPolicy | None = None,
) -> Iterator[dg.AssetMaterialization]:
    """Fetch, archive and load every unit (see the module docstring); materialisations per day. With
    ``cancelled``, a job without data that should have some fails its partitions instead (``_reask``)."""
    summary.units += len(units)
    isolate = len(units) > 1
    landed: dict[int, ReportOutcome] = {}
    started: dict[int, StartedJob[Any]] = {}
    for i, unit in enumerate(units):
        with _isolated(unit, ledger, summary, isolate=isolate):
            landed_or_started = _start(context, unit, client, ledger)
            if isinstance(landed_or_started, ReportOutcome):
                landed[i] = landed_or_started
            else:
                started[i] = landed_or_started
    for i, unit in enumerate(units):
        if i not in landed and i not in started:
            continue  # failed to start: already reported
        with _isolated(unit, ledger, summary, isolate=isolate) as current:
            outcome = landed.get(i) or _finish(context, unit, started[i], client, ledger, landing)
            current.update(report_id=outcome.report_id, path=outcome.path)
            base = {"marketplace": unit.days.marketplace.code, **outcome.metadata()}
            if not outcome.has_data:
                reason = cancelled.reask_reason(unit, outcome, ledger) if cancelled is not None else None
                if reason is not None:
                    _reask(context, unit, outcome, reason, ledger, summary)
                    continue
                summary.empty.extend(unit.days.days)
                for day in unit.days.days:
                    yield kept_partition(
                        context, unit.days, day, status=outcome.status, note=no_data_note,
                        kept_rows=kept_rows(day), metadata=base,
                    )  # fmt: skip
                continue
            loaded = load(unit, outcome)
            mark_loaded(ledger, unit, outcome, loaded.rows)
            summary.expected.update(loaded.expected)
            for day in unit.days.days:
                summary.loaded.append(day)
                yield dg.AssetMaterialization(
                    asset_key=context.asset_key,
                    partition=unit.days.key_for(day),
                    metadata={**base, "date": day.isoformat(), **loaded.per_day.get(day, {"rows": 0})},
                )


def _reask(
    context: dg.AssetExecutionContext,
    unit: Unit,
    outcome: ReportOutcome,
    reason: str,
    ledger: ReportLedger,
    summary: RunSummary,
) -> None:
    """A CANCELLED job for days that should have data: its partitions fail (counted in ``summary``, raised
    after the checks), the WARN check names them, the ledger entry keeps the reason (and is never reused)."""
    exc = CancelledWindowError(outcome.report_id, unit.window, reason)
    failure = report_failure(unit.label, exc, report_id=outcome.report_id, todo=REASK_TODO)
    mark_failed(ledger, unit.request.source, outcome.report_id, None, str(exc), unit.request.region)
    for day in unit.days.days:
        summary.reasked[day] = f"report {outcome.report_id} CANCELLED although {reason}; asked again next run"
    context.log.error(failure.description or str(exc))
    summary.failures.append(failure.description or str(exc))


def fetch_documents(
    context: dg.AssetExecutionContext,
    *,
    units: Sequence[Unit],
    client: LazyClient,
    ledger: ReportLedger,
    landing: LandingStore,
) -> list[ReportOutcome]:
    """The documents of ``units`` without loading them (for sources whose load needs several documents,
    e.g. Data Kiosk): landed ones re-parsed, the others started in order and finished in order. Any failure
    raises, as one Failure naming the unit.

    Starting and finishing overlap: a thread starts the jobs one after the other (each create waits for its
    bucket: 1 a minute after the burst), while this one polls and downloads those already started (another
    bucket), so a run of 80 queries takes about 80 minutes of creates, not 80 of creates then 65 of
    downloads."""
    summary = RunSummary()
    started: queue.Queue[ReportOutcome | StartedJob[Any] | BaseException] = queue.Queue()
    stop = threading.Event()

    def start_all() -> None:
        for unit in units:
            if stop.is_set():
                return
            try:
                with _isolated(unit, ledger, summary, isolate=False):
                    started.put(_start(context, unit, client, ledger))
            except BaseException as exc:  # handed to the finishing loop, which raises it
                started.put(exc)
                return

    starter = threading.Thread(target=start_all, name="chalkola-start-jobs", daemon=True)
    starter.start()
    outcomes: list[ReportOutcome] = []
    try:
        for unit in units:
            job = started.get()
            if isinstance(job, BaseException):
                raise job
            with _isolated(unit, ledger, summary, isolate=False) as current:
                outcome = (
                    job
                    if isinstance(job, ReportOutcome)
                    else _finish(context, unit, job, client, ledger, landing)
                )
                current.update(report_id=outcome.report_id, path=outcome.path)
                outcomes.append(outcome)
    finally:
        stop.set()  # a failure: no new job is created (those created are in the ledger, resumed next run)
    starter.join()
    return outcomes


def mark_loaded(ledger: ReportLedger, unit: Unit, outcome: ReportOutcome, rows: int) -> None:
    """The job's rows are in the warehouse."""
    ledger.update(
        unit.request.source, outcome.report_id, region=unit.request.region, status="LOADED", row_count=rows
    )


def _start(
    context: dg.AssetExecutionContext, unit: Unit, client: LazyClient, ledger: ReportLedger
) -> ReportOutcome | StartedJob[Any]:
    """The landed outcome, or the job started (resumed / reused / created) with its id in the ledger."""
    request = unit.request
    # a region-wide document is wanted by every marketplace's run of the region, maybe at the same time
    claim = (
        ledger.claimed(scope=request.scope, **request.ident())
        if request.region_scope is not None
        else contextlib.nullcontext()
    )
    with claim:
        outcome, resume_id = _from_ledger(context, unit, ledger)
        if outcome is not None:
            return outcome
        return client.runner().start(unit.job, resume_id, _on_status(unit, ledger))


def _from_ledger(
    context: dg.AssetExecutionContext, unit: Unit, ledger: ReportLedger
) -> tuple[ReportOutcome | None, str | None]:
    """(the landed outcome, None) when the document is on disk; else (None, a job id to resume or None)."""
    request = unit.request
    entry = ledger.find_resumable(scope=request.scope, max_age=unit.max_age, **request.ident())
    if entry is None or not entry.report_id:
        return None, None
    path = landed_document(entry)
    if path is not None:
        context.log.info(
            f"{unit.label}: report {entry.report_id} ({unit.window}) re-parsed from the landing store"
        )
        outcome = ReportOutcome(
            entry.status, entry.report_id, unit.window, path, list(entry.request_ids), "landing"
        )
        return outcome, None
    context.log.info(
        f"{unit.label}: resuming report {entry.report_id} from the ledger (status {entry.status})"
    )
    return None, entry.report_id


def _on_status(unit: Unit, ledger: ReportLedger) -> Callable[[Any, str, str], None]:
    request = unit.request

    def record(_job: Any, report_id: str, status: str) -> None:
        ledger.record(
            marketplace=request.marketplace, profile_id=request.profile_id, report_id=report_id, status=status,
            scope=request.scope, **request.ident(),
        )  # fmt: skip

    return record


def _finish(
    context: dg.AssetExecutionContext,
    unit: Unit,
    started: StartedJob[Any],
    client: LazyClient,
    ledger: ReportLedger,
    landing: LandingStore,
) -> ReportOutcome:
    request = unit.request

    def dest(report_id: str) -> Path:
        return landing.path_for(
            request.source, request.report_type, request.scope, report_id, request.landing_suffix
        )

    result: JobResult[Any] = client.runner().finish(started, dest, _on_status(unit, ledger))
    document = result.document
    ledger.update(
        request.source,
        result.job_id,
        region=request.region,
        status=result.status,
        document_id=document.document_id if document else None,
        document_path=document.path if document else None,
        request_ids=result.request_ids,
        row_count=0 if document is None else None,
    )
    context.log.info(f"{unit.label}: report {result.job_id} ({unit.window}) {result.status}")
    next_token = getattr(document, "next_token", None)
    return ReportOutcome(
        result.status,
        result.job_id,
        unit.window,
        result.path,
        list(result.request_ids),
        next_token=next_token,
    )


@contextlib.contextmanager
def _isolated(
    unit: Unit, ledger: ReportLedger, summary: RunSummary, *, isolate: bool
) -> Iterator[dict[str, Any]]:
    """``failures_named`` for one unit; a document-specific failure is logged and counted when ``isolate``."""

    current: dict[str, Any] = {}
    try:
        with failures_named(unit.label, ledger, unit.request.source, current, unit.request.region):
            yield current
    except dg.Failure as failure:
        if not isolate or not is_partition_specific(failure):
            raise
        log.error(failure.description or str(failure))
        summary.failures.append(failure.description or str(failure))
