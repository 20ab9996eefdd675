"""Retention of the landing store: archived documents are deleted when they expire.

Amazon's Data Protection Policy asks that order data derived from buyers be kept no longer than needed (30
days after delivery for personal data). Order documents reach the landing store with buyer personal data
removed already (``amazon.document_filters``); they are still deleted after ``orders`` days (default 30), the
other documents (sales & traffic, Ads, Data Kiosk) after ``default`` days (default 90: the ledger never reuses
an entry older than 90 days, so an older document would never be re-parsed). Both are settings:
``CHALKOLA_LANDING_RETENTION_DAYS_ORDERS`` and ``CHALKOLA_LANDING_RETENTION_DAYS_DEFAULT`` (whole days ≥ 1;
``0`` keeps files of that kind forever).

``prune_landing`` deletes expired files (age = the file's modification time, i.e. when it was archived) and
``.part`` files left by a crashed download for more than a day, then clears ``document_path`` of their ledger
entries, so a later run of those partitions asks Amazon again instead of failing on a missing file. Run daily
by the ``landing_retention`` job (``defs/landing_retention.py``) and by ``chalkola landing prune``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chalkola_pipelines.warehouse.landing import LandingStore

log = logging.getLogger(__name__)

ORDERS_ENV = "CHALKOLA_LANDING_RETENTION_DAYS_ORDERS"
DEFAULT_ENV = "CHALKOLA_LANDING_RETENTION_DAYS_DEFAULT"
ORDERS_DAYS = 30
DEFAULT_DAYS = 90
STALE_PART = dt.timedelta(days=1)
# Report types whose documents hold order-level data (order and shipment flat files).
_ORDER_WORDS = ("ORDER", "SHIPMENT")


class RetentionConfigError(ValueError):
    """A retention setting is not a whole number of days."""


@dataclass(frozen=True)
class Retention:
    orders_days: int = ORDERS_DAYS
    default_days: int = DEFAULT_DAYS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Retention:
        return cls(_days(environ, ORDERS_ENV, ORDERS_DAYS), _days(environ, DEFAULT_ENV, DEFAULT_DAYS))

    def days_for(self, report_type: str) -> int:
        """Days a document of ``report_type`` is kept (0 = forever)."""
        return self.orders_days if is_order_document(report_type) else self.default_days

    def describe(self) -> str:
        def text(days: int) -> str:
            return "forever" if days == 0 else f"{days} days"

        return f"order documents {text(self.orders_days)}, other documents {text(self.default_days)}"


def is_order_document(report_type: str) -> bool:
    upper = report_type.upper()
    return any(word in upper for word in _ORDER_WORDS)


def _days(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise RetentionConfigError(f"{name}={raw!r}: expected a whole number of days (0 = keep forever)")
    return int(raw)


@dataclass
class PruneReport:
    deleted: list[Path] = field(default_factory=list)
    stale_parts: list[Path] = field(default_factory=list)
    kept: int = 0
    bytes_freed: int = 0
    ledger_entries_cleared: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.deleted)} expired document(s) deleted ({self.bytes_freed} bytes), "
            f"{len(self.stale_parts)} stale .part file(s) removed, {self.kept} kept, "
            f"{self.ledger_entries_cleared} ledger entr(y/ies) cleared"
        )


def prune_landing(
    store: LandingStore,
    *,
    retention: Retention,
    forget_documents: Callable[[list[str]], int] | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """Delete expired documents under ``store.root`` (layout ``source/report_type/scope/file``) and clear
    their ledger paths through ``forget_documents(paths) → entries cleared`` (``ReportLedger.forget_documents``).
    ``dry_run`` deletes nothing and lists what would go."""
    now = now or dt.datetime.now(dt.UTC)
    report = PruneReport()
    root = Path(store.root)
    if not root.is_dir():
        return report
    for path in sorted(root.glob("*/*/*/*")):
        if not path.is_file() or path.is_symlink():
            continue
        report_type = path.parent.parent.name
        stat = path.stat()
        age = now - dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
        if path.name.endswith(".part"):
            if age > STALE_PART:
                report.stale_parts.append(path)
                if not dry_run:
                    path.unlink(missing_ok=True)
            continue
        days = retention.days_for(report_type)
        if days == 0 or age <= dt.timedelta(days=days):
            report.kept += 1
            continue
        report.deleted.append(path)
        report.bytes_freed += stat.st_size
        if not dry_run:
            path.unlink(missing_ok=True)
    if report.deleted and forget_documents is not None and not dry_run:
        names = {str(p) for p in report.deleted} | {str(p.resolve()) for p in report.deleted}
        report.ledger_entries_cleared = forget_documents(sorted(names))
    log.info("landing store %s (%s): %s", root, retention.describe(), report.summary())
    return report
