"""Amazon, parse and load errors of a raw asset as one ``dagster.Failure`` each.

The message names the partitions, the report id and what to do next; the ledger entry gets the error.
Errors never carry secrets (the HTTP layer redacts them), so messages are safe to show in the UI.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:
    from chalkola_pipelines.warehouse.ledger import ReportLedger

log = logging.getLogger(__name__)


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
    allow_retries: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dg.Failure:
    """One clear Failure: '<partitions>: <error>. <what to do>' (no secrets: errors never carry them)."""
    head = f"{what}: {str(exc).strip()}"
    if report_id and report_id not in str(exc):
        head += f" (report {report_id})"
    parts = [head if head.endswith((".", "!", "?")) else head + "."]  # one sentence, then the next steps
    if document is not None:
        parts.append(f"The document is kept at {document}.")
    if todo:
        parts.append(todo)
    values: dict[str, Any] = {"error": type(exc).__name__, **(metadata or {})}
    if report_id:
        values["report_id"] = report_id
    return dg.Failure(description=" ".join(parts), metadata=values, allow_retries=allow_retries)


def auth_failure(what: str, exc: BaseException) -> dg.Failure:
    """Login With Amazon refused a credential (or could not be asked): '<partitions>: <one line naming the
    variable and the fix>', as a ``ConfigurationFailure`` (never retried)."""
    from chalkola_pipelines.defs.resources import ConfigurationFailure

    return ConfigurationFailure(f"{what}: {exc}")


#: Words of a FATAL that no retry of the same request can fix (Amazon: "Date range exceeded. Report can be
#: requested only upto 30 days").
NEVER_SUCCEEDS = ("date range exceeded",)
NEVER_SUCCEEDS_TODO = (
    "Amazon refuses this window whatever the time: retrying it unchanged can never succeed, so it is not "
    "retried. The pipeline builds windows within Amazon's limit, so this is a bug (or a changed limit): report it "
    "with this message."
)


def never_succeeds(exc: BaseException) -> bool:
    """A FATAL whose error document says the request itself is invalid (e.g. its window is too long)."""
    text = str(getattr(exc, "amazon_message", "") or exc).lower()
    return any(words in text for words in NEVER_SUCCEEDS)


def is_partition_specific(failure: BaseException) -> bool:
    """True when a failure concerns one report/document only (FATAL, bad document, load error), so the other
    days of a range run are still worth trying; False for credentials, network, throttling and the like."""
    from chalkola_pipelines.amazon.errors import (
        AdsReportFailedError,
        AdsReportFormatError,
        DataKioskQueryFatalError,
        DocumentCorruptError,
        OrderReportFormatError,
        ReportFatalError,
        SalesTrafficFormatError,
    )
    from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError

    specific = (
        ReportFatalError,
        AdsReportFailedError,
        DataKioskQueryFatalError,
        SalesTrafficFormatError,
        OrderReportFormatError,
        AdsReportFormatError,
        DocumentCorruptError,
        WarehouseLoadError,
    )
    return isinstance(failure.__cause__, specific)


MISSING_FIELD_TODO = (
    "Nothing of this document was loaded; rows already loaded for these partitions are kept. The next run "
    "downloads the document again from Amazon by its id (or requests a new report if Amazon no longer serves "
    "it); if a fresh document lacks the field too, Amazon's output no longer matches its official schema: "
    "report it with this message (amazon.report_columns lists the required fields)."
)
PARSE_TODO = (
    "Nothing was changed for these partitions. The next run downloads the document again from Amazon by its id "
    "(or requests a new report if Amazon no longer serves it); if the same error comes back with a fresh "
    "document, Amazon changed the format: update chalkola_pipelines.amazon.parsers."
)


TRANSIENT_DB_TODO = (
    "Transient database error (the warehouse connection was lost, or its server is restarting or unreachable), "
    "nothing is wrong with the data: nothing was committed for the partitions this step had not materialised "
    "yet. Re-run them (a retry or the next run does it): reports already requested are resumed from the "
    "ledger and landed documents re-parsed, without new Amazon quota. If it persists, check the server of "
    "DATABASE_URL."
)


def transient_database_failure(what: str, exc: BaseException, report_id: str | None = None) -> dg.Failure:
    """One line for a dropped / refused warehouse connection: transient, re-run (not "fix the input")."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    return report_failure(
        what,
        RuntimeError(f"the warehouse database failed: {detail}"),
        report_id=report_id,
        todo=TRANSIENT_DB_TODO,
        metadata={"transient": True},
    )


@contextlib.contextmanager
def database_failures_named(what: str) -> Iterator[None]:
    """Around an asset's body: a transient database error anywhere (the first connection, the ledger, a check)
    becomes one ``transient_database_failure`` naming ``what``; anything else passes through."""
    import psycopg

    from chalkola_pipelines.warehouse.partition_copy import is_transient

    try:
        yield
    except psycopg.Error as exc:
        if not is_transient(exc):
            raise
        raise transient_database_failure(what, exc) from exc


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
    import psycopg

    from chalkola_pipelines.amazon.errors import (
        AdsReportFailedError,
        AdsReportFormatError,
        AmazonAuthError,
        AmazonError,
        DataKioskQueryFatalError,
        DocumentCorruptError,
        MissingRequiredFieldError,
        OrderReportFormatError,
        ReportFatalError,
        SalesTrafficFormatError,
    )
    from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError, is_transient

    try:
        yield
    except dg.Failure:
        raise
    except (
        psycopg.Error
    ) as exc:  # the ledger, a query: the warehouse itself (a load's errors are WarehouseLoadError)
        if not is_transient(exc):
            raise
        raise transient_database_failure(what, exc, current.get("report_id")) from exc
    except (ReportFatalError, AdsReportFailedError, DataKioskQueryFatalError) as exc:
        report_id = (
            getattr(exc, "report_id", None) or getattr(exc, "query_id", None) or current.get("report_id")
        )
        mark_failed(
            ledger,
            source,
            report_id,
            "FAILED" if isinstance(exc, AdsReportFailedError) else getattr(exc, "status", "FATAL"),
            str(exc),
            region,
        )
        if never_succeeds(exc):
            described = getattr(exc, "amazon_message", None) or str(exc)
            raise report_failure(
                what,
                RuntimeError(f"SP-API report {report_id} ended FATAL: {described}."),
                report_id=report_id,
                todo=NEVER_SUCCEEDS_TODO,
                allow_retries=False,
            ) from exc
        raise report_failure(what, exc, report_id=report_id) from exc
    except (
        SalesTrafficFormatError,
        OrderReportFormatError,
        AdsReportFormatError,
        DocumentCorruptError,
    ) as exc:
        from chalkola_pipelines.warehouse.landing import quarantine_document

        mark_failed(ledger, source, current.get("report_id"), None, str(exc), region)
        moved = quarantine_document(current["path"]) if current.get("path") else None
        if isinstance(exc, MissingRequiredFieldError):
            kept = f"The document was moved to {moved} for inspection." if moved else ""
            raise report_failure(
                what, exc, report_id=current.get("report_id"), todo=f"{kept} {MISSING_FIELD_TODO}".strip(),
                metadata={"missing_field": exc.field, "missing_in": exc.row},
            ) from exc  # fmt: skip
        kept = f"The unreadable document was moved to {moved} for inspection." if moved else ""
        raise report_failure(
            what, exc, report_id=current.get("report_id"), todo=f"{kept} {PARSE_TODO}".strip()
        ) from exc
    except WarehouseLoadError as exc:
        mark_failed(ledger, source, current.get("report_id"), None, str(exc), region)
        raise report_failure(
            what,
            exc,
            report_id=current.get("report_id"),
            document=current.get("path"),
            # a transient error's message already says "re-run"; a data error's says "fix the input"
            todo=""
            if exc.transient
            else "The previous rows of these partitions are intact; fix the cause and re-run.",
        ) from exc
    except AmazonAuthError as exc:
        # a wrong setting, not this report's problem: one line (no cause chain in the event log), never retried
        raise auth_failure(what, exc) from None
    except AmazonError as exc:
        raise report_failure(
            what,
            exc,
            report_id=current.get("report_id"),
            todo="Nothing was loaded for these partitions; the report (if any) stays in the ledger and is resumed "
            "on the next run.",
        ) from exc
