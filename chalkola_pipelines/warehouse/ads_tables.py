"""``raw_amazon.ads_sp_advertised_product`` and ``raw_amazon.ads_profiles``: layouts, loads and lookups.

spAdvertisedProduct partitions are (profile, day), replaced with COPY in one transaction
(:mod:`warehouse.partition_copy`); profiles are upserted from ``GET /v2/profiles``.
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import psycopg

from chalkola_pipelines.amazon.parsers.ads_report import SpAdvertisedProductRows
from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_COLUMNS
from chalkola_pipelines.marketplaces import Marketplace, UnknownMarketplaceError, get_marketplace_by_id
from chalkola_pipelines.warehouse.partition_copy import (
    PartitionCounts,
    WarehouseLoadError,
    copy_csv_blocks,
    copy_rows,
    csv_text,
    encode_csv_rows,
    load_errors,
    replacing_partitions,
)
from chalkola_pipelines.warehouse.postgres import guard_transaction

log = logging.getLogger(__name__)

ADS_SP_ADVERTISED_PRODUCT_TABLE = "raw_amazon.ads_sp_advertised_product"
ADS_PROFILES_TABLE = "raw_amazon.ads_profiles"

ADS_SP_ADVERTISED_PRODUCT_COLUMNS: tuple[str, ...] = (
    "marketplace",
    "profile_id",
    *(c.column for c in SP_ADVERTISED_PRODUCT_COLUMNS),
    "report_id",
)
ADS_PROFILE_COLUMNS: tuple[str, ...] = (
    "profile_id",
    "region",
    "marketplace",
    "marketplace_string_id",
    "country_code",
    "currency_code",
    "timezone",
    "daily_budget",
    "account_id",
    "account_type",
    "account_name",
    "account_sub_type",
    "valid_payment_method",
    "request_id",
)

_ADS_FIELD_COLUMNS = tuple(c.column for c in SP_ADVERTISED_PRODUCT_COLUMNS)
# the parser's rows (catalogue order) with our three columns appended
_ADS_CSV_COLUMNS = (*_ADS_FIELD_COLUMNS, "marketplace", "profile_id", "report_id")
_ADS_VALUES = operator.itemgetter(*_ADS_FIELD_COLUMNS)


def _ads_values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The row's values in catalogue order (a missing key → None)."""
    try:
        return _ADS_VALUES(row)
    except KeyError:
        return tuple(row.get(c) for c in _ADS_FIELD_COLUMNS)


def replace_ads_advertised_product(
    conn: psycopg.Connection,
    *,
    marketplace: Marketplace,
    profile_id: int,
    days: Sequence[dt.date],
    rows: Iterable[dict],
    report_id: str,
) -> PartitionCounts:
    """Replace spAdvertisedProduct rows of (``profile_id``, day) for every day in ``days``.

    ``rows`` come from ``parsers.ads_report.iter_sp_advertised_product_rows`` (keys:
    SP_ADVERTISED_PRODUCT_COLUMNS ``.column``; ``report_date`` is the row's ``date``). ``marketplace`` is the
    profile's marketplace, stored on every row. Rows of other days are skipped and counted in
    ``.ignored``; days without rows are emptied. Returns rows written per day.

    Pass the iterator itself (not wrapped in a generator): the rows then go from the parser to COPY as CSV
    text without a dict or a Decimal per row (``SpAdvertisedProductRows.literal_batches``), ~2x faster. The
    iterator's ``rows_per_day`` has the document's rows per day, ignored days included.
    """
    if not isinstance(profile_id, int) or isinstance(profile_id, bool):
        raise TypeError(f"profile_id must be an int, got {type(profile_id).__name__}")
    days = sorted(set(days))
    wanted = set(days)
    counts = PartitionCounts(days)
    first_last = f"{days[0].isoformat()}..{days[-1].isoformat()}" if days else "no days"
    where = f"profile {profile_id} ({marketplace.code}), days {first_last}, report {report_id}"

    prefix: tuple[Any, ...] = (marketplace.code, profile_id)
    suffix = (report_id,)

    def checked_day(day: Any, position: int) -> dt.date:
        if isinstance(day, str):
            day = dt.date.fromisoformat(day)
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise WarehouseLoadError(
                f"Ads report {where}: row #{position} has no valid date ({day!r}); "
                "the report must be requested with timeUnit DAILY. Nothing was changed."
            )
        return day

    def ad_rows() -> Iterator[Sequence[Any]]:
        for position, row in enumerate(rows, start=1):
            values = _ads_values(row)
            day = values[0]
            if type(day) is not dt.date:
                day = checked_day(day, position)
                values = (day, *values[1:])
            if day not in wanted:
                counts.ignored += 1
                continue
            counts[day] += 1
            yield prefix + values + suffix

    def parsed_ad_batches(rows: SpAdvertisedProductRows) -> Iterator[bytes]:
        # Straight from the parser: rows typed there (tests/parsers pin the types), in catalogue order, number
        # literals kept as text; our three columns go at the end of each line. Only the day is looked at here.
        ours = ("," + ",".join(map(csv_text, (marketplace.code, str(profile_id), report_id)))).encode()
        position = 0
        for days, values in rows.literal_batches():
            per_day = Counter(days)
            if not per_day.keys() <= wanted:
                values = [v for v, day in zip(values, days, strict=True) if day in wanted]
                for day in list(per_day):
                    if day not in wanted:
                        if type(day) is not dt.date:
                            checked_day(day, position + days.index(day) + 1)  # raises
                        counts.ignored += per_day.pop(day)
            for day, n in per_day.items():
                counts[day] += n
            position += len(days)
            yield encode_csv_rows(values, ours)

    fast = isinstance(rows, SpAdvertisedProductRows) and not rows.started and conn.info.encoding == "utf-8"
    with replacing_partitions(
        conn,
        table=ADS_SP_ADVERTISED_PRODUCT_TABLE,
        partition_keys=[f"{profile_id}/{d.isoformat()}" for d in days],
        deletes=[
            (
                f"delete from {ADS_SP_ADVERTISED_PRODUCT_TABLE} where profile_id = %s and report_date = any(%s)",
                (profile_id, days),
            )
        ],
        what=f"ads {where}",
        error_what=f"ads spAdvertisedProduct {where}",
    ):
        if fast:
            copy_csv_blocks(conn, ADS_SP_ADVERTISED_PRODUCT_TABLE, _ADS_CSV_COLUMNS, parsed_ad_batches(rows))
        else:
            copy_rows(
                conn, ADS_SP_ADVERTISED_PRODUCT_TABLE, ADS_SP_ADVERTISED_PRODUCT_COLUMNS, ad_rows(), where
            )
    if counts.ignored:
        log.info("ads %s: %d rows outside the requested days skipped", where, counts.ignored)
    log.info("ads %s: %d rows in %d days", where, sum(counts.values()), len(days))
    return counts


def upsert_ads_profiles(
    conn: psycopg.Connection, *, region: str, profiles: Sequence[Mapping[str, Any]], request_id: str | None
) -> int:
    """Insert or update raw Ads Profile objects (``GET /v2/profiles`` of ``region``); returns rows written.

    ``marketplace`` is the catalogue code of ``accountInfo.marketplaceStringId`` (NULL when unknown).
    ``dailyBudget`` must be a Decimal or an int (parse the JSON with ``parse_float=Decimal``).
    """
    records = [_profile_record(p, region, request_id) for p in profiles]
    if not records:
        return 0
    cols = ", ".join(ADS_PROFILE_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in ADS_PROFILE_COLUMNS if c != "profile_id")
    sql = (
        f"insert into {ADS_PROFILES_TABLE} ({cols}) values ({', '.join(['%s'] * len(ADS_PROFILE_COLUMNS))}) "
        f"on conflict (profile_id) do update set {updates}, loaded_at = now()"
    )
    with load_errors(f"ads profiles of region {region} (request {request_id})"):
        with conn.transaction():
            guard_transaction(conn)
            with conn.cursor() as cur:
                cur.executemany(sql, records)
    log.info("ads profiles region %s: %d upserted", region, len(records))
    return len(records)


def _profile_record(profile: Mapping[str, Any], region: str, request_id: str | None) -> list[Any]:
    profile_id = profile.get("profileId")
    if not isinstance(profile_id, int) or isinstance(profile_id, bool):
        raise WarehouseLoadError(
            f"Ads profile without an integer profileId ({profile_id!r}) in region {region} "
            f"(request {request_id}); parse ids as int, never float. Nothing was changed."
        )
    info = profile.get("accountInfo") or {}
    marketplace_string_id = info.get("marketplaceStringId")
    code = None
    if marketplace_string_id:
        try:
            code = get_marketplace_by_id(marketplace_string_id).code
        except UnknownMarketplaceError:
            log.warning(
                "ads profile %s: marketplace id %s not in the catalogue", profile_id, marketplace_string_id
            )
    budget = profile.get("dailyBudget")
    if isinstance(budget, float):
        raise WarehouseLoadError(
            f"Ads profile {profile_id}: dailyBudget is a float ({budget!r}); parse the JSON with "
            "parse_float=Decimal. Nothing was changed."
        )
    if isinstance(budget, int) and not isinstance(budget, bool):
        budget = Decimal(budget)
    return [
        profile_id,
        region,
        code,
        marketplace_string_id,
        profile.get("countryCode"),
        profile.get("currencyCode"),
        profile.get("timezone"),
        budget,
        info.get("id"),
        info.get("type"),
        info.get("name"),
        info.get("subType"),
        info.get("validPaymentMethod"),
        request_id,
    ]


def ads_profile_id_for_marketplace(
    conn: psycopg.Connection, marketplace_code: str, region: str
) -> int | None:
    """The marketplace's seller (else vendor) profile id stored in ``raw_amazon.ads_profiles``, or None."""
    row = conn.execute(
        f"select profile_id from {ADS_PROFILES_TABLE} where marketplace = %s and region = %s "
        "and coalesce(account_type, 'seller') in ('seller', 'vendor') "
        "order by (account_type = 'seller') desc nulls last, profile_id limit 1",
        (marketplace_code, region),
    ).fetchone()
    return int(row[0]) if row else None
