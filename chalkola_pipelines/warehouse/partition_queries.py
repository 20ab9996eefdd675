"""Read-side queries over the loaded partitions (asset checks and asset metadata).

Each function names what it returns; the SQL of the raw tables lives here, next to the loads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import psycopg

from chalkola_pipelines.warehouse.ads_tables import ADS_SP_ADVERTISED_PRODUCT_TABLE
from chalkola_pipelines.warehouse.order_tables import ORDER_ITEMS_TABLE
from chalkola_pipelines.warehouse.sales_traffic_tables import ST_BY_ASIN_TABLE, ST_BY_DATE_TABLE

#: A "rows per day" function: (connection, marketplace code, days) → {day: rows in the table}.
RowsPerDay = Callable[[psycopg.Connection, str, Sequence[dt.date]], dict[dt.date, int]]


def _rows_per_day(
    conn: psycopg.Connection, table: str, day_column: str, marketplace_code: str, days: Sequence[dt.date]
) -> dict[dt.date, int]:
    sql = (
        f"select {day_column}, count(*) from {table} "
        f"where marketplace = %s and {day_column} = any(%s) group by {day_column}"
    )
    return {row[0]: int(row[1]) for row in conn.execute(sql, (marketplace_code, list(days))).fetchall()}


def sales_traffic_by_asin_rows_per_day(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date]
) -> dict[dt.date, int]:
    """Rows of ``sp_sales_traffic_by_asin`` per ``report_date`` among ``days`` (days without rows absent)."""
    return _rows_per_day(conn, ST_BY_ASIN_TABLE, "report_date", marketplace_code, days)


def sales_traffic_by_date_rows_per_day(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date]
) -> dict[dt.date, int]:
    """Rows of ``sp_sales_traffic_by_date`` per ``report_date`` among ``days`` (days without rows absent)."""
    return _rows_per_day(conn, ST_BY_DATE_TABLE, "report_date", marketplace_code, days)


def order_item_rows_per_day(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date]
) -> dict[dt.date, int]:
    """Rows of ``sp_order_items`` per ``order_date`` among ``days`` (days without rows absent)."""
    return _rows_per_day(conn, ORDER_ITEMS_TABLE, "order_date", marketplace_code, days)


def sales_traffic_units_per_day(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date]
) -> dict[dt.date, int]:
    """Units ordered per ``report_date`` among ``days`` from ``sp_sales_traffic_by_date`` (days with none absent)."""
    sql = (
        f"select report_date, sum(units_ordered) from {ST_BY_DATE_TABLE} where marketplace = %s "
        "and report_date = any(%s) group by report_date having sum(units_ordered) > 0"
    )
    return {row[0]: int(row[1]) for row in conn.execute(sql, (marketplace_code, list(days))).fetchall()}


def ads_advertised_product_rows_per_day(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date]
) -> dict[dt.date, int]:
    """Rows of ``ads_sp_advertised_product`` per ``report_date`` among ``days`` (days without rows absent)."""
    return _rows_per_day(conn, ADS_SP_ADVERTISED_PRODUCT_TABLE, "report_date", marketplace_code, days)


def sales_traffic_by_asin_rows_on_day(conn: psycopg.Connection, marketplace_code: str, day: dt.date) -> int:
    """Rows of ``sp_sales_traffic_by_asin`` of one marketplace-day."""
    return sales_traffic_by_asin_rows_per_day(conn, marketplace_code, [day]).get(day, 0)


def order_item_rows_on_day(conn: psycopg.Connection, marketplace_code: str, day: dt.date) -> int:
    """Rows of ``sp_order_items`` of one marketplace-day."""
    return order_item_rows_per_day(conn, marketplace_code, [day]).get(day, 0)


def ads_advertised_product_rows_on_day(conn: psycopg.Connection, marketplace_code: str, day: dt.date) -> int:
    """Rows of ``ads_sp_advertised_product`` of one marketplace-day."""
    return ads_advertised_product_rows_per_day(conn, marketplace_code, [day]).get(day, 0)


def sales_traffic_totals_per_day(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date], metrics: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Per loaded byDate day: ``(report_date, <byDate value of each metric>..., <sum over byAsin of each
    metric, 0 without byAsin rows>...)``, ordered by day. ``metrics``: columns of both tables."""
    select_date = ", ".join(f"d.{m}" for m in metrics)
    select_asin = ", ".join(f"coalesce(a.{m}, 0)" for m in metrics)
    sums = ", ".join(f"sum({m}) as {m}" for m in metrics)
    sql = f"""
        with a as (
            select report_date, {sums} from {ST_BY_ASIN_TABLE}
            where marketplace = %(m)s and report_date = any(%(days)s) group by report_date
        )
        select d.report_date, {select_date}, {select_asin}
        from {ST_BY_DATE_TABLE} d left join a using (report_date)
        where d.marketplace = %(m)s and d.report_date = any(%(days)s)
        order by d.report_date
    """
    return [tuple(row) for row in conn.execute(sql, {"m": marketplace_code, "days": list(days)}).fetchall()]


def ads_attributed_and_ordered_sales_per_asin_day(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date]
) -> list[tuple[dt.date, str, Decimal, Decimal]]:
    """Per (day, advertised ASIN) of the days whose S&T byDate is loaded: ``(day, asin, ad-attributed
    sales (same SKU 7 d, else all 7 d), S&T ordered sales of that child ASIN or 0)``, ordered."""
    if not days:
        return []
    sql = f"""
        with ads as (
            select report_date, advertised_asin,
                   sum(coalesce(attributed_sales_same_sku_7d, sales_7d, 0)) as attributed
            from {ADS_SP_ADVERTISED_PRODUCT_TABLE}
            where marketplace = %(m)s and report_date = any(%(days)s) and advertised_asin is not null
            group by report_date, advertised_asin
        ), st_days as (
            select report_date from {ST_BY_DATE_TABLE}
            where marketplace = %(m)s and report_date = any(%(days)s)
        ), st as (
            select report_date, child_asin, sum(ordered_product_sales) as ordered
            from {ST_BY_ASIN_TABLE}
            where marketplace = %(m)s and report_date = any(%(days)s)
            group by report_date, child_asin
        )
        select ads.report_date, ads.advertised_asin, ads.attributed, coalesce(st.ordered, 0)
        from ads join st_days using (report_date)
        left join st on st.report_date = ads.report_date and st.child_asin = ads.advertised_asin
        order by ads.report_date, ads.advertised_asin
    """
    return [tuple(row) for row in conn.execute(sql, {"m": marketplace_code, "days": list(days)}).fetchall()]


def order_item_rows_of_other_sales_channels(
    conn: psycopg.Connection, marketplace_code: str, sales_channel: str, days: Sequence[dt.date]
) -> dict[str, int]:
    """Rows of ``sp_order_items`` under the marketplace's ``days`` whose ``sales_channel`` is not
    ``sales_channel`` (case-insensitive; NULL counts as other): ``{channel or "(blank)": rows}``."""
    sql = f"""
        select coalesce(sales_channel, '(blank)'), count(*) from {ORDER_ITEMS_TABLE}
        where marketplace = %s and order_date = any(%s)
          and lower(coalesce(sales_channel, '')) <> lower(%s)
        group by 1 order by 1
    """
    rows = conn.execute(sql, (marketplace_code, list(days), sales_channel)).fetchall()
    return {str(channel): int(n) for channel, n in rows}


def order_and_sales_traffic_units_per_asin_day(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date]
) -> list[tuple[dt.date, str, int, int]]:
    """Per (day, child ASIN) of the days whose S&T byAsin is loaded: ``(day, asin, units in the order report
    (quantity of every item; cancelled items carry 0), S&T units ordered)``; an ASIN missing on one side
    counts 0 there. Ordered by day and ASIN."""
    if not days:
        return []
    sql = f"""
        with st_days as (
            select distinct report_date as day from {ST_BY_ASIN_TABLE}
            where marketplace = %(m)s and report_date = any(%(days)s)
        ), orders as (
            select order_date as day, asin, sum(coalesce(quantity, 0)) as units from {ORDER_ITEMS_TABLE}
            where marketplace = %(m)s and order_date = any(%(days)s) and asin is not null
            group by 1, 2
        ), st as (
            select report_date as day, child_asin as asin, sum(coalesce(units_ordered, 0)) as units
            from {ST_BY_ASIN_TABLE}
            where marketplace = %(m)s and report_date = any(%(days)s) and child_asin <> ''
            group by 1, 2
        )
        select day, asin, coalesce(orders.units, 0), coalesce(st.units, 0)
        from orders full join st using (day, asin)
        where day in (select day from st_days)
        order by day, asin
    """
    return [
        (row[0], row[1], int(row[2]), int(row[3]))
        for row in conn.execute(sql, {"m": marketplace_code, "days": list(days)}).fetchall()
    ]


def known_child_asins(conn: psycopg.Connection, marketplace_codes: Sequence[str]) -> dict[str, set[str]]:
    """Every child ASIN sales & traffic ever held per marketplace (the Data Kiosk Trends filters add those
    to the ones a ByAsin query finds in the window, so an ASIN is asked for even if discovery missed it)."""
    rows = conn.execute(
        f"select distinct marketplace, child_asin from {ST_BY_ASIN_TABLE} "
        "where marketplace = any(%s) and child_asin <> ''",
        (list(marketplace_codes),),
    ).fetchall()
    out: dict[str, set[str]] = {code: set() for code in marketplace_codes}
    for code, asin in rows:
        out[code].add(asin)
    return out


def sales_traffic_sources_on_days(
    conn: psycopg.Connection, marketplace_code: str, days: Sequence[dt.date]
) -> dict[dt.date, str]:
    """Which source (report | data_kiosk) the byAsin rows of each loaded day came from."""
    rows = conn.execute(
        f"select report_date, min(source) from {ST_BY_ASIN_TABLE} "
        "where marketplace = %s and report_date = any(%s) group by report_date",
        (marketplace_code, list(days)),
    ).fetchall()
    return {day: source for day, source in rows}
