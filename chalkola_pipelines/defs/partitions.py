"""The one partitioning of every raw asset: marketplace-local ``date`` (daily) × ``marketplace`` (static).

Keys look like ``"2026-11-20|US"`` (Dagster orders multi-partition dimensions by name). A partition's date is
the marketplace's local calendar day; API windows are derived from it with
``Marketplace.local_day_window_utc``. The marketplace list (``CHALKOLA_MARKETPLACES``) and the history start
(``CHALKOLA_START_DATE``) are read when the definitions are loaded.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from chalkola_pipelines.marketplaces import Marketplace, get_marketplace, parse_marketplace_codes

MARKETPLACES_ENV = "CHALKOLA_MARKETPLACES"
START_DATE_ENV = "CHALKOLA_START_DATE"
HISTORY_MONTHS = 24
DATE_DIM = "date"
MARKETPLACE_DIM = "marketplace"
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


class PartitionConfigError(ValueError):
    """CHALKOLA_MARKETPLACES / CHALKOLA_START_DATE cannot be used; the message says what to change."""


def configured_marketplaces(environ: Mapping[str, str] = os.environ) -> list[Marketplace]:
    """The seller's marketplaces from ``CHALKOLA_MARKETPLACES`` (comma separated; default: the eleven)."""
    value = environ.get(MARKETPLACES_ENV)
    try:
        return parse_marketplace_codes(value)
    except ValueError as exc:
        raise PartitionConfigError(f"{MARKETPLACES_ENV}={value!r} is invalid: {exc}") from None


def default_start_date(today: dt.date | None = None) -> dt.date:
    """First day of the month ``HISTORY_MONTHS`` months before ``today`` (stable within a month)."""
    today = today or dt.datetime.now(dt.UTC).date()
    months = today.year * 12 + (today.month - 1) - HISTORY_MONTHS
    return dt.date(months // 12, months % 12 + 1, 1)


def history_start_date(environ: Mapping[str, str] = os.environ, today: dt.date | None = None) -> dt.date:
    """``CHALKOLA_START_DATE`` (YYYY-MM-DD) or ``default_start_date``."""
    value = (environ.get(START_DATE_ENV) or "").strip()
    if not value:
        return default_start_date(today)
    try:
        start = dt.date.fromisoformat(value)
    except ValueError:
        raise PartitionConfigError(
            f"{START_DATE_ENV}={value!r} is not a date: use YYYY-MM-DD, e.g. 2024-11-01."
        ) from None
    oldest = default_start_date(today)
    if start < oldest:
        raise PartitionConfigError(
            f"{START_DATE_ENV}={value} is older than Amazon keeps reports ({HISTORY_MONTHS} months): use "
            f"{oldest.isoformat()} or later, or unset it."
        )
    return start


def daily_marketplace_partitions(
    marketplaces: Sequence[Marketplace], start_date: dt.date | None = None
) -> dg.MultiPartitionsDefinition:
    """``date`` (daily from ``start_date``) × ``marketplace`` (the given codes).

    The daily dimension is in UTC with ``end_offset=1``: today's UTC date is already a partition, because the
    local day of an eastern marketplace (JP, AU) ends before the UTC day does. Schedules and sensors only
    request days that are complete (and past Amazon's data lag) in the marketplace's own time zone.
    """
    if not marketplaces:
        raise PartitionConfigError(f"{MARKETPLACES_ENV} names no marketplace.")
    start = start_date or history_start_date()
    return dg.MultiPartitionsDefinition(
        {
            DATE_DIM: dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1),
            MARKETPLACE_DIM: dg.StaticPartitionsDefinition([m.code for m in marketplaces]),
        }
    )


def date_bounds(partitions_def: dg.MultiPartitionsDefinition, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """(first, last) date of the partition set as of ``now``."""
    daily = partitions_def.get_partitions_def_for_dimension(DATE_DIM)
    if not isinstance(daily, dg.TimeWindowPartitionsDefinition):
        raise PartitionConfigError("the date dimension must be a time-window partitions definition")
    with dg.partition_loading_context(effective_dt=now):
        first, last = daily.get_first_partition_key(), daily.get_last_partition_key()
    if first is None or last is None:
        raise PartitionConfigError(
            f"the date partitions are empty at {now.isoformat()}: check {START_DATE_ENV}"
        )
    return dt.date.fromisoformat(first), dt.date.fromisoformat(last)


def partition_key(day: dt.date, marketplace: Marketplace | str) -> dg.MultiPartitionKey:
    """The multi-partition key of one marketplace-day (``str()`` gives ``"2026-11-20|US"``)."""
    code = marketplace if isinstance(marketplace, str) else marketplace.code
    return dg.MultiPartitionKey({DATE_DIM: day.isoformat(), MARKETPLACE_DIM: code})


@dataclass(frozen=True)
class MarketplaceDays:
    """What one run covers: one marketplace and consecutive local days (a single partition or a range)."""

    marketplace: Marketplace
    days: tuple[dt.date, ...]

    @property
    def first(self) -> dt.date:
        return self.days[0]

    @property
    def last(self) -> dt.date:
        return self.days[-1]

    def key_for(self, day: dt.date) -> str:
        return str(partition_key(day, self.marketplace))

    def describe(self) -> str:
        if self.first == self.last:
            return f"partition {self.key_for(self.first)}"
        return f"partitions {self.key_for(self.first)}..{self.key_for(self.last)}"


def marketplace_days_from_keys(partition_keys: Sequence[str]) -> MarketplaceDays:
    """Decode the partition keys of a run into one marketplace and its sorted days.

    Backfill policies cut ranges per marketplace, so a run never spans two marketplaces; if it does
    (a hand-made range such as ``2026-01-01|JP..2026-01-02|US``), fail clearly rather than guess.
    """
    if not partition_keys:
        raise PartitionConfigError("the run has no partition keys")
    codes: set[str] = set()
    days: set[dt.date] = set()
    for key in partition_keys:
        dims = _dims(key)
        codes.add(dims[MARKETPLACE_DIM])
        days.add(dt.date.fromisoformat(dims[DATE_DIM]))
    if len(codes) != 1:
        raise PartitionConfigError(
            f"a run must cover one marketplace, this one covers {sorted(codes)}: launch one range per marketplace"
        )
    ordered = tuple(sorted(days))
    return MarketplaceDays(get_marketplace(codes.pop()), ordered)


def marketplace_groups_from_keys(partition_keys: Sequence[str]) -> list[MarketplaceDays]:
    """Decode the partition keys of a run into one ``MarketplaceDays`` per marketplace (keys' order).

    A region run (``region_range_tags``: consecutive days × consecutive marketplaces of one region) covers
    several marketplaces; a run spanning two regions fails clearly (each region has its own endpoint and quota).
    """
    if not partition_keys:
        raise PartitionConfigError("the run has no partition keys")
    days: dict[str, set[dt.date]] = {}
    for key in partition_keys:
        dims = _dims(key)
        days.setdefault(dims[MARKETPLACE_DIM], set()).add(dt.date.fromisoformat(dims[DATE_DIM]))
    groups = [MarketplaceDays(get_marketplace(code), tuple(sorted(d))) for code, d in days.items()]
    regions = {g.marketplace.region for g in groups}
    if len(regions) != 1:
        raise PartitionConfigError(
            f"a run must stay in one Amazon region, this one covers {sorted(days)} ({', '.join(sorted(regions))}): "
            "launch one range per marketplace or per region"
        )
    return groups


def run_marketplace_groups(context: dg.AssetExecutionContext) -> list[MarketplaceDays]:
    """The marketplaces and days of the current run (one entry unless it is a region run); partition tags
    outside the partitions fail the run with one line (see :func:`run_marketplace_days`)."""
    _check_run_partitions(context)
    return marketplace_groups_from_keys(list(context.partition_keys))


def _dims(key: str | dg.MultiPartitionKey) -> dict[str, str]:
    if isinstance(key, dg.MultiPartitionKey):
        return dict(key.keys_by_dimension)
    date_part, _, code = str(key).partition("|")
    if not code:
        raise PartitionConfigError(f"partition key {key!r} is not of the form YYYY-MM-DD|MARKETPLACE")
    return {DATE_DIM: date_part, MARKETPLACE_DIM: code}


def run_marketplace_days(context: dg.AssetExecutionContext) -> MarketplaceDays:
    """The marketplace and days of the current run, for single-partition and range runs alike.

    A run tagged with keys outside the partitions (launched by hand, e.g. ``dagster job execute --tags``)
    fails with one line naming the partitions' bounds, never retried (Dagster itself would fail every step
    with a CheckError traceback)."""
    _check_run_partitions(context)
    return marketplace_days_from_keys(list(context.partition_keys))


def _check_run_partitions(context: dg.AssetExecutionContext) -> None:
    from chalkola_pipelines.defs.resources import ConfigurationFailure

    partitions_def = context.assets_def.partitions_def
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        problem = partition_tags_problem(context.run.tags, partitions_def, dt.datetime.now(dt.UTC))
        if problem:
            raise ConfigurationFailure(problem)


def partition_tags_problem(
    tags: Mapping[str, str], partitions_def: dg.MultiPartitionsDefinition, now: dt.datetime
) -> str | None:
    """One line saying why the partition key(s) a run is tagged with (``dagster/partition`` or a range) are
    not partitions of ``partitions_def`` as of ``now`` (before the start, after the newest day, unknown
    marketplace, malformed); None when they are (or the run names none)."""
    from chalkola_pipelines.config_errors import ConfigurationError, check_history_window

    keys = [tags[t] for t in (PARTITION_TAG, RANGE_START_TAG, RANGE_END_TAG) if tags.get(t)]
    if not keys:
        return None
    first, last = date_bounds(partitions_def, now)
    codes = partitions_def.get_partitions_def_for_dimension(MARKETPLACE_DIM).get_partition_keys()
    what = f"partition {keys[0]}" if len(keys) == 1 else f"the range {keys[-2]}..{keys[-1]}"
    try:
        dims = [_dims(key) for key in keys]
        days = [dt.date.fromisoformat(d[DATE_DIM]) for d in dims]
    except (PartitionConfigError, ValueError):
        return f"{what}: a partition key is of the form YYYY-MM-DD|MARKETPLACE, e.g. {last}|US."
    unknown = sorted({d[MARKETPLACE_DIM] for d in dims} - set(codes))
    if unknown:
        return (
            f"{what}: marketplace {', '.join(unknown)} is not in {MARKETPLACES_ENV} ({','.join(codes)}): "
            f"add it there or launch one of those."
        )
    try:
        check_history_window(min(days), first, what)
    except ConfigurationError as exc:
        return str(exc)
    if max(days) > last:
        return f"{what} ends on {max(days)}, after the newest partition {last} (today in UTC): end on {last} or before."
    return None


def range_tags(
    marketplace: Marketplace | str,
    first: dt.date,
    last: dt.date,
    last_marketplace: Marketplace | str | None = None,
) -> dict[str, str]:
    """Tags that make a run cover partitions first..last of one marketplace (a Dagster range run), or of
    every marketplace from ``marketplace`` to ``last_marketplace`` in the partitions' order (a region run:
    Dagster's multi-partition range is the product of the two dimensions' ranges)."""
    return {
        RANGE_START_TAG: str(partition_key(first, marketplace)),
        RANGE_END_TAG: str(partition_key(last, last_marketplace or marketplace)),
    }
