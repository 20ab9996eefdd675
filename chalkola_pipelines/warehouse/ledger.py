"""The pull ledger (``raw_amazon.report_requests``): every report requested from Amazon, recorded before polling.

A run first asks ``find_resumable`` for an entry with the same request key (source, report type, region,
scope, window, options); if there is one it resumes that report id instead of creating (and paying quota
for) a new report. The client records the report id (``record``) as soon as Amazon returns it, before
polling, and ``update``s status, document and row count as the report progresses.

Reuse rules (``find_resumable``):
- never FATAL / FAILED / CANCELLED entries; never entries older than 90 days (SP-API keeps report records
  90 days; Ads data retention is 95 days) or than ``max_age`` when given (use it for refreshes of recent,
  restated data: a report from yesterday must not satisfy tonight's refresh);
- SP-API (``sp_reports``): any other status — in flight reports are polled again, DONE/LOADED ones are
  downloaded again by document id (or re-parsed from the landing store);
- Ads (``ads_reporting``): report URLs expire after about an hour and reports are not documented to live long,
  so COMPLETED/LOADED entries are reused only when their ``document_path`` exists on disk (re-parse without
  calling Amazon), and in-flight or COMPLETED-without-document entries only for 24 hours.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from chalkola_pipelines.warehouse.postgres import guard_transaction

log = logging.getLogger(__name__)

SP_REPORTS = "sp_reports"
ADS_REPORTING = "ads_reporting"
TABLE = "raw_amazon.report_requests"

NOT_RESUMABLE = frozenset({"FATAL", "FAILED", "CANCELLED"})
FINAL_STATUSES = frozenset({"DONE", "COMPLETED", "LOADED", "FATAL", "FAILED", "CANCELLED"})
ADS_DOCUMENT_STATUSES = frozenset({"COMPLETED", "LOADED"})
MAX_AGE = dt.timedelta(days=90)
ADS_IN_FLIGHT_MAX_AGE = dt.timedelta(hours=24)
_ERROR_MAX_CHARS = 4000


class LedgerError(RuntimeError):
    """A ledger operation could not be done (e.g. updating a report id that was never recorded)."""


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    source: str
    report_type: str
    region: str
    marketplace: str | None
    profile_id: int | None
    window_start: dt.datetime
    window_end: dt.datetime
    options: dict[str, Any]
    request_key: str
    report_id: str | None
    status: str
    document_id: str | None
    document_path: str | None
    row_count: int | None
    error: str | None
    request_ids: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None


def ledger_scope(marketplace: str | None, profile_id: int | None) -> str:
    """The scope string of a request: the Ads profile id when there is one, else the marketplace code."""
    if profile_id is not None:
        return str(profile_id)
    if marketplace:
        return marketplace
    raise ValueError("a report request needs a marketplace or a profile_id")


def request_key(
    *,
    source: str,
    report_type: str,
    region: str,
    scope: str,
    window_start: dt.datetime | dt.date,
    window_end: dt.datetime | dt.date,
    options: Mapping[str, Any] | None,
) -> str:
    """sha256 hex of the canonical JSON of the request's identity (options sorted by key)."""
    canonical = json.dumps(
        {
            "source": source,
            "report_type": report_type,
            "region": region,
            "scope": str(scope),
            "window_start": _instant(window_start).isoformat(),
            "window_end": _instant(window_end).isoformat(),
            "options": _plain_options(options),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ReportLedger:
    """Read and write the ledger; ``conn_factory`` returns a NEW connection per call (closed after use)."""

    def __init__(self, conn_factory: Callable[[], psycopg.Connection]) -> None:
        self._conn_factory = conn_factory

    @classmethod
    def from_url(cls, url: str) -> ReportLedger:
        """A ledger on ``url`` with pooler-safe connections (no server-side prepared statements)."""
        return cls(lambda: psycopg.connect(url, prepare_threshold=None))

    def find_resumable(
        self,
        *,
        source: str,
        report_type: str,
        region: str,
        scope: str,
        window_start: dt.datetime | dt.date,
        window_end: dt.datetime | dt.date,
        options: Mapping[str, Any] | None,
        max_age: dt.timedelta | None = None,
    ) -> LedgerEntry | None:
        """The newest reusable entry for this request, or None (see the module docstring for the rules)."""
        key = request_key(
            source=source,
            report_type=report_type,
            region=region,
            scope=scope,
            window_start=window_start,
            window_end=window_end,
            options=options,
        )
        age = MAX_AGE if max_age is None else min(MAX_AGE, max_age)
        with self._conn_factory() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"select *, now() - created_at as age from {TABLE}"
                " where request_key = %s and report_id is not null and status <> all(%s)"
                " and created_at > now() - %s order by created_at desc, id desc limit 50",
                (key, list(NOT_RESUMABLE), age),
            )
            rows = cur.fetchall()
        for row in rows:
            row_age = row.pop("age")
            entry = LedgerEntry(**row)
            if entry.source != ADS_REPORTING:
                return entry
            has_document = bool(entry.document_path) and Path(entry.document_path).is_file()
            if entry.status in ADS_DOCUMENT_STATUSES and has_document:
                return entry
            if entry.status != "LOADED" and row_age <= ADS_IN_FLIGHT_MAX_AGE:
                return entry
        return None

    @contextlib.contextmanager
    def claimed(
        self,
        *,
        source: str,
        report_type: str,
        region: str,
        scope: str,
        window_start: dt.datetime | dt.date,
        window_end: dt.datetime | dt.date,
        options: Mapping[str, Any] | None,
    ) -> Iterator[None]:
        """Hold a lock on this request (every run, every machine) while looking it up and creating it, so
        that two runs asking for the same report at once create it once: the second one waits, then finds
        the first one's entry. Transaction-level advisory lock: pooler-safe."""
        key = request_key(
            source=source,
            report_type=report_type,
            region=region,
            scope=scope,
            window_start=window_start,
            window_end=window_end,
            options=options,
        )
        with self._conn_factory() as conn, conn.transaction():
            guard_transaction(conn)  # the wait for another run's createReport may be long: no leaked timeout
            conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{TABLE}:{key}",))
            yield

    def record(
        self,
        *,
        source: str,
        report_type: str,
        region: str,
        marketplace: str | None,
        profile_id: int | None,
        window_start: dt.datetime | dt.date,
        window_end: dt.datetime | dt.date,
        options: Mapping[str, Any] | None,
        report_id: str,
        status: str,
        request_ids: Iterable[str] = (),
        scope: str | None = None,
    ) -> LedgerEntry:
        """Insert the entry for ``report_id`` or, if (source, region, report_id) exists *for the same request*,
        update its status and append request ids. ``scope`` defaults to ``ledger_scope(marketplace, profile_id)``.

        A report id already recorded for a *different* request (another report type, window, scope or options)
        raises :class:`LedgerError` naming both: one id is one report at Amazon, so this means ids were reused
        (a simulator restarted against the same warehouse, a second seller account in the same region) and
        merging would point one request's entry at another's document."""
        if not report_id:
            raise ValueError("record() needs the report id Amazon returned")
        scope = scope if scope is not None else ledger_scope(marketplace, profile_id)
        key = request_key(
            source=source,
            report_type=report_type,
            region=region,
            scope=scope,
            window_start=window_start,
            window_end=window_end,
            options=options,
        )
        status = status.upper()
        sql = f"""
            insert into {TABLE} as r (source, report_type, region, marketplace, profile_id, window_start,
                window_end, options, request_key, report_id, status, request_ids, completed_at)
            values (%(source)s, %(report_type)s, %(region)s, %(marketplace)s, %(profile_id)s, %(window_start)s,
                %(window_end)s, %(options)s, %(key)s, %(report_id)s, %(status)s, %(request_ids)s::text[],
                case when %(final)s then now() end)
            on conflict (source, region, report_id) where report_id is not null do update set
                status = excluded.status,
                request_ids = {_merge_ids_sql("r.request_ids", "excluded.request_ids")},
                updated_at = now(),
                completed_at = case when %(final)s then coalesce(r.completed_at, now()) else r.completed_at end
            where r.request_key = excluded.request_key
            returning *
        """
        params = {
            "source": source,
            "report_type": report_type,
            "region": region,
            "marketplace": marketplace,
            "profile_id": profile_id,
            "window_start": _instant(window_start),
            "window_end": _instant(window_end),
            "options": Jsonb(_plain_options(options)),
            "key": key,
            "report_id": report_id,
            "status": status,
            "request_ids": [str(r) for r in request_ids if r],
            "final": status in FINAL_STATUSES,
        }
        with self._conn_factory() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
            if row is None:  # the id exists for another request: the conflict's WHERE refused the update
                other = cur.execute(
                    f"select * from {TABLE} where source = %s and region = %s and report_id = %s",
                    (source, region, report_id),
                ).fetchone()
        if row is None:
            assert other is not None
            mine = _describe(report_type, scope, params["window_start"], params["window_end"], options)
            theirs = _describe(
                other["report_type"],
                ledger_scope(other["marketplace"], other["profile_id"])
                if other["marketplace"] or other["profile_id"] is not None
                else "?",
                other["window_start"],
                other["window_end"],
                other["options"],
            )
            raise LedgerError(
                f"{source} report id {report_id} (region {region}) is already recorded for another request: "
                f"ledger entry {other['id']} = {theirs} (status {other['status']}, created "
                f"{other['created_at']:%Y-%m-%d %H:%M}Z), now returned for {mine}. One report id is one report "
                "at Amazon, so the ids come from two different places (a simulator restarted against the same "
                "warehouse, or two seller accounts sharing one warehouse and region); the entry was not changed. "
                "Use one warehouse per seller account (or per simulator run) and re-run."
            )
        return LedgerEntry(**row)

    def forget_documents(self, paths: Iterable[str | Path]) -> int:
        """Clear ``document_path`` of the entries pointing at ``paths`` (files the landing retention deleted),
        so a later run asks Amazon again instead of re-parsing a missing file. Returns entries changed."""
        names = sorted({str(p) for p in paths})
        if not names:
            return 0
        with self._conn_factory() as conn:
            cur = conn.execute(
                f"update {TABLE} set document_path = null, updated_at = now() where document_path = any(%s)",
                (names,),
            )
            return cur.rowcount

    def update(
        self,
        source: str,
        report_id: str,
        *,
        status: str | None = None,
        document_id: str | None = None,
        document_path: str | Path | None = None,
        row_count: int | None = None,
        error: str | None = None,
        request_ids: Iterable[str] = (),
        region: str | None = None,
    ) -> None:
        """Set the given fields (None = leave as is) and append ``request_ids``; raises LedgerError when
        (source, region, report_id) was never recorded. Report ids are unique per region only: pass
        ``region``; without it the id must be unambiguous."""
        status = status.upper() if status else None
        if error is not None and len(error) > _ERROR_MAX_CHARS:
            error = error[: _ERROR_MAX_CHARS - 1] + "…"
        sql = f"""
            update {TABLE} as r set
                status = coalesce(%(status)s, r.status),
                document_id = coalesce(%(document_id)s, r.document_id),
                document_path = coalesce(%(document_path)s, r.document_path),
                row_count = coalesce(%(row_count)s, r.row_count),
                error = coalesce(%(error)s, r.error),
                request_ids = {_merge_ids_sql("r.request_ids", "%(request_ids)s::text[]")},
                updated_at = now(),
                completed_at = case when %(final)s then coalesce(r.completed_at, now()) else r.completed_at end
            where r.id = %(entry_id)s
        """
        params = {
            "status": status,
            "document_id": document_id,
            "document_path": str(document_path) if document_path is not None else None,
            "row_count": row_count,
            "error": error,
            "request_ids": [str(r) for r in request_ids if r],
            "final": status in FINAL_STATUSES if status else False,
            "source": source,
            "report_id": report_id,
        }
        with self._conn_factory() as conn:
            params["entry_id"] = self._entry_id(conn, source, report_id, region)
            conn.execute(sql, params)

    def cancelled_near(
        self,
        *,
        source: str,
        report_type: str,
        region: str,
        marketplace: str | None,
        window_start: dt.datetime | dt.date,
        window_end: dt.datetime | dt.date,
        margin: dt.timedelta,
    ) -> list[tuple[str, str]]:
        """(request key, report id) of the CANCELLED entries of this report type and marketplace(s) whose
        window overlaps [window_start - margin, window_end + margin]: what Amazon already answered "no data"
        for around a window (within the ledger's 90 days)."""
        with self._conn_factory() as conn:
            rows = conn.execute(
                f"select request_key, report_id from {TABLE} where source = %s and report_type = %s"
                " and region = %s and marketplace is not distinct from %s and status = 'CANCELLED'"
                " and report_id is not null and window_start <= %s and window_end >= %s"
                " and created_at > now() - %s order by created_at",
                (
                    source,
                    report_type,
                    region,
                    marketplace,
                    _instant(window_end) + margin,
                    _instant(window_start) - margin,
                    MAX_AGE,
                ),
            ).fetchall()
        return [(str(key), str(report_id)) for key, report_id in rows]

    def get(self, source: str, report_id: str, region: str | None = None) -> LedgerEntry | None:
        """The entry of (source, region, report_id), or None (LedgerError if ambiguous without region)."""
        with self._conn_factory() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                f"select * from {TABLE} where source = %s and report_id = %s"
                " and (%s::text is null or region = %s)",
                (source, report_id, region, region),
            ).fetchall()
        if len(rows) > 1:
            raise LedgerError(f"{source} report {report_id} exists in several regions: pass region=")
        return LedgerEntry(**rows[0]) if rows else None

    @staticmethod
    def _entry_id(conn: psycopg.Connection, source: str, report_id: str, region: str | None) -> int:
        rows = conn.execute(
            f"select id from {TABLE} where source = %s and report_id = %s and (%s::text is null or region = %s)",
            (source, report_id, region, region),
        ).fetchall()
        where = f"{source} report {report_id}" + (f" in region {region}" if region else "")
        if not rows:
            raise LedgerError(f"No ledger entry for {where}: record() it when Amazon returns the id.")
        if len(rows) > 1:
            raise LedgerError(f"{where} exists in several regions: pass region= to tell them apart.")
        return rows[0][0]


def _describe(report_type: str, scope: str, start: dt.datetime, end: dt.datetime, options: Any) -> str:
    plain = _plain_options(options)
    extra = f" options {json.dumps(plain, sort_keys=True)}" if plain else ""
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    return f"{report_type} scope {scope} {start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}{extra}"


def _merge_ids_sql(left: str, right: str) -> str:
    """SQL for the union of two text arrays, first-seen order kept, without duplicates."""
    return (
        "(select coalesce(array_agg(x order by first_seen), '{}'::text[]) from ("
        f"select x, min(o) as first_seen from unnest({left} || {right}) with ordinality as u(x, o)"
        " group by x) as merged)"
    )


def _instant(value: dt.datetime | dt.date) -> dt.datetime:
    """Aware UTC datetime of a window bound; a date means its 00:00 UTC."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"window bound {value!r} must be timezone-aware")
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)
    raise TypeError(f"window bound must be a datetime or date, got {type(value).__name__}")


def _plain_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Options as plain JSON values (dates/Decimals as strings), for hashing and storage."""
    return json.loads(json.dumps(dict(options or {}), sort_keys=True, default=str))
