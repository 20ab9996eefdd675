"""The backfill planner: which runs fill the missing partitions, in which order, and how long Amazon's quotas
make that take. One planner for every launch path (the history sensor, ``chalkola backfill status``, the
backfill benchmark); pure functions, no Dagster, no database.

Runs (each one Dagster run; ``MAX_DAYS_PER_RUN`` days at most):

- ``sp_sales_traffic`` from Data Kiosk: one *region run* per block of consecutive missing days (the whole
  history at once) and the region's marketplaces (they are loaded from the same queries): 1 ByAsin discovery
  and 1 ByDate, then per ≤ 92-day window the Trends queries the query builder packs for the region's ASINs
  (``amazon/data_kiosk_queries``);
- ``sp_sales_traffic`` from reports (no Brand Analytics role): one run per marketplace, one single-day report
  per day on the per-seller S&T meter (4 an hour, 96 a day, every region together);
- ``sp_orders``: one region run per ≤ 29 days (the region's report per window, loaded for each of its
  marketplaces), or one run per marketplace where their missing days differ;
- ``ads_sp_advertised_product``: one run per marketplace and ≤ 31 days, one report each.

Days older than Amazon serves are *unavailable at source*: never planned, never failed — Ads older than the
Ads API's 95 days; sales & traffic and orders before "two years ago" (Data Kiosk's startDate limit; order
reports that old end CANCELLED) — the default history start, the first of the month 24 months back, can be a
few days older.

Order: newest first by week of the run's newest day, within a week sales & traffic first (its Data Kiosk
query chain is the longest wait: started first, it does not hold up the end), then orders, Ads, then
marketplace. The *quota bound* of a plan is, per meter (a bucket of ``burst`` calls refilled at ``rate``, per
region or per seller), ``max(0, calls − burst) / rate`` (and the daily cap), the meters working in parallel:
the plan cannot finish sooner than its slowest meter, whatever the orchestration.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from chalkola_pipelines.amazon.data_kiosk_queries import query_windows, sales_traffic_trends_queries
from chalkola_pipelines.amazon.usage_plans import seller_quota, usage_plan
from chalkola_pipelines.defs.jobs import (
    ADS_SP_ADVERTISED_PRODUCT,
    MAX_DAYS_PER_RUN,
    SP_ORDERS,
    SP_SALES_TRAFFIC,
)
from chalkola_pipelines.defs.order_windows import region_windows
from chalkola_pipelines.marketplaces import Marketplace, all_marketplaces

SOURCES = (SP_SALES_TRAFFIC, SP_ORDERS, ADS_SP_ADVERTISED_PRODUCT)
ADS_RETENTION_DAYS = 95
#: the newest day each source is asked for, in days before the marketplace's local today (schedules.py)
NEWEST_DAYS_BACK: Mapping[str, int] = {SP_SALES_TRAFFIC: 2, SP_ORDERS: 1, ADS_SP_ADVERTISED_PRODUCT: 1}
#: child ASINs per marketplace assumed when the warehouse knows none yet (amazon-facts §8.2: a Chalkola-sized
#: seller has ~6,000 marketplace-ASIN pairs over 11 marketplaces)
DEFAULT_ASINS_PER_MARKETPLACE = 550
#: days per history run: a Data Kiosk region run covers the whole history (its ≤ 92-day query windows are all
#: in flight together, created as the bucket allows: one run per region keeps createQuery busy from the first
#: minute to the last and holds one run slot, where a run per window waited on Amazon's processing in turn);
#: the report paths keep their one-report run lengths
HISTORY_DAYS_PER_RUN: Mapping[str, int] = {**MAX_DAYS_PER_RUN, SP_SALES_TRAFFIC: 800}
#: runs are ordered by the week of their newest day, then by source (SOURCES), then newest day
PRIORITY_BUCKET_DAYS = 7
DATA_KIOSK = "data_kiosk"
REPORTS = "reports"


@dataclass(frozen=True)
class Meter:
    """A quota bucket: ``burst`` calls at once, refilled at ``rate`` per second, at most ``daily_cap`` a day."""

    name: str  # e.g. "data_kiosk createQuery (eu)"
    burst: int
    rate: float
    daily_cap: int | None = None

    def bound_seconds(self, calls: int) -> float:
        """The least time ``calls`` calls take under this meter, starting with a full bucket."""
        seconds = max(0, calls - self.burst) / self.rate
        if self.daily_cap:
            seconds = max(seconds, (math.ceil(calls / self.daily_cap) - 1) * 86_400.0)
        return seconds


def data_kiosk_meter(region: str) -> Meter:
    plan = usage_plan("sp", "createQuery")  # getDocument has the same plan: one per query
    return Meter(f"data_kiosk createQuery ({region})", plan.burst, plan.rate)


def reports_meter(region: str) -> Meter:
    plan = usage_plan("sp", "createReport")
    return Meter(f"sp createReport ({region})", plan.burst, plan.rate)


def sales_traffic_seller_meter() -> Meter:
    quota = seller_quota("createReport", "GET_SALES_AND_TRAFFIC_REPORT")
    assert quota is not None
    return Meter(
        "GET_SALES_AND_TRAFFIC_REPORT per seller (all regions)",
        quota.burst,
        1.0 / quota.refill_seconds,
        quota.daily_cap,
    )


def ads_meter(region: str) -> Meter:
    plan = usage_plan("ads", "createAsyncReport")
    return Meter(f"ads createAsyncReport ({region})", plan.burst, plan.rate)


@dataclass(frozen=True)
class PlannedRun:
    """One run to launch: consecutive local days of one marketplace, or of a region's marketplaces."""

    source: str
    marketplaces: tuple[Marketplace, ...]
    first: dt.date
    last: dt.date
    calls: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)  # meter name → calls

    @property
    def region(self) -> str:
        return self.marketplaces[0].region

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def partitions(self) -> int:
        return self.days * len(self.marketplaces)

    @property
    def label(self) -> str:
        return f"{self.source}:{'+'.join(m.code for m in self.marketplaces)}:{self.first}:{self.last}"


@dataclass
class BackfillPlan:
    runs: list[PlannedRun]
    meters: dict[str, Meter]
    unavailable: dict[tuple[str, str], int]  # (source, marketplace code) → days Amazon no longer serves

    def calls(self) -> dict[str, int]:
        total: dict[str, int] = defaultdict(int)
        for run in self.runs:
            for meter, n in run.calls.items():
                total[meter] += n
        return dict(total)

    def bound_by_meter(self) -> dict[str, float]:
        return {name: self.meters[name].bound_seconds(n) for name, n in self.calls().items()}

    def bound_seconds(self) -> float:
        """The quota bound of the whole plan (the meters work in parallel: the slowest one)."""
        return max(self.bound_by_meter().values(), default=0.0)

    def binding_meter(self) -> str | None:
        bounds = self.bound_by_meter()
        return max(bounds, key=bounds.__getitem__) if bounds else None


def wanted_window(
    source: str, marketplace: Marketplace, now: dt.datetime, earliest: dt.date, latest: dt.date
) -> tuple[dt.date, dt.date] | None:
    """The days of ``source`` a backfill should hold for ``marketplace``: [start, newest complete day]."""
    local_today = now.astimezone(marketplace.tz).date()
    newest = min(latest, local_today - dt.timedelta(days=NEWEST_DAYS_BACK[source]))
    oldest = max(earliest, oldest_available_day(source, marketplace, now) or earliest)
    return (oldest, newest) if oldest <= newest else None


#: How much older than "two years ago" the oldest day a backfill asks for must be: the backfill runs for hours
#: and asks for its oldest days last (newest first), and an order report window older than two years when Amazon
#: takes it up is CANCELLED (amazon-facts §5) — a day closer to the edge is unavailable at source.
HISTORY_MARGIN = dt.timedelta(days=1)


def oldest_available_day(source: str, marketplace: Marketplace, now: dt.datetime) -> dt.date | None:
    """The oldest local day Amazon still serves for ``source`` (None: no limit inside the partitions)."""
    local_today = now.astimezone(marketplace.tz).date()
    if source == ADS_SP_ADVERTISED_PRODUCT:
        return local_today - dt.timedelta(days=ADS_RETENTION_DAYS)
    if source in (SP_SALES_TRAFFIC, SP_ORDERS):
        return oldest_served_day(marketplace, now + HISTORY_MARGIN)
    return None


def oldest_served_day(marketplace: Marketplace, now: dt.datetime) -> dt.date:
    """The oldest local day of ``marketplace`` whose sales & traffic and orders Amazon serves at ``now``: its
    region's order report window (which starts at the local midnight of the region's easternmost marketplace)
    must start within two years of ``now`` (the Data Kiosk startDate rule, by UTC date, is no stricter)."""
    utc = now.astimezone(dt.UTC)
    try:
        cutoff = utc.replace(year=utc.year - 2)
    except ValueError:  # 29 February
        cutoff = utc.replace(year=utc.year - 2, day=28)
    offset = max(
        cutoff.astimezone(m.tz).utcoffset() or dt.timedelta()
        for m in all_marketplaces()
        if m.region == marketplace.region
    )
    edge = cutoff + offset  # the wall-clock time at the easternmost marketplace when the cutoff passes
    day = edge.date()
    return day if edge.time() == dt.time() else day + dt.timedelta(days=1)


def missing_ranges(days: Iterable[dt.date], max_days: int) -> list[tuple[dt.date, dt.date]]:
    """Missing days → ranges of consecutive days (≤ max_days each), newest range first.

    Ranges are cut from the newest day backwards, so the boundaries of older ranges stay put while newer
    ones complete (stable run keys)."""
    ordered = sorted(set(days), reverse=True)
    ranges: list[tuple[dt.date, dt.date]] = []
    i = 0
    while i < len(ordered):
        last = first = ordered[i]
        i += 1
        while (
            i < len(ordered)
            and ordered[i] == first - dt.timedelta(days=1)
            and (last - ordered[i]).days < max_days
        ):
            first = ordered[i]
            i += 1
        ranges.append((first, last))
    return ranges


def region_blocks(marketplaces: Sequence[Marketplace]) -> list[tuple[Marketplace, ...]]:
    """The configured marketplaces cut into blocks of one region that are consecutive in the partitions'
    order (a region run is Dagster's range from the block's first to its last marketplace)."""
    blocks: list[list[Marketplace]] = []
    for mkt in marketplaces:
        if blocks and blocks[-1][-1].region == mkt.region:
            blocks[-1].append(mkt)
        else:
            blocks.append([mkt])
    return [tuple(b) for b in blocks]


@lru_cache(maxsize=256)
def trends_queries_for(asin_counts: tuple[tuple[str, int], ...], days: int) -> int:
    """Trends queries the query builder makes for these (marketplace id, ASIN count) pairs: built for real
    with ASIN-shaped ids (the packing depends on lengths only)."""
    start = dt.date(2026, 1, 1)
    asins = {mid: [f"B{i:09d}" for i in range(n)] for mid, n in asin_counts}
    return len(sales_traffic_trends_queries(start, start + dt.timedelta(days=days - 1), asins))


def plan_backfill(
    missing: Mapping[tuple[str, str], Iterable[dt.date]],
    marketplaces: Sequence[Marketplace],
    *,
    sales_traffic_path: str = DATA_KIOSK,
    asins_per_marketplace: Mapping[str, int] | None = None,
    unavailable: Mapping[tuple[str, str], int] | None = None,
) -> BackfillPlan:
    """The runs that fill ``missing`` ((source, marketplace code) → days), newest first, with their calls.

    ``marketplaces``: the configured ones in the partitions' order. ``sales_traffic_path``: ``data_kiosk``
    (region runs) or ``reports`` (single-day reports, the per-seller meter). ``asins_per_marketplace``: child
    ASINs per marketplace code (default ``DEFAULT_ASINS_PER_MARKETPLACE``), for the Trends query count.
    """
    counts = asins_per_marketplace or {}
    days_of = {key: sorted(set(days)) for key, days in missing.items() if days}
    meters: dict[str, Meter] = {}
    runs: list[PlannedRun] = []

    def add(run: PlannedRun, meter_calls: Iterable[tuple[Meter, int]]) -> None:
        calls = {}
        for meter, n in meter_calls:
            meters[meter.name] = meter
            calls[meter.name] = calls.get(meter.name, 0) + n
        runs.append(replace(run, calls=calls))

    for block in region_blocks(marketplaces):
        region = block[0].region
        st_days = [d for m in block for d in days_of.get((SP_SALES_TRAFFIC, m.code), ())]
        if sales_traffic_path == DATA_KIOSK and st_days:
            for first, last in missing_ranges(st_days, HISTORY_DAYS_PER_RUN[SP_SALES_TRAFFIC]):
                pairs = tuple(
                    (m.marketplace_id, counts.get(m.code, DEFAULT_ASINS_PER_MARKETPLACE)) for m in block
                )
                queries = 2 + sum(  # one discovery and one ByDate; per window its Trends
                    trends_queries_for(pairs, (b - a).days + 1) for a, b in query_windows(first, last)
                )
                add(PlannedRun(SP_SALES_TRAFFIC, block, first, last), [(data_kiosk_meter(region), queries)])
        _plan_orders(block, days_of, add)
        for mkt in block:
            if sales_traffic_path != DATA_KIOSK:
                for first, last in missing_ranges(
                    days_of.get((SP_SALES_TRAFFIC, mkt.code), ()), MAX_DAYS_PER_RUN[SP_SALES_TRAFFIC]
                ):
                    n = (last - first).days + 1
                    add(
                        PlannedRun(SP_SALES_TRAFFIC, (mkt,), first, last),
                        [(sales_traffic_seller_meter(), n), (reports_meter(region), n)],
                    )
            for first, last in missing_ranges(
                days_of.get((ADS_SP_ADVERTISED_PRODUCT, mkt.code), ()),
                HISTORY_DAYS_PER_RUN[ADS_SP_ADVERTISED_PRODUCT],
            ):
                add(PlannedRun(ADS_SP_ADVERTISED_PRODUCT, (mkt,), first, last), [(ads_meter(region), 1)])
    position = {m.code: i for i, m in enumerate(marketplaces)}
    # newest week first; within a week sales & traffic (its Data Kiosk chain takes longest), orders, Ads
    runs.sort(
        key=lambda r: (
            -(r.last.toordinal() // PRIORITY_BUCKET_DAYS),
            SOURCES.index(r.source),
            -r.last.toordinal(),
            position.get(r.marketplaces[0].code, 0),
        )
    )
    return BackfillPlan(runs, meters, dict(unavailable or {}))


def _plan_orders(
    block: tuple[Marketplace, ...],
    days_of: Mapping[tuple[str, str], list[dt.date]],
    add: Callable[[PlannedRun, Iterable[tuple[Meter, int]]], None],
) -> None:
    """Order runs of a region block: ranges cut from the union of the block's missing days; a range every
    marketplace misses entirely is ONE region run (the region's report, loaded for each marketplace), else
    one run per marketplace for its part (the newest range, when Sydney's day is ahead of Tokyo's). The
    report window depends on the days only (``order_windows``), so equal days share one report."""
    region = block[0].region
    union = sorted({d for m in block for d in days_of.get((SP_ORDERS, m.code), ())})
    seen: set[tuple[dt.date, dt.date]] = set()

    def reports(a: dt.date, b: dt.date) -> int:
        windows = region_windows(block, [a + dt.timedelta(days=i) for i in range((b - a).days + 1)])
        new = [w for w in windows if (w.first, w.last) not in seen]
        seen.update((w.first, w.last) for w in windows)
        return len(new)

    for first, last in missing_ranges(union, HISTORY_DAYS_PER_RUN[SP_ORDERS]):
        span = (last - first).days + 1
        own = {m.code: [d for d in days_of.get((SP_ORDERS, m.code), ()) if first <= d <= last] for m in block}
        if all(len(days) == span for days in own.values()):
            add(PlannedRun(SP_ORDERS, block, first, last), [(reports_meter(region), reports(first, last))])
            continue
        for mkt in block:
            for a, b in missing_ranges(own[mkt.code], HISTORY_DAYS_PER_RUN[SP_ORDERS]):
                add(PlannedRun(SP_ORDERS, (mkt,), a, b), [(reports_meter(region), reports(a, b))])


def choose_runs(
    plan: BackfillPlan, in_flight_per_region: Mapping[str, int], max_in_flight_per_region: int
) -> list[PlannedRun]:
    """The plan's first runs per region, up to the free in-flight budget of each region (plan order kept)."""
    budget = {
        r: max(0, max_in_flight_per_region - in_flight_per_region.get(r, 0)) for r in ("na", "eu", "fe")
    }
    chosen = []
    for run in plan.runs:
        if budget.get(run.region, 0) > 0:
            budget[run.region] -= 1
            chosen.append(run)
    return chosen
