"""WARN when a partition ended empty although the day should have data (nothing silent).

Amazon answers CANCELLED (report) or no daily totals (Data Kiosk) for a range it has no data for — legitimately
for a day more than two years ago, or a shop that sold nothing. It is suspicious when the day is recent (Amazon
completes a day ~34 h after it ends: the nightly refresh asks again), when a neighbouring day has rows, or when
the other source of the same sales has some that day (orders vs sales & traffic's units ordered: a whole
backfill window CANCELLED has no loaded neighbour). The check names those days; the partitions stay
materialised empty with their status, earlier rows kept. It also names the days whose CANCELLED report was
not believed (``defs/cancelled_reports``): those partitions failed and the next run asks Amazon again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import dagster as dg
import psycopg

from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.warehouse.partition_queries import RowsPerDay

EMPTY_DAYS_PLAUSIBLE = "empty_days_are_plausible"
RECENT_DAYS = 3  # a day this young may simply not be complete at Amazon yet


def beyond_amazon_history(marketplace: Marketplace, day: dt.date, today: dt.date) -> bool:
    """Whether ``day`` is older than Amazon serves sales & traffic and orders on local ``today`` (the backfill
    planner's rule, ``backfill_plan.oldest_available_day``, taken at local noon): no data there is plausible."""
    from chalkola_pipelines.defs.backfill_plan import SP_ORDERS, oldest_available_day

    noon = dt.datetime.combine(today, dt.time(12), tzinfo=marketplace.tz)
    oldest = oldest_available_day(SP_ORDERS, marketplace, noon)
    return oldest is not None and day < oldest


def empty_days_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        EMPTY_DAYS_PLAUSIBLE,
        asset=asset,
        description="A partition the run materialised empty (Amazon had no data) is plausible: older than two "
        f"years, or neither recent (≤ {RECENT_DAYS} days) nor next to a day with rows (WARN: the nightly "
        "refresh asks again).",
    )


def empty_days_plausible(
    *,
    asset: str,
    conn: psycopg.Connection,
    marketplace: Marketplace,
    empty: Sequence[dt.date],
    rows_per_day: RowsPerDay,
    today: dt.date,
    corroborating: tuple[str, RowsPerDay] | None = None,
    reasked: Mapping[dt.date, str] | None = None,
) -> dg.AssetCheckResult:
    """WARN naming the empty days that should have data; ``corroborating`` = (what, per-day counts) of the other
    source of the same sales (e.g. ("units ordered in sales & traffic", sales_traffic_units_per_day));
    ``reasked``: days whose CANCELLED report was not kept (their partitions failed, asked again next run)."""
    suspicious: dict[str, str] = {day.isoformat(): why for day, why in sorted((reasked or {}).items())}
    other = corroborating[1](conn, marketplace.code, sorted(set(empty))) if corroborating and empty else {}
    for day in sorted(set(empty)):
        age = (today - day).days
        if beyond_amazon_history(marketplace, day, today):
            continue
        if age <= RECENT_DAYS:
            suspicious[day.isoformat()] = f"only {age} day(s) old: Amazon may not have completed it yet"
            continue
        neighbours = rows_per_day(
            conn, marketplace.code, [day - dt.timedelta(days=1), day + dt.timedelta(days=1)]
        )
        if any(neighbours.values()):
            suspicious[day.isoformat()] = f"neighbouring days have {sum(neighbours.values())} rows"
        elif other.get(day) and corroborating:
            suspicious[day.isoformat()] = f"{other[day]} {corroborating[0]} that day"
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=EMPTY_DAYS_PLAUSIBLE,
        passed=not suspicious,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "marketplace": marketplace.code,
            "empty_days": len(set(empty)),
            "cancelled_days_asked_again": len(reasked or {}),
            "suspicious": suspicious or "none",
            "next": "days asked again: the next run requests a new report; kept empty days: the nightly refresh "
            "asks Amazon again for recent days, older ones: re-run the partitions"
            if suspicious
            else "-",
        },
    )
