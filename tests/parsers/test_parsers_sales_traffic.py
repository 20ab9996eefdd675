"""parse_sales_and_traffic against the official schema, the real US seller's PARENT report and Airbyte's
SKU fixture, plus the failure modes (missing field, truncated JSON, mixed currencies, schema drift)."""

from __future__ import annotations

import copy
import gzip
import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chalkola_pipelines.amazon.documents import open_document
from chalkola_pipelines.amazon.errors import SalesTrafficFormatError
from chalkola_pipelines.amazon.parsers import SalesTrafficDocument, parse_sales_and_traffic
from chalkola_pipelines.amazon.parsers.sales_traffic import REQUIRED_FIELD_NAMES
from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS, ST_BY_DATE_FIELDS

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SQL = REPO / "chalkola_pipelines" / "warehouse" / "sql" / "001_raw_amazon.sql"
REAL_PARENT = SHARED / "samples" / "st" / "HotoMazur__Agency_Amazon__test_report.json"
AIRBYTE_SKU = SHARED / "samples" / "st" / "airbytehq__airbyte__unit_tests_GET_SALES_AND_TRAFFIC_REPORT.json"
SCHEMA = REPO / "tests" / "amazon_models" / "schemas" / "reports" / "sellerSalesAndTrafficReport.json"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared samples not present at {SHARED}")
LOADER_COLUMNS = {"marketplace", "marketplace_id", "report_id", "loaded_at"}


def sql_columns(table: str) -> set[str]:
    body = re.search(rf"create table raw_amazon\.{table} \((.*?)\n\);", SQL.read_text(), re.S)
    assert body, table
    names = set()
    for line in body.group(1).splitlines():
        m = re.match(r"\s+([a-z_0-9]+)\s+(text|date|bigint|integer|numeric|boolean|timestamptz|jsonb)", line)
        if m:
            names.add(m.group(1))
    return names


def parse_bytes(data: bytes) -> SalesTrafficDocument:
    return parse_sales_and_traffic(io.BytesIO(data))


def dumps(obj: dict) -> bytes:
    """JSON with Decimals written as number literals (as Amazon writes them)."""
    text = json.dumps(obj, default=lambda d: f"@@{d}@@")
    return re.sub(r'"@@([^@]*)@@"', r"\1", text).encode()


def parse_obj(obj: dict) -> SalesTrafficDocument:
    return parse_bytes(dumps(obj))


@pytest.fixture(scope="module")
def real_doc() -> SalesTrafficDocument:
    if not REAL_PARENT.exists():
        pytest.skip(f"sample not present: {REAL_PARENT}")
    with open_document(REAL_PARENT) as stream:
        return parse_sales_and_traffic(stream)


@needs_shared
def test_real_parent_report_shape(real_doc: SalesTrafficDocument) -> None:
    assert len(real_doc.by_date) == 12
    assert [r["report_date"] for r in real_doc.by_date][0] == date(2024, 2, 14)
    assert real_doc.by_date[-1]["report_date"] == date(2024, 2, 25)
    # the report's dataEndTime is one day past its last byDate row (DESIGN.md)
    assert real_doc.report_specification["dataEndTime"] == "2024-02-26"
    assert len(real_doc.by_asin) == 138
    assert all(r["child_asin"] == "" and r["sku"] == "" for r in real_doc.by_asin)  # PARENT granularity
    assert all(r["parent_asin"].startswith("B0") for r in real_doc.by_asin)
    assert {r["currency_code"] for r in real_doc.by_date + real_doc.by_asin} == {"USD"}
    assert real_doc.unknown_fields == set()


@needs_shared
def test_real_parent_report_types_integers_stay_int_and_decimals_exact(
    real_doc: SalesTrafficDocument,
) -> None:
    first = real_doc.by_date[0]
    assert first["ordered_product_sales"] == Decimal("10618.69")
    assert first["ordered_product_sales_b2b"] == Decimal("204.48")  # B2B fields are kept
    assert first["units_ordered_b2b"] == 9
    assert first["unit_session_percentage_b2b"] == Decimal(12)  # written as JSON integer 12
    assert first["claims_amount"] == Decimal(0)  # written as JSON integer 0
    for fields, rows in ((ST_BY_DATE_FIELDS, real_doc.by_date), (ST_BY_ASIN_FIELDS, real_doc.by_asin)):
        for row in rows:
            for f in fields:
                value = row[f.column]
                assert value is not None, f.column  # this seller is B2B: every field is present
                expected = int if f.kind == "int" else Decimal
                assert type(value) is expected, (f.column, value)


@needs_shared
def test_real_data_reconciliation_figures_from_design(real_doc: SalesTrafficDocument) -> None:
    def total(rows: list[dict], column: str):
        return sum(r[column] for r in rows)

    by_date, by_asin = real_doc.by_date, real_doc.by_asin
    assert total(by_date, "sessions") == total(by_asin, "sessions") == 39_876
    assert total(by_date, "page_views") == total(by_asin, "page_views") == 84_201
    assert total(by_asin, "units_ordered") == 6_707
    assert total(by_date, "units_ordered") == 6_684
    assert total(by_asin, "total_order_items") == 6_429
    assert total(by_date, "total_order_items") == 6_406
    assert total(by_asin, "ordered_product_sales") == Decimal("140547.10")
    assert total(by_date, "ordered_product_sales") == Decimal("140072.92")


@needs_shared
def test_airbyte_sku_fixture_floats_and_no_b2b(tmp_path: Path) -> None:
    # through a gzip document, as the landing store keeps it
    path = tmp_path / "st.json.gz"
    path.write_bytes(gzip.compress(AIRBYTE_SKU.read_bytes()))
    with open_document(path) as stream:
        doc = parse_sales_and_traffic(stream)
    assert doc.report_specification["reportOptions"]["asinGranularity"] == "SKU"
    assert len(doc.by_date) == 1 and len(doc.by_asin) == 2
    row = doc.by_date[0]
    assert row["report_date"] == date(2021, 6, 11)
    assert row["claims_amount"] == Decimal("0.0") and type(row["claims_amount"]) is Decimal
    assert row["received_negative_feedback_rate"] == Decimal("10.0")
    assert row["average_offer_count"] == 9686
    assert row["ordered_product_sales_b2b"] is None and row["sessions_b2b"] is None
    assert [(r["parent_asin"], r["child_asin"], r["sku"]) for r in doc.by_asin] == [
        ("B123456789", "B123456789", "AB-1C2D-EFGH"),
        ("B234567890", "B234567890", "CD-2E3F-GHIJ"),
    ]
    assert doc.by_asin[1]["buy_box_percentage"] == Decimal("0.0")
    assert doc.unknown_fields == set()


def test_row_keys_match_the_raw_tables() -> None:
    doc = parse_obj(_minimal_doc())
    assert set(doc.by_date[0]) == sql_columns("sp_sales_traffic_by_date") - LOADER_COLUMNS
    assert set(doc.by_asin[0]) == sql_columns("sp_sales_traffic_by_asin") - LOADER_COLUMNS - {"report_date"}


@needs_shared
def test_catalogue_and_required_fields_match_the_official_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    defs = schema["definitions"]
    for section, fields in (
        ("SalesByDate", ST_BY_DATE_FIELDS),
        ("TrafficByDate", ST_BY_DATE_FIELDS),
        ("SalesByAsin", ST_BY_ASIN_FIELDS),
        ("TrafficByAsin", ST_BY_ASIN_FIELDS),
    ):
        name = section[0].lower() + section[1:]
        ours = {f.name for f in fields if f.section == name}
        assert ours == set(defs[section]["properties"]), section
        required = {n for (s, n) in REQUIRED_FIELD_NAMES if s == name}
        assert required == set(defs[section]["required"]), section


@needs_shared
def test_official_schema_examples() -> None:
    examples = json.loads(SCHEMA.read_text())["examples"]
    # example 2 (WEEK/CHILD) and 3 (MONTH/PARENT) are valid documents
    week = parse_obj(examples[1])
    assert [r["child_asin"] for r in week.by_asin] == ["B123456789", "B234567890", "B345678901"]
    assert all(r["sku"] == "" for r in week.by_asin)
    month = parse_obj(examples[2])
    assert all(r["child_asin"] == "" for r in month.by_asin)
    # example 1 has a typo in its 4th byDate row ("browerPageViews"): the required browserPageViews is
    # missing, and the parser names the exact field path and row
    with pytest.raises(SalesTrafficFormatError) as info:
        parse_obj(examples[0])
    assert "salesAndTrafficByDate[3].trafficByDate.browserPageViews" in str(info.value)


def _minimal_doc() -> dict:
    def amount(value: str, currency: str = "EUR") -> dict:
        return {"amount": Decimal(value), "currencyCode": currency}

    sales_by_date = {}
    traffic_by_date = {}
    for f in ST_BY_DATE_FIELDS:
        target = sales_by_date if f.section == "salesByDate" else traffic_by_date
        target[f.name] = amount("1.50") if f.kind == "money" else (3 if f.kind == "int" else Decimal("2.5"))
    sales_by_asin = {}
    traffic_by_asin = {}
    for f in ST_BY_ASIN_FIELDS:
        target = sales_by_asin if f.section == "salesByAsin" else traffic_by_asin
        target[f.name] = amount("9.99") if f.kind == "money" else (7 if f.kind == "int" else Decimal("0.25"))
    return {
        "reportSpecification": {
            "reportType": "GET_SALES_AND_TRAFFIC_REPORT",
            "reportOptions": {"dateGranularity": "DAY", "asinGranularity": "CHILD"},
            "dataStartTime": "2026-01-02",
            "dataEndTime": "2026-01-02",
            "marketplaceIds": ["A1PA6795UKMFR9"],
        },
        "salesAndTrafficByDate": [
            {"date": "2026-01-02", "salesByDate": sales_by_date, "trafficByDate": traffic_by_date}
        ],
        "salesAndTrafficByAsin": [
            {
                "parentAsin": "B0PARENT01",
                "childAsin": f"B0CHILD00{i}",
                "salesByAsin": copy.deepcopy(sales_by_asin),
                "trafficByAsin": copy.deepcopy(traffic_by_asin),
            }
            for i in range(3)
        ],
    }


def test_minimal_child_document() -> None:
    doc = parse_obj(_minimal_doc())
    assert doc.by_date[0]["currency_code"] == "EUR"
    assert doc.by_asin[2]["child_asin"] == "B0CHILD002" and doc.by_asin[2]["sku"] == ""


def test_missing_required_field_names_path_and_row() -> None:
    obj = _minimal_doc()
    del obj["salesAndTrafficByAsin"][1]["trafficByAsin"]["sessions"]
    with pytest.raises(SalesTrafficFormatError, match=r"salesAndTrafficByAsin\[1\]\.trafficByAsin\.sessions"):
        parse_obj(obj)


def test_missing_parent_asin_and_sections() -> None:
    obj = _minimal_doc()
    del obj["salesAndTrafficByAsin"][2]["parentAsin"]
    with pytest.raises(SalesTrafficFormatError, match=r"salesAndTrafficByAsin\[2\]\.parentAsin"):
        parse_obj(obj)
    obj = _minimal_doc()
    del obj["salesAndTrafficByDate"][0]["salesByDate"]
    with pytest.raises(SalesTrafficFormatError, match=r"salesAndTrafficByDate\[0\]\.salesByDate is missing"):
        parse_obj(obj)
    obj = _minimal_doc()
    del obj["salesAndTrafficByAsin"]
    with pytest.raises(SalesTrafficFormatError, match="salesAndTrafficByAsin is missing"):
        parse_obj(obj)


def test_optional_b2b_fields_may_be_absent() -> None:
    obj = _minimal_doc()
    del obj["salesAndTrafficByAsin"][0]["salesByAsin"]["orderedProductSalesB2B"]
    doc = parse_obj(obj)
    assert doc.by_asin[0]["ordered_product_sales_b2b"] is None
    assert doc.by_asin[1]["ordered_product_sales_b2b"] == Decimal("9.99")


def test_truncated_json_names_the_byte_offset() -> None:
    data = dumps(_minimal_doc())
    cut = data[:1000]
    with pytest.raises(SalesTrafficFormatError, match=r"truncated/invalid JSON at byte (\d+)") as info:
        parse_bytes(cut)
    offset = int(re.search(r"at byte (\d+)", str(info.value)).group(1))
    assert 900 <= offset <= 1000


def test_error_names_the_document_file(tmp_path: Path) -> None:
    path = tmp_path / "amzn1.spdoc.123.json"
    path.write_bytes(b'{"reportSpecification": {')
    with open_document(path) as stream, pytest.raises(SalesTrafficFormatError, match=re.escape(str(path))):
        parse_sales_and_traffic(stream)


def test_mixed_currencies_in_one_row_are_rejected() -> None:
    obj = _minimal_doc()
    obj["salesAndTrafficByDate"][0]["salesByDate"]["claimsAmount"]["currencyCode"] = "GBP"
    with pytest.raises(SalesTrafficFormatError, match=r"salesAndTrafficByDate\[0\].*EUR, GBP"):
        parse_obj(obj)


def test_unknown_fields_are_collected_not_fatal() -> None:
    obj = _minimal_doc()
    obj["salesAndTrafficByAsin"][0]["trafficByAsin"]["featuredOfferPercentage"] = Decimal("99.5")
    obj["salesAndTrafficByAsin"][1]["trafficByAsin"]["featuredOfferPercentage"] = Decimal("98.5")
    obj["salesAndTrafficByDate"][0]["salesByDate"]["orderedProductSales"]["fxRate"] = 1
    obj["salesAndTrafficByAsin"][0]["title"] = "x"
    obj["reportSpecification"]["reportOptions"]["newOption"] = "y"
    doc = parse_obj(obj)
    assert doc.unknown_fields == {
        "salesAndTrafficByAsin.trafficByAsin.featuredOfferPercentage",
        "salesAndTrafficByDate.salesByDate.orderedProductSales.fxRate",
        "salesAndTrafficByAsin.title",
        "reportSpecification.reportOptions.newOption",
    }
    assert len(doc.by_asin) == 3


def test_integer_fields_written_as_floats() -> None:
    obj = _minimal_doc()
    obj["salesAndTrafficByDate"][0]["trafficByDate"]["sessions"] = Decimal("1253.0")
    doc = parse_obj(obj)
    assert doc.by_date[0]["sessions"] == 1253 and type(doc.by_date[0]["sessions"]) is int
    obj["salesAndTrafficByDate"][0]["trafficByDate"]["sessions"] = Decimal("1253.5")
    with pytest.raises(SalesTrafficFormatError, match=r"trafficByDate\.sessions must be an integer"):
        parse_obj(obj)


def test_numbers_are_parsed_without_float_rounding() -> None:
    obj = _minimal_doc()
    obj["salesAndTrafficByDate"][0]["salesByDate"]["orderedProductSales"]["amount"] = Decimal(
        "0.1000000000000000055511151231257827"
    )
    doc = parse_obj(obj)
    assert doc.by_date[0]["ordered_product_sales"] == Decimal("0.1000000000000000055511151231257827")


def test_string_numbers_and_bad_dates_are_rejected() -> None:
    obj = _minimal_doc()
    obj["salesAndTrafficByAsin"][0]["salesByAsin"]["unitsOrdered"] = "4"
    with pytest.raises(SalesTrafficFormatError, match=r"salesByAsin\.unitsOrdered must be a number"):
        parse_obj(obj)
    obj = _minimal_doc()
    obj["salesAndTrafficByDate"][0]["date"] = "02/01/2026"
    with pytest.raises(SalesTrafficFormatError, match=r"salesAndTrafficByDate\[0\]\.date"):
        parse_obj(obj)


def test_wrong_report_type_and_non_utf8() -> None:
    obj = _minimal_doc()
    obj["reportSpecification"]["reportType"] = "GET_MERCHANT_LISTINGS_ALL_DATA"
    with pytest.raises(SalesTrafficFormatError, match="GET_MERCHANT_LISTINGS_ALL_DATA"):
        parse_obj(obj)
    with pytest.raises(SalesTrafficFormatError, match="not UTF-8"):
        parse_bytes(b'{"reportSpecification": "\xff"}')


def test_empty_sections_are_valid() -> None:
    obj = _minimal_doc()
    obj["salesAndTrafficByAsin"] = []
    doc = parse_obj(obj)
    assert doc.by_asin == [] and len(doc.by_date) == 1


def _both_paths(data: bytes) -> tuple[SalesTrafficDocument | None, SalesTrafficDocument]:
    """(msgspec struct fast path or None if it declines, row-by-row parser) on the same text."""
    from chalkola_pipelines.amazon.parsers import sales_traffic as st

    text = data.decode("utf-8-sig")
    return st._fast_document(st._Parser(None), text), st._Parser(None).document(
        json.loads(text, parse_float=Decimal)
    )


def _variants() -> list[tuple[str, dict, bool]]:
    """(what, document, fast path expected to accept it)"""
    out = [("minimal", _minimal_doc(), True)]
    obj = _minimal_doc()
    for row in obj["salesAndTrafficByAsin"]:
        row["trafficByAsin"]["sessionPercentage"] = 100  # an int "num"
        row["salesByAsin"]["orderedProductSales"]["amount"] = 12  # an int amount
        del row["salesByAsin"]["orderedProductSalesB2B"]  # optional
        row["sku"] = None
    out.append(("ints, missing B2B, null sku", obj, True))
    obj = _minimal_doc()
    obj["salesAndTrafficByAsin"][1]["trafficByAsin"]["newMetric"] = 1
    out.append(("schema drift", obj, False))
    obj = _minimal_doc()
    obj["salesAndTrafficByAsin"][2]["salesByAsin"]["unitsOrdered"] = Decimal("4.0")
    out.append(("integral decimal int", obj, False))
    obj = _minimal_doc()
    obj["salesAndTrafficByAsin"] = []
    out.append(("no asin rows", obj, True))
    return out


@pytest.mark.parametrize("index", range(5))
def test_fast_path_gives_exactly_the_row_by_row_result(index: int) -> None:
    what, obj, accepted = _variants()[index]
    fast, slow = _both_paths(dumps(obj))
    assert (fast is not None) == accepted, what
    assert parse_obj(obj) == slow  # the public function gives the same either way
    if fast is not None:
        assert fast == slow
        for fast_row, slow_row in zip(fast.by_asin + fast.by_date, slow.by_asin + slow.by_date, strict=True):
            assert {k: type(v) for k, v in fast_row.items()} == {k: type(v) for k, v in slow_row.items()}


@needs_shared
@pytest.mark.parametrize("sample", [REAL_PARENT, AIRBYTE_SKU], ids=["real-parent", "airbyte-sku"])
def test_fast_path_on_the_samples(sample: Path) -> None:
    fast, slow = _both_paths(sample.read_bytes())
    assert fast == slow
