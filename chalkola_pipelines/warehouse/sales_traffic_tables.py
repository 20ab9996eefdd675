"""``raw_amazon.sp_sales_traffic_by_date`` and ``_by_asin``: layouts, and replacing marketplace-days.

:func:`replace_sales_traffic_day`: one day from a parsed document (report parser or Data Kiosk records),
both tables in one transaction. :func:`replace_sales_traffic_days`: many days of a marketplace from Data
Kiosk value rows (``amazon.parsers.data_kiosk_rows``) streamed into one COPY, all days in one transaction
(:mod:`warehouse.partition_copy`).
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg

from chalkola_pipelines.amazon.parsers.data_kiosk_rows import ROW_FIELDS as KIOSK_ROW_FIELDS
from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS, ST_BY_DATE_FIELDS
from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.warehouse.partition_copy import (
    copy_csv_blocks,
    copy_rows,
    encode_csv_line,
    encode_csv_rows,
    replacing_partitions,
)

log = logging.getLogger(__name__)

ST_BY_DATE_TABLE = "raw_amazon.sp_sales_traffic_by_date"
ST_BY_ASIN_TABLE = "raw_amazon.sp_sales_traffic_by_asin"

ST_BY_DATE_COLUMNS: tuple[str, ...] = (
    "marketplace",
    "marketplace_id",
    "report_date",
    "currency_code",
    *(f.column for f in ST_BY_DATE_FIELDS),
    "report_id",
    "source",
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
    "source",
)

_ST_DATE_FIELD_COLUMNS = tuple(f.column for f in ST_BY_DATE_FIELDS)
_ST_ASIN_FIELD_COLUMNS = tuple(f.column for f in ST_BY_ASIN_FIELDS)
_ST_DATE_VALUES = operator.itemgetter(*_ST_DATE_FIELD_COLUMNS)
_ST_ASIN_VALUES = operator.itemgetter(*_ST_ASIN_FIELD_COLUMNS)


def _values(row: Mapping[str, Any], columns: tuple[str, ...], getter: operator.itemgetter) -> tuple[Any, ...]:
    """The row's values for ``columns`` (precomputed itemgetter; a missing key → None)."""
    try:
        return getter(row)
    except KeyError:
        return tuple(row.get(c) for c in columns)


def replace_sales_traffic_day(
    conn: psycopg.Connection,
    *,
    marketplace: Marketplace,
    day: dt.date,
    document: Any,
    report_id: str,
    source: str = "report",
) -> tuple[int, int]:
    """Replace one marketplace-day of sales & traffic (byDate and byAsin) from a parsed document.

    ``document`` is a ``parsers.sales_traffic.SalesTrafficDocument`` (``.by_date``, ``.by_asin``). byDate
    rows for other days than ``day`` are ignored (logged); byAsin rows get ``report_date = day`` (the
    report was requested for that single day). An empty document (CANCELLED = no data) empties the day.
    ``source`` is ``report`` or ``data_kiosk``; a row's own ``source_id`` (the Data Kiosk query it came from)
    overrides ``report_id``. Returns (byDate rows, byAsin rows) written.
    """
    where = f"marketplace {marketplace.code}, day {day.isoformat()}, report {report_id}"
    by_date = [r for r in document.by_date if r.get("report_date") == day]
    if len(by_date) != len(document.by_date):
        others = sorted({str(r.get("report_date")) for r in document.by_date if r.get("report_date") != day})
        log.warning("sales & traffic %s: ignoring byDate rows for other days %s", where, ", ".join(others))

    head = (marketplace.code, marketplace.marketplace_id, day)

    def tail(row: Mapping[str, Any]) -> tuple[str, str]:
        return (row.get("source_id") or report_id, source)

    def date_rows() -> Iterator[Sequence[Any]]:
        return _date_rows(marketplace, {day: by_date}, report_id, source)

    def asin_rows() -> Iterator[Sequence[Any]]:
        for row in document.by_asin:
            yield (
                *head,
                row.get("parent_asin"),
                row.get("child_asin") or "",
                row.get("sku") or "",
                row.get("currency_code"),
                *_values(row, _ST_ASIN_FIELD_COLUMNS, _ST_ASIN_VALUES),
                *tail(row),
            )

    with replacing_partitions(
        conn,
        table=ST_BY_DATE_TABLE,
        partition_keys=[f"{marketplace.code}/{day.isoformat()}"],
        deletes=[
            (f"delete from {table} where marketplace = %s and report_date = %s", (marketplace.code, day))
            for table in (ST_BY_DATE_TABLE, ST_BY_ASIN_TABLE)
        ],
        what=f"sales & traffic {where}",
    ):
        n_date = copy_rows(conn, ST_BY_DATE_TABLE, ST_BY_DATE_COLUMNS, date_rows(), where)
        n_asin = copy_rows(conn, ST_BY_ASIN_TABLE, ST_BY_ASIN_COLUMNS, asin_rows(), where)
    log.info("sales & traffic %s: %d byDate, %d byAsin rows", where, n_date, n_asin)
    return n_date, n_asin


def _date_rows(
    marketplace: Marketplace,
    by_day: Mapping[dt.date, Sequence[Mapping[str, Any]]],
    report_id: str,
    source: str,
) -> Iterator[Sequence[Any]]:
    for day, rows in by_day.items():
        head = (marketplace.code, marketplace.marketplace_id, day)
        for row in rows:
            yield (
                *head,
                row.get("currency_code"),
                *_values(row, _ST_DATE_FIELD_COLUMNS, _ST_DATE_VALUES),
                row.get("source_id") or report_id,
                source,
            )


#: Columns of the by-ASIN COPY from Data Kiosk value rows: a row's values (``data_kiosk_rows.ROW_FIELDS``,
#: named as the catalogue names them), then the columns constant per (day, query), written once per batch
#: as a CSV suffix. The parser's names are checked against this table's columns here, at import.
_KIOSK_SUFFIX_COLUMNS = ("marketplace", "marketplace_id", "report_date", "report_id", "source")
ST_BY_ASIN_ROW_COLUMNS: tuple[str, ...] = (*KIOSK_ROW_FIELDS, *_KIOSK_SUFFIX_COLUMNS)
if sorted(ST_BY_ASIN_ROW_COLUMNS) != sorted(ST_BY_ASIN_COLUMNS):
    raise RuntimeError(
        f"{ST_BY_ASIN_TABLE}: the Data Kiosk row fields {KIOSK_ROW_FIELDS} do not fill its columns "
        f"{ST_BY_ASIN_COLUMNS} exactly once"
    )


class DaysLoaded(dict[dt.date, tuple[int, int]]):
    """(byDate rows, byAsin rows) written per replaced day, plus ``ignored``: by-ASIN rows of other
    marketplaces or days in the documents, not loaded."""

    ignored: int = 0


def replace_sales_traffic_days(
    conn: psycopg.Connection,
    *,
    marketplace: Marketplace,
    days: Sequence[dt.date],
    by_date: Mapping[dt.date, Sequence[Mapping[str, Any]]],
    by_asin: Iterable[tuple[str, Iterable[Any]]],
    report_id: str,
    source: str = "data_kiosk",
) -> DaysLoaded:
    """Replace ``days`` of ``marketplace`` (both tables) in ONE transaction, by-ASIN rows streamed.

    ``by_date``: each day's byDate records (dicts, as for :func:`replace_sales_traffic_day`; a record's
    ``source_id`` overrides ``report_id``). ``by_asin``: per document, (query id of its rows, its
    ``data_kiosk_rows.RowBatch`` es); batches of other marketplaces or days are skipped. The batches are
    read while the COPY runs: each is rendered (``encode_csv_rows``) and written at once; it is small
    enough (one 256 KB chunk of a document) for the socket to hold, so the server loads it while the next
    one is parsed, without a writer thread waiting for the GIL; an error in a document
    (or in the database) rolls every day back to its previous rows. Returns the rows written per day.
    """
    code, marketplace_id = marketplace.code, marketplace.marketplace_id
    wanted = frozenset(days)
    span = f"{min(days).isoformat()}..{max(days).isoformat()} ({len(wanted)} days)" if days else "no day"
    where = f"marketplace {code}, days {span}, report {report_id}"
    dates = {day: [r for r in by_date.get(day, ()) if r.get("report_date") == day] for day in sorted(wanted)}
    loaded = DaysLoaded({day: (len(rows), 0) for day, rows in dates.items()})
    if not wanted:  # nothing to replace; the documents are still read through (a broken one raises)
        loaded.ignored = sum(len(batch.rows) for _, batches in by_asin for batch in batches)
        return loaded
    asin_counts = dict.fromkeys(wanted, 0)
    suffixes: dict[tuple[dt.date, str], bytes] = {}

    def blocks() -> Iterator[bytes]:
        for query_id, batches in by_asin:
            for batch in batches:
                day = batch.day
                if batch.marketplace_id != marketplace_id or day not in wanted:
                    loaded.ignored += len(batch.rows)
                    continue
                suffix = suffixes.get((day, query_id))
                if suffix is None:
                    line = encode_csv_line((code, marketplace_id, day, query_id, source))
                    suffix = suffixes[(day, query_id)] = b"," + line.rstrip(b"\n")
                asin_counts[day] += len(batch.rows)
                yield encode_csv_rows(batch.rows, suffix)

    with replacing_partitions(
        conn,
        table=ST_BY_DATE_TABLE,
        partition_keys=[f"{code}/{day.isoformat()}" for day in dates],
        deletes=[
            (f"delete from {table} where marketplace = %s and report_date = any(%s)", (code, list(dates)))
            for table in (ST_BY_DATE_TABLE, ST_BY_ASIN_TABLE)
        ],
        what=f"sales & traffic {where}",
    ):
        copy_rows(
            conn,
            ST_BY_DATE_TABLE,
            ST_BY_DATE_COLUMNS,
            _date_rows(marketplace, dates, report_id, source),
            where,
        )
        copy_csv_blocks(conn, ST_BY_ASIN_TABLE, ST_BY_ASIN_ROW_COLUMNS, blocks())
    loaded.update((day, (n, asin_counts[day])) for day, (n, _) in loaded.items())
    log.info(
        "sales & traffic %s: %d byDate, %d byAsin rows (%d rows of other days or marketplaces skipped)",
        where, sum(n for n, _ in loaded.values()), sum(asin_counts.values()), loaded.ignored,
    )  # fmt: skip
    return loaded
