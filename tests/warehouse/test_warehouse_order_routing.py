"""A region-wide order document loaded for one marketplace: rows routed by sales-channel, MCF rows to their own
table (idempotently), unknown channels refused — the same on the Arrow path and the row-by-row path."""

from __future__ import annotations

import datetime as dt
import io

import psycopg
import pytest

from chalkola_pipelines.amazon.parsers.orders_report import iter_order_report_rows
from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_OFFICIAL_HEADER
from chalkola_pipelines.marketplaces import get_marketplace, local_days_window_utc
from chalkola_pipelines.warehouse.order_routing import OrderRouting
from chalkola_pipelines.warehouse.order_tables import replace_order_items
from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError

US, CA, MX = get_marketplace("US"), get_marketplace("CA"), get_marketplace("MX")
DAY = dt.date(2025, 3, 3)
WINDOW = local_days_window_utc(US, DAY, DAY)
WINDOW = (WINDOW[0], WINDOW[1] - dt.timedelta(seconds=1))


def _document(channels: list[tuple[str, str]]) -> bytes:
    lines = ["\t".join(ORDER_REPORT_OFFICIAL_HEADER)]
    for i, (order_id, channel) in enumerate(channels):
        fields = dict.fromkeys(ORDER_REPORT_OFFICIAL_HEADER, "")
        fields.update({
            "amazon-order-id": order_id, "purchase-date": f"2025-03-03T{10 + i:02d}:00:00+00:00",
            "sales-channel": channel, "asin": "B0TEST0001", "sku": "SKU-1", "quantity": "1",
            "order-status": "Shipped", "is-business-order": "false",
        })  # fmt: skip
        lines.append("\t".join(fields[h] for h in ORDER_REPORT_OFFICIAL_HEADER))
    return ("\n".join(lines) + "\n").encode()


DOC = _document([
    ("111-0000001-0000001", "Amazon.com"), ("702-0000001-0000001", "Amazon.ca"),
    ("S01-0000001-0000001", "Non-Amazon"), ("701-0000001-0000001", "Amazon.com.mx"),
    ("111-0000002-0000002", "amazon.com"), ("503-0000001-0000001", "Amazon.com.br"),
])  # fmt: skip


def _load(db: psycopg.Connection, marketplace, data: bytes, *, arrow: bool, report_id: str = "r1"):
    rows = iter_order_report_rows(io.BytesIO(data))
    routing = OrderRouting.for_document(marketplace, [US, CA, MX], WINDOW)
    return replace_order_items(
        db,
        marketplace=marketplace,
        days=[DAY],
        rows=rows if arrow else (r for r in rows),
        report_id=report_id,
        routing=routing,
    )


@pytest.mark.parametrize("arrow", [True, False])
def test_rows_go_to_their_marketplace_and_mcf_to_its_table(db: psycopg.Connection, arrow: bool) -> None:
    counts = _load(db, US, DOC, arrow=arrow)
    assert counts[DAY] == 2
    assert counts.routed.other_marketplaces == {"Amazon.ca": 1, "Amazon.com.mx": 1}
    assert counts.routed.unconfigured == {"Amazon.com.br": 1}  # BR is not configured: counted, not loaded
    assert counts.routed.non_amazon == 1
    assert db.execute(
        "select marketplace, amazon_order_id from raw_amazon.sp_order_items order by 2"
    ).fetchall() == [
        ("US", "111-0000001-0000001"),
        ("US", "111-0000002-0000002"),
    ]
    mcf = db.execute(
        "select region, amazon_order_id, sales_channel from raw_amazon.sp_mcf_order_items"
    ).fetchall()
    assert mcf == [("na", "S01-0000001-0000001", "Non-Amazon")]
    # the same document for CA: CA's row, the same MCF row, US untouched
    before = db.execute("select * from raw_amazon.sp_order_items order by 1, 2, 3, 4").fetchall()
    assert _load(db, CA, DOC, arrow=arrow, report_id="r1")[DAY] == 1
    assert (
        db.execute(
            "select * from raw_amazon.sp_order_items where marketplace = 'US' order by 1, 2, 3, 4"
        ).fetchall()
        == before
    )
    assert db.execute("select count(*) from raw_amazon.sp_mcf_order_items").fetchone() == (1,)


@pytest.mark.parametrize("arrow", [True, False])
def test_an_unknown_sales_channel_fails_and_changes_nothing(db: psycopg.Connection, arrow: bool) -> None:
    _load(db, US, DOC, arrow=arrow)
    bad = _document([("111-0000003-0000003", "Amazon.com"), ("999-0000001-0000001", "SI Prod Marketplace")])
    with pytest.raises(
        WarehouseLoadError, match=r"999-0000001-0000001 has sales-channel 'SI Prod Marketplace'"
    ):
        _load(db, US, bad, arrow=arrow, report_id="r2")
    assert db.execute("select count(*), min(report_id) from raw_amazon.sp_order_items").fetchone() == (
        2,
        "r1",
    )
    assert db.execute("select count(*) from raw_amazon.sp_mcf_order_items").fetchone() == (1,)
