"""Where the history backfill stands, read from the Dagster instance: per source and marketplace, partitions
done / missing / failed / in flight / unavailable at source, the plan of what is left with its quota bound,
and the observed rate. Shared by ``history_backfill_sensor`` (its tick log) and ``chalkola backfill status``.

*Failed* = not materialised and covered by an unsuccessful history run of the current round (the next round
retries it); *unavailable* = days older than Amazon serves (``backfill_plan.oldest_available_day``: never
requested); *in flight* = covered by
a queued or running run of any launch path (sensor, UI backfill, schedule).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg

from chalkola_pipelines.defs.backfill_plan import (
    DATA_KIOSK,
    REPORTS,
    SOURCES,
    BackfillPlan,
    oldest_available_day,
    plan_backfill,
    wanted_window,
)
from chalkola_pipelines.defs.jobs import JOB_OF_ASSET, LAUNCHED_BY_TAG
from chalkola_pipelines.defs.partitions import (
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    date_bounds,
    marketplace_days_from_keys,
)
from chalkola_pipelines.marketplaces import Marketplace, get_marketplace

HISTORY_SENSOR = "history_backfill_sensor"
HISTORY_ROUND_TAG = "chalkola/history_round"
IN_FLIGHT_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
UNSUCCESSFUL_STATUSES = [*IN_FLIGHT_STATUSES, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
RATE_WINDOW = dt.timedelta(hours=1)


def sales_traffic_path(environ: Mapping[str, str] = os.environ) -> str:
    """``reports`` when CHALKOLA_SALES_TRAFFIC_SOURCE says so, else ``data_kiosk`` (auto and data_kiosk)."""
    return (
        REPORTS
        if (environ.get("CHALKOLA_SALES_TRAFFIC_SOURCE") or "").strip().lower() == REPORTS
        else DATA_KIOSK
    )


def asset_of_job(job_name: str) -> str | None:
    for asset, job in JOB_OF_ASSET.items():
        if job == job_name:
            return asset
    return None


def run_partitions(tags: Mapping[str, str], marketplaces: Sequence[Marketplace]) -> dict[str, list[dt.date]]:
    """marketplace code → days a run covers, from its partition or range tags ({} if not partitioned).

    A region run's range goes from its first to its last marketplace in ``marketplaces`` (the partitions'
    order), every day of the range for each."""
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        start = marketplace_days_from_keys([tags[RANGE_START_TAG]])
        end = marketplace_days_from_keys([tags[RANGE_END_TAG]])
        days = [start.first + dt.timedelta(days=i) for i in range((end.first - start.first).days + 1)]
        codes = [m.code for m in marketplaces]
        a, b = start.marketplace.code, end.marketplace.code
        if a in codes and b in codes and codes.index(a) <= codes.index(b):
            covered = codes[codes.index(a) : codes.index(b) + 1]
        else:
            covered = [a] if a == b else []
        return {code: days for code in covered}
    partition = tags.get(PARTITION_TAG)
    if partition and "|" in partition:
        md = marketplace_days_from_keys([partition])
        return {md.marketplace.code: list(md.days)}
    day, code = tags.get("dagster/partition/date"), tags.get("dagster/partition/marketplace")
    if day and code:
        return {get_marketplace(code).code: [dt.date.fromisoformat(day)]}
    return {}


@dataclass
class SourceProgress:
    """One source × marketplace of the history window."""

    wanted: int = 0
    done: int = 0
    in_flight: int = 0
    failed: int = 0
    unavailable: int = 0

    @property
    def missing(self) -> int:
        """Not materialised, not in flight (failed ones included)."""
        return self.wanted - self.done - self.in_flight


@dataclass
class BackfillProgress:
    round_no: int
    by_source: dict[tuple[str, str], SourceProgress]
    missing_days: dict[tuple[str, str], list[dt.date]]  # to launch in this round (failed ones excluded)
    failed_days: dict[tuple[str, str], list[dt.date]]
    in_flight_runs: dict[str, int]  # region → history runs queued or running
    plan: BackfillPlan  # what is left to launch (missing and failed days)
    #: the same with the days of runs in flight, planned as if not started: the quota bound of the work not
    #: done (an in-flight Data Kiosk history run holds most of a region's calls; without it the ETA said minutes
    #: while that run had an hour of createQuery calls to go)
    not_done_plan: BackfillPlan
    partitions_per_hour: float | None = (
        None  # observed: partitions of history runs that succeeded in the last hour
    )
    notes: list[str] = field(default_factory=list)

    def totals(self) -> SourceProgress:
        total = SourceProgress()
        for p in self.by_source.values():
            for name in ("wanted", "done", "in_flight", "failed", "unavailable"):
                setattr(total, name, getattr(total, name) + getattr(p, name))
        return total

    def eta_seconds(self) -> dict[str, float | None]:
        """Quota-bound ETA of the work not done (runs in flight counted from scratch: at most this much quota
        time is left) and the ETA at the observed rate."""
        left = self.totals().missing + self.totals().in_flight
        observed = left / self.partitions_per_hour * 3600 if self.partitions_per_hour else None
        return {"quota_bound": self.not_done_plan.bound_seconds(), "observed_rate": observed}

    def summary_line(self) -> str:
        t = self.totals()
        eta = self.eta_seconds()
        rate = f"{self.partitions_per_hour:.0f} partitions/h" if self.partitions_per_hour else "no rate yet"
        observed = f", {_hours(eta['observed_rate'])} at the observed rate" if eta["observed_rate"] else ""
        return (
            f"round {self.round_no}: {t.done}/{t.wanted} partitions done, {t.in_flight} in flight, "
            f"{t.missing} missing ({t.failed} failed), {t.unavailable} unavailable at source; "
            f"{len(self.plan.runs)} runs left to launch, quota bound of the work not done "
            f"{_hours(eta['quota_bound'])} ({self.not_done_plan.binding_meter() or 'none'}){observed}; {rate}"
        )


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def backfill_progress(
    instance: dg.DagsterInstance,
    marketplaces: Sequence[Marketplace],
    partitions_def: dg.MultiPartitionsDefinition,
    *,
    round_no: int = 1,
    now: dt.datetime | None = None,
    st_path: str | None = None,
    asins_per_marketplace: Mapping[str, int] | None = None,
) -> BackfillProgress:
    """Read the instance once: materialised partitions, runs in flight, this round's unsuccessful history
    runs, the last hour's successful history runs; plan what is left."""
    now = now or dt.datetime.now(dt.UTC)
    earliest, latest = date_bounds(partitions_def, now)
    in_flight_days: dict[tuple[str, str], set[dt.date]] = defaultdict(set)
    in_flight_runs: dict[str, int] = defaultdict(int)
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT_STATUSES)):
        asset = asset_of_job(run.job_name)
        covered = run_partitions(run.tags, marketplaces) if asset else {}
        for code, days in covered.items():
            in_flight_days[(asset, code)].update(days)
        if covered and run.tags.get(LAUNCHED_BY_TAG) == HISTORY_SENSOR:
            in_flight_runs[get_marketplace(next(iter(covered))).region] += 1
    failed_days: dict[tuple[str, str], set[dt.date]] = defaultdict(set)
    for run in instance.get_runs(
        dg.RunsFilter(
            tags={LAUNCHED_BY_TAG: HISTORY_SENSOR, HISTORY_ROUND_TAG: str(round_no)},
            statuses=[dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
        )
    ):
        asset = asset_of_job(run.job_name)
        for code, days in (run_partitions(run.tags, marketplaces) if asset else {}).items():
            failed_days[(asset, code)].update(days)

    by_source: dict[tuple[str, str], SourceProgress] = {}
    missing: dict[tuple[str, str], list[dt.date]] = {}
    failed_out: dict[tuple[str, str], list[dt.date]] = {}
    flying: dict[tuple[str, str], list[dt.date]] = {}  # not materialised, a run in flight has them
    for asset in SOURCES:
        materialized = instance.get_materialized_partitions(dg.AssetKey(asset))
        for mkt in marketplaces:
            key = (asset, mkt.code)
            progress = by_source[key] = SourceProgress()
            oldest = oldest_available_day(asset, mkt, now)
            if oldest is not None:
                progress.unavailable = max(0, (min(oldest, latest + dt.timedelta(days=1)) - earliest).days)
            window = wanted_window(asset, mkt, now, earliest, latest)
            if window is None:
                continue
            day = window[0]
            while day <= window[1]:
                progress.wanted += 1
                if f"{day.isoformat()}|{mkt.code}" in materialized:
                    progress.done += 1
                elif day in in_flight_days[key]:
                    progress.in_flight += 1
                    flying.setdefault(key, []).append(day)
                elif day in failed_days[key]:
                    progress.failed += 1
                    failed_out.setdefault(key, []).append(day)
                else:
                    missing.setdefault(key, []).append(day)
                day += dt.timedelta(days=1)
    left = {**missing, **{k: missing.get(k, []) + d for k, d in failed_out.items()}}

    def plan_of(days: Mapping[tuple[str, str], list[dt.date]]) -> BackfillPlan:
        return plan_backfill(
            days,
            marketplaces,
            sales_traffic_path=st_path or sales_traffic_path(),
            asins_per_marketplace=asins_per_marketplace,
            unavailable={k: p.unavailable for k, p in by_source.items() if p.unavailable},
        )

    plan = plan_of(left)
    not_done = plan_of({k: left.get(k, []) + flying.get(k, []) for k in {*left, *flying}}) if flying else plan
    return BackfillProgress(
        round_no=round_no,
        by_source=by_source,
        missing_days=missing,
        failed_days=failed_out,
        in_flight_runs=dict(in_flight_runs),
        plan=plan,
        not_done_plan=not_done,
        partitions_per_hour=_observed_rate(instance, marketplaces, now),
    )


def _observed_rate(
    instance: dg.DagsterInstance, marketplaces: Sequence[Marketplace], now: dt.datetime
) -> float | None:
    """Partitions per hour of the history runs that succeeded in the last ``RATE_WINDOW``."""
    records = instance.get_run_records(
        dg.RunsFilter(
            tags={LAUNCHED_BY_TAG: HISTORY_SENSOR},
            statuses=[dg.DagsterRunStatus.SUCCESS],
            updated_after=now - RATE_WINDOW,
        )
    )
    if not records:
        return None
    partitions = sum(
        len(days) for r in records for days in run_partitions(r.dagster_run.tags, marketplaces).values()
    )
    starts = [r.start_time for r in records if r.start_time]
    span = now.timestamp() - min(starts) if starts else RATE_WINDOW.total_seconds()
    span = min(max(span, 60.0), RATE_WINDOW.total_seconds())
    return partitions / span * 3600
