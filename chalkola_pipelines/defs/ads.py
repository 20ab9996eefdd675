"""Amazon Ads assets: ``ads_profiles`` (unpartitioned) and ``ads_sp_advertised_product`` (marketplace × day).

``ads_profiles`` lists the profiles of every region that has an Ads refresh token (``GET /v2/profiles``)
into ``raw_amazon.ads_profiles``: profile ↔ marketplace via ``accountInfo.marketplaceStringId``.

``ads_sp_advertised_product`` loads Sponsored Products ``spAdvertisedProduct`` DAILY reports: a range run
uses one report per ≤ 31 days for the marketplace's seller/vendor profile (from ``raw_amazon.ads_profiles``,
else asked from the API). Days older than the Ads API's 95-day retention are *unavailable at the source*:
the partition is materialised with ``status: UNAVAILABLE_AT_SOURCE`` and nothing is changed (rows loaded
while the day was still available are kept). A marketplace without an Ads profile is materialised empty
with ``status: NO_ADS_PROFILE`` (the seller does not advertise there). Document fields that are not
spAdvertisedProduct columns (schema drift) are ignored, named in each partition's ``unknown_fields`` metadata
and in a warning, as for sales & traffic.
"""

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from chalkola_pipelines.amazon.errors import AmazonAuthError, AmazonError
from chalkola_pipelines.defs.checks import ADS_CHECK_SPECS, ads_within_ordered_sales, rows_match_document
from chalkola_pipelines.defs.jobs import (
    ADS_PROFILES,
    ADS_SP_ADVERTISED_PRODUCT,
    RAW_GROUP,
    raw_backfill_policy,
)
from chalkola_pipelines.defs.partitions import MarketplaceDays, run_marketplace_days
from chalkola_pipelines.defs.report_errors import database_failures_named
from chalkola_pipelines.defs.report_workflow import (
    ADS_SOURCE,
    LazyClient,
    LedgerRequest,
    Loaded,
    ReportOutcome,
    RunSummary,
    Unit,
    kept_partition,
    reuse_max_age,
    run_units,
)
from chalkola_pipelines.defs.resources import AmazonApiResource, MissingCredentialError, WarehouseResource
from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.warehouse.partition_queries import (
    ads_advertised_product_rows_on_day,
    ads_advertised_product_rows_per_day,
)

REPORT_TYPE = "spAdvertisedProduct"
REPORT_OPTIONS = {"adProduct": "SPONSORED_PRODUCTS", "groupBy": "advertiser", "timeUnit": "DAILY"}
POOL = "amazon_ads_reporting"
UNAVAILABLE = "UNAVAILABLE_AT_SOURCE"
NO_PROFILE = "NO_ADS_PROFILE"


# --------------------------------------------------------------------------------------------------
# profiles


@dg.asset(
    name=ADS_PROFILES,
    group_name=RAW_GROUP,
    kinds={"amazon", "postgres"},
    metadata={"tables": "raw_amazon.ads_profiles"},
    description="Ads API profiles (GET /v2/profiles) of every region with an Ads refresh token: "
    "profile ↔ marketplace for the Ads reports.",
)
def ads_profiles(
    context: AssetExecutionContext, amazon: AmazonApiResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from chalkola_pipelines.amazon.ads import profiles_by_marketplace
    from chalkola_pipelines.warehouse.ads_tables import upsert_ads_profiles

    regions = amazon.ads_regions()
    if not regions:
        raise MissingCredentialError(
            "ads_profiles: no Ads API refresh token is set (ADS_REFRESH_TOKEN_NA, ADS_REFRESH_TOKEN_EU, "
            "ADS_REFRESH_TOKEN_FE): set the one(s) of the regions you advertise in, then reload the code location."
        )
    total = 0
    per_region: dict[str, int] = {}
    marketplaces: dict[str, str] = {}
    request_ids: list[str] = []
    failed: dict[str, str] = {}
    refused = 0  # regions whose credentials Login With Amazon refused (a setting: retrying cannot help)
    with (
        database_failures_named("ads_profiles"),
        contextlib.closing(warehouse.rate_limiter()) as limiter,
        warehouse.connect() as conn,
    ):
        for region in regions:
            try:
                with amazon.ads_client(region, limiter) as client:
                    profiles = client.list_profiles()
                    request_id = client.last_request_id
            except AmazonError as exc:  # one region's problem must not hide the others' profiles
                context.log.error(f"ads profiles {region.upper()}: {exc}")
                failed[region] = str(exc)
                refused += isinstance(exc, AmazonAuthError)
                continue
            n = upsert_ads_profiles(conn, region=region, profiles=profiles, request_id=request_id)
            total += n
            per_region[region] = n
            if request_id:
                request_ids.append(request_id)
            for code, profile in profiles_by_marketplace(profiles).items():
                marketplaces[code] = str(profile["profileId"])
            context.log.info(f"ads profiles {region.upper()}: {n} profiles")
    if failed:
        loaded = ", ".join(r.upper() for r in per_region) or "none"
        raise dg.Failure(
            description="ads_profiles: listing the profiles failed for "
            + "; ".join(f"region {r.upper()}: {msg}" for r, msg in failed.items())
            + f". Profiles of the other regions ({loaded}) were stored; re-run once fixed.",
            metadata={"rows": total, "failed_regions": ", ".join(r.upper() for r in failed)},
            allow_retries=refused < len(failed),
        )
    return dg.MaterializeResult(
        metadata={
            "rows": total,
            "profiles_per_region": per_region,
            "marketplace_profiles": marketplaces or "none",
            "regions": ", ".join(r.upper() for r in regions),
            "request_ids": ", ".join(request_ids) or "-",
            "status": "DONE",
        }
    )


def find_profile_id(conn: Any, marketplace: Marketplace) -> int | None:
    """The marketplace's seller (else vendor) profile from ``raw_amazon.ads_profiles``."""
    from chalkola_pipelines.warehouse.ads_tables import ads_profile_id_for_marketplace

    return ads_profile_id_for_marketplace(conn, marketplace.code, marketplace.region)


def refresh_profiles(conn: Any, client: Any, marketplace: Marketplace) -> int | None:
    """Ask the API for the region's profiles (stored in ``raw_amazon.ads_profiles``), then look up again."""
    from chalkola_pipelines.warehouse.ads_tables import upsert_ads_profiles

    profiles = client.list_profiles()
    upsert_ads_profiles(conn, region=marketplace.region, profiles=profiles, request_id=client.last_request_id)
    return find_profile_id(conn, marketplace)


# --------------------------------------------------------------------------------------------------
# spAdvertisedProduct


def ads_today(marketplace: Marketplace, now: dt.datetime | None = None) -> dt.date:
    """'Today' for the retention rule: the later of the marketplace's local date and the UTC date (so a day
    is never asked for when either reading would already place it beyond 95 days)."""
    now = now or dt.datetime.now(dt.UTC)
    return max(now.astimezone(marketplace.tz).date(), now.astimezone(dt.UTC).date())


def contiguous_runs(days: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Sorted days as inclusive runs of consecutive days (no report is asked for a gap)."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + dt.timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def build_ads_sp_advertised_product(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset, on the shared marketplace × date partitions."""

    @dg.asset(
        name=ADS_SP_ADVERTISED_PRODUCT,
        group_name=RAW_GROUP,
        partitions_def=partitions_def,
        deps=[ADS_PROFILES],
        backfill_policy=raw_backfill_policy(),
        pool=POOL,
        output_required=False,
        check_specs=ADS_CHECK_SPECS,
        kinds={"amazon", "postgres"},
        metadata={"tables": "raw_amazon.ads_sp_advertised_product"},
        description=__doc__,
    )
    def ads_sp_advertised_product(
        context: AssetExecutionContext, amazon: AmazonApiResource, warehouse: WarehouseResource
    ):
        from chalkola_pipelines.amazon.ads import earliest_available_day

        md = run_marketplace_days(context)
        mkt = md.marketplace
        amazon.ads_credentials(mkt.region, mkt)
        today = ads_today(mkt)
        earliest = earliest_available_day(today)
        summary = RunSummary()
        unknown_fields: Counter[str] = Counter()  # drift: field → rows that carried it
        with (
            database_failures_named(f"ads_sp_advertised_product {md.describe()}"),
            contextlib.closing(warehouse.rate_limiter()) as limiter,
            LazyClient(lambda: amazon.ads_client(mkt.region, limiter, mkt)) as client,
            warehouse.connect() as conn,
        ):
            for day in (d for d in md.days if d < earliest):
                yield kept_partition(
                    context, md, day, status=UNAVAILABLE, kept_rows=_kept_rows(conn, mkt, day),
                    note=f"older than the Ads API's 95-day retention (earliest available day: {earliest})",
                )  # fmt: skip
            available = MarketplaceDays(mkt, tuple(d for d in md.days if d >= earliest))
            profile_id = _profile_id(context, conn, client, available) if available.days else None
            if profile_id is None:
                for day in available.days:
                    yield kept_partition(
                        context, md, day, status=NO_PROFILE, kept_rows=_kept_rows(conn, mkt, day),
                        note="no Ads profile for this marketplace",
                    )  # fmt: skip
            else:
                yield from run_units(
                    context,
                    units=ads_units(available, profile_id, today),
                    client=client,
                    ledger=warehouse.ledger(),
                    landing=warehouse.landing(),
                    load=lambda unit, outcome: _load(conn, unit, outcome, unknown_fields),
                    kept_rows=lambda day: _kept_rows(conn, mkt, day),
                    no_data_note="the Ads report has no document",
                    summary=summary,
                )
            yield rows_match_document(
                asset=ADS_SP_ADVERTISED_PRODUCT, conn=conn, table_counts=ads_advertised_product_rows_per_day,
                marketplace=mkt, expected=summary.expected,
            )  # fmt: skip
            yield ads_within_ordered_sales(conn, mkt, summary.loaded)
        if unknown_fields:
            context.log.warning(
                f"schema drift in Ads spAdvertisedProduct for {mkt.code}: fields that are not report columns "
                "(amazon.report_columns) were ignored: "
                + ", ".join(f"{name} ({n} rows)" for name, n in sorted(unknown_fields.items()))
            )
        summary.raise_if_failed("Ads report windows", md)

    return ads_sp_advertised_product


def _profile_id(
    context: AssetExecutionContext, conn: Any, client: LazyClient, available: MarketplaceDays
) -> int | None:
    """The marketplace's profile (stored, else asked from the API); None, with a warning, if it has none."""
    from chalkola_pipelines.defs.report_errors import auth_failure

    mkt = available.marketplace
    profile_id = find_profile_id(conn, mkt)
    if profile_id is None:
        try:
            profile_id = refresh_profiles(conn, client.get(), mkt)
        except AmazonAuthError as exc:
            raise auth_failure(f"ads_sp_advertised_product {available.describe()}", exc) from None
        except AmazonError as exc:
            raise dg.Failure(
                description=f"ads_sp_advertised_product {available.describe()}: listing the Ads profiles of "
                f"region {mkt.region.upper()} failed: {exc}. Nothing was loaded; re-run the partitions."
            ) from exc
    if profile_id is None:
        context.log.warning(
            f"No Ads seller/vendor profile for marketplace {mkt.code} in region {mkt.region.upper()}: "
            "partitions materialised empty. If the seller advertises there, check the Ads refresh token's account."
        )
    return profile_id


def ads_units(available: MarketplaceDays, profile_id: int, today: dt.date) -> list[Unit]:
    """One report per ≤ 31 days (the Ads API's limit for spAdvertisedProduct)."""
    from chalkola_pipelines.amazon.ads import AdsReportJob, split_date_range

    mkt = available.marketplace
    units: list[Unit] = []
    chunks = [c for first, last in contiguous_runs(available.days) for c in split_date_range(first, last)]
    for start, end in chunks:
        days = MarketplaceDays(mkt, tuple(d for d in available.days if start <= d <= end))
        request = LedgerRequest(
            source=ADS_SOURCE,
            report_type=REPORT_TYPE,
            region=mkt.region,
            window_start=start,
            window_end=end,
            options=REPORT_OPTIONS,
            marketplace=mkt.code,
            profile_id=profile_id,
            landing_suffix=".json.gz",
        )
        label = f"ads_sp_advertised_product {days.describe()}"
        job = AdsReportJob(profile_id, start, end)
        units.append(Unit(job, request, days, label, f"{start}..{end}", reuse_max_age(end, today)))
    return units


def _load(conn: Any, unit: Unit, outcome: ReportOutcome, unknown_fields: Counter[str]) -> Loaded:
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.ads_report import iter_sp_advertised_product_rows
    from chalkola_pipelines.warehouse.ads_tables import replace_ads_advertised_product

    days = list(unit.days.days)
    profile_id = unit.request.profile_id
    with open_document(outcome.path) as stream:
        # The parser's own iterator goes to the loader untouched: it then streams COPY-ready batches.
        rows = iter_sp_advertised_product_rows(stream)
        written = replace_ads_advertised_product(
            conn, marketplace=unit.days.marketplace, profile_id=profile_id, days=days, rows=rows,
            report_id=outcome.report_id,
        )  # fmt: skip
    unknown_fields.update(rows.unknown_keys)
    unknown = ", ".join(sorted(rows.unknown_keys)) or "none"
    document = {day: n for day, n in rows.rows_per_day.items() if isinstance(day, dt.date)}
    per_day = {
        day: {"profile_id": str(profile_id), "rows": written[day], "unknown_fields": unknown} for day in days
    }
    return Loaded(per_day, {day: document.get(day, 0) for day in days}, sum(written.values()))


def _kept_rows(conn: Any, mkt: Marketplace, day: dt.date) -> int:
    return ads_advertised_product_rows_on_day(conn, mkt.code, day)
