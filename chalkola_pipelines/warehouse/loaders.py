"""COPY loaders for raw_amazon: each call replaces whole partitions in ONE transaction.

A partition is (marketplace, local day) for sales & traffic and order items, (profile, day) for Ads.
Each loader deletes the partition's rows and streams the new ones with ``COPY … FROM STDIN`` inside the
same transaction, so re-running a partition never duplicates, readers see the old rows or the new rows
and never a mix, and any failure (bad value, constraint violation, exception in the row iterator) rolls
back to the old rows. Concurrent replaces of the same partition are serialised by a transaction-level
advisory lock (pooler-safe). Column lists come from ``amazon.report_columns``.

Transactions: each loader runs in ``conn.transaction()``. On an autocommit connection, or an idle one, that
is a transaction committed on success. Inside a transaction the caller already opened (even implicitly, by
a SELECT on a non-autocommit connection) it is only a savepoint, committed when the caller commits and lost
if the caller rolls back: use autocommit connections (``postgres.connect(url, autocommit=True)``) so that
each partition commits on its own. A warning is logged in that case.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec
import psycopg
from psycopg.pq import TransactionStatus

from chalkola_pipelines.amazon.parsers.ads_report import SpAdvertisedProductRows
from chalkola_pipelines.amazon.parsers.orders_report import (
    OrderCsv,
    OrderReportNeedsRowParser,
    OrderReportRows,
)
from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_COLUMNS,
    SP_ADVERTISED_PRODUCT_COLUMNS,
    ST_BY_ASIN_FIELDS,
    ST_BY_DATE_FIELDS,
)
from chalkola_pipelines.marketplaces import Marketplace, UnknownMarketplaceError, get_marketplace_by_id

log = logging.getLogger(__name__)

ST_BY_DATE_TABLE = "raw_amazon.sp_sales_traffic_by_date"
ST_BY_ASIN_TABLE = "raw_amazon.sp_sales_traffic_by_asin"
ORDER_ITEMS_TABLE = "raw_amazon.sp_order_items"
ADS_SP_ADVERTISED_PRODUCT_TABLE = "raw_amazon.ads_sp_advertised_product"
ADS_PROFILES_TABLE = "raw_amazon.ads_profiles"

ST_BY_DATE_COLUMNS: tuple[str, ...] = (
    "marketplace",
    "marketplace_id",
    "report_date",
    "currency_code",
    *(f.column for f in ST_BY_DATE_FIELDS),
    "report_id",
)
ST_BY_ASIN_COLUMNS: tuple[str, ...] = (
    "marketplace",
    "marketplace_id",
    "report_date",
    "parent_asin",
    "child_asin",
    "sku",
    "currency_code",
    *(f.column for f in ST_BY_ASIN_FIELDS),
    "report_id",
)
ORDER_ITEM_COLUMNS: tuple[str, ...] = (
    "marketplace",
    "order_date",
    "line_number",
    *(c.column for c in ORDER_REPORT_COLUMNS),
    "extra_columns",
    "report_id",
)
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

_ST_DATE_FIELD_COLUMNS = tuple(f.column for f in ST_BY_DATE_FIELDS)
_ST_ASIN_FIELD_COLUMNS = tuple(f.column for f in ST_BY_ASIN_FIELDS)
_ORDER_FIELD_COLUMNS = tuple(c.column for c in ORDER_REPORT_COLUMNS)
_ADS_FIELD_COLUMNS = tuple(c.column for c in SP_ADVERTISED_PRODUCT_COLUMNS)
# the parser's CSV lines (catalogue order) with our three columns appended
_ADS_CSV_COLUMNS = (*_ADS_FIELD_COLUMNS, "marketplace", "profile_id", "report_id")


_ST_DATE_VALUES = operator.itemgetter(*_ST_DATE_FIELD_COLUMNS)
_ST_ASIN_VALUES = operator.itemgetter(*_ST_ASIN_FIELD_COLUMNS)
_ORDER_VALUES = operator.itemgetter(*_ORDER_FIELD_COLUMNS)
_ADS_VALUES = operator.itemgetter(*_ADS_FIELD_COLUMNS)


def _values(row: Mapping[str, Any], columns: tuple[str, ...], getter: operator.itemgetter) -> tuple[Any, ...]:
    """The row's values for ``columns`` (precomputed itemgetter; a missing key → None)."""
    try:
        return getter(row)
    except KeyError:
        return tuple(row.get(c) for c in columns)


class WarehouseLoadError(RuntimeError):
    """A partition could not be loaded; the previous rows are intact. The message says what and where."""


class PartitionCounts(dict[dt.date, int]):
    """Rows written per day (every requested day present, 0 for an empty day) plus ``ignored``:
    rows of the input that fell outside the requested days and were not loaded."""

    def __init__(self, days: Iterable[dt.date]) -> None:
        super().__init__((d, 0) for d in days)
        self.ignored = 0


# --------------------------------------------------------------------------------------------------
# sales & traffic


def replace_sales_traffic_day(
    conn: psycopg.Connection,
    *,
    marketplace: Marketplace,
    day: dt.date,
    document: Any,
    report_id: str,
) -> tuple[int, int]:
    """Replace one marketplace-day of sales & traffic (byDate and byAsin) from a parsed document.

    ``document`` is a ``parsers.sales_traffic.SalesTrafficDocument`` (``.by_date``, ``.by_asin``). byDate
    rows for other days than ``day`` are ignored (logged); byAsin rows get ``report_date = day`` (the
    report was requested for that single day). An empty document (CANCELLED = no data) empties the day.
    Returns (byDate rows, byAsin rows) written.
    """
    where = f"marketplace {marketplace.code}, day {day.isoformat()}, report {report_id}"
    by_date = [r for r in document.by_date if r.get("report_date") == day]
    if len(by_date) != len(document.by_date):
        others = sorted({str(r.get("report_date")) for r in document.by_date if r.get("report_date") != day})
        log.warning("sales & traffic %s: ignoring byDate rows for other days %s", where, ", ".join(others))

    head = (marketplace.code, marketplace.marketplace_id, day)
    tail = (report_id,)

    def date_rows() -> Iterator[Sequence[Any]]:
        for row in by_date:
            yield (
                *head,
                row.get("currency_code"),
                *_values(row, _ST_DATE_FIELD_COLUMNS, _ST_DATE_VALUES),
                *tail,
            )

    def asin_rows() -> Iterator[Sequence[Any]]:
        for row in document.by_asin:
            yield (
                *head,
                row.get("parent_asin"),
                row.get("child_asin") or "",
                row.get("sku") or "",
                row.get("currency_code"),
                *_values(row, _ST_ASIN_FIELD_COLUMNS, _ST_ASIN_VALUES),
                *tail,
            )

    _warn_if_in_caller_transaction(conn, f"sales & traffic {where}")
    with _load_errors(f"sales & traffic {where}"):
        with conn.transaction():
            _lock_partitions(conn, ST_BY_DATE_TABLE, [f"{marketplace.code}/{day.isoformat()}"])
            conn.execute(
                f"delete from {ST_BY_DATE_TABLE} where marketplace = %s and report_date = %s",
                (marketplace.code, day),
            )
            conn.execute(
                f"delete from {ST_BY_ASIN_TABLE} where marketplace = %s and report_date = %s",
                (marketplace.code, day),
            )
            n_date = _copy_rows(conn, ST_BY_DATE_TABLE, ST_BY_DATE_COLUMNS, date_rows(), where)
            n_asin = _copy_rows(conn, ST_BY_ASIN_TABLE, ST_BY_ASIN_COLUMNS, asin_rows(), where)
    log.info("sales & traffic %s: %d byDate, %d byAsin rows", where, n_date, n_asin)
    return n_date, n_asin


# --------------------------------------------------------------------------------------------------
# order items


def replace_order_items(
    conn: psycopg.Connection,
    *,
    marketplace: Marketplace,
    days: Sequence[dt.date],
    rows: Iterable[dict],
    report_id: str,
) -> PartitionCounts:
    """Replace the order items of every local day in ``days`` from one order report's parsed rows.

    ``rows`` come from ``parsers.orders_report.iter_order_report_rows`` (keys: ORDER_REPORT_COLUMNS
    ``.column`` + ``extra_columns``). ``order_date`` = the marketplace-local day of ``purchase_date``;
    ``line_number`` = 1-based position of the item within its ``amazon_order_id`` in report order. Rows
    outside ``days`` (a UTC report window touches neighbouring local days) are skipped and counted in
    ``.ignored``. Every day in ``days`` is replaced, even with zero rows: pass only days the report's
    window covers completely. Returns rows written per day.

    Pass the iterator itself (not wrapped in a generator): the whole document then goes from the parser to
    COPY as CSV rendered in C (``OrderReportRows.copy_csv``), ~2x faster; documents the fast path does not
    take as is (and wrapped iterators) take the row-by-row path, with the same result.
    """
    days = sorted(set(days))
    wanted = set(days)
    counts = PartitionCounts(days)
    first_last = f"{days[0].isoformat()}..{days[-1].isoformat()}" if days else "no days"
    where = f"marketplace {marketplace.code}, days {first_last}, report {report_id}"
    line_numbers: dict[str, int] = {}

    def item_rows() -> Iterator[Sequence[Any]]:
        last_purchase_date: dt.datetime | None = None
        local_day = dt.date.min
        for position, row in enumerate(rows, start=1):
            order_id = row.get("amazon_order_id")
            if not order_id:
                raise WarehouseLoadError(
                    f"Order report {where}: item #{position} has no amazon-order-id; the report is malformed. "
                    "Re-download the report; nothing was changed."
                )
            line = line_numbers.get(order_id, 0) + 1
            line_numbers[order_id] = line
            purchase_date = row.get("purchase_date")
            if not isinstance(purchase_date, dt.datetime) or purchase_date.tzinfo is None:
                raise WarehouseLoadError(
                    f"Order report {where}: order {order_id} has no timezone-aware purchase-date "
                    f"({purchase_date!r}); cannot assign a local day. Nothing was changed."
                )
            if purchase_date != last_purchase_date:  # the items of an order follow each other
                last_purchase_date, local_day = purchase_date, marketplace.local_date_of(purchase_date)
            if local_day not in wanted:
                counts.ignored += 1
                continue
            counts[local_day] += 1
            yield (
                marketplace.code,
                local_day,
                line,
                *_values(row, _ORDER_FIELD_COLUMNS, _ORDER_VALUES),
                _json_text(row.get("extra_columns")),
                report_id,
            )

    prepared = None
    if isinstance(rows, OrderReportRows) and not rows.started and conn.info.encoding == "utf-8":
        # the document read whole and checked here; None → the row-by-row path below
        prepared = rows.copy_csv(
            local_date_of=marketplace.local_date_of,
            keep=wanted,
            marketplace=marketplace.code,
            report_id=report_id,
        )
    if prepared is not None:
        try:
            _replace_order_partitions(conn, marketplace, days, where, csv=prepared)
            counts.update(prepared.rows_per_day)
            counts.ignored = prepared.ignored
        except OrderReportNeedsRowParser:  # rolled back: nothing of this attempt is visible
            prepared = None
    if prepared is None:
        _replace_order_partitions(conn, marketplace, days, where, rows=item_rows())
    if counts.ignored:
        log.info("order items %s: %d rows outside the requested days skipped", where, counts.ignored)
    log.info("order items %s: %d rows in %d days", where, sum(counts.values()), len(days))
    return counts


def _replace_order_partitions(
    conn: psycopg.Connection,
    marketplace: Marketplace,
    days: list[dt.date],
    where: str,
    *,
    csv: OrderCsv | None = None,
    rows: Iterator[Sequence[Any]] | None = None,
) -> None:
    """One transaction: lock, delete ``days``, COPY the parser's CSV blocks or the loader's rows."""
    _warn_if_in_caller_transaction(conn, f"order items {where}")
    with _load_errors(f"order items {where}"):
        with conn.transaction():
            _lock_partitions(conn, ORDER_ITEMS_TABLE, [f"{marketplace.code}/{d.isoformat()}" for d in days])
            conn.execute(
                f"delete from {ORDER_ITEMS_TABLE} where marketplace = %s and order_date = any(%s)",
                (marketplace.code, days),
            )
            if csv is not None:
                columns = ", ".join(ORDER_ITEM_COLUMNS)
                with conn.cursor() as cur:
                    with cur.copy(f"copy {ORDER_ITEMS_TABLE} ({columns}) from stdin (format csv)") as copy:
                        for block in csv:
                            copy.write(block)
            else:
                assert rows is not None
                _copy_rows(conn, ORDER_ITEMS_TABLE, ORDER_ITEM_COLUMNS, rows, where)


# --------------------------------------------------------------------------------------------------
# ads


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
    text without a Python object per value (``SpAdvertisedProductRows.csv_batches``), ~2x faster. The
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
            values = _values(row, _ADS_FIELD_COLUMNS, _ADS_VALUES)
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
        # Straight from the parser: rows typed there (tests/parsers pin the types), already CSV text in
        # catalogue order; our three columns go at the end of each line. Only the day is looked at here.
        ours = ("," + ",".join(map(_csv_text, (marketplace.code, str(profile_id), report_id)))).encode()
        position = 0
        for days, text in rows.csv_batches(keep=wanted, suffix=ours):
            per_day = Counter(days)
            if not per_day.keys() <= wanted:
                for day in list(per_day):
                    if day not in wanted:
                        if type(day) is not dt.date:
                            checked_day(day, position + days.index(day) + 1)  # raises
                        counts.ignored += per_day.pop(day)
            for day, n in per_day.items():
                counts[day] += n
            position += len(days)
            yield text

    fast = isinstance(rows, SpAdvertisedProductRows) and not rows.started and conn.info.encoding == "utf-8"
    _warn_if_in_caller_transaction(conn, f"ads {where}")
    with _load_errors(f"ads spAdvertisedProduct {where}"):
        with conn.transaction():
            _lock_partitions(
                conn, ADS_SP_ADVERTISED_PRODUCT_TABLE, [f"{profile_id}/{d.isoformat()}" for d in days]
            )
            conn.execute(
                f"delete from {ADS_SP_ADVERTISED_PRODUCT_TABLE} where profile_id = %s and report_date = any(%s)",
                (profile_id, days),
            )
            if fast:
                _copy_csv(conn, ADS_SP_ADVERTISED_PRODUCT_TABLE, _ADS_CSV_COLUMNS, parsed_ad_batches(rows))
            else:
                _copy_rows(
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
    with _load_errors(f"ads profiles of region {region} (request {request_id})"):
        with conn.transaction():
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


# --------------------------------------------------------------------------------------------------
# helpers


class _load_errors:
    """Turn database errors into WarehouseLoadError naming the partition (old rows are intact)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, psycopg.Error):
            detail = str(exc).strip().replace("\n", " ")
            raise WarehouseLoadError(
                f"Could not load {self.what}: {detail}. The transaction was rolled back, the previous rows "
                "are intact; fix the input (or the parser) and re-run the partition."
            ) from exc
        return False


def _warn_if_in_caller_transaction(conn: psycopg.Connection, what: str) -> None:
    if not conn.autocommit and conn.info.transaction_status == TransactionStatus.INTRANS:
        log.warning(
            "%s: the connection already has an open transaction, so this load is a savepoint that is committed "
            "only when the caller commits (and lost if it rolls back); use an autocommit connection",
            what,
        )


def _lock_partitions(conn: psycopg.Connection, table: str, keys: Sequence[str]) -> None:
    """Serialise concurrent replaces of the same partitions (transaction-level: pooler-safe)."""
    if not keys:
        return
    conn.execute(
        "select count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
        " from (select k from unnest(%s::text[]) k order by k offset 0) s",
        ([f"{table}:{k}" for k in sorted(keys)],),
    )


def _copy_rows(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    where: str,
) -> int:
    """COPY ``rows`` into ``table``; a float anywhere is refused (money and ids never go through float).

    Rows are rendered to CSV ``_CSV_BLOCK_ROWS`` at a time by :func:`_csv_block` (msgspec, in C), which
    writes exactly what psycopg's text dumpers would (strings, exact Decimal literals, ISO dates and
    timestamps, true/false, NULL).
    """
    n = 0
    block: list[Sequence[Any]] = []
    with conn.cursor() as cur:
        with cur.copy(f"copy {table} ({', '.join(columns)}) from stdin (format csv, null 'null')") as copy:
            for values in rows:
                if float in map(type, values):
                    column = next(c for c, v in zip(columns, values, strict=True) if type(v) is float)
                    raise WarehouseLoadError(
                        f"Loading {table} ({where}): column {column} is a float in row {n + len(block) + 1}; "
                        "money, measures and ids must be Decimal/int (parse JSON with parse_float=Decimal). "
                        "Nothing was changed."
                    )
                block.append(values)
                if len(block) == _CSV_BLOCK_ROWS:
                    copy.write(_csv_block(block))
                    n += len(block)
                    block = []
            if block:
                copy.write(_csv_block(block))
                n += len(block)
    return n


_CSV_BLOCK_ROWS = 1000
_CSV_ENCODER = msgspec.json.Encoder(decimal_format="number")  # Decimal → its exact literal


def _csv_block(rows: Sequence[Sequence[Any]]) -> bytes:
    """CSV lines for COPY (format csv, null 'null') of scalar rows.

    msgspec writes ``[[v, ...], [v, ...]]``. If it contains no backslash (no escaped character), every string
    is a plain ``"..."``, which is also a CSV quoted field with the same content; numbers are their literals,
    ``true``/``false``/``null`` are what COPY reads; and ``],[`` occurring exactly between rows means no
    string contains it — so the JSON body is the CSV. Otherwise, rows are rendered one by one, in Python
    only for those that need it.
    """
    try:
        data = _CSV_ENCODER.encode(rows)
    except (TypeError, OverflowError, msgspec.EncodeError):  # e.g. an int beyond 64 bits: Postgres says so
        return b"".join(map(_csv_line, rows))
    if b"\\" not in data and data.count(b"],[") == len(rows) - 1:
        return data[2:-2].replace(b"],[", b"\n") + b"\n"
    out = []
    for values in rows:
        try:
            line = _CSV_ENCODER.encode(values)
        except (TypeError, OverflowError, msgspec.EncodeError):
            line = b"\\"
        out.append(_csv_line(values) if b"\\" in line else line[1:-1] + b"\n")
    return b"".join(out)


def _csv_field(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):  # and datetime
        return value.isoformat()
    if isinstance(value, int | Decimal):
        return str(value)
    return '"' + str(value).replace('"', '""') + '"'


def _csv_line(values: Sequence[Any]) -> bytes:
    return (",".join(map(_csv_field, values)) + "\n").encode()


def _json_text(extra: Mapping[str, Any] | None) -> str:
    """``extra_columns`` for the jsonb column, as JSON text."""
    if not extra:
        return "{}"
    return json.dumps(dict(extra), ensure_ascii=False, separators=(",", ":"))


def _csv_text(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _copy_csv(conn: psycopg.Connection, table: str, columns: Sequence[str], blocks: Iterable[bytes]) -> None:
    """COPY pre-rendered CSV text (unquoted ``null`` = NULL, see ``SpAdvertisedProductRows.csv_batches``)."""
    with conn.cursor() as cur:
        with cur.copy(f"copy {table} ({', '.join(columns)}) from stdin (format csv, null 'null')") as copy:
            for block in blocks:
                copy.write(block)
