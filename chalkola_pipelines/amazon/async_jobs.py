"""One client-side workflow for Amazon's asynchronous jobs: resume → reuse → create → poll → download.

SP-API reports, Ads v3 reports and (next) Data Kiosk queries all follow the same life cycle; each client
implements the small ``AsyncJobApi`` protocol (its own operations and status words) and ``AsyncJobRunner``
runs the sequence once for all of them:

1. ``start``: a job id handed in by the caller (from its ledger) is resumed with one status call; an id Amazon
   no longer knows (or a job it refuses to resume, e.g. a FAILED Ads report) falls through; then an identical
   in-flight job found by the API (getReports) is reused; only then is a new job created. ``on_status`` is
   called with the id *before* any polling, so the caller records it first.
2. ``finish``: poll with a growing interval until a terminal state (``on_status`` on every change), then
   download the document to the caller's path (the API refreshes an expired URL itself).

``run`` starts every job first and then finishes them in order, so several jobs process on Amazon's side
at the same time. The runner knows no ledger, table or Dagster: that is the caller's (``defs/report_workflow``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

from chalkola_pipelines.amazon.errors import AmazonApiError, ReportTimeoutError

logger = logging.getLogger(__name__)

J = TypeVar("J")
Phase = Literal["pending", "done", "no_data", "failed"]
#: on_status(job, job id, Amazon's status word): called before polling and on every status change.
OnStatus = Callable[[Any, str, str], None]


@dataclass
class JobState:
    """One status answer: Amazon's own word, what it means, and the raw object."""

    status: str
    phase: Phase
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class DownloadedDocument:
    path: Path
    document_id: str | None = None
    compression: str | None = None


class AsyncJobApi(Protocol[J]):
    """What a client implements for ``AsyncJobRunner`` (``request_ids`` collects x-amzn-RequestId values)."""

    #: the status word of a job just created (announced before the first poll)
    created_status: str

    def describe(self, job: J) -> str:
        """The job for messages, e.g. ``SP-API report (GET_…, 2024-01-01T00:00:00Z..…)``."""
        ...

    def get(self, job: J, job_id: str, request_ids: list[str]) -> JobState: ...

    def create(self, job: J, request_ids: list[str]) -> str: ...

    def find_reusable(self, job: J, request_ids: list[str]) -> str | None:
        """An identical job already in flight at Amazon, if the API can list them."""
        ...

    def resumable(self, state: JobState) -> bool:
        """False when a job from the ledger must not be resumed (a new one is created instead)."""
        ...

    def failure(self, job: J, job_id: str, state: JobState, request_ids: list[str]) -> Exception:
        """The error for a failed job (with Amazon's error document where there is one)."""
        ...

    def download(
        self, job: J, job_id: str, state: JobState, path: Path, request_ids: list[str]
    ) -> DownloadedDocument: ...


@dataclass
class StartedJob(Generic[J]):
    job: J
    job_id: str
    state: JobState | None
    request_ids: list[str]
    how: Literal["resumed", "reused", "created"]


@dataclass
class JobResult(Generic[J]):
    """A finished job: ``done`` with its document at ``path``, or ``no_data`` (Amazon has nothing for it)."""

    job: J
    job_id: str
    status: str
    phase: Literal["done", "no_data"]
    document: DownloadedDocument | None
    request_ids: list[str]

    @property
    def path(self) -> Path | None:
        return self.document.path if self.document else None


class PolledJobClient:
    """Base of the clients that implement ``AsyncJobApi`` over an ``AmazonHttpClient`` (``self.http``): their
    runner (polling settings and the HTTP layer's clock) and a one-job run."""

    http: Any
    poll_initial_seconds: float
    poll_max_seconds: float
    poll_timeout_seconds: float
    reuse_in_flight: bool = True

    def runner(self) -> AsyncJobRunner[Any]:
        return AsyncJobRunner(
            self,  # type: ignore[arg-type]  # the subclass implements AsyncJobApi
            clock=self.http.clock,
            sleep=self.http.sleep,
            poll_initial_seconds=self.poll_initial_seconds,
            poll_max_seconds=self.poll_max_seconds,
            poll_timeout_seconds=self.poll_timeout_seconds,
            reuse_in_flight=self.reuse_in_flight,
        )

    def run_one(
        self,
        job: Any,
        dest: Path | Callable[[str], Path],
        resume_id: str | None,
        on_id: Callable[[str, str], None] | None,
    ) -> JobResult[Any]:
        """``runner().run`` for one job; ``on_id(job id, status)`` before polling and on every change."""
        on_status = None if on_id is None else (lambda _job, job_id, status: on_id(job_id, status))
        target = dest if callable(dest) else (lambda _job_id: Path(dest))
        (result,) = self.runner().run([(job, resume_id)], target, on_status)
        return result


class AsyncJobRunner(Generic[J]):
    """Runs ``AsyncJobApi`` jobs; clock and sleep come from the HTTP layer (simulated time in tests)."""

    def __init__(
        self,
        api: AsyncJobApi[J],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        poll_initial_seconds: float,
        poll_max_seconds: float,
        poll_timeout_seconds: float,
        reuse_in_flight: bool = True,
    ) -> None:
        self.api = api
        self.clock = clock
        self.sleep = sleep
        self.poll_initial_seconds = poll_initial_seconds
        self.poll_max_seconds = poll_max_seconds
        self.poll_timeout_seconds = poll_timeout_seconds
        self.reuse_in_flight = reuse_in_flight

    def start(self, job: J, resume_id: str | None = None, on_status: OnStatus | None = None) -> StartedJob[J]:
        """Resume ``resume_id``, else reuse an identical in-flight job, else create one; announce the id."""
        request_ids: list[str] = []
        what = self.api.describe(job)
        started: StartedJob[J] | None = None
        if resume_id:
            state = self._resume_state(job, str(resume_id), request_ids)
            if state is not None:
                logger.info("resuming %s %s (status %s)", what, resume_id, state.status)
                started = StartedJob(job, str(resume_id), state, request_ids, "resumed")
        if started is None and self.reuse_in_flight:
            reused = self.api.find_reusable(job, request_ids)
            if reused:
                logger.info("reusing in-flight %s %s", what, reused)
                started = StartedJob(job, str(reused), None, request_ids, "reused")
        if started is None:
            job_id = str(self.api.create(job, request_ids))
            logger.info("created %s %s", what, job_id)
            started = StartedJob(job, job_id, None, request_ids, "created")
        if on_status is not None:
            on_status(job, started.job_id, started.state.status if started.state else self.api.created_status)
        return started

    def finish(
        self, started: StartedJob[J], dest: Callable[[str], Path], on_status: OnStatus | None = None
    ) -> JobResult[J]:
        """Poll until terminal; download a finished job's document to ``dest(job id)``."""
        state = self._poll(started, on_status)
        job, job_id, request_ids = started.job, started.job_id, started.request_ids
        if state.phase == "failed":
            raise self.api.failure(job, job_id, state, request_ids)
        if state.phase == "no_data":
            logger.info("%s %s %s: no data for this range", self.api.describe(job), job_id, state.status)
            return JobResult(job, job_id, state.status, "no_data", None, request_ids)
        document = self.api.download(job, job_id, state, dest(job_id), request_ids)
        logger.info(
            "%s %s %s: document archived at %s", self.api.describe(job), job_id, state.status, document.path
        )
        return JobResult(job, job_id, state.status, "done", document, request_ids)

    def run(
        self,
        jobs: Sequence[tuple[J, str | None]],
        dest: Callable[[str], Path],
        on_status: OnStatus | None = None,
    ) -> list[JobResult[J]]:
        """Start every ``(job, resume id)`` first, then finish them in order."""
        started = [self.start(job, resume_id, on_status) for job, resume_id in jobs]
        return [self.finish(s, dest, on_status) for s in started]

    # -- internals
    def _resume_state(self, job: J, job_id: str, request_ids: list[str]) -> JobState | None:
        try:
            state = self.api.get(job, job_id, request_ids)
        except AmazonApiError as exc:
            if exc.status_code not in (400, 404):
                raise
            logger.warning(
                "%s %s from the ledger is unknown to Amazon (HTTP %s); requesting a new one",
                self.api.describe(job),
                job_id,
                exc.status_code,
            )
            return None
        if not self.api.resumable(state):
            logger.warning(
                "%s %s from the ledger is %s; requesting a new one",
                self.api.describe(job),
                job_id,
                state.status,
            )
            return None
        return state

    def _poll(self, started: StartedJob[J], on_status: OnStatus | None) -> JobState:
        job, job_id = started.job, started.job_id
        deadline = self.clock() + self.poll_timeout_seconds
        delay = self.poll_initial_seconds
        state = started.state
        last = state.status if state else self.api.created_status
        while True:
            if state is None or state.phase == "pending":
                state = self.api.get(job, job_id, started.request_ids)
            if state.status != last:
                logger.info("%s %s: %s → %s", self.api.describe(job), job_id, last, state.status)
                last = state.status
                if on_status is not None:
                    on_status(job, job_id, state.status)
            if state.phase != "pending":
                return state
            if self.clock() + delay > deadline:
                raise ReportTimeoutError(
                    f"{self.api.describe(job)} {job_id} is still {state.status} after "
                    f"{self.poll_timeout_seconds:.0f}s. It stays recorded; re-run the partition later to resume it."
                )
            self.sleep(delay)
            delay = min(self.poll_max_seconds, delay * 1.5)
            state = None


def note_request_id(request_ids: list[str] | None, request_id: str | None) -> None:
    """Collect an x-amzn-RequestId (the caller's list may be None)."""
    if request_ids is not None and request_id:
        request_ids.append(request_id)


def parse_instant(value: Any) -> datetime | None:
    """An ISO-8601 instant as Amazon writes it (``…Z``), aware UTC; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
