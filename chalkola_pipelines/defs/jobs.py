"""Asset jobs and the helper that turns "marketplace × local days" into Dagster run requests.

Jobs:
- ``sp_sales_traffic_job``, ``sp_orders_job``, ``ads_sp_advertised_product_job``: one raw source each
  (what schedules and the history sensor launch);
- ``ads_profiles_job``: the unpartitioned Ads profile list;
- ``raw_amazon_job``: all four raw assets (the demo launches one range run per marketplace);
- ``dbt_marts_job``: ``dbt build`` of staging and marts.

A *range run* covers consecutive local days of ONE marketplace: its tags
``dagster/asset_partition_range_start`` / ``_end`` name the first and last partition key
(``"2026-11-01|US"`` .. ``"2026-11-07|US"``), so one order report (≤ 29 local days, see defs/order_windows) or one Ads report (≤ 31 days)
fills every day in it. Every run request carries ``amazon/region`` so that run-queue tag limits
(``deploy/dagster.yaml``: ``tag_concurrency_limits`` on ``amazon/region``) cap the runs per Amazon region.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import dagster as dg

from chalkola_pipelines.defs.partitions import partition_key, range_tags
from chalkola_pipelines.marketplaces import Marketplace, get_marketplace

SP_SALES_TRAFFIC = "sp_sales_traffic"
SP_ORDERS = "sp_orders"
ADS_PROFILES = "ads_profiles"
ADS_SP_ADVERTISED_PRODUCT = "ads_sp_advertised_product"
RAW_ASSET_NAMES = (SP_SALES_TRAFFIC, SP_ORDERS, ADS_PROFILES, ADS_SP_ADVERTISED_PRODUCT)
RAW_GROUP = "raw_amazon"

SP_SALES_TRAFFIC_JOB = "sp_sales_traffic_job"
SP_ORDERS_JOB = "sp_orders_job"
ADS_SP_ADVERTISED_PRODUCT_JOB = "ads_sp_advertised_product_job"
ADS_PROFILES_JOB = "ads_profiles_job"
RAW_AMAZON_JOB = "raw_amazon_job"
DBT_MARTS_JOB = "dbt_marts_job"

REGION_TAG = "amazon/region"
# deploy/dagster.yaml limits concurrent runs per Amazon API (sales_traffic | sp_reports | ads_reporting | dbt)
API_TAG = "amazon/api"
LAUNCHED_BY_TAG = "chalkola/launched_by"

# the most days one run of each source should cover (one report per run where the API allows it)
MAX_DAYS_PER_RUN: Mapping[str, int] = {
    # Data Kiosk serves a region's marketplaces and all of a run's days in a few queries; the report path
    # still asks one single-day report per day (newest first). 29 = the order report's run length.
    SP_SALES_TRAFFIC: 29,
    # GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL: ≤ 30 days of UTC per report, one per region: 29
    # local days fit one report in every region (EU's UK..AE is 4 h wide, FE's JP..AU 2 h, DST 1 h)
    SP_ORDERS: 29,
    ADS_SP_ADVERTISED_PRODUCT: 31,  # Ads v3 spAdvertisedProduct: ≤ 31 days per report
}
# The backfill policy of every partitioned raw asset (UI backfills: one range run per marketplace and ≤ 29 days).
# One value for all: Dagster resolves a job of assets with different policies (raw_amazon_job) to the smallest
# and warns about it ("varying BackfillPolicies") every time the definitions load. 29 days fit one order report in
# every region and one Ads report (≤ 31 days); the history sensor cuts its own ranges by MAX_DAYS_PER_RUN.
BACKFILL_DAYS_PER_RUN = 29


def raw_backfill_policy() -> dg.BackfillPolicy:
    """``BackfillPolicy.multi_run(BACKFILL_DAYS_PER_RUN)``, the same for every partitioned raw asset."""
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_DAYS_PER_RUN)


#: the run-queue tag ``amazon/api`` of each raw asset: the quota its runs wait on. Sales & traffic has a quota of
#: its own on both paths (Data Kiosk's createQuery, or the per-seller GET_SALES_AND_TRAFFIC_REPORT meter), so
#: its long Data Kiosk runs (minutes to hours of Amazon's query processing) never hold the order runs' slots
API_OF_ASSET: Mapping[str, str] = {
    SP_SALES_TRAFFIC: "sales_traffic",
    SP_ORDERS: "sp_reports",
    ADS_SP_ADVERTISED_PRODUCT: "ads_reporting",
}
JOB_OF_ASSET: Mapping[str, str] = {
    SP_SALES_TRAFFIC: SP_SALES_TRAFFIC_JOB,
    SP_ORDERS: SP_ORDERS_JOB,
    ADS_SP_ADVERTISED_PRODUCT: ADS_SP_ADVERTISED_PRODUCT_JOB,
}


def build_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    """Every asset job of the code location (assets are resolved by key when the Definitions load)."""
    one = {
        name: dg.define_asset_job(
            JOB_OF_ASSET[name],
            selection=dg.AssetSelection.assets(name),
            description=f"Load raw_amazon for `{name}` (one marketplace per run; single day or range).",
            tags={API_TAG: API_OF_ASSET[name]},
            # one step per run: running it in the run worker saves a second process that imports dagster,
            # dbt and the definitions again (~10 s of a run's start-up on a busy 2-core machine)
            executor_def=dg.in_process_executor,
        )
        for name in (SP_SALES_TRAFFIC, SP_ORDERS, ADS_SP_ADVERTISED_PRODUCT)
    }
    return [
        *one.values(),
        dg.define_asset_job(
            ADS_PROFILES_JOB,
            selection=dg.AssetSelection.assets(ADS_PROFILES),
            description="Refresh raw_amazon.ads_profiles for every region that has an Ads refresh token.",
        ),
        dg.define_asset_job(
            RAW_AMAZON_JOB,
            selection=dg.AssetSelection.assets(*RAW_ASSET_NAMES),
            description="All four raw Amazon assets for one marketplace and a range of local days.",
        ),
        dg.define_asset_job(
            DBT_MARTS_JOB,
            selection=dg.AssetSelection.groups("staging", "marts"),
            description="`dbt build` of the staging views and the marts (tests included).",
            tags={API_TAG: "dbt"},
        ),
    ]


POOLS: tuple[str, ...] = ("amazon_sales_traffic", "amazon_sp_reports", "amazon_ads_reporting", "dbt")


def ensure_pool_limits(instance: dg.DagsterInstance, pools: tuple[str, ...] = POOLS) -> dict[str, int | None]:
    """Create the concurrency-pool rows of our pools (at the instance's ``pools.default_limit``) if missing.

    Call once before launching runs in parallel on a fresh Postgres instance (``chalkola demo``, a deploy
    step): dagster 1.13 creates a pool's row lazily when a step first claims it, and two runs doing that at
    the same moment on Postgres fail one of them (``concurrency_limits_concurrency_key_key`` unique
    violation, then "current transaction is aborted"). Existing rows (e.g. set with
    ``dagster instance concurrency set amazon_sp_reports 2``) are left alone. Returns pool → slot count.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    known = set(storage.get_concurrency_keys())
    out: dict[str, int | None] = {}
    for pool in pools:
        if pool not in known:
            storage.initialize_concurrency_limit_to_default(pool)
        out[pool] = (
            storage.get_concurrency_info(pool).slot_count if pool in storage.get_concurrency_keys() else None
        )
    return out


def marketplace_run_request(
    marketplace: Marketplace | str,
    first: dt.date,
    last: dt.date,
    *,
    job_name: str | None = None,
    run_key: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> dg.RunRequest:
    """A run request for local days ``first..last`` (inclusive) of one marketplace.

    One day → ``partition_key="YYYY-MM-DD|XX"``; several → range tags (one run, one report where the API
    allows). Adds ``amazon/region`` for run-queue limits. ``job_name`` is needed when the caller (sensor,
    schedule) targets several jobs. Example (what ``chalkola demo`` needs)::

        req = marketplace_run_request("JP", date(2026, 11, 1), date(2026, 11, 7), job_name=RAW_AMAZON_JOB)
        req.tags  # {"dagster/asset_partition_range_start": "2026-11-01|JP", ..., "amazon/region": "fe"}
    """
    mkt = get_marketplace(marketplace) if isinstance(marketplace, str) else marketplace
    if last < first:
        raise ValueError(f"{mkt.code}: last day {last} is before first day {first}")
    all_tags = {REGION_TAG: mkt.region, **(tags or {})}
    if first == last:
        return dg.RunRequest(
            run_key=run_key,
            job_name=job_name,
            partition_key=str(partition_key(first, mkt)),
            tags=all_tags,
        )
    return dg.RunRequest(
        run_key=run_key, job_name=job_name, tags={**range_tags(mkt, first, last), **all_tags}
    )


def region_run_request(
    marketplaces: Sequence[Marketplace],
    first: dt.date,
    last: dt.date,
    *,
    job_name: str | None = None,
    run_key: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> dg.RunRequest:
    """One run for local days ``first..last`` of several marketplaces of one region.

    ``marketplaces`` must be consecutive in the partitions' marketplace order (the configured order): the run's
    partitions are Dagster's range from (first, marketplaces[0]) to (last, marketplaces[-1]), which is every
    day × every marketplace in between. Only for assets that load a region's marketplaces together
    (``sp_sales_traffic``: one set of Data Kiosk queries serves them all).
    """
    if len(marketplaces) == 1:
        return marketplace_run_request(
            marketplaces[0], first, last, job_name=job_name, run_key=run_key, tags=tags
        )
    regions = {m.region for m in marketplaces}
    if len(regions) != 1 or last < first:
        raise ValueError(f"a region run needs one region and first <= last: {marketplaces}, {first}..{last}")
    all_tags = {REGION_TAG: marketplaces[0].region, **(tags or {})}
    return dg.RunRequest(
        run_key=run_key,
        job_name=job_name,
        tags={**range_tags(marketplaces[0], first, last, marketplaces[-1]), **all_tags},
    )


def run_tags_for(marketplace: Marketplace | str, first: dt.date, last: dt.date) -> dict[str, str]:
    """The tags of a range run (also for ``first == last``), for ``dagster job execute --tags``."""
    mkt = get_marketplace(marketplace) if isinstance(marketplace, str) else marketplace
    return {**range_tags(mkt, first, last), REGION_TAG: mkt.region}


def split_days(first: dt.date, last: dt.date, max_days: int) -> list[tuple[dt.date, dt.date]]:
    """first..last cut into consecutive chunks of at most ``max_days`` days (oldest first)."""
    if max_days < 1:
        raise ValueError("max_days must be at least 1")
    chunks = []
    start = first
    while start <= last:
        end = min(last, start + dt.timedelta(days=max_days - 1))
        chunks.append((start, end))
        start = end + dt.timedelta(days=1)
    return chunks
