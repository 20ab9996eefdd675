"""Nightly, lag-aware schedules: one range run per marketplace and source (sales & traffic: per region).

D is the marketplace's local calendar day when the tick fires. Each source has its own trailing window:

- sales & traffic: D-5..D-2 (D-2 is complete ~34 h after it ends; D-3..D-5 are refreshed because Amazon
  restates ~72 h) — ONE run for all due marketplaces of a region (a region run: its few Data Kiosk queries
  serve every marketplace, so per-marketplace runs would only add Dagster's per-run cost), or four
  single-day reports per marketplace on the report path;
- orders: D-7..D-1 (statuses change after purchase) — ONE order report for the 7 days;
- ads: D-42..D-1 (attribution keeps changing for ~14 days, conversions restated up to 28 days) — two Ads
  reports (31 + 11 days) in one run;
- ads profiles: once a day (unpartitioned).

Marketplaces span UTC-8..UTC+10, so a single UTC hour cannot be "mid-morning" for all of them. Each source
ticks three times a day, 8 hours apart (02:00, 10:00, 18:00 UTC + a per-source minute), and a tick requests
only the marketplaces whose local time is in ``[10:00, 18:00)``: every marketplace is served exactly once per
local day, at a local hour where D-2 ended ≥ 34 h ago (and Amazon's quota of the region is used by that
region's marketplaces only). ``run_key = source:marketplace(s):D`` makes a DST-shifted double tick a no-op.

marts: ``dbt build`` is triggered by ``sensors.dbt_after_raw_loads_sensor`` (after loads settle), not here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dagster as dg

from chalkola_pipelines.defs.jobs import (
    ADS_PROFILES_JOB,
    ADS_SP_ADVERTISED_PRODUCT,
    JOB_OF_ASSET,
    LAUNCHED_BY_TAG,
    SP_ORDERS,
    SP_SALES_TRAFFIC,
    region_run_request,
)
from chalkola_pipelines.defs.partitions import date_bounds
from chalkola_pipelines.marketplaces import Marketplace

TICK_HOURS_UTC = (2, 10, 18)
LOCAL_WINDOW_START_HOUR = 10  # a marketplace is due when its local time is in [10:00, 18:00)
LOCAL_WINDOW_HOURS = 8


@dataclass(frozen=True)
class NightlyWindow:
    """The trailing window a source reloads every night, in days before the local day D."""

    asset: str
    first_days_back: int
    last_days_back: int
    minute: int  # ticks of different sources are staggered by a few minutes
    per_region: bool = False  # one run for the region's due marketplaces (the asset loads them together)

    @property
    def job_name(self) -> str:
        return JOB_OF_ASSET[self.asset]

    @property
    def schedule_name(self) -> str:
        return f"{self.asset}_nightly"

    @property
    def cron(self) -> str:
        return f"{self.minute} {','.join(str(h) for h in TICK_HOURS_UTC)} * * *"

    def days(self, local_today: dt.date) -> tuple[dt.date, dt.date]:
        return (
            local_today - dt.timedelta(days=self.first_days_back),
            local_today - dt.timedelta(days=self.last_days_back),
        )


SALES_TRAFFIC_WINDOW = NightlyWindow(
    SP_SALES_TRAFFIC, first_days_back=5, last_days_back=2, minute=0, per_region=True
)
ORDERS_WINDOW = NightlyWindow(SP_ORDERS, first_days_back=7, last_days_back=1, minute=10)
ADS_WINDOW = NightlyWindow(ADS_SP_ADVERTISED_PRODUCT, first_days_back=42, last_days_back=1, minute=20)
NIGHTLY_WINDOWS = (SALES_TRAFFIC_WINDOW, ORDERS_WINDOW, ADS_WINDOW)


def is_due(marketplace: Marketplace, tick: dt.datetime) -> bool:
    """True when the marketplace's local time at ``tick`` is in the daily window [10:00, 18:00)."""
    local = tick.astimezone(marketplace.tz)
    minutes = local.hour * 60 + local.minute - LOCAL_WINDOW_START_HOUR * 60
    return 0 <= minutes < LOCAL_WINDOW_HOURS * 60


def nightly_run_requests(
    window: NightlyWindow,
    marketplaces: Sequence[Marketplace],
    tick: dt.datetime,
    *,
    earliest: dt.date,
    latest: dt.date,
) -> Iterator[dg.RunRequest]:
    """The run requests of one tick, clipped to the partition set [earliest, latest]: one range run per due
    marketplace, or for a ``per_region`` window one run per block of due marketplaces of a region that are
    consecutive in ``marketplaces`` (the partitions' order) and share the window. ``tick`` must be aware."""
    if tick.tzinfo is None:
        raise ValueError("tick must be timezone-aware")
    blocks: list[tuple[list[Marketplace], dt.date, dt.date, dt.date]] = []
    previous_due = False
    for mkt in marketplaces:
        due = is_due(mkt, tick)
        local_today = tick.astimezone(mkt.tz).date()
        first, last = window.days(local_today)
        first, last = max(first, earliest), min(last, latest)
        if not due or first > last:
            previous_due = False
            continue
        block = blocks[-1] if blocks else None
        if (
            window.per_region
            and previous_due
            and block is not None
            and block[0][-1].region == mkt.region
            and block[1:] == (first, last, local_today)
        ):
            block[0].append(mkt)
        else:
            blocks.append(([mkt], first, last, local_today))
        previous_due = True
    for block_marketplaces, first, last, local_today in blocks:
        codes = "+".join(m.code for m in block_marketplaces)
        yield region_run_request(
            block_marketplaces,
            first,
            last,
            run_key=f"{window.asset}:{codes}:{local_today.isoformat()}",
            tags={LAUNCHED_BY_TAG: window.schedule_name},
        )


def build_nightly_schedule(
    window: NightlyWindow, marketplaces: Sequence[Marketplace], partitions_def: dg.MultiPartitionsDefinition
) -> dg.ScheduleDefinition:
    """The schedule of one source (``<asset>_nightly``), running by default."""

    @dg.schedule(
        name=window.schedule_name,
        cron_schedule=window.cron,
        execution_timezone="UTC",
        job_name=window.job_name,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Reloads days D-{window.first_days_back}..D-{window.last_days_back} of `{window.asset}` for each "
            f"marketplace whose local time is 10:00–18:00 at the tick (D = its local day)."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest] | dg.SkipReason:
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        if tick.tzinfo is None:
            tick = tick.replace(tzinfo=dt.UTC)
        earliest, latest = date_bounds(partitions_def, tick)
        requests = list(nightly_run_requests(window, marketplaces, tick, earliest=earliest, latest=latest))
        if not requests:
            return dg.SkipReason(f"no marketplace is at local 10:00–18:00 at {tick.isoformat()}")
        return requests

    return _schedule


def build_schedules(
    marketplaces: Sequence[Marketplace], partitions_def: dg.MultiPartitionsDefinition
) -> list[dg.ScheduleDefinition]:
    """The three nightly source schedules plus the daily Ads profile refresh."""
    schedules = [build_nightly_schedule(w, marketplaces, partitions_def) for w in NIGHTLY_WINDOWS]
    schedules.append(
        dg.ScheduleDefinition(
            name="ads_profiles_daily",
            cron_schedule="30 1 * * *",
            execution_timezone="UTC",
            job_name=ADS_PROFILES_JOB,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            tags={LAUNCHED_BY_TAG: "ads_profiles_daily"},
            description="Refreshes raw_amazon.ads_profiles (profile ↔ marketplace) once a day.",
        )
    )
    return schedules
