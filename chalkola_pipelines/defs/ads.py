"""Amazon Ads assets: ``ads_profiles`` (unpartitioned) and ``ads_sp_advertised_product`` (marketplace × day).

``ads_profiles`` lists the profiles of every region that has an Ads refresh token (``GET /v2/profiles``)
into ``raw_amazon.ads_profiles``: profile ↔ marketplace via ``accountInfo.marketplaceStringId``.

``ads_sp_advertised_product`` loads Sponsored Products ``spAdvertisedProduct`` DAILY reports: a range run
uses one report per ≤ 31 days for the marketplace's seller/vendor profile (from ``raw_amazon.ads_profiles``,
else asked from the API). Days older than the Ads API's 95-day retention are *unavailable at the source*:
the partition is materialised with ``status: UNAVAILABLE_AT_SOURCE`` and nothing is changed (rows loaded
while the day was still available are kept). A marketplace without an Ads profile is materialised empty
with ``status: NO_ADS_PROFILE`` (the seller does not advertise there).
"""

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from chalkola_pipelines.amazon.errors import AmazonError
from chalkola_pipelines.defs.checks import ADS_CHECK_SPECS, ads_within_ordered_sales, rows_match_document
from chalkola_pipelines.defs.jobs import ADS_PROFILES, ADS_SP_ADVERTISED_PRODUCT, MAX_DAYS_PER_RUN, RAW_GROUP
from chalkola_pipelines.defs.partitions import MarketplaceDays, run_marketplace_days
from chalkola_pipelines.defs.report_runs import (
    ADS_SOURCE,
    LazyClient,
    failures_named,
    landed_document,
    mark_loaded,
    reuse_max_age,
)
from chalkola_pipelines.defs.resources import AmazonApiResource, MissingCredentialError, WarehouseResource
from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.warehouse.partition_queries import ads_advertised_product_rows_per_day

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
    limiter = warehouse.rate_limiter()
    total = 0
    per_region: dict[str, int] = {}
    marketplaces: dict[str, str] = {}
    request_ids: list[str] = []
    failed: dict[str, str] = {}
    with contextlib.closing(limiter), warehouse.connect() as conn:
        for region in regions:
            try:
                with amazon.ads_client(region, limiter) as client:
                    profiles = client.list_profiles()
                    request_id = client.last_request_id
            except AmazonError as exc:  # one region's problem must not hide the others' profiles
                context.log.error(f"ads profiles {region.upper()}: {exc}")
                failed[region] = str(exc)
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
            + f". Profiles of the other regions ({loaded}) were stored. Check that region's ADS_REFRESH_TOKEN_* "
            "and re-run.",
            metadata={"rows": total, "failed_regions": ", ".join(r.upper() for r in failed)},
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


def contiguous_spans(chunks: Sequence[tuple[dt.date, dt.date]]) -> list[list[tuple[dt.date, dt.date]]]:
    """Group date chunks (sorted) into runs of adjacent chunks."""
    spans: list[list[tuple[dt.date, dt.date]]] = []
    for chunk in chunks:
        if spans and spans[-1][-1][1] + dt.timedelta(days=1) == chunk[0]:
            spans[-1].append(chunk)
        else:
            spans.append([chunk])
    return spans


def build_ads_sp_advertised_product(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The asset, on the shared marketplace × date partitions."""

    @dg.asset(
        name=ADS_SP_ADVERTISED_PRODUCT,
        group_name=RAW_GROUP,
        partitions_def=partitions_def,
        deps=[ADS_PROFILES],
        backfill_policy=dg.BackfillPolicy.multi_run(
            max_partitions_per_run=MAX_DAYS_PER_RUN[ADS_SP_ADVERTISED_PRODUCT]
        ),
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
        from chalkola_pipelines.amazon.ads import earliest_available_day, split_date_range

        md = run_marketplace_days(context)
        mkt = md.marketplace
        amazon.ads_credentials(mkt.region, mkt)
        today = ads_today(mkt)
        earliest = earliest_available_day(today)
        ledger, landing = warehouse.ledger(), warehouse.landing()
        limiter = warehouse.rate_limiter()
        expected: dict[dt.date, int] = {}
        loaded: list[dt.date] = []
        with (
            contextlib.closing(limiter),
            LazyClient(lambda: amazon.ads_client(mkt.region, limiter, mkt)) as client,
            warehouse.connect() as conn,
        ):
            for day in (d for d in md.days if d < earliest):
                yield _kept(context, conn, md, day, UNAVAILABLE, f"older than the Ads API's 95-day retention "
                            f"(earliest available day: {earliest})")  # fmt: skip
            available = [d for d in md.days if d >= earliest]
            if not available:
                yield rows_match_document(
                    asset=ADS_SP_ADVERTISED_PRODUCT, conn=conn, table_counts=ads_advertised_product_rows_per_day,
                    marketplace=mkt, expected={},
                )  # fmt: skip
                yield ads_within_ordered_sales(conn, mkt, [])
                return
            what = f"ads_sp_advertised_product {MarketplaceDays(mkt, tuple(available)).describe()}"
            current: dict[str, Any] = {}
            with failures_named(what, ledger, ADS_SOURCE, current, mkt.region):
                profile_id = find_profile_id(conn, mkt)
                if profile_id is None:
                    profile_id = refresh_profiles(conn, client.get(), mkt)
                if profile_id is None:
                    context.log.warning(
                        f"No Ads seller/vendor profile for marketplace {mkt.code} in region {mkt.region.upper()}: "
                        "partitions materialised empty. If the seller advertises there, check the Ads refresh token's "
                        "account."
                    )
                    for day in available:
                        yield _kept(context, conn, md, day, NO_PROFILE, "no Ads profile for this marketplace")
                    yield ads_within_ordered_sales(conn, mkt, [])
                    yield rows_match_document(
                        asset=ADS_SP_ADVERTISED_PRODUCT, conn=conn, table_counts=ads_advertised_product_rows_per_day,
                        marketplace=mkt, expected={},
                    )  # fmt: skip
                    return
                chunks = split_date_range(available[0], available[-1])
                for chunk_start, chunk_end, report_id, path, request_ids, source in _reports(
                    context, client, ledger, landing, mkt, profile_id, chunks, today, current
                ):
                    current.update(report_id=report_id, path=path)
                    days = [d for d in available if chunk_start <= d <= chunk_end]
                    counts = _load(conn, ledger, mkt, profile_id, days, report_id, path)
                    for day in days:
                        expected[day] = counts["document"].get(day, 0)
                        loaded.append(day)
                        yield dg.AssetMaterialization(
                            asset_key=context.asset_key,
                            partition=md.key_for(day),
                            metadata={
                                "marketplace": mkt.code,
                                "date": day.isoformat(),
                                "profile_id": str(profile_id),
                                "report_id": report_id,
                                "status": "COMPLETED",
                                "window": f"{chunk_start}..{chunk_end}",
                                "request_ids": ", ".join(request_ids) or "-",
                                "document": str(path),
                                "document_from": source,
                                "rows": counts["written"][day],
                            },
                        )
            yield rows_match_document(
                asset=ADS_SP_ADVERTISED_PRODUCT, conn=conn, table_counts=ads_advertised_product_rows_per_day,
                marketplace=mkt, expected=expected,
            )  # fmt: skip
            yield ads_within_ordered_sales(conn, mkt, loaded)

    return ads_sp_advertised_product


def _reports(
    context: AssetExecutionContext,
    client: LazyClient,
    ledger: Any,
    landing: Any,
    mkt: Marketplace,
    profile_id: int,
    chunks: Sequence[tuple[dt.date, dt.date]],
    today: dt.date,
    current: dict[str, Any],
) -> Iterator[tuple[dt.date, dt.date, str, Any, list[str], str]]:
    """(start, end, report id, document path, request ids, amazon|landing) per ≤ 31-day chunk, in order."""
    scope = str(profile_id)
    ident = {
        "source": ADS_SOURCE,
        "report_type": REPORT_TYPE,
        "region": mkt.region,
        "options": REPORT_OPTIONS,
    }
    resume: dict[tuple[dt.date, dt.date], str] = {}
    local: dict[tuple[dt.date, dt.date], tuple[str, Any, list[str]]] = {}
    for start, end in chunks:
        entry = ledger.find_resumable(
            scope=scope, window_start=start, window_end=end, max_age=reuse_max_age(end, today), **ident
        )
        landed = landed_document(entry)
        if entry is not None and entry.report_id and landed is not None:
            local[(start, end)] = (entry.report_id, landed, list(entry.request_ids))
        elif entry is not None and entry.report_id:
            resume[(start, end)] = entry.report_id
            context.log.info(f"resuming Ads report {entry.report_id} ({start}..{end}) from the ledger")

    def on_report_id(start: dt.date, end: dt.date, report_id: str, status: str) -> None:
        current["report_id"] = report_id
        ledger.record(
            marketplace=mkt.code, profile_id=profile_id, report_id=report_id, status=status,
            window_start=start, window_end=end, **ident,
        )  # fmt: skip

    def dest(report_id: str) -> Any:
        return landing.path_for(ADS_SOURCE, REPORT_TYPE, scope, report_id, ".json.gz")

    remote = [c for c in chunks if c not in local]
    fetched: dict[tuple[dt.date, dt.date], tuple[str, Any, list[str]]] = {}
    for span in contiguous_spans(remote):
        results = client.get().fetch_sp_advertised_product(
            profile_id,
            span[0][0],
            span[-1][1],
            dest,
            today=today,
            resume_report_ids={c: resume[c] for c in span if c in resume},
            on_report_id=on_report_id,
        )
        for result in results:
            ledger.update(
                ADS_SOURCE, result.report_id, region=mkt.region, status="COMPLETED", document_path=result.path,
                request_ids=result.request_ids,
            )  # fmt: skip
            fetched[(result.start, result.end)] = (result.report_id, result.path, list(result.request_ids))
    for chunk in chunks:
        if chunk in local:
            report_id, path, request_ids = local[chunk]
            context.log.info(
                f"Ads report {report_id} ({chunk[0]}..{chunk[1]}) re-parsed from the landing store"
            )
            yield chunk[0], chunk[1], report_id, path, request_ids, "landing"
        elif chunk in fetched:
            report_id, path, request_ids = fetched[chunk]
            yield chunk[0], chunk[1], report_id, path, request_ids, "amazon"
        else:
            raise dg.Failure(
                description=f"Ads reports for profile {profile_id} did not cover {chunk[0]}..{chunk[1]} "
                "(the client split the range differently); re-run the partitions."
            )


def _load(
    conn: Any, ledger: Any, mkt: Marketplace, profile_id: int, days: list[dt.date], report_id: str, path: Any
) -> dict[str, Any]:
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.ads_report import iter_sp_advertised_product_rows
    from chalkola_pipelines.warehouse.ads_tables import replace_ads_advertised_product

    with open_document(path) as stream:
        # The parser's own iterator goes to the loader untouched: it then streams COPY-ready batches.
        rows = iter_sp_advertised_product_rows(stream)
        written = replace_ads_advertised_product(
            conn, marketplace=mkt, profile_id=profile_id, days=days, rows=rows, report_id=report_id
        )
    document_counts: Counter[dt.date] = Counter(
        {day: n for day, n in rows.rows_per_day.items() if isinstance(day, dt.date)}
    )
    mark_loaded(ledger, ADS_SOURCE, report_id, sum(written.values()), mkt.region)
    return {"written": written, "document": document_counts}


def _kept(
    context: AssetExecutionContext, conn: Any, md: MarketplaceDays, day: dt.date, status: str, reason: str
) -> dg.AssetMaterialization:
    from chalkola_pipelines.warehouse.partition_queries import ads_advertised_product_rows_on_day

    kept = ads_advertised_product_rows_on_day(conn, md.marketplace.code, day)
    context.log.info(
        f"ads_sp_advertised_product {md.key_for(day)}: {status} ({reason}); {kept} earlier rows kept"
    )
    return dg.AssetMaterialization(
        asset_key=context.asset_key,
        partition=md.key_for(day),
        metadata={
            "marketplace": md.marketplace.code,
            "date": day.isoformat(),
            "status": status,
            "rows": 0,
            "rows_kept_from_earlier_loads": int(kept),
            "note": reason,
        },
    )
