"""Order report: the Arrow path (``OrderReportRows.record_batches`` → ``order_tables.order_item_csv``) loads exactly what the row-by-row path
loads, and every document it does not take as is goes to the row-by-row parser (same rows or same error)."""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from chalkola_pipelines.amazon.errors import OrderReportFormatError
from chalkola_pipelines.amazon.parsers.orders_report import (
    OrderReportNeedsRowParser,
    OrderReportRows,
    iter_order_report_rows,
)
from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_OFFICIAL_HEADER
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse.order_tables import order_item_csv, replace_order_items
from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError

US = get_marketplace("US")
JP = get_marketplace("JP")
DAYS = [dt.date(2025, 3, 1), dt.date(2025, 3, 2)]


def _line(**values: str) -> str:
    fields = {h: "" for h in ORDER_REPORT_OFFICIAL_HEADER}
    fields.update({
        "order-status": "Shipped", "sales-channel": "Amazon.com", "sku": "SKU-1", "asin": "B0TEST0001",
        "item-status": "Shipped", "quantity": "1", "currency": "USD", "item-price": "19.99",
        "ship-city": "Springfield-PII", "ship-postal-code": "99999-PII", "ship-country": "US",
        "is-business-order": "false",
    })  # fmt: skip
    extra = values.pop("extra", "x")
    fields.update({k.replace("_", "-"): v for k, v in values.items()})
    return "\t".join([*(fields[h] for h in ORDER_REPORT_OFFICIAL_HEADER), extra])


HEADER = "\t".join([*ORDER_REPORT_OFFICIAL_HEADER, "tax-collection-model"])


def _tricky_lines() -> list[str]:
    return [
        HEADER,
        _line(
            amazon_order_id="111-1",
            purchase_date="2025-03-01T08:00:00+00:00",
            product_name='a "quoted", name',
        ),
        _line(amazon_order_id="111-2", purchase_date="2025-03-01T23:30:00Z", item_price="+5", item_tax=".5"),
        _line(
            amazon_order_id="111-1",
            purchase_date="2025-03-01T08:00:00+00:00",
            sku=" padded ",
            item_price="5.",
        ),
        _line(amazon_order_id="111-3", purchase_date="2025-03-02T07:59:59.123456+00:00", item_price="1.005"),
        _line(
            amazon_order_id="111-4", purchase_date="2025-03-03T06:00:00+09:00", quantity="+2", extra='q"\\,'
        ),
        _line(amazon_order_id="111-5", purchase_date="2025-03-01 12:00:00-05:00", is_business_order="YES"),
        _line(amazon_order_id="111-6", purchase_date="2025-02-28T12:00:00+00:00"),  # Feb 28 local: ignored
        _line(
            amazon_order_id="111-1",
            purchase_date="2025-03-01T09:00:00+00:00",
            product_name="Caf\u00e9 \u2603 \\N",
        ),
        _line(amazon_order_id="111-7", purchase_date="2025-03-02T20:00:00+00:00", item_price="", currency=""),
        _line(
            amazon_order_id="111-8",
            purchase_date="2025-03-02T20:00:00+00:00",
            is_business_order="No",
            extra="",
        ),
        _line(
            amazon_order_id="111-9",
            purchase_date="2025-03-02T21:00:00+00:00",
            item_promotion_discount="-0.00",
        ),
    ]


def _document(lines: list[str], *, newline: str = "\n", encoding: str = "utf-8", bom: bool = False) -> bytes:
    return ("\ufeff" if bom else "").encode(encoding) + (newline.join(lines) + newline).encode(encoding)


def _wrapped(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from rows


def _load(db: psycopg.Connection, data: bytes, *, wrapped: bool, mkt: Any = US) -> tuple[dict, int, list]:
    rows = iter_order_report_rows(io.BytesIO(data))
    counts = replace_order_items(
        db, marketplace=mkt, days=DAYS, rows=_wrapped(rows) if wrapped else rows, report_id="r-1"
    )
    table = db.execute(
        "select to_jsonb(t) - 'loaded_at' from raw_amazon.sp_order_items t"
        " order by order_date, amazon_order_id, line_number"
    ).fetchall()
    return dict(counts), counts.ignored, [r[0] for r in table]


def _fast(data: bytes, mkt: Any = US) -> bool:
    rows = iter_order_report_rows(io.BytesIO(data))
    assert isinstance(rows, OrderReportRows)
    prepared = order_item_csv(
        rows, local_date_of=mkt.local_date_of, keep=set(DAYS), marketplace="US", report_id="r"
    )
    if prepared is None:
        return False
    try:
        b"".join(prepared)
    except OrderReportNeedsRowParser:
        return False
    return True


def _same_both_ways(db: psycopg.Connection, data: bytes, mkt: Any = US) -> list:
    fast = _load(db, data, wrapped=False, mkt=mkt)
    slow = _load(db, data, wrapped=True, mkt=mkt)
    assert fast == slow
    return fast[2]


def test_fast_path_loads_exactly_what_the_row_path_loads(db: psycopg.Connection) -> None:
    data = _document(_tricky_lines())
    assert _fast(data)
    table = _same_both_ways(db, data)
    by_id = {(r["amazon_order_id"], r["line_number"]): r for r in table}
    assert by_id[("111-1", 3)]["product_name"] == "Caf\u00e9 \u2603 \\N"
    assert by_id[("111-1", 2)]["sku"] == "padded"
    assert by_id[("111-3", 1)]["item_price"] == 1.01  # numeric(18,2) rounds 1.005 both ways
    assert by_id[("111-5", 1)]["is_business_order"] is True
    assert by_id[("111-7", 1)]["item_price"] is None and by_id[("111-7", 1)]["currency"] is None
    assert by_id[("111-4", 1)]["extra_columns"] == {"tax-collection-model": 'q"\\,'}
    assert ("111-6", 1) not in by_id
    assert "PII" not in repr(table)


@pytest.mark.parametrize("mkt", [US, JP], ids=["US", "JP"])
def test_fast_path_local_days_across_midnight_and_dst(db: psycopg.Connection, mkt: Any) -> None:
    lines = [HEADER]
    start = dt.datetime(2025, 2, 28, 0, 0, tzinfo=dt.UTC)
    for minutes in range(0, 4 * 24 * 60, 7):  # every 7 minutes over four days
        at = start + dt.timedelta(minutes=minutes)
        lines.append(
            _line(amazon_order_id=f"o-{minutes % 50}", purchase_date=at.isoformat(timespec="seconds"))
        )
    data = _document(lines)
    assert _fast(data, mkt)
    _same_both_ways(db, data, mkt)


def test_dst_change_day_in_the_us(db: psycopg.Connection) -> None:
    lines = [HEADER]
    start = dt.datetime(2025, 3, 8, 0, 0, tzinfo=dt.UTC)  # US DST starts 2025-03-09 10:00 UTC
    for minutes in range(0, 3 * 24 * 60, 5):
        at = start + dt.timedelta(minutes=minutes)
        lines.append(_line(amazon_order_id=f"o-{minutes}", purchase_date=at.isoformat(timespec="seconds")))
    data = _document(lines)
    rows = iter_order_report_rows(io.BytesIO(data))
    days = [dt.date(2025, 3, 8), dt.date(2025, 3, 9), dt.date(2025, 3, 10)]
    prepared = order_item_csv(
        rows, local_date_of=US.local_date_of, keep=set(days), marketplace="US", report_id="r"
    )
    assert prepared is not None
    assert b"".join(prepared).count(b"\n") == sum(prepared.rows_per_day.values())
    expected: dict[dt.date, int] = {}
    for minutes in range(0, 3 * 24 * 60, 5):
        day = US.local_date_of(start + dt.timedelta(minutes=minutes))
        if day in days:
            expected[day] = expected.get(day, 0) + 1
    assert prepared.rows_per_day == expected


@pytest.mark.parametrize(
    "variant",
    ["crlf", "bom", "blank_lines", "unicode_spaces"],
)
def test_fast_path_variants(db: psycopg.Connection, variant: str) -> None:
    lines = _tricky_lines()
    if variant == "crlf":
        data = _document(lines, newline="\r\n")
    elif variant == "bom":
        data = _document(lines, bom=True)
    elif variant == "blank_lines":
        data = _document([*lines[:3], "", *lines[3:], ""])
    else:  # every character str.strip() removes, at the edges of values (and inside, kept)
        for n, space in enumerate("\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u202f\u205f\u3000"):
            lines.append(
                _line(
                    amazon_order_id=f"{space}111-{20 + n}",
                    purchase_date=f"2025-03-02T01:00:00+00:00{space}",
                    sku=f"{space}S{space}K{space}",
                    item_price=f"{space}1.50",
                    extra=f"{space}e",
                )
            )
        data = _document(lines)
    assert _fast(data)
    _same_both_ways(db, data)


@pytest.mark.parametrize(
    "variant",
    ["header_repeat", "fewer_fields", "cp1252", "quantity_1.0", "lone_cr", "whitespace_line"],
)
def test_documents_the_fast_path_does_not_take_load_row_by_row(db: psycopg.Connection, variant: str) -> None:
    lines = _tricky_lines()
    encoding = "utf-8"
    if variant == "header_repeat":
        lines.insert(3, HEADER)
    elif variant == "fewer_fields":
        lines[2] = "\t".join(lines[2].split("\t")[:-3])
    elif variant == "cp1252":
        lines[1] = lines[1].replace('a "quoted"', "Caf\u00e9")
        lines[8] = lines[8].replace("\u2603", "")
        encoding = "cp1252"
    elif variant == "quantity_1.0":
        lines.append(
            _line(amazon_order_id="111-10", purchase_date="2025-03-02T01:00:00+00:00", quantity="1.0")
        )
    elif variant == "lone_cr":
        lines.append(_line(amazon_order_id="111-10", purchase_date="2025-03-02T01:00:00+00:00", sku="a\rb"))
    else:
        lines.insert(2, "  ")
    data = _document(lines, encoding=encoding)
    assert not _fast(data)
    if variant == "lone_cr":  # both paths read "a\rb" the same way: not at all (it is one line for Python)
        table = _same_both_ways(db, data)
        assert any(r["sku"] == "a\rb" for r in table)
        return
    _same_both_ways(db, data)


def test_fast_path_errors_name_line_and_column_and_keep_old_rows(db: psycopg.Connection) -> None:
    good = _document(_tricky_lines())
    _load(db, good, wrapped=False)
    before = db.execute("select count(*) from raw_amazon.sp_order_items").fetchone()[0]
    assert before > 0
    bad_money = _tricky_lines() + [
        _line(amazon_order_id="111-10", purchase_date="2025-03-02T01:00:00+00:00", item_tax="1,50")
    ]
    with pytest.raises(OrderReportFormatError, match=r"line 13.*item-tax"):
        _load(db, _document(bad_money), wrapped=False)
    more_fields = _tricky_lines()
    more_fields[4] += "\tone-too-many"
    with pytest.raises(OrderReportFormatError, match="line 5"):
        _load(db, _document(more_fields), wrapped=False)
    truncated = _document(_tricky_lines())[:-40]
    with pytest.raises(OrderReportFormatError, match="truncated"):
        _load(db, truncated, wrapped=False)
    bad_day = _tricky_lines() + [_line(amazon_order_id="111-10", purchase_date="2025-02-30T01:00:00+00:00")]
    with pytest.raises(OrderReportFormatError, match="purchase-date"):
        _load(db, _document(bad_day), wrapped=False)
    no_offset = _tricky_lines() + [_line(amazon_order_id="111-10", purchase_date="2025-03-02T01:00:00")]
    with pytest.raises(OrderReportFormatError, match="UTC offset"):
        _load(db, _document(no_offset), wrapped=False)
    blank_id = _tricky_lines() + [_line(amazon_order_id=" ", purchase_date="2025-03-02T01:00:00+00:00")]
    with pytest.raises(OrderReportFormatError, match="amazon-order-id is blank"):
        _load(db, _document(blank_id), wrapped=False)
    huge_quantity = _tricky_lines() + [
        _line(amazon_order_id="111-10", purchase_date="2025-03-02T01:00:00+00:00", quantity="99999999999")
    ]
    with pytest.raises(WarehouseLoadError, match="previous rows"):
        _load(db, _document(huge_quantity), wrapped=False)
    assert db.execute("select count(*) from raw_amazon.sp_order_items").fetchone()[0] == before


def test_missing_headers_message_is_short(db: psycopg.Connection) -> None:
    document = (
        b'{"reportSpecification": {"reportType": "GET_SALES_AND_TRAFFIC_REPORT"}, "x": "'
        + b"y" * 5000
        + b'"}\n'
    )
    for wrapped in (False, True):
        with pytest.raises(OrderReportFormatError, match="required header") as info:
            _load(db, document, wrapped=wrapped)
        assert len(str(info.value)) < 600


def test_arrow_trims_the_same_characters_as_str_strip() -> None:
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    trimmed = pc.utf8_trim_whitespace(pa.array([f"{c}a{c}" for c in chars])).to_pylist()
    assert trimmed == [f"{c}a{c}".strip() for c in chars]


@pytest.mark.parametrize("tail", ["", "quantity_1.0", "fewer_fields", "bad_money"])
def test_small_blocks_line_numbers_and_late_fallback(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, tail: str
) -> None:
    from chalkola_pipelines.amazon.parsers import orders_report

    monkeypatch.setattr(orders_report, "_BLOCK_BYTES", 4096)  # many blocks; orders span them
    lines = [HEADER]
    for i in range(400):
        lines.append(
            _line(
                amazon_order_id=f"o-{(i * 7) % 60}", purchase_date=f"2025-03-0{1 + i % 2}T12:{i % 60:02d}:00Z"
            )
        )
    if tail == "quantity_1.0":
        lines.append(_line(amazon_order_id="o-1", purchase_date="2025-03-02T01:00:00+00:00", quantity="1.0"))
    elif tail == "fewer_fields":
        lines.append(
            # trailing empty fields dropped, as Amazon does: the line ends after item-price
            "\t".join(_line(amazon_order_id="o-1", purchase_date="2025-03-02T01:00:00Z").split("\t")[:16])
        )
    elif tail == "bad_money":
        lines.append(_line(amazon_order_id="o-1", purchase_date="2025-03-02T01:00:00Z", item_price="USD 1"))
    data = _document(lines)
    assert _fast(data) == (tail == "")
    if tail == "bad_money":
        with pytest.raises(OrderReportFormatError, match=r"line 402: item-price"):
            _load(db, data, wrapped=False)
        assert db.execute("select count(*) from raw_amazon.sp_order_items").fetchone()[0] == 0
        return
    table = _same_both_ways(db, data)
    assert max(r["line_number"] for r in table) > 5


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("quantity", {"quantity": ""}),
        ("sales-channel", {"sales_channel": " "}),
        ("asin", {"asin": ""}),
        ("currency", {"currency": ""}),  # blank where item-price has a value
    ],
)
def test_a_missing_key_value_in_the_last_block_loads_nothing(
    db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, field: str, change: dict[str, str]
) -> None:
    """The Arrow path has streamed earlier blocks to COPY when it meets the blank value: the row-by-row
    parser names the line and field, the transaction rolls back, the previous rows stay."""
    from chalkola_pipelines.amazon.errors import OrderReportMissingFieldError
    from chalkola_pipelines.amazon.parsers import orders_report

    good = _document(_tricky_lines())
    _, _, before = _load(db, good, wrapped=False)
    monkeypatch.setattr(orders_report, "_BLOCK_BYTES", 4096)
    lines = [HEADER] + [
        _line(amazon_order_id=f"o-{i}", purchase_date=f"2025-03-0{1 + i % 2}T12:{i % 60:02d}:00Z")
        for i in range(300)
    ]
    data = _document(
        [*lines, _line(amazon_order_id="o-last", purchase_date="2025-03-02T01:00:00Z", **change)]
    )
    assert _fast(_document(lines)) and not _fast(data)
    with pytest.raises(OrderReportMissingFieldError) as info:
        _load(db, data, wrapped=False)
    assert info.value.field == field and info.value.line == 302 and info.value.row == "line 302"
    assert db.execute(
        "select to_jsonb(t) - 'loaded_at' from raw_amazon.sp_order_items t"
        " order by order_date, amazon_order_id, line_number"
    ).fetchall() == [(r,) for r in before]
    # a blank currency without a price (a cancelled or pending item) is fine
    ok = _document(
        [
            *lines,
            _line(amazon_order_id="o-c", purchase_date="2025-03-02T01:00:00Z", currency="", item_price=""),
        ]
    )
    assert _fast(ok)
