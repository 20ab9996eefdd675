"""Required fields per document family (``amazon.report_columns``): the lists agree with the official files
(S&T JSON schema, Data Kiosk SDL, Orders API model) and the dbt marts; a document lacking one is refused with
the field, the row and the document named (typed error, fast paths included); a complete document parses as
before. Documents come from the simulator's seller; the drops are the simulator's ``missing_field`` helpers."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalkola_pipelines.amazon.documents import open_document
from chalkola_pipelines.amazon.errors import (
    AdsMissingFieldError,
    OrderReportMissingFieldError,
    SalesTrafficMissingFieldError,
)
from chalkola_pipelines.amazon.parsers import (
    iter_data_kiosk_sales_traffic,
    iter_order_report_rows,
    iter_sp_advertised_product_rows,
    parse_sales_and_traffic,
)
from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import _SECTIONS as DK_SECTIONS
from chalkola_pipelines.amazon.report_columns import (
    ADS_REQUIRED_COLUMNS,
    ORDER_REPORT_COLUMNS,
    ORDER_REPORT_OFFICIAL_HEADER,
    ORDER_REPORT_REQUIRED_HEADERS,
    ORDER_REPORT_REQUIRED_VALUES,
    ORDER_REPORT_REQUIRED_WITH,
    SP_ADVERTISED_PRODUCT_COLUMNS,
    SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS,
    ST_REQUIRED_FIELDS,
)
from chalkola_pipelines.marketplaces import get_marketplace, local_days_window_utc
from chalkola_pipelines.simulator.document_encoding import (
    blank_tsv_field,
    drop_field_jsonl,
    drop_field_rows,
    drop_field_sales_traffic,
    dumps_json,
    tsv_bytes,
)
from chalkola_pipelines.simulator.seller import SyntheticSeller

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "amazon_models"
DBT_MODELS = REPO / "dbt_project"
DAY = dt.date.today() - dt.timedelta(days=5)
US = get_marketplace("US")


@pytest.fixture(scope="module")
def seller() -> SyntheticSeller:
    return SyntheticSeller(seed=7, marketplaces=["US"])


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------------
# the lists against the official files


def test_sales_traffic_rows_require_what_the_report_schema_requires() -> None:
    defs = json.loads((MODELS / "schemas" / "reports" / "sellerSalesAndTrafficReport.json").read_text())
    defs = defs["definitions"]
    for section in ("SalesByDate", "TrafficByDate", "SalesByAsin", "TrafficByAsin"):
        name = section[0].lower() + section[1:]
        assert {n for s, n in ST_REQUIRED_FIELDS if s == name} == set(defs[section]["required"]), section
    assert set(defs["SalesAndTrafficByDate"]["required"]) == {"date", "salesByDate", "trafficByDate"}
    assert set(defs["SalesAndTrafficByAsin"]["required"]) == {"parentAsin", "salesByAsin", "trafficByAsin"}
    assert set(defs["Amount"]["required"]) == {"amount", "currencyCode"}


def test_data_kiosk_records_require_the_sdl_non_null_fields() -> None:
    from graphql import GraphQLNonNull, build_schema

    schema = build_schema(
        (MODELS / "schemas" / "data-kiosk" / "analytics_salesAndTraffic_2024_04_24.graphql").read_text()
    )
    types = {
        ("by_date", "sales"): "ByDateSales",
        ("by_date", "traffic"): "ByDateTraffic",
        ("by_asin", "sales"): "ByAsinSales",
        ("by_asin", "traffic"): "ByAsinTraffic",
    }
    for (kind, block), type_name in types.items():
        sdl = schema.get_type(type_name).fields  # type: ignore[union-attr]
        entries = dict(DK_SECTIONS[kind])[block]
        for field, _, _, required in entries:
            assert required == isinstance(sdl[field].type, GraphQLNonNull), (type_name, field)
    for type_name in ("SalesAndTrafficByDate", "SalesAndTrafficByAsin", "SalesAndTrafficTrends"):
        fields = schema.get_type(type_name).fields  # type: ignore[union-attr]
        non_null = {n for n, f in fields.items() if isinstance(f.type, GraphQLNonNull)}
        # the parser requires these (fails naming them); childAsin / sku are nullable and default to ''
        assert {"startDate", "endDate", "marketplaceId", "sales", "traffic"} <= non_null
        if "parentAsin" in fields:
            assert "parentAsin" in non_null and not {"childAsin", "sku"} & non_null


def _dbt_text(*parts: str) -> str:
    return "\n".join(p.read_text() for part in parts for p in sorted((DBT_MODELS / part).rglob("*.sql")))


def test_ads_required_columns_are_the_columns_the_marts_use() -> None:
    staging = (DBT_MODELS / "models" / "staging" / "stg_amazon__ads_sp_advertised_product.sql").read_text()
    downstream = _dbt_text("models/intermediate", "models/marts", "macros")
    used_raw: set[str] = set()
    for expression, alias in re.findall(r"^\s+(.+?)(?:::\w+(?:\(\d+, \d+\))?)? as (\w+),?$", staging, re.M):
        if re.search(rf"\b{alias}\b", downstream):
            used_raw |= set(re.findall(r"\b[a-z][a-z0-9_]*\b", expression)) - {"coalesce", "nullif", "trim"}
    ours = {"marketplace", "profile_id", "loaded_at"}  # set by the loader, not document columns
    nullable = {"advertised_asin", "advertised_sku"}  # the marts filter / aggregate them
    column = {c.name: c.column for c in SP_ADVERTISED_PRODUCT_COLUMNS}
    required = {column[name] for group in ADS_REQUIRED_COLUMNS for name in group}
    key = {"ad_id"}  # the raw table's key (profile_id, report_date, ad_id)
    assert required == (used_raw - ours - nullable) | key
    assert {name for group in ADS_REQUIRED_COLUMNS for name in group} <= set(
        SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS
    )  # all requested by the pipeline


def test_order_report_key_columns_match_the_orders_model() -> None:
    orders_model = REPO.parent / "shared" / "amazon-models" / "models" / "orders-api-model" / "ordersV0.json"
    model = json.loads(orders_model.read_text()) if orders_model.is_file() else None
    assert set(ORDER_REPORT_REQUIRED_HEADERS) <= set(ORDER_REPORT_OFFICIAL_HEADER)
    assert set(ORDER_REPORT_REQUIRED_VALUES) <= set(ORDER_REPORT_REQUIRED_HEADERS)
    assert {h for pair in ORDER_REPORT_REQUIRED_WITH for h in pair} <= set(ORDER_REPORT_REQUIRED_HEADERS)
    assert set(ORDER_REPORT_REQUIRED_HEADERS) <= {c.header for c in ORDER_REPORT_COLUMNS}  # all stored
    if model is None:
        pytest.skip("shared/amazon-models not present")
    definitions = model["definitions"]
    # the report's key columns are what the Orders API requires of an Order and an OrderItem
    assert {"AmazonOrderId", "PurchaseDate"} <= set(definitions["Order"]["required"])
    assert {"ASIN", "QuantityOrdered"} <= set(definitions["OrderItem"]["required"])
    assert "SellerSKU" not in definitions["OrderItem"]["required"]  # so a blank sku value is allowed


# --------------------------------------------------------------------------------------------------
# refused with field, row, document; complete documents parse


@pytest.fixture(scope="module")
def st_document(seller: SyntheticSeller) -> dict[str, Any]:
    document = seller.sales_and_traffic_document(
        US.marketplace_id, DAY, DAY, date_granularity="DAY", asin_granularity="CHILD"
    )
    return {**document, "salesAndTrafficByAsin": document["salesAndTrafficByAsin"][:20]}


@pytest.fixture(scope="module")
def ads_rows(seller: SyntheticSeller) -> list[dict[str, Any]]:
    profile_id = seller.truth.profile_id("US")
    rows = seller.sp_advertised_product_rows(
        profile_id, DAY, DAY, SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS
    )
    return list(rows)[:40]  # 40 rows of ~1.5 kB: 512-byte chunks cut it into many slices


@pytest.fixture(scope="module")
def order_rows(seller: SyntheticSeller) -> list[dict[str, str]]:
    start, end = local_days_window_utc(US, DAY, DAY)
    return seller.order_report_rows(US.marketplace_id, start, end)


@pytest.mark.parametrize("path", sorted(f"{s}.{n}" for s, n in ST_REQUIRED_FIELDS) + ["parentAsin"])
def test_sales_traffic_report_without_a_required_field(st_document, tmp_path, path: str) -> None:
    document = st_document
    complete = parse_sales_and_traffic(io.BytesIO(dumps_json(document)))
    assert complete.by_asin and complete.by_date
    broken = drop_field_sales_traffic(document, path)
    file = _file(tmp_path, "RID-1.json", dumps_json(broken))
    with open_document(file) as stream, pytest.raises(SalesTrafficMissingFieldError) as info:
        parse_sales_and_traffic(stream)
    error = info.value
    assert error.field == path and error.document == str(file) and str(file) in str(error)
    by_date = path.startswith(("salesByDate", "trafficByDate"))
    index = len(document["salesAndTrafficByDate" if by_date else "salesAndTrafficByAsin"]) - 1
    assert error.row.endswith(f"[{index}]") and f"{error.row}.{path}" in str(error)
    # null is missing too (the fast path takes null for a Float; the row parser refuses it)
    nulled = json.loads(dumps_json(document))
    section, _, name = path.rpartition(".")
    if not by_date and path != "parentAsin":
        row = nulled["salesAndTrafficByAsin"][0]
        row[section][name] = None
        with pytest.raises(
            SalesTrafficMissingFieldError, match=re.escape(f"salesAndTrafficByAsin[0].{path}")
        ):
            parse_sales_and_traffic(io.BytesIO(json.dumps(nulled).encode()))


def test_sales_traffic_b2b_fields_are_optional(st_document) -> None:
    document = json.loads(dumps_json(st_document))
    for row in document["salesAndTrafficByAsin"]:
        row["salesByAsin"].pop("unitsOrderedB2B", None)
    (row, *_) = parse_sales_and_traffic(io.BytesIO(json.dumps(document).encode())).by_asin
    assert row["units_ordered_b2b"] is None


def _dk_lines(document: dict[str, Any]) -> bytes:
    day = DAY.isoformat()
    records = [
        {"startDate": day, "endDate": day, "marketplaceId": US.marketplace_id, "sales": r["salesByDate"],
         "traffic": r["trafficByDate"]}
        for r in document["salesAndTrafficByDate"]
    ]  # fmt: skip
    return b"".join(dumps_json(r) + b"\n" for r in records)


@pytest.mark.parametrize(
    "path",
    ["sales.unitsOrdered", "traffic.sessions", "sales.orderedProductSales.currencyCode", "marketplaceId"],
)
def test_data_kiosk_record_without_a_non_null_field(st_document, tmp_path, path: str) -> None:
    data = _dk_lines(st_document)
    assert len(list(iter_data_kiosk_sales_traffic(io.BytesIO(data), "by_date"))) == 1
    file = _file(tmp_path, "query-1.jsonl", drop_field_jsonl(data, path))
    with open_document(file) as stream, pytest.raises(SalesTrafficMissingFieldError) as info:
        list(iter_data_kiosk_sales_traffic(stream, "by_date"))
    assert (info.value.field, info.value.row, info.value.document) == (path, "line 1", str(file))
    assert str(file) in str(info.value) and "no record of this document is loaded" in str(info.value)


@pytest.mark.parametrize("group", ADS_REQUIRED_COLUMNS, ids=lambda g: "-".join(g))
@pytest.mark.parametrize("chunk_size", [1 << 20, 512])  # one slice; many slices (the last one is bad)
def test_ads_row_without_a_column_the_marts_need(ads_rows, tmp_path, group, chunk_size) -> None:
    from chalkola_pipelines.amazon.parsers.ads_report import SpAdvertisedProductRows

    rows = ads_rows
    assert len(rows) > 3
    complete = list(SpAdvertisedProductRows(io.BytesIO(dumps_json(rows)), chunk_size=chunk_size))
    assert len(complete) == len(rows)
    broken = rows
    for name in group:
        broken = drop_field_rows(broken, name)
    file = _file(tmp_path, "ads-report-1.json", dumps_json(broken))
    with open_document(file) as stream, pytest.raises(AdsMissingFieldError) as info:
        list(SpAdvertisedProductRows(stream, chunk_size=chunk_size))
    error = info.value
    assert error.field == " or ".join(group) and error.row == f"row {len(rows) - 1}"
    assert error.document == str(file) and f"row {len(rows) - 1}" in str(error)
    if len(group) > 1:  # one of the group is enough
        list(iter_sp_advertised_product_rows(io.BytesIO(dumps_json(drop_field_rows(rows, group[0])))))


def _order_tsv(rows: list[dict[str, str]]) -> bytes:
    return tsv_bytes(ORDER_REPORT_OFFICIAL_HEADER, rows)


@pytest.mark.parametrize("header", ORDER_REPORT_REQUIRED_VALUES)
def test_order_row_with_a_blank_key_value(order_rows, tmp_path, header: str) -> None:
    rows = order_rows
    assert len(list(iter_order_report_rows(io.BytesIO(_order_tsv(rows))))) == len(rows)
    file = _file(tmp_path, "orders-1.tsv", _order_tsv(blank_tsv_field(rows, header)))
    with open_document(file) as stream, pytest.raises(OrderReportMissingFieldError) as info:
        list(iter_order_report_rows(stream))
    error = info.value
    assert (error.field, error.line, error.row, error.document) == (
        header,
        len(rows) + 1,
        f"line {len(rows) + 1}",
        str(file),
    )
    assert f"line {len(rows) + 1}: {header} is blank" in str(error)


def test_order_currency_is_required_where_a_price_is(order_rows) -> None:
    rows = order_rows
    priced = next(i for i, r in enumerate(rows) if r["item-price"])
    broken = [*rows[:priced], {**rows[priced], "currency": ""}, *rows[priced + 1 :]]
    with pytest.raises(
        OrderReportMissingFieldError, match=f"line {priced + 2}: currency is blank but item-price"
    ):
        list(iter_order_report_rows(io.BytesIO(_order_tsv(broken))))
    unpriced = [*rows[:priced], {**rows[priced], "currency": "", "item-price": ""}, *rows[priced + 1 :]]
    assert len(list(iter_order_report_rows(io.BytesIO(_order_tsv(unpriced))))) == len(rows)


@pytest.mark.parametrize("header", ORDER_REPORT_REQUIRED_HEADERS)
def test_order_report_without_a_key_header(header: str) -> None:
    names = [h for h in ORDER_REPORT_OFFICIAL_HEADER if h != header]
    data = tsv_bytes(names, [])
    with pytest.raises(
        OrderReportMissingFieldError, match=f"line 1: required header\\(s\\) {header} missing"
    ) as info:
        list(iter_order_report_rows(io.BytesIO(data)))
    assert info.value.field == header
