"""Whether a CANCELLED SP-API report may be kept as "no data", or must be asked again (nothing silent).

Amazon answers CANCELLED for a report with no data: legitimately for a window older than two years or a shop
that sold nothing then, but also, now and then, for a window that has data. A CANCELLED answer is kept (empty,
successful partitions, earlier rows untouched, checked by ``empty_days_are_plausible``) when it is plausible or
already confirmed; otherwise the unit's partitions FAIL (nothing is changed, the check WARNs, the ledger entry
stays CANCELLED and is never reused) so that the next run — the nightly refresh, a re-execution, the next
backfill — requests a new report for the window:

- older than Amazon serves (``backfill_plan.oldest_available_day``: two years, with the backfill's margin):
  kept — Amazon has nothing to give;
- a day ≤ ``RECENT_DAYS`` old: kept with a WARN — Amazon may not have completed it yet, and the nightly
  refresh asks again anyway;
- Amazon already answered CANCELLED to an earlier report for the same request: kept (asked twice, the answer
  stands) with a WARN when the evidence below still says the days should have data;
- otherwise re-asked when the days should have data: a neighbouring day has rows, the other source of the same
  sales has some that day, or nothing at all is known about the marketplace around the window (no rows within
  ``NEARBY`` and no other CANCELLED answer there: a fresh backfill, where a CANCELLED window would otherwise
  end green and silently empty). A marketplace that really sold nothing costs one extra report per
  neighbourhood: once one window is confirmed, its neighbours' CANCELLED answers are kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg

from chalkola_pipelines.defs.empty_day_checks import RECENT_DAYS, beyond_amazon_history
from chalkola_pipelines.warehouse.ledger import request_key
from chalkola_pipelines.warehouse.partition_queries import RowsPerDay

if TYPE_CHECKING:
    from chalkola_pipelines.defs.report_workflow import ReportOutcome, Unit
    from chalkola_pipelines.warehouse.ledger import ReportLedger

NEARBY = dt.timedelta(days=31)


class CancelledWindowError(RuntimeError):
    """Amazon CANCELLED a report for days that should have data: its partitions fail and are re-asked."""

    def __init__(self, report_id: str, window: str, reason: str) -> None:
        self.report_id = report_id
        self.reason = reason
        super().__init__(
            f"Amazon CANCELLED report {report_id} ({window}, i.e. no data), but these days should have data: "
            f"{reason}"
        )


REASK_TODO = (
    "Nothing was changed for these partitions (rows loaded earlier are kept). The CANCELLED report is never "
    "reused: the next run (the nightly refresh, a re-execution or the next backfill) requests a new report "
    "for this window; if Amazon cancels that one too, the partitions are kept empty and the "
    "empty_days_are_plausible check says so."
)


@dataclass(frozen=True)
class CancelledPolicy:
    """What the asset knows to judge a CANCELLED answer: its table's rows per day, the other source's."""

    conn: psycopg.Connection
    today: dt.date
    rows_per_day: RowsPerDay
    corroborating: tuple[str, RowsPerDay] | None = None

    def reask_reason(self, unit: Unit, outcome: ReportOutcome, ledger: ReportLedger) -> str | None:
        """Why the CANCELLED ``outcome`` of ``unit`` is not believed (its partitions fail and are re-asked
        on the next run), or None (kept as empty partitions)."""
        days = sorted(unit.days.days)
        code = unit.days.marketplace.code
        if beyond_amazon_history(unit.days.marketplace, days[-1], self.today) or (
            (self.today - days[-1]).days <= RECENT_DAYS
        ):
            return None  # too old to have data / too young to judge: kept (the check and the refresh see it)
        request = unit.request
        mine = request_key(scope=request.scope, **request.ident())
        answers = ledger.cancelled_near(
            source=request.source, report_type=request.report_type, region=request.region,
            marketplace=request.marketplace, window_start=request.window_start, window_end=request.window_end,
            margin=NEARBY,
        )  # fmt: skip
        others = [(key, rid) for key, rid in answers if rid != outcome.report_id]
        if any(key == mine for key, _ in others):
            return None  # asked twice, CANCELLED twice: the answer stands
        first, last = days[0], days[-1]
        neighbours = self.rows_per_day(
            self.conn, code, [first - dt.timedelta(days=1), last + dt.timedelta(days=1)]
        )
        if sum(neighbours.values()):
            return f"the neighbouring days have {sum(neighbours.values())} rows"
        if self.corroborating is not None:
            what, per_day = self.corroborating
            other = per_day(self.conn, code, days)
            if sum(other.values()):
                return f"{sum(other.values())} {what} on these days"
        if not others and not sum(self.rows_per_day(self.conn, code, _around(first, last)).values()):
            return (
                f"nothing is known about {code} within {NEARBY.days} days of them yet (no rows, no other "
                "CANCELLED answer: a fresh backfill), so the answer is checked by asking once more"
            )
        return None


def _around(first: dt.date, last: dt.date) -> list[dt.date]:
    span = (last - first).days + 2 * NEARBY.days + 1
    start = first - NEARBY
    return [start + dt.timedelta(days=i) for i in range(span)]
