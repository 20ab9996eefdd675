"""The order-column filter documents pass through before they reach the landing store."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import pytest

from chalkola_pipelines.amazon.document_filters import TsvColumnFilter
from chalkola_pipelines.amazon.errors import DocumentCorruptError, OrderReportFormatError
from chalkola_pipelines.amazon.parsers.orders_report import iter_order_report_rows
from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_OFFICIAL_HEADER

SAMPLES = Path("/work/shared/samples/orders_tsv")
HEADER = [*ORDER_REPORT_OFFICIAL_HEADER, "number-of-items", "brand-new-column", "buyer-vat-number"]


def _row(i: int, **over: str) -> list[str]:
    values = dict.fromkeys(HEADER, "")
    values.update(
        {
            "amazon-order-id": f"111-0000000-{i:07d}",
            "purchase-date": "2024-02-14T08:15:00+00:00",
            "last-updated-date": "2024-02-15T08:15:00+00:00",
            "order-status": "Shipped",
            "sales-channel": "Amazon.com",
            "sku": f"SKU-{i}",
            "asin": "B000000001",
            "quantity": "2",
            "currency": "USD",
            "item-price": "19.98",
            "ship-city": "SPRINGFIELD",
            "ship-state": "IL",
            "ship-postal-code": "62704-1234",
            "ship-country": "US",
            "cpf": "123.456.789-09",
            "number-of-items": "1",
            "brand-new-column": "mystery",
            "buyer-vat-number": "DE123456789",
        }
    )
    values.update(over)
    return [values[h] for h in HEADER]


def _document(rows: list[list[str]], *, end: str = "\n") -> bytes:
    lines = ["\t".join(HEADER), *("\t".join(r) for r in rows)]
    return (end.join(lines) + end).encode()


def _filtered(data: bytes, chunk: int = 1 << 16) -> tuple[bytes, TsvColumnFilter]:
    out = io.BytesIO()
    sink = TsvColumnFilter(out, name="doc.gz")
    for start in range(0, len(data), chunk):
        sink.write(data[start : start + chunk])
    sink.close()
    return gzip.decompress(out.getvalue()), sink


def test_personal_columns_are_removed_and_unknown_values_dropped() -> None:
    data = _document([_row(i) for i in range(3)])
    text, sink = _filtered(gzip.compress(data), chunk=7)  # gzip in, tiny chunks
    header = text.split(b"\n", 1)[0].decode().split("\t")
    for gone in ("ship-city", "ship-postal-code", "cpf", "buyer-vat-number"):
        assert gone not in header
    assert sorted(sink.report.removed) == ["buyer-vat-number", "cpf", "ship-city", "ship-postal-code"]
    assert sink.report.blanked == ["brand-new-column"]
    assert sink.report.columns_in == len(HEADER) and sink.report.lines == 4
    for value in (b"SPRINGFIELD", b"62704", b"123.456.789", b"DE123456789", b"mystery"):
        assert value not in text
    assert b"\tIL\t" in text and b"\tUS\t" in text  # state and country are kept (not personal data)
    original = list(iter_order_report_rows(io.BytesIO(data)))
    rows = iter_order_report_rows(io.BytesIO(text))
    parsed = list(rows)
    assert rows.drift_columns == ["brand-new-column"]
    assert [r["extra_columns"] for r in parsed] == [{"number-of-items": "1"}] * 3
    assert [{k: v for k, v in r.items() if k != "extra_columns"} for r in parsed] == [
        {k: v for k, v in r.items() if k != "extra_columns"} for r in original
    ]


def test_plain_input_crlf_bom_and_repeated_header_are_kept_line_for_line() -> None:
    rows = [_row(1), _row(2)]
    body = _document(rows, end="\r\n")
    data = (
        b"\xef\xbb\xbf" + body + body.split(b"\r\n", 1)[0] + b"\r\n" + _document([_row(3)]).split(b"\n", 1)[1]
    )
    text, _ = _filtered(data, chunk=5)
    assert text.startswith(b"\xef\xbb\xbfamazon-order-id\t")
    assert text.count(b"\r\n") == 4 and text.count(b"\n") == 5
    parsed = list(iter_order_report_rows(io.BytesIO(text)))  # the repeated header is skipped
    assert [r["amazon_order_id"] for r in parsed] == [f"111-0000000-{i:07d}" for i in (1, 2, 3)]


def test_short_and_long_rows_fail_the_parser_at_the_same_line() -> None:
    short = _row(1)[: HEADER.index("ship-state") + 1]  # Amazon drops trailing empty fields
    text, _ = _filtered(_document([_row(0), short]))
    (a, b) = list(iter_order_report_rows(io.BytesIO(text)))
    assert b["ship_state"] == "IL" and b["ship_country"] is None

    long_row = [*_row(2), "excess", "ship-city-looking value"]
    text, _ = _filtered(_document([_row(0), long_row]))
    assert b"excess" not in text
    with pytest.raises(
        OrderReportFormatError, match=r"line 3: 33 tab-separated fields but the header has 31"
    ):
        list(iter_order_report_rows(io.BytesIO(text)))

    truncated = _document([_row(0)]) + "\t".join(short).encode()  # unterminated, cut short
    text, _ = _filtered(truncated)
    assert not text.endswith(b"\n")
    with pytest.raises(OrderReportFormatError, match="looks truncated"):
        list(iter_order_report_rows(io.BytesIO(text)))


def test_damaged_gzip_is_refused_while_downloading() -> None:
    data = gzip.compress(_document([_row(i) for i in range(50)]))
    with pytest.raises(DocumentCorruptError, match="truncated"):
        _filtered(data[: len(data) // 2])
    broken = data[:20] + bytes(b ^ 0xFF for b in data[20:40]) + data[40:]
    with pytest.raises(DocumentCorruptError, match=re.escape("doc.gz")):
        _filtered(broken)


def test_multi_member_gzip() -> None:
    first, second = _document([_row(1)]), _document([_row(2)]).split(b"\n", 1)[1]
    text, _ = _filtered(gzip.compress(first) + gzip.compress(second), chunk=3)
    assert len(list(iter_order_report_rows(io.BytesIO(text)))) == 2


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not mounted")
def test_real_archived_orders_header_sample() -> None:
    """The Airbyte fixture (header only, three times): unknown columns of a real file are drift, not kept."""
    path = (
        SAMPLES
        / "airbytehq__airbyte__unit_tests_GET_FLAT_FILE_ARCHIVED_ORDERS_DATA_BY_ORDER_DATE_headers_only.tsv"
    )
    text, sink = _filtered(path.read_bytes())
    assert sink.report.removed == ["customized-url", "customized-page"]
    assert set(sink.report.blanked) == {"url"}
    assert {"ship-promotion-id", "is-heavy-or-bulky", "is-replacement-order"} <= set(sink.report.kept)
