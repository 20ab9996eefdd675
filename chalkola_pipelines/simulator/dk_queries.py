"""Data Kiosk query life-cycles and documents (API 2023-11-15), on the simulated clock.

A query waits IN_QUEUE (5–30 simulated s), is IN_PROGRESS for a base of 45–90 s plus 0.05 s per expected
record ("Queries take minutes (longer for large ranges)", amazon-facts §8.2), then ends DONE (a
``dataDocumentId`` only when there is data), FATAL (an ``errorDocumentId``: JSON ``{"errorMessage"}``) or
CANCELLED. Results are computed when a client first sees the query finished. Queries and documents are
retained 30 days (every field of the schema is ``@resultRetention(duration: "P30D")``); a document
expires with its query. A document holds at most ``PAGE_RECORDS`` records; the rest is reached through
``pagination.nextToken`` and a new createQuery with ``paginationToken``.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from chalkola_pipelines.simulator.clock import SimulatedClock
from chalkola_pipelines.simulator.dk_schema import ParsedQuery
from chalkola_pipelines.simulator.document_encoding import dumps_json
from chalkola_pipelines.simulator.reports import start_id_base

DK_RETENTION = dt.timedelta(days=30)  # P30D
DK_DOCUMENT_URL_TTL = 300.0  # simulated seconds ("This URL expires after 5 minutes")
PAGE_RECORDS = 50_000
DK_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")

DkOutcome = Literal["DONE", "FATAL", "CANCELLED"]


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


@dataclass
class DkDocument:
    document_id: str
    query_id: str
    region: str
    kind: Literal["data", "error"]
    content: bytes  # uncompressed JSONL (data) or JSON (error)


@dataclass
class DkQuery:
    query_id: str
    region: str
    query: str  # as submitted
    parsed: ParsedQuery
    created_at: dt.datetime
    created_sim: float
    queue_seconds: float
    processing_seconds: float
    outcome: DkOutcome
    error_message: str | None = None  # FATAL decided at creation (limits, injected fault)
    offset: int = 0  # first record of this page (paginationToken)
    cancelled_sim: float | None = None
    cancelled_at: dt.datetime | None = None
    finished: bool = False  # results computed
    data_document_id: str | None = None
    error_document_id: str | None = None
    next_token: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def status(self, elapsed: float) -> str:
        if self.cancelled_sim is not None:
            return "CANCELLED"
        age = elapsed - self.created_sim
        if age < self.queue_seconds:
            return "IN_QUEUE"
        if self.outcome == "CANCELLED":
            return "CANCELLED"  # "cancelled before it began processing"
        if age < self.queue_seconds + self.processing_seconds:
            return "IN_PROGRESS"
        return self.outcome

    def to_json(self, clock: SimulatedClock) -> dict[str, Any]:
        """The official ``Query`` object as of now (call :meth:`DataKioskStore.finish` first when done)."""
        status = self.status(clock.elapsed())
        ts = clock.time_scale
        out: dict[str, Any] = {
            "queryId": self.query_id,
            "query": self.query,
            "createdTime": _iso(self.created_at),
            "processingStatus": status,
        }
        started = self.created_at + dt.timedelta(seconds=self.queue_seconds / ts)
        if status in ("IN_PROGRESS", "DONE", "FATAL"):
            out["processingStartTime"] = _iso(started)
        if status in ("DONE", "FATAL"):
            ended = started + dt.timedelta(seconds=self.processing_seconds / ts)
            out["processingEndTime"] = _iso(ended)
        elif status == "CANCELLED":
            ended = self.cancelled_at or started
            out["processingEndTime"] = _iso(ended)
        if status == "DONE" and self.data_document_id:
            out["dataDocumentId"] = self.data_document_id
        if status == "FATAL" and self.error_document_id:
            out["errorDocumentId"] = self.error_document_id
        if status == "DONE" and self.next_token:
            out["pagination"] = {"nextToken": self.next_token}
        return out


@dataclass
class DataKioskStore:
    """Every Data Kiosk query and document of one simulator; thread-safe."""

    clock: SimulatedClock
    seed: int
    queries: dict[str, DkQuery] = field(default_factory=dict)
    documents: dict[str, DkDocument] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _counter: int = 0

    def __post_init__(self) -> None:
        self._id_base = start_id_base()  # ids unique across simulator restarts (see start_id_base)
        self._id_rng = random.Random(f"chalkola-simulator-dk-ids:{self.seed}:{self._id_base}")

    def create(
        self,
        *,
        region: str,
        query: str,
        parsed: ParsedQuery,
        expected_records: int,
        outcome: DkOutcome,
        error_message: str | None = None,
        offset: int = 0,
    ) -> DkQuery:
        with self._lock:
            self._counter += 1
            query_id = str(self._id_base + self._counter)
            # delays: a function of the seed and the n-th query (ids are per start, see start_id_base)
            rng = random.Random(
                f"{self.seed}:dk:{10_000_000_000 + self.seed * 100_000_000 + self._counter * 13}"
            )
            record = DkQuery(
                query_id=query_id,
                region=region,
                query=query,
                parsed=parsed,
                created_at=self.clock.now(),
                created_sim=self.clock.elapsed(),
                queue_seconds=rng.uniform(5.0, 30.0),
                processing_seconds=rng.uniform(45.0, 90.0) + 0.05 * max(0, expected_records),
                outcome=outcome,
                error_message=error_message,
                offset=offset,
            )
            self.queries[query_id] = record
            return record

    def _retained(self, query: DkQuery) -> bool:
        return query.created_at >= self.clock.now() - DK_RETENTION

    def get(self, region: str, query_id: str) -> DkQuery | None:
        with self._lock:
            query = self.queries.get(query_id)
        if query is None or query.region != region or not self._retained(query):
            return None
        return query

    def list(self, region: str) -> list[DkQuery]:
        """Retained queries of ``region``, newest first."""
        with self._lock:
            queries = [q for q in self.queries.values() if q.region == region and self._retained(q)]
        return sorted(queries, key=lambda q: (q.created_sim, int(q.query_id)), reverse=True)

    def document(self, region: str, document_id: str) -> DkDocument | None:
        """A document of a retained query ("The retention of a query's resulting documents always matches
        the retention of the query")."""
        with self._lock:
            document = self.documents.get(document_id)
        if document is None or document.region != region:
            return None
        return document if self.get(region, document.query_id) is not None else None

    def _new_document_id(self, region: str) -> str:
        with self._lock:
            ident = uuid.UUID(int=self._id_rng.getrandbits(128))
            suffix = "".join(self._id_rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(13))
        return f"amzn1.tortuga.4.{region}.{ident}.{suffix}"

    def finish(self, query: DkQuery, compute: Any, encode_token: Any) -> None:
        """Compute the results of a query that has reached DONE/FATAL, once. ``compute(query)`` returns the
        projected records or raises ValueError (→ FATAL); ``encode_token(query, offset)`` a nextToken."""
        with query.lock:
            if query.finished or query.status(self.clock.elapsed()) not in ("DONE", "FATAL"):
                return
            message = query.error_message if query.outcome == "FATAL" else None
            rows: list[dict[str, Any]] = []
            if message is None:
                try:
                    rows = compute(query)
                except ValueError as exc:
                    message = str(exc)
            if message is not None:
                query.outcome = "FATAL"
                document_id = self._new_document_id(query.region)
                content = dumps_json({"errorMessage": message})
                self._add(DkDocument(document_id, query.query_id, query.region, "error", content))
                query.error_document_id = document_id
            else:
                page = rows[query.offset : query.offset + PAGE_RECORDS]
                if page:
                    document_id = self._new_document_id(query.region)
                    content = b"".join(dumps_json(r) + b"\n" for r in page)
                    self._add(DkDocument(document_id, query.query_id, query.region, "data", content))
                    query.data_document_id = document_id
                if query.offset + PAGE_RECORDS < len(rows):
                    query.next_token = encode_token(query, query.offset + PAGE_RECORDS)
            query.finished = True

    def _add(self, document: DkDocument) -> None:
        with self._lock:
            self.documents[document.document_id] = document
