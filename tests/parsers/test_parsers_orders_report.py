"""iter_order_report_rows: header-driven parsing of the all-orders flat file, typing, PII dropping,
padding, encodings, and the samples (ARCHIVED header-only fixture, the JSON-ified truncated row)."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chalkola_pipelines.amazon.documents import open_document
from chalkola_pipelines.amazon.errors import OrderReportFormatError
from chalkola_pipelines.amazon.parsers import iter_order_report_rows
from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_COLUMNS, ORDER_REPORT_OFFICIAL_HEADER

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SQL = REPO / "chalkola_pipelines" / "warehouse" / "sql" / "001_raw_amazon.sql"
ARCHIVED_HEADER_ONLY = (
    SHARED / "samples" / "orders_tsv"
    / "airbytehq__airbyte__unit_tests_GET_FLAT_FILE_ARCHIVED_ORDERS_DATA_BY_ORDER_DATE_headers_only.tsv"
)  # fmt: skip
TRUNCATED_JSON_ROW = (
    SHARED
    / "samples"
    / "orders_tsv"
    / "amzn__selling-partner-api-docs__issue724_all_orders_row_as_json_TRUNCATED.txt"
)
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared samples not present at {SHARED}")

HEADER = "\t".join(ORDER_REPORT_OFFICIAL_HEADER)


def tsv(*lines: str, encoding: str = "utf-8", newline: str = "\n") -> io.BytesIO:
    return io.BytesIO("".join(line + newline for line in lines).encode(encoding))


def official_row(**values: str) -> str:
    base = {
        "amazon-order-id": "111-2223334-5556667",
        "merchant-order-id": "",
        "purchase-date": "2026-01-02T08:15:00+00:00",
        "last-updated-date": "2026-01-03T10:00:00Z",
        "order-status": "Shipped",
        "fulfillment-channel": "Amazon",
        "sales-channel": "Amazon.com",
        "order-channel": "",
        "ship-service-level": "Expedited",
        "product-name": "Chalkola Chalk Markers - 10 Pack",
        "sku": "CH-10",
        "asin": "B07JWCZKSJ",
        "item-status": "Shipped",
        "quantity": "2",
        "currency": "USD",
        "item-price": "25.98",
        "item-tax": "2.08",
        "shipping-price": "",
        "shipping-tax": "",
        "gift-wrap-price": "",
        "gift-wrap-tax": "",
        "item-promotion-discount": "-2.60",
        "ship-promotion-discount": "",
        "ship-city": "SEATTLE",
        "ship-state": "WA",
        "ship-postal-code": "98109-1234",
        "ship-country": "US",
        "promotion-ids": "Core Free Shipping 2015/05/19 11-48-31-185",
        "cpf": "",
        "is-business-order": "false",
        "purchase-order-number": "",
        "price-designation": "",
    }
    base.update({k.replace("_", "-"): v for k, v in values.items()})
    return "\t".join(base[h] for h in ORDER_REPORT_OFFICIAL_HEADER)


def rows_of(stream, **kwargs) -> list[dict]:
    return list(iter_order_report_rows(stream, **kwargs))


def test_official_header_row_is_typed() -> None:
    (row,) = rows_of(tsv(HEADER, official_row()))
    assert row["amazon_order_id"] == "111-2223334-5556667"
    assert row["merchant_order_id"] is None  # blank → None
    assert row["purchase_date"] == datetime(2026, 1, 2, 8, 15, tzinfo=UTC)
    assert row["last_updated_date"] == datetime(2026, 1, 3, 10, 0, tzinfo=UTC)
    assert row["quantity"] == 2 and type(row["quantity"]) is int
    assert row["item_price"] == Decimal("25.98") and type(row["item_price"]) is Decimal
    assert row["item_promotion_discount"] == Decimal("-2.60")
    assert row["shipping_price"] is None
    assert row["is_business_order"] is False
    assert row["ship_state"] == "WA" and row["ship_country"] == "US"
    assert row["extra_columns"] == {}


def test_pii_columns_are_dropped_everywhere() -> None:
    header = HEADER + "\tbuyer-email\tbuyer-name\trecipient-name\tship-address-1\tship-phone-number"
    line = official_row() + "\tx@example.com\tJane\tJane\t1 Main St\t+1-206-555-0100"
    (row,) = rows_of(tsv(header, line))
    flat = json.dumps(row, default=str)
    for secret in ("SEATTLE", "98109", "x@example.com", "Jane", "Main St", "206-555"):
        assert secret not in flat
    assert not {"ship_city", "ship_postal_code", "cpf"} & set(row)
    assert row["extra_columns"] == {}


def test_row_keys_match_the_raw_table() -> None:
    (row,) = rows_of(tsv(HEADER, official_row()))
    body = re.search(r"create table raw_amazon\.sp_order_items \((.*?)\n\);", SQL.read_text(), re.S).group(1)
    sql = {
        m.group(1)
        for m in re.finditer(
            r"^\s+([a-z_0-9]+) (?:text|date|integer|numeric|boolean|timestamptz|jsonb)", body, re.M
        )
    }
    assert set(row) == sql - {"marketplace", "order_date", "line_number", "report_id", "loaded_at"}
    assert set(row) == {c.column for c in ORDER_REPORT_COLUMNS} | {"extra_columns"}


def test_timestamps_with_offsets_are_normalised_to_utc() -> None:
    (row,) = rows_of(tsv(HEADER, official_row(purchase_date="2026-01-02T00:30:00-08:00")))
    assert row["purchase_date"] == datetime(2026, 1, 2, 8, 30, tzinfo=UTC)
    assert row["purchase_date"].utcoffset().total_seconds() == 0
    with pytest.raises(OrderReportFormatError, match=r"line 2: purchase-date: .* has no UTC offset"):
        rows_of(tsv(HEADER, official_row(purchase_date="2026-01-02T00:30:00")))


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("false", False), ("TRUE", True), ("", None)])
def test_is_business_order(text: str, expected: bool | None) -> None:
    (row,) = rows_of(tsv(HEADER, official_row(is_business_order=text)))
    assert row["is_business_order"] is expected


def test_money_accepts_plain_decimals_and_rejects_grouping() -> None:
    (row,) = rows_of(tsv(HEADER, official_row(item_price="14.0", item_tax="1234.56")))
    assert row["item_price"] == Decimal("14.0") and row["item_tax"] == Decimal("1234.56")
    with pytest.raises(
        OrderReportFormatError, match=r"line 2: item-price: '1,234.56' is not a plain decimal"
    ):
        rows_of(tsv(HEADER, official_row(item_price="1,234.56")))
    with pytest.raises(OrderReportFormatError, match=r"line 3: quantity: 'two' is not an integer"):
        rows_of(tsv(HEADER, official_row(), official_row(quantity="two")))


def test_fewer_fields_are_padded_more_fields_are_an_error() -> None:
    fields = official_row().split("\t")
    short = "\t".join(fields[:16])  # up to item-price; Amazon dropped the trailing empty fields
    (row,) = rows_of(tsv(HEADER, short))
    assert row["item_price"] == Decimal("25.98")
    assert row["item_tax"] is None and row["is_business_order"] is None and row["ship_country"] is None
    too_long = official_row() + "\textra"
    with pytest.raises(OrderReportFormatError) as info:
        rows_of(tsv(HEADER, official_row(), too_long))
    assert info.value.line == 3
    assert "33 tab-separated fields but the header has 32" in str(info.value)


def test_missing_required_header_names_it_and_lists_what_was_found() -> None:
    header = HEADER.replace("\tasin\t", "\t")
    with pytest.raises(
        OrderReportFormatError,
        match=r"line 1: required header\(s\) asin missing; found: amazon-order-id, merchant-order-id",
    ):
        rows_of(tsv(header))


def test_blank_order_id_is_an_error() -> None:
    with pytest.raises(OrderReportFormatError, match="line 2: amazon-order-id is blank"):
        rows_of(tsv(HEADER, official_row(amazon_order_id="")))


def test_header_order_does_not_matter_and_only_allowlisted_columns_go_to_extra() -> None:
    header = (
        "quantity\tasin\tnew-column\tpurchase-date\tamazon-order-id\tship-city\tnumber-of-items\tsku"
        "\tsales-channel\tcurrency\titem-price"
    )
    line = "3\tB000000001\tsomething\t2026-01-02T08:15:00Z\t111-1\tPARIS\t1\tSKU-1\tAmazon.fr\t\t"
    rows = iter_order_report_rows(tsv(header, line))
    (row,) = list(rows)
    assert (row["quantity"], row["asin"], row["amazon_order_id"]) == (3, "B000000001", "111-1")
    assert row["extra_columns"] == {"number-of-items": "1"}  # allowlisted: known to be non-personal
    assert rows.drift_columns == [
        "new-column"
    ]  # unknown: schema drift, dropped (ship-city: personal, dropped)
    assert row["item_tax"] is None and row["ship_state"] is None  # absent columns → None
    assert row["item_price"] is None and row["currency"] is None  # blank (a pending item has no price)


def test_crlf_bom_and_blank_lines() -> None:
    stream = io.BytesIO(("\ufeff" + HEADER + "\r\n" + official_row() + "\r\n\r\n").encode("utf-8"))
    (row,) = rows_of(stream)
    assert row["amazon_order_id"] == "111-2223334-5556667"
    assert row["price_designation"] is None


def test_header_only_and_empty_documents() -> None:
    assert rows_of(tsv(HEADER)) == []
    with pytest.raises(OrderReportFormatError, match="empty"):
        rows_of(io.BytesIO(b""))


def test_japanese_cp932_file_is_detected() -> None:
    name = "チョークマーカー 10本セット"
    stream = tsv(HEADER, official_row(product_name=name, currency="JPY", item_price="2980"), encoding="cp932")
    (row,) = rows_of(stream)
    assert row["product_name"] == name
    assert row["item_price"] == Decimal("2980")


def test_cp1252_file_is_detected_and_encoding_can_be_forced() -> None:
    name = "Marqueurs craie – crème"
    (row,) = rows_of(tsv(HEADER, official_row(product_name=name), encoding="cp1252"))
    assert row["product_name"] == name
    (row,) = rows_of(tsv(HEADER, official_row(product_name="Größe"), encoding="latin-1"), encoding="latin-1")
    assert row["product_name"] == "Größe"
    with pytest.raises(OrderReportFormatError, match="not valid utf-8"):
        rows_of(tsv(HEADER, official_row(product_name=name), encoding="cp1252"), encoding="utf-8")


def test_utf8_multibyte_product_names() -> None:
    name = "Tiza líquida — 粉笔 ✓"
    (row,) = rows_of(tsv(HEADER, official_row(product_name=name)))
    assert row["product_name"] == name


def test_rows_are_streamed_line_by_line() -> None:
    class Lines(io.RawIOBase):
        def __init__(self) -> None:
            self.served = 0

        def __iter__(self) -> Iterator[bytes]:
            yield (HEADER + "\n").encode()
            for _ in range(1_000_000):
                self.served += 1
                yield (official_row() + "\n").encode()

    source = Lines()
    rows = iter_order_report_rows(source)  # type: ignore[arg-type]
    first = next(rows)
    assert first["quantity"] == 2
    assert source.served == 1


def test_gzip_document_through_open_document(tmp_path: Path) -> None:
    path = tmp_path / "orders.tsv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER] + [official_row()] * 500) + "\n").encode()))
    with open_document(path) as stream:
        rows = rows_of(stream)
    assert len(rows) == 500
    path.write_bytes(b"amazon-order-id\tpurchase-date\tasin\tquantity\nA\t2026-01-02\tB\t1\n")
    with open_document(path) as stream, pytest.raises(OrderReportFormatError, match=re.escape(str(path))):
        rows_of(stream)


@needs_shared
def test_archived_headers_only_fixture() -> None:
    # 34 columns, a different set (url, ship-promotion-id, customized-*, is-heavy-or-bulky, ...), and the
    # header repeated three times with no data rows: repeated header lines are skipped, not parsed as data
    with open_document(ARCHIVED_HEADER_ONLY) as stream:
        assert rows_of(stream) == []
    header = ARCHIVED_HEADER_ONLY.read_text().splitlines()[0]
    names = header.split("\t")
    assert len(names) == 34
    values = {name: "" for name in names}
    values.update(
        {
            "amazon-order-id": "026-1234567-7654321",
            "purchase-date": "2026-01-02T08:15:00+00:00",
            "asin": "B07JWCZKSJ",
            "quantity": "1",
            "sales-channel": "Amazon.com",
            "currency": "USD",
            "url": "https://example.invalid/o",
            "is-heavy-or-bulky": "false",
            "is-replacement-order": "false",
            "item-price": "9.99",
        }
    )
    (row,) = rows_of(tsv(header, "\t".join(values[n] for n in names)))
    assert row["item_price"] == Decimal("9.99")
    assert row["ship_state"] is None  # not in this header
    # allowlisted extras are kept; customized-* (buyer-provided customisation) is personal data, dropped;
    # url is not on the allowlist: schema drift, dropped and named
    assert set(row["extra_columns"]) == {"ship-promotion-id", "is-heavy-or-bulky", "is-replacement-order"}
    rows = iter_order_report_rows(tsv(header, "\t".join(values[n] for n in names)))
    list(rows)
    assert rows.drift_columns == ["url"]


@needs_shared
def test_row_built_from_the_truncated_json_sample() -> None:
    # The sample is a row already turned into JSON by a user's tool, truncated at gift-wrap-tax and
    # missing a comma: read its "key": "value" pairs and write them back as the TSV Amazon sends, with
    # the trailing (missing) fields dropped, as Amazon does for trailing empties.
    pairs = re.findall(r'"([a-z-]+)":\s*"([^"]*)"', TRUNCATED_JSON_ROW.read_text())
    sample = dict(pairs)
    assert sample["amazon-order-id"] == "352-4818523-776XX102"
    present = [h for h in ORDER_REPORT_OFFICIAL_HEADER if h in sample]
    line = "\t".join(sample[h] for h in present)
    header = "\t".join(ORDER_REPORT_OFFICIAL_HEADER)
    assert ORDER_REPORT_OFFICIAL_HEADER[: len(present)] == tuple(present)  # a prefix: the row is short
    (row,) = rows_of(tsv(header, line))
    assert row["purchase_date"] == datetime(2021, 5, 11, 1, 1, 48, tzinfo=UTC)
    assert row["last_updated_date"] == datetime(2021, 5, 11, 1, 55, 45, tzinfo=UTC)
    assert row["order_status"] == "Pending" and row["sales_channel"] == "Amazon.de"
    assert row["order_channel"] is None
    assert row["quantity"] == 1 and row["currency"] == "EUR"
    assert row["item_price"] == Decimal("16.95")
    assert row["item_tax"] is None and row["gift_wrap_price"] is None  # pending: prices not final
    assert row["is_business_order"] is None and row["ship_country"] is None  # padded


def test_truncated_document_is_detected_not_padded() -> None:
    data = ("\n".join([HEADER] + [official_row()] * 10) + "\n").encode()
    cut = data[: int(len(data) * 0.6)]  # what a truncated body looks like: a partial last line
    assert not cut.endswith(b"\n")
    with pytest.raises(OrderReportFormatError, match="looks truncated"):
        rows_of(io.BytesIO(cut))
    # a complete last row without a final line end is fine
    rows = rows_of(io.BytesIO(data.rstrip(b"\n")))
    assert len(rows) == 10
