"""Order report windows: one per Amazon region and run of local days, within Amazon's 30-day limit.

``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`` ignores ``marketplaceIds``: one document holds the
orders of every marketplace of the seller's account in the region (amazon-facts §8.3). So the window of a
run's local days ``first..last`` is a *region* window: from the earliest local midnight of ``first`` over
the region's configured marketplaces to one second before the latest local midnight after ``last``; every
marketplace of the region finds all its days complete in it.

Amazon refuses (FATAL "Date range exceeded. Report can be requested only upto 30 days") a window whose
``dataEndTime − dataStartTime`` is over 30 days. Thirty local days across the autumn DST change are 30 days
and one hour in UTC, and a region spanning time zones (JP + AU) adds the zones' difference: such runs are
cut into several windows. The cut depends only on the run's days and the region's marketplaces, so every
marketplace's run of the same days builds the same windows and the ledger hands the second run the first
run's document.

Pure functions (no Dagster, no database): used by ``defs/orders.py``, the tests and the ingest benchmark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chalkola_pipelines.marketplaces import Marketplace, Region, iso_z, local_days_window_utc

#: Amazon's limit on dataEndTime − dataStartTime of an all-orders report (FATAL beyond it).
ORDER_REPORT_MAX_SPAN = dt.timedelta(days=30)
#: createReport: dataEndTime must not be in the future.
END_SAFETY = dt.timedelta(minutes=2)
_ONE_SECOND = dt.timedelta(seconds=1)


class FuturePartitionError(ValueError):
    """The requested local days have not started yet."""


class OrderWindowError(ValueError):
    """A window Amazon would refuse (over the 30-day limit): a programming or configuration error."""


@dataclass(frozen=True)
class RegionWindow:
    """The order report of local days ``first..last`` for the marketplaces of one region."""

    region: Region
    first: dt.date
    last: dt.date
    start: dt.datetime  # dataStartTime (aware UTC)
    end: dt.datetime  # dataEndTime, inclusive (aware UTC)

    @property
    def span(self) -> dt.timedelta:
        return self.end - self.start

    def describe(self) -> str:
        return f"{iso_z(self.start)}..{iso_z(self.end)}"


def region_of(marketplaces: Iterable[Marketplace]) -> Region:
    regions = {m.region for m in marketplaces}
    if len(regions) != 1:
        raise ValueError(f"order report windows are per region; got marketplaces of {sorted(regions)}")
    return regions.pop()


def region_marketplaces(marketplace: Marketplace, configured: Iterable[Marketplace]) -> list[Marketplace]:
    """The configured marketplaces of ``marketplace``'s region (``marketplace`` itself always included)."""
    same = [m for m in configured if m.region == marketplace.region]
    return same if marketplace in same else [marketplace, *same]


def region_window(marketplaces: Sequence[Marketplace], first: dt.date, last: dt.date) -> RegionWindow:
    """The window covering local days first..last completely in every one of ``marketplaces``."""
    bounds = [local_days_window_utc(m, first, last) for m in marketplaces]
    start = min(b[0] for b in bounds)
    end = max(b[1] for b in bounds) - _ONE_SECOND
    return RegionWindow(region_of(marketplaces), first, last, start, end)


def region_windows(
    marketplaces: Sequence[Marketplace],
    days: Iterable[dt.date],
    *,
    max_span: dt.timedelta = ORDER_REPORT_MAX_SPAN,
) -> list[RegionWindow]:
    """The run's days (sorted, oldest first) cut greedily into windows whose UTC span is ≤ ``max_span``.

    Deterministic in (days, marketplaces): runs of the same days for different marketplaces of the region
    get the same windows. A window's ``first..last`` may include days that are not in ``days`` (a gap in a
    hand-made run); the caller replaces only its own days.
    """
    ordered = sorted(set(days))
    windows: list[RegionWindow] = []
    current: RegionWindow | None = None
    for day in ordered:
        if current is None:
            current = region_window(marketplaces, day, day)
            if current.span > max_span:
                raise OrderWindowError(
                    f"one local day ({day}) of {', '.join(m.code for m in marketplaces)} spans {current.span} in UTC, "
                    f"over the {max_span} limit: check the marketplace catalogue's time zones"
                )
            continue
        longer = region_window(marketplaces, current.first, day)
        if longer.span <= max_span:
            current = longer
        else:
            windows.append(current)
            current = region_window(marketplaces, day, day)
    if current is not None:
        windows.append(current)
    return windows


def clipped_to_now(window: RegionWindow, now: dt.datetime | None = None) -> RegionWindow:
    """The window with dataEndTime no later than ``now − END_SAFETY``; FuturePartitionError if it has not
    started yet."""
    latest = ((now or dt.datetime.now(dt.UTC)) - END_SAFETY).replace(microsecond=0)
    if window.start >= latest:
        raise FuturePartitionError(
            f"{window.region.upper()} {window.first}..{window.last} has not started yet: run it after the day "
            "has begun (and ideally ended) in every marketplace of the region."
        )
    if window.end <= latest:
        return window
    return RegionWindow(window.region, window.first, window.last, window.start, latest)


def check_span(window: RegionWindow, max_span: dt.timedelta = ORDER_REPORT_MAX_SPAN) -> None:
    """Raise OrderWindowError (never reaches Amazon) for a window over the limit."""
    if window.span > max_span:
        raise OrderWindowError(
            f"order report window {window.describe()} spans {window.span}, over Amazon's {max_span} limit "
            "(Amazon would answer FATAL 'Date range exceeded'); this is a bug in the window building: "
            "report it, do not retry unchanged."
        )


def reports_needed(
    marketplaces: Sequence[Marketplace], runs: Iterable[tuple[dt.date, dt.date]], *, per_region: bool = True
) -> int:
    """How many order reports ``runs`` (first, last local day, for every marketplace) need: one per region
    and window (``per_region``) or, as before, one per marketplace and ≤ 30-day window."""
    total = 0
    by_region: dict[str, list[Marketplace]] = {}
    for m in marketplaces:
        by_region.setdefault(m.region, []).append(m)
    for first, last in runs:
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        if per_region:
            total += sum(len(region_windows(ms, days)) for ms in by_region.values())
        else:
            total += len(marketplaces) * -(-len(days) // 30)
    return total
