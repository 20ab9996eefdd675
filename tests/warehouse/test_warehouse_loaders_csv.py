"""The loaders' CSV rendering (msgspec → COPY csv): every value comes back exactly as given."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_COLUMNS
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse.order_tables import replace_order_items
from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError

US = get_marketplace("US")
DAY = dt.date(2025, 3, 1)
NOON = dt.datetime(2025, 3, 1, 20, 0, tzinfo=dt.UTC)  # 12:00 in Los Angeles
TRICKY = [
    "plain",
    "",
    "null",
    'say "hi"',
    "back\\slash",
    "line\nbreak",
    "tab\there",
    "cr\rhere",
    "],[",
    'a","b',
    "ünïcødé 😀 \u2028",
    "\\N",
    "\\.",
    ",",
]


def _row(i: int, text: str, **values: object) -> dict:
    row: dict = {c.column: None for c in ORDER_REPORT_COLUMNS}
    row.update(
        amazon_order_id=f"111-{i:07d}",
        purchase_date=NOON + dt.timedelta(seconds=i, microseconds=i),
        last_updated_date=dt.datetime(2025, 3, 2, 1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=9))),
        product_name=text,
        sku=text,
        quantity=i,
        item_price=Decimal("19.990") if i % 2 else Decimal("-0.00"),
        item_tax=Decimal("1E+2") if i % 3 else None,
        is_business_order=(None, True, False)[i % 3],
        extra_columns={"brand-new": text} if i % 4 == 0 and i < 1500 else {},
    )
    row.update(values)
    return row


def test_every_value_round_trips_exactly(db: psycopg.Connection) -> None:
    # 2,600 rows = 3 blocks: the first two with escapes (rendered row by row), the last one without
    rows = [_row(i, TRICKY[i % len(TRICKY)] if i % 5 == 0 and i < 1500 else f"name {i}") for i in range(2600)]
    counts = replace_order_items(db, marketplace=US, days=[DAY], rows=iter(rows), report_id='rep "1"')
    assert counts == {DAY: 2600}
    got = db.execute(
        "select amazon_order_id, purchase_date, last_updated_date, product_name, sku, quantity,"
        " item_price::text, item_tax::text, is_business_order, extra_columns, report_id, merchant_order_id"
        " from raw_amazon.sp_order_items order by amazon_order_id"
    ).fetchall()
    assert len(got) == len(rows)
    for row, loaded in zip(rows, got, strict=True):
        assert loaded == (
            row["amazon_order_id"],
            row["purchase_date"],
            row["last_updated_date"],
            row["product_name"],
            row["sku"],
            row["quantity"],
            "19.99" if row["item_price"] else "0.00",  # numeric(18,2)
            None if row["item_tax"] is None else "100.00",
            row["is_business_order"],
            row["extra_columns"],
            'rep "1"',
            None,
        )


def test_float_and_out_of_range_values_are_refused(db: psycopg.Connection) -> None:
    ok = [_row(i, "x") for i in range(3)]
    replace_order_items(db, marketplace=US, days=[DAY], rows=ok, report_id="old")
    with pytest.raises(WarehouseLoadError, match="column item_price is a float in row 2"):
        replace_order_items(
            db, marketplace=US, days=[DAY], rows=[ok[0], _row(9, "y", item_price=1.5)], report_id="new"
        )
    with pytest.raises(WarehouseLoadError, match="out of range"):
        replace_order_items(
            db, marketplace=US, days=[DAY], rows=[_row(9, "y", quantity=2**70)], report_id="new"
        )
    assert db.execute("select count(*), min(report_id) from raw_amazon.sp_order_items").fetchone() == (
        3,
        "old",
    )
