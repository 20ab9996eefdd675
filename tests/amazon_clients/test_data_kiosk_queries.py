"""Data Kiosk query builder: every built query validates against Amazon's SDL (graphql-core), selects every
column of the raw S&T tables, packs ≤ 30 ASINs per filter and ≤ 8,000 characters per query, deterministically."""

from __future__ import annotations

import hashlib
import json
import random
import string
from datetime import date
from pathlib import Path

import pytest
from graphql import FieldNode, get_named_type, is_non_null_type, parse

from chalkola_pipelines.amazon import data_kiosk_queries as dkq
from chalkola_pipelines.amazon.data_kiosk_queries import (
    MAX_ASINS_PER_FILTER,
    MAX_QUERY_CHARS,
    sales_traffic_by_asin_query,
    sales_traffic_by_date_query,
    sales_traffic_trends_queries,
    schema,
    validation_errors,
)
from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS, ST_BY_DATE_FIELDS
from chalkola_pipelines.warehouse.sales_traffic_tables import ST_BY_ASIN_COLUMNS, ST_BY_DATE_COLUMNS

REPO = Path(__file__).resolve().parents[2]
VENDORED = REPO / "chalkola_pipelines" / "amazon" / "schemas" / "analytics_salesAndTraffic_2024_04_24.graphql"
SHARED_SDL = REPO.parent / "shared" / "amazon-models" / "schemas" / "data-kiosk" / VENDORED.name
ELEVEN = (
    "ATVPDKIKX0DER A2EUQ1WTGCTBG2 A1AM78C64UM0Y8 A1F83G8C2ARO7P A1PA6795UKMFR9 A13V1IB3VIYZZH APJ6JRA9NG5V4 "
    "A1RKKUPIHCS9HS A1805IZSGTT6HS A2NODRKZP88ZB9 A1VC38T7YXB528"
).split()
START, END = date(2026, 1, 1), date(2026, 1, 31)
SECTION_TYPES = {
    "salesByDate": "ByDateSales",
    "trafficByDate": "ByDateTraffic",
    "salesByAsin": "ByAsinSales",
    "trafficByAsin": "ByAsinTraffic",
}
KIND_TYPES = {"int": "Long", "num": "Float", "money": "Amount"}


def asins(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        out.add("B0" + "".join(rnd.choice(string.ascii_uppercase + string.digits) for _ in range(8)))
    return sorted(out)


def root_field(text: str) -> FieldNode:
    (operation,) = parse(text).definitions
    (domain,) = operation.selection_set.selections
    (root,) = domain.selection_set.selections
    return root


def selected(text: str) -> dict[str, set[str]]:
    """{"": record fields, "sales": …, "traffic": …} of a built query."""
    root = root_field(text)
    out: dict[str, set[str]] = {"": set()}
    for node in root.selection_set.selections:
        out[""].add(node.name.value)
        if node.selection_set and node.name.value in ("sales", "traffic"):
            out[node.name.value] = {n.name.value for n in node.selection_set.selections}
    return out


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_vendored_sdl_is_amazons_file():
    data = VENDORED.read_bytes()
    assert git_blob_id(data) == "63435088e3913de1399b0fdb7ff5988fd94914ca"  # schemas/README.md
    if SHARED_SDL.is_file():
        assert SHARED_SDL.read_bytes() == data


def test_every_catalogue_field_is_in_the_sdl_with_the_same_kind_and_nullability():
    types = schema().type_map
    for f in ST_BY_DATE_FIELDS + ST_BY_ASIN_FIELDS:
        sdl_type = types[SECTION_TYPES[f.section]]
        assert f.name in sdl_type.fields, f  # the SDL lacks no field the tables hold
        field_type = sdl_type.fields[f.name].type
        assert get_named_type(field_type).name == KIND_TYPES[f.kind], f
        assert is_non_null_type(field_type) == (not f.name.endswith("B2B")), f


@pytest.mark.parametrize("kind", ["by_date", "by_asin", "trends"])
def test_each_query_selects_every_column_of_the_raw_tables(kind):
    if kind == "by_date":
        query = sales_traffic_by_date_query(START, END, ["ATVPDKIKX0DER"])
        fields, sections, table = ST_BY_DATE_FIELDS, ("salesByDate", "trafficByDate"), ST_BY_DATE_COLUMNS
        heads = {"startDate", "endDate", "marketplaceId"}
        loader = {"marketplace", "marketplace_id", "report_date", "currency_code", "report_id", "source"}
    else:
        query = (
            sales_traffic_by_asin_query(START, END, ["ATVPDKIKX0DER"])
            if kind == "by_asin"
            else sales_traffic_trends_queries(START, END, {"ATVPDKIKX0DER": ["B000000001"]})[0]
        )
        fields, sections, table = ST_BY_ASIN_FIELDS, ("salesByAsin", "trafficByAsin"), ST_BY_ASIN_COLUMNS
        heads = {"startDate", "endDate", "marketplaceId", "parentAsin", "childAsin", "sku"}
        loader = {"marketplace", "marketplace_id", "report_date", "parent_asin", "child_asin", "sku"}
        loader |= {"currency_code", "report_id", "source"}
    assert validation_errors(query.text) == []
    got = selected(query.text)
    assert got[""] == heads | {"sales", "traffic"}
    for name, section in zip(("sales", "traffic"), sections, strict=True):
        assert got[name] == {f.name for f in fields if f.section == section}
    # every table column is either a loader column or a selected field
    assert set(table) - loader == {f.column for f in fields}
    # Amounts select both of their fields
    assert "orderedProductSales{amount currencyCode}" in query.text


def test_by_date_and_by_asin_arguments():
    by_date = sales_traffic_by_date_query(START, END, ["A1PA6795UKMFR9", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"])
    args = {a.name.value: a.value for a in root_field(by_date.text).arguments}
    assert args["aggregateBy"].value == "DAY"
    assert [v.value for v in args["marketplaceIds"].values] == ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]
    assert (args["startDate"].value, args["endDate"].value) == ("2026-01-01", "2026-01-31")
    assert by_date.marketplace_ids == ("A1F83G8C2ARO7P", "A1PA6795UKMFR9")
    by_asin = sales_traffic_by_asin_query(START, END, ELEVEN)
    args = {a.name.value: a.value for a in root_field(by_asin.text).arguments}
    assert args["aggregateBy"].value == "CHILD"
    assert len(args["marketplaceIds"].values) == 11
    assert by_date.text.startswith(
        "query ChalkolaSalesAndTrafficByDate{analytics_salesAndTraffic_2024_04_24{"
    )


def test_more_than_30_asins_are_split_into_filters_of_30():
    wanted = asins(65)
    (query,) = sales_traffic_trends_queries(START, END, {"ATVPDKIKX0DER": wanted})
    assert validation_errors(query.text) == []
    args = {a.name.value: a.value for a in root_field(query.text).arguments}
    assert args["asinAggregation"].value == "CHILD" and args["dateAggregation"].value == "DAY"
    filters = args["filters"].values
    sizes = [len({f.name.value: f.value for f in flt.fields}["asins"].values) for flt in filters]
    assert sizes == [30, 30, 5]
    sent = [v.value for flt in filters for v in {f.name.value: f.value for f in flt.fields}["asins"].values]
    assert sent == wanted
    assert query.asin_count == 65
    assert query.max_records == 31 * 65  # 2026-01-01..31, one record per pair and day at most


def test_1000_asins_in_11_marketplaces_fit_8000_characters_each():
    wanted = asins(1000)
    queries = sales_traffic_trends_queries(START, END, {m: wanted for m in ELEVEN})
    pairs: list[tuple[str, str]] = []
    for query in queries:
        assert len(query.text) <= MAX_QUERY_CHARS
        assert validation_errors(query.text) == []
        for flt in {a.name.value: a.value for a in root_field(query.text).arguments}["filters"].values:
            fields = {f.name.value: f.value for f in flt.fields}
            assert 1 <= len(fields["asins"].values) <= MAX_ASINS_PER_FILTER
            pairs += [(fields["marketplaceId"].value, v.value) for v in fields["asins"].values]
    assert len(pairs) == len(set(pairs)) == 11_000  # each pair exactly once
    # packed: 34 filters per marketplace, ~18 filters per query, far fewer queries than filters
    assert len(queries) <= 25
    assert sum(len(q.text) for q in queries) / len(queries) > 7_000
    assert any(len(q.marketplace_ids) > 1 for q in queries)  # several marketplaces per query


def test_output_is_deterministic_whatever_the_input_order_and_duplicates():
    wanted = asins(100)
    shuffled = list(wanted) * 2
    random.Random(3).shuffle(shuffled)
    a = sales_traffic_trends_queries(START, END, {"A1F83G8C2ARO7P": wanted, "ATVPDKIKX0DER": wanted[:40]})
    b = sales_traffic_trends_queries(
        START, END, {"ATVPDKIKX0DER": [x.lower() for x in wanted[:40]], "A1F83G8C2ARO7P": shuffled}
    )
    assert [q.text for q in a] == [q.text for q in b]
    assert a == b
    assert sales_traffic_by_date_query(START, END, ELEVEN) == sales_traffic_by_date_query(
        START, END, reversed(ELEVEN)
    )


def test_a_smaller_budget_makes_more_queries_and_never_exceeds_it():
    wanted = asins(300)
    queries = sales_traffic_trends_queries(START, END, {"ATVPDKIKX0DER": wanted}, max_chars=3000)
    assert all(len(q.text) <= 3000 for q in queries)
    assert len(queries) == 3  # 1,004 empty + 422 per filter of 30: 4 filters per query, 10 filters
    assert sum(q.asin_count for q in queries) == 300


def test_refusals():
    with pytest.raises(ValueError, match="not a 10-character ASIN"):
        sales_traffic_trends_queries(START, END, {"ATVPDKIKX0DER": ["B0BAD"]})
    with pytest.raises(ValueError, match="not a 10-character ASIN"):  # no way to inject GraphQL
        sales_traffic_trends_queries(START, END, {"ATVPDKIKX0DER": ['B000000"}{']})
    with pytest.raises(ValueError, match="before start date"):
        sales_traffic_by_date_query(END, START, ["ATVPDKIKX0DER"])
    with pytest.raises(ValueError, match="not a marketplace id"):
        sales_traffic_by_date_query(START, END, ["atvpdkikx0der x"])
    with pytest.raises(ValueError, match="no marketplace id"):
        sales_traffic_by_asin_query(START, END, [])
    with pytest.raises(ValueError, match="does not fit"):
        sales_traffic_trends_queries(START, END, {"ATVPDKIKX0DER": asins(30)}, max_chars=1300)
    assert sales_traffic_trends_queries(START, END, {"ATVPDKIKX0DER": []}) == []


def test_validation_reports_what_amazon_would_refuse():
    good = sales_traffic_by_date_query(START, END, ["ATVPDKIKX0DER"]).text
    assert validation_errors(good.replace("averageOfferCount", "averageOfferCounts"))
    assert validation_errors(good.replace("aggregateBy:DAY", "aggregateBy:HOUR"))
    assert validation_errors(good[:-1])  # syntax
    with pytest.raises(ValueError, match="does not validate"):
        dkq.check_query(good.replace("sessions ", "visits "))


def test_next_page_keeps_the_text_and_sets_the_token():
    query = sales_traffic_by_date_query(START, END, ["ATVPDKIKX0DER"])
    page = query.next_page("tok-2")
    assert page.text == query.text and page.pagination_token == "tok-2" and query.pagination_token is None
    assert json.dumps(query.window) == '"2026-01-01..2026-01-31 [ATVPDKIKX0DER]"'
