"""``raw_amazon.sp_sales_traffic_by_date`` and ``_by_asin``: layouts, and replacing a (marketplace, day).

Rows come from ``amazon.parsers.sales_traffic.parse_sales_and_traffic``; both tables of the day are
replaced in one transaction (:mod:`warehouse.partition_copy`).
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg

from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS, ST_BY_DATE_FIELDS
from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.warehouse.partition_copy import copy_rows, replacing_partitions

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
        for row in by_date:
            yield (
                *head,
                row.get("currency_code"),
                *_values(row, _ST_DATE_FIELD_COLUMNS, _ST_DATE_VALUES),
                *tail(row),
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
