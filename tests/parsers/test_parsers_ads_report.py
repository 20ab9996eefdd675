"""iter_sp_advertised_product_rows: streaming, exact ids and decimals, drift counting, bad documents,
and the samples (Airbyte's "str" placeholder download, the v2 fragment with an id > 2^53)."""

from __future__ import annotations

import gzip
import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chalkola_pipelines.amazon.documents import open_document
from chalkola_pipelines.amazon.errors import AdsReportFormatError, DocumentCorruptError
from chalkola_pipelines.amazon.parsers import SpAdvertisedProductRows, iter_sp_advertised_product_rows
from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_COLUMNS

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SQL = REPO / "chalkola_pipelines" / "warehouse" / "sql" / "001_raw_amazon.sql"
ADS_SAMPLES = SHARED / "samples" / "ads_sp_advertised_product"
STR_FIXTURE = ADS_SAMPLES / "airbytehq__airbyte__unit_tests_download_report_file.json"
V2_FRAGMENT = ADS_SAMPLES / "amzn__ads-advanced-tools-docs__issue93_v2_hsa_campaigns_rows_FRAGMENT.txt"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared samples not present at {SHARED}")

BIG_ID = 144158449488730278  # > 2**53: a float would turn it into 144158449488730272


def row_json(i: int = 0, **overrides: str) -> str:
    """One document row as Amazon writes it (JSON literals, not Python reprs)."""
    fields = {
        "date": '"2026-01-02"',
        "campaignName": '"SP - Chalk Markers - Auto"',
        "campaignId": str(BIG_ID + i),
        "adGroupName": '"Auto"',
        "adGroupId": "283945720389457",
        "adId": str(398475029384750 + i),
        "portfolioId": "null",
        "impressions": "1530",
        "clicks": "42",
        "costPerClick": "0.87",
        "clickThroughRate": "0.0275",
        "cost": "36.54",
        "spend": "36.54",
        "campaignBudgetCurrencyCode": '"USD"',
        "campaignBudgetAmount": "150.0",
        "campaignBudgetType": '"DAILY_BUDGET"',
        "campaignStatus": '"ENABLED"',
        "advertisedAsin": '"B07JWCZKSJ"',
        "advertisedSku": '"CH-10"',
        "purchases7d": "5",
        "purchases14d": "6",
        "unitsSoldClicks7d": "7",
        "unitsSoldClicks14d": "8",
        "sales7d": "129.9",
        "sales14d": "155.88",
        "attributedSalesSameSku7d": "110.0",
        "attributedSalesSameSku14d": "129.9",
        "acosClicks7d": "28.13",
        "roasClicks14d": "4.27",
    }
    fields.update(overrides)
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


def doc(*rows: str) -> io.BytesIO:
    return io.BytesIO(("[\n" + ",\n".join(rows) + "\n]").encode())


def rows_of(stream, **kwargs) -> list[dict]:
    return list(iter_sp_advertised_product_rows(stream, **kwargs))


def test_row_is_typed_exactly() -> None:
    (row,) = rows_of(doc(row_json()))
    assert row["report_date"] == date(2026, 1, 2)
    assert row["campaign_id"] == BIG_ID and type(row["campaign_id"]) is int
    assert row["ad_id"] == 398475029384750
    assert row["portfolio_id"] is None
    assert row["impressions"] == 1530 and type(row["impressions"]) is int
    assert row["cost"] == Decimal("36.54") and type(row["cost"]) is Decimal
    assert row["campaign_budget_amount"] == Decimal("150.0")
    assert row["click_through_rate"] == Decimal("0.0275")
    assert row["sales_7d"] == Decimal("129.9")
    assert row["campaign_name"] == "SP - Chalk Markers - Auto"
    assert row["purchases_1d"] is None and row["start_date"] is None  # not in the document → None


def test_row_keys_match_the_raw_table_and_catalogue() -> None:
    (row,) = rows_of(doc(row_json()))
    body = re.search(
        r"create table raw_amazon\.ads_sp_advertised_product \((.*?)\n\);", SQL.read_text(), re.S
    )
    sql = {
        m.group(1) for m in re.finditer(r"^\s+([a-z_0-9]+) (?:text|date|bigint|numeric)", body.group(1), re.M)
    }
    assert set(row) == sql - {"marketplace", "profile_id", "report_id"}
    assert set(row) == {c.column for c in SP_ADVERTISED_PRODUCT_COLUMNS}


def test_integer_valued_metrics_as_ints_become_decimal() -> None:
    (row,) = rows_of(doc(row_json(cost="0", sales7d="12")))
    assert row["cost"] == Decimal(0) and type(row["cost"]) is Decimal
    assert row["sales_7d"] == Decimal(12)


def test_string_ids_and_integral_number_ids_are_converted_exactly() -> None:
    rows = rows_of(
        doc(
            row_json(campaignId=f'"{BIG_ID}"'),
            row_json(campaignId="1.44158449488730278E+17"),
            row_json(campaignId=f"{BIG_ID}.0"),
        )
    )
    assert [r["campaign_id"] for r in rows] == [BIG_ID] * 3
    assert all(type(r["campaign_id"]) is int for r in rows)


@pytest.mark.parametrize(
    ("key", "literal", "message"),
    [
        ("campaignId", "1.5", "column campaignId: expected an integer id, got Decimal('1.5')"),
        ("adId", '"12ab"', "column adId: expected an integer id"),
        ("adId", '"-5"', "column adId: expected an integer id"),
        ("clicks", '"42"', "column clicks: expected an integer"),
        ("clicks", "true", "column clicks: expected an integer"),
        ("cost", '"36.54"', "column cost: expected a number"),
        ("date", '"01/02/2026"', "column date: expected a YYYY-MM-DD date"),
        ("campaignName", "{}", "column campaignName: expected text"),
    ],
)
def test_wrongly_typed_values_name_row_and_column(key: str, literal: str, message: str) -> None:
    with pytest.raises(AdsReportFormatError) as info:
        rows_of(doc(row_json(0), row_json(1, **{key: literal})))
    assert f"row 1, {message}" in str(info.value)


def test_unknown_keys_are_counted_not_fatal() -> None:
    rows = iter_sp_advertised_product_rows(
        doc(
            row_json(0, topOfSearchImpressionShare="0.1"),
            row_json(1, topOfSearchImpressionShare="0.2", newKey="1"),
        )
    )
    assert isinstance(rows, SpAdvertisedProductRows)
    assert len(list(rows)) == 2
    assert rows.rows == 2
    assert rows.unknown_keys == {"topOfSearchImpressionShare": 2, "newKey": 1}


def test_missing_date_is_an_error_for_daily_reports() -> None:
    row = row_json()
    no_date = row.replace('"date": "2026-01-02", ', "")
    with pytest.raises(AdsReportFormatError, match="row 0 has no date"):
        rows_of(doc(no_date))
    (parsed,) = rows_of(doc(no_date), require_date=False)
    assert parsed["report_date"] is None


def test_truncated_json_is_a_format_error() -> None:
    data = doc(*(row_json(i) for i in range(10))).getvalue()
    with pytest.raises(AdsReportFormatError, match="truncated/invalid JSON"):
        rows_of(io.BytesIO(data[: len(data) // 2]))
    with pytest.raises(AdsReportFormatError, match="truncated/invalid JSON"):
        rows_of(io.BytesIO(data[:-1]))  # only the closing bracket is missing
    with pytest.raises(AdsReportFormatError, match="truncated/invalid JSON"):
        rows_of(io.BytesIO(data + b"[]"))  # trailing garbage


def test_rows_before_the_truncation_are_yielded_first() -> None:
    data = doc(*(row_json(i) for i in range(2000))).getvalue()
    rows = iter_sp_advertised_product_rows(io.BytesIO(data[: len(data) - 100]))
    seen = 0
    with pytest.raises(AdsReportFormatError):
        for _ in rows:
            seen += 1
    assert 1900 < seen < 2000


def test_not_an_array_empty_and_empty_array() -> None:
    with pytest.raises(AdsReportFormatError, match="expected a JSON array"):
        rows_of(io.BytesIO(b'{"rows": []}'))
    with pytest.raises(AdsReportFormatError, match="empty"):
        rows_of(io.BytesIO(b""))
    with pytest.raises(AdsReportFormatError, match="row 0 is not a JSON object"):
        rows_of(io.BytesIO(b"[1, 2]"))
    assert rows_of(io.BytesIO(b"  \n[]\n")) == []


def test_streaming_reads_the_document_incrementally() -> None:
    data = doc(*(row_json(i) for i in range(5000))).getvalue()

    class Counting(io.BytesIO):
        def __init__(self, b: bytes) -> None:
            super().__init__(b)
            self.reads = 0

        def read(self, size: int | None = -1) -> bytes:
            assert size is not None and size > 0, "the parser must read in bounded chunks"
            self.reads += 1
            return super().read(size)

    stream = Counting(data)
    rows = iter_sp_advertised_product_rows(stream)
    assert next(rows)["campaign_id"] == BIG_ID
    assert stream.tell() < len(data)  # the first row came before the whole document was read
    assert sum(1 for _ in rows) == 4999


def test_gzip_document_and_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "report.json.gz"
    data = doc(*(row_json(i) for i in range(3000))).getvalue()
    path.write_bytes(gzip.compress(data))
    with open_document(path) as stream:
        rows = rows_of(stream)
    assert len(rows) == 3000 and rows[-1]["campaign_id"] == BIG_ID + 2999
    compressed = path.read_bytes()
    path.write_bytes(compressed[: len(compressed) // 2])
    with open_document(path) as stream, pytest.raises(DocumentCorruptError, match=re.escape(str(path))):
        rows_of(stream)
    path.write_bytes(gzip.compress(data[:-300]))
    with open_document(path) as stream, pytest.raises(AdsReportFormatError, match=re.escape(str(path))):
        rows_of(stream)


@needs_shared
def test_airbyte_str_placeholder_fixture_is_rejected_clearly() -> None:
    # Airbyte's download fixture has "str" for every value (ids included): not a real report. Decision: the
    # parser refuses it with the row and column, rather than loading a row with invented nulls.
    with open_document(STR_FIXTURE) as stream, pytest.raises(AdsReportFormatError) as info:
        rows_of(stream)
    message = str(info.value)
    assert "row 0, column adGroupId: expected an integer id, got 'str'" in message
    assert str(STR_FIXTURE) in message


@needs_shared
def test_v2_fragment_ids_beyond_2_53_stay_exact() -> None:
    # Two v2 objects each followed by a comma (pasted from an issue): made into the array Amazon sends.
    fragment = V2_FRAGMENT.read_text().strip().rstrip(",")
    stream = io.BytesIO(f"[{fragment}]".encode())
    # v2 rows carry no date column and none of the v3 metrics the marts need
    rows = iter_sp_advertised_product_rows(stream, require_date=False, require_columns=False)
    parsed = list(rows)
    assert [r["campaign_id"] for r in parsed] == [144158449488730278, 188030107477314]
    assert parsed[0]["campaign_id"] != int(float(144158449488730278))  # what a float would have given
    assert parsed[0]["cost"] == Decimal(0) and type(parsed[0]["cost"]) is Decimal
    assert parsed[1]["impressions"] == 0 and parsed[1]["campaign_name"] == "xxxxx"
    # v2 metric names are not v3 spAdvertisedProduct columns: counted as drift (unitsSold14d is absent
    # from the second row)
    assert rows.unknown_keys == {"unitsSold14d": 1, "attributedConversions14d": 2, "attributedSales14d": 2}
    assert json.loads(f"[{fragment}]")[0]["campaignId"] == 144158449488730278  # sanity: the sample as read


def test_utf8_bom_and_leading_whitespace_are_accepted() -> None:
    (row,) = rows_of(io.BytesIO(b"\xef\xbb\xbf \n" + doc(row_json()).getvalue()))
    assert row["campaign_id"] == BIG_ID
