"""Data Kiosk S&T JSONL parser: the report parser's records from Trends / ByDate / ByAsin lines, streamed line
by line (gzip or plain), with the same error class for truncated/malformed lines and missing fields, schema
drift counted, and empty documents refused."""

from __future__ import annotations

import copy
import gzip
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from chalkola_pipelines.amazon.documents import open_document
from chalkola_pipelines.amazon.errors import DocumentCorruptError, SalesTrafficFormatError
from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import (
    iter_data_kiosk_sales_traffic,
    sales_traffic_documents,
)
from chalkola_pipelines.amazon.parsers.sales_traffic import parse_sales_and_traffic
from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS, ST_BY_DATE_FIELDS

US = "ATVPDKIKX0DER"
DAY = "2026-11-01"


def _value(kind: str, i: int, currency: str = "USD"):
    if kind == "money":
        return {"amount": round(10.5 + i * 1.25, 2), "currencyCode": currency}
    if kind == "int":
        return 3 + i
    return round(0.5 + i / 8, 4)


def report_sections(fields, b2b: bool = True) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for i, f in enumerate(fields):
        if f.name.endswith("B2B") and not b2b:
            continue
        out.setdefault(f.section, {})[f.name] = _value(f.kind, i)
    return out


def report_document(asins: list[tuple[str, str]]) -> dict:
    """A one-day, one-marketplace S&T report with one byDate row and one byAsin row per (parent, child)."""
    by_date = {"date": DAY, **report_sections(ST_BY_DATE_FIELDS)}
    by_asin = []
    for k, (parent, child) in enumerate(asins):
        sections = report_sections(ST_BY_ASIN_FIELDS, b2b=k % 2 == 0)
        sections["salesByAsin"]["unitsOrdered"] = 10 + k
        by_asin.append({"parentAsin": parent, "childAsin": child, **sections})
    return {
        "reportSpecification": {"reportType": "GET_SALES_AND_TRAFFIC_REPORT", "marketplaceIds": [US]},
        "salesAndTrafficByDate": [by_date],
        "salesAndTrafficByAsin": by_asin,
    }


def dk_line(report_row: dict, kind: str, marketplace: str = US, day: str = DAY) -> dict:
    """The Data Kiosk record for a report row: sales*/traffic* → sales/traffic, date → startDate/endDate."""
    line = {"startDate": day, "endDate": day, "marketplaceId": marketplace}
    if kind != "by_date":
        line["parentAsin"] = report_row["parentAsin"]
        line["childAsin"] = report_row["childAsin"]
        if kind == "trends":
            line["asinAggregation"] = "CHILD"
    for key, value in report_row.items():
        if key.startswith("sales"):
            line["sales"] = copy.deepcopy(value)
        elif key.startswith("traffic"):
            line["traffic"] = copy.deepcopy(value)
    return line


def jsonl(lines: list[dict]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def parse(data: bytes, kind: str, **kw) -> list[dict]:
    return list(iter_data_kiosk_sales_traffic(io.BytesIO(data), kind, **kw))


ASINS = [("B0PARENT01", "B0CHILD001"), ("B0PARENT01", "B0CHILD002"), ("B0PARENT02", "B0CHILD003")]


def test_records_equal_the_report_parsers_rows():
    report = report_document(ASINS)
    parsed_report = parse_sales_and_traffic(io.BytesIO(json.dumps(report).encode()))
    trends = parse(jsonl([dk_line(r, "trends") for r in report["salesAndTrafficByAsin"]]), "trends")
    by_date = parse(jsonl([dk_line(r, "by_date") for r in report["salesAndTrafficByDate"]]), "by_date")
    assert len(trends) == 3 and len(by_date) == 1
    for ours, theirs in zip(trends, parsed_report.by_asin, strict=True):
        assert {k: ours[k] for k in theirs} == theirs  # same keys, same typed values
        assert (ours["marketplace_id"], ours["report_date"]) == (US, date(2026, 11, 1))
        assert ours["start_date"] == ours["end_date"] == date(2026, 11, 1)
    (theirs,) = parsed_report.by_date
    assert {k: by_date[0][k] for k in theirs} == theirs and by_date[0]["marketplace_id"] == US
    # typed exactly: Decimal amounts, int counts, None for absent B2B
    assert trends[0]["ordered_product_sales"] == Decimal("13.0") and type(trends[0]["units_ordered"]) is int
    assert trends[1]["units_ordered_b2b"] is None and trends[1]["sku"] == ""
    assert trends[0]["currency_code"] == "USD"


def test_grouped_documents_are_what_the_warehouse_loads_from_a_report():
    report = report_document(ASINS)
    parsed_report = parse_sales_and_traffic(io.BytesIO(json.dumps(report).encode()))
    lines = [dk_line(r, "trends") for r in report["salesAndTrafficByAsin"]]
    lines.append(dk_line(report["salesAndTrafficByAsin"][0], "trends", day="2026-11-02"))
    lines.append(dk_line(report["salesAndTrafficByAsin"][0], "trends", marketplace="A2EUQ1WTGCTBG2"))
    records = parse(jsonl(lines), "trends")
    records += parse(jsonl([dk_line(report["salesAndTrafficByDate"][0], "by_date")]), "by_date")
    documents = sales_traffic_documents(records)
    assert sorted(documents) == [
        ("A2EUQ1WTGCTBG2", date(2026, 11, 1)),
        (US, date(2026, 11, 1)),
        (US, date(2026, 11, 2)),
    ]
    day = documents[(US, date(2026, 11, 1))]
    assert len(day.by_asin) == 3 and len(day.by_date) == 1
    assert [{k: r[k] for k in parsed_report.by_asin[0]} for r in day.by_asin] == parsed_report.by_asin
    assert documents[(US, date(2026, 11, 2))].by_date == []


def test_by_asin_over_a_window_has_no_single_day():
    row = report_document(ASINS)["salesAndTrafficByAsin"][0]
    line = dk_line(row, "by_asin")
    line["endDate"] = "2026-11-30"
    (record,) = parse(jsonl([line]), "by_asin")
    assert record["report_date"] is None and record["end_date"] == date(2026, 11, 30)
    assert record["child_asin"] == "B0CHILD001"
    with pytest.raises(ValueError, match="no single day"):
        sales_traffic_documents([record])
    with pytest.raises(SalesTrafficFormatError, match="line 1: the record spans 2026-11-01..2026-11-30"):
        parse(jsonl([dict(line, asinAggregation="CHILD")]), "trends")


def test_gzip_and_plain_documents_stream_line_by_line(tmp_path):
    report = report_document(ASINS)
    data = jsonl([dk_line(r, "trends") for r in report["salesAndTrafficByAsin"]])
    (tmp_path / "q.jsonl.gz").write_bytes(gzip.compress(data))
    (tmp_path / "q.jsonl").write_bytes(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n") + b"\n\n")
    with open_document(tmp_path / "q.jsonl.gz") as a, open_document(tmp_path / "q.jsonl") as b:
        assert list(iter_data_kiosk_sales_traffic(a, "trends")) == list(
            iter_data_kiosk_sales_traffic(b, "trends")
        )

    class LinesOnly(io.BytesIO):
        def read(self, *args):  # the parser must never load the document whole
            raise AssertionError("read() called")

    rows = iter_data_kiosk_sales_traffic(LinesOnly(data), "trends")
    first = next(rows)
    assert first["child_asin"] == "B0CHILD001" and rows.records == 1  # lazily, one line at a time
    assert len(list(rows)) == 2 and rows.lines == 3


def test_truncated_jsonl_names_the_line_and_the_document(tmp_path):
    report = report_document(ASINS)
    data = jsonl([dk_line(r, "trends") for r in report["salesAndTrafficByAsin"]])
    cut = data[: len(data) - 40]
    path = tmp_path / "q-77.jsonl"
    path.write_bytes(cut)
    rows = iter_data_kiosk_sales_traffic(open_document(path), "trends")
    got = []
    with pytest.raises(SalesTrafficFormatError, match="line 3: malformed or truncated JSON") as info:
        for row in rows:
            got.append(row)
    assert len(got) == 2 and "q-77.jsonl" in str(info.value) and "salesAndTrafficTrends" in str(info.value)
    # a gzip cut short is a corrupt document (the same error as for reports)
    (tmp_path / "q.gz").write_bytes(gzip.compress(data)[:-30])
    with pytest.raises(DocumentCorruptError):
        list(iter_data_kiosk_sales_traffic(open_document(tmp_path / "q.gz"), "trends"))


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"[1, 2]", "line 2: a record must be a JSON object"),
        (b'{"startDate": "2026-11-01"', "line 2: malformed or truncated JSON"),
        (b"not json", "line 2: malformed"),
    ],
)
def test_malformed_line(line, words):
    good = jsonl([dk_line(report_document(ASINS)["salesAndTrafficByDate"][0], "by_date")])
    with pytest.raises(SalesTrafficFormatError, match=words):
        parse(good + line + b"\n" + good, "by_date", source="query q-5 document doc-5")


def mutate(kind: str, change) -> bytes:
    report = report_document(ASINS)
    row = report["salesAndTrafficByDate"][0] if kind == "by_date" else report["salesAndTrafficByAsin"][0]
    line = dk_line(row, kind)
    change(line)
    return jsonl([dk_line(row, kind), line])


@pytest.mark.parametrize(
    ("kind", "change", "words"),
    [
        ("trends", lambda d: d.pop("parentAsin"), "line 2: required field parentAsin is missing"),
        (
            "trends",
            lambda d: d["sales"].pop("unitsOrdered"),
            "line 2: required field sales.unitsOrdered is missing",
        ),
        ("by_date", lambda d: d.pop("traffic"), "line 2: required field traffic is missing"),
        ("by_date", lambda d: d.pop("marketplaceId"), "required field marketplaceId is missing"),
        ("by_date", lambda d: d.pop("startDate"), "required field startDate is missing"),
        ("by_date", lambda d: d.update(startDate="01/11/2026"), "startDate must be a YYYY-MM-DD date"),
        ("trends", lambda d: d["traffic"].update(sessions="12"), "traffic.sessions must be an integer"),
        ("trends", lambda d: d["traffic"].update(sessions=1.5), "traffic.sessions must be an integer"),
        ("trends", lambda d: d["traffic"].update(buyBoxPercentage=True), "buyBoxPercentage must be a number"),
        (
            "trends",
            lambda d: d["sales"]["orderedProductSales"].pop("amount"),
            "orderedProductSales.amount is missing",
        ),
        ("trends", lambda d: d["sales"].update(orderedProductSales=3), "must be an Amount object"),
        (
            "by_date",
            lambda d: d["sales"]["claimsAmount"].update(currencyCode="EUR"),
            "exactly one currency across its Amounts, found EUR, USD",
        ),
    ],
)
def test_missing_or_wrong_fields_name_the_field_and_line(kind, change, words):
    with pytest.raises(SalesTrafficFormatError, match=words):
        parse(mutate(kind, change), kind)


def test_unknown_fields_are_counted_as_schema_drift():
    def drift(line):
        line["newTopLevel"] = 1
        line["sales"]["unitsOrderedPrime"] = 2
        line["sales"]["orderedProductSales"]["fxRate"] = 1

    data = mutate("trends", drift) + mutate("trends", drift)
    rows = iter_data_kiosk_sales_traffic(io.BytesIO(data), "trends")
    assert len(list(rows)) == 4
    assert rows.unknown_fields == {
        "newTopLevel",
        "sales.unitsOrderedPrime",
        "sales.orderedProductSales.fxRate",
    }
    assert rows.unknown_field_counts["sales.unitsOrderedPrime"] == 2
    # asinAggregation is a Trends field, not drift; it is drift in a ByAsin document
    assert "asinAggregation" not in rows.unknown_fields
    line = dk_line(report_document(ASINS)["salesAndTrafficByAsin"][0], "trends")
    rows = iter_data_kiosk_sales_traffic(io.BytesIO(jsonl([line])), "by_asin")
    list(rows)
    assert rows.unknown_fields == {"asinAggregation"}


def test_empty_document_is_refused_unless_allowed():
    for data in (b"", b"\n\n  \n"):
        with pytest.raises(SalesTrafficFormatError, match="the document is empty"):
            parse(data, "trends", source="query q-1")
        assert parse(data, "trends", allow_empty=True) == []
    with pytest.raises(ValueError, match="unknown Data Kiosk document kind"):
        iter_data_kiosk_sales_traffic(io.BytesIO(b""), "weekly")  # type: ignore[arg-type]


def _both_paths(line: dict, kind: str):
    rows = iter_data_kiosk_sales_traffic(io.BytesIO(b""), kind, allow_empty=True)
    raw = json.dumps(line).encode()
    fast = rows.fast_record(raw)
    try:
        slow = rows.slow_record(raw)
    except SalesTrafficFormatError:
        slow = None
    return fast, slow, rows


def _variants(kind: str) -> list[dict]:
    doc = report_document(ASINS)
    base = dk_line(doc["salesAndTrafficByAsin" if kind != "by_date" else "salesAndTrafficByDate"][0], kind)
    money = next(k for k, v in base["sales"].items() if isinstance(v, dict))
    num = next(k for k, v in base["traffic"].items() if isinstance(v, float))
    integer = next(k for k, v in base["traffic"].items() if isinstance(v, int))
    out = [base, dk_line(doc["salesAndTrafficByAsin"][1], kind) if kind != "by_date" else base]

    def changed(fn) -> dict:
        line = copy.deepcopy(base)
        fn(line)
        out.append(line)
        return line

    changed(lambda x: x["traffic"].__setitem__(num, 7))  # an integer literal in a Float field
    changed(lambda x: x["traffic"].__setitem__(num, None))
    changed(lambda x: x["traffic"].__setitem__(integer, 5.0))  # an integral Float in a Long field
    changed(lambda x: x["traffic"].__setitem__(integer, True))
    changed(lambda x: x["traffic"].__setitem__(num, "0.5"))
    changed(lambda x: x["sales"][money].__setitem__("amount", "12.30"))
    changed(lambda x: x["sales"][money].__setitem__("amount", 12))
    changed(lambda x: x["sales"][money].__setitem__("currencyCode", "EUR"))
    changed(lambda x: x["sales"][money].__setitem__("currencyCode", ""))
    changed(lambda x: x["sales"][money].__setitem__("extra", 1))
    changed(lambda x: x["traffic"].__setitem__("newField", 1))
    changed(lambda x: x.__setitem__("newTop", 1))
    changed(lambda x: x.__setitem__("marketplaceId", ""))
    changed(lambda x: x.__setitem__("endDate", "2026-10-31"))
    changed(lambda x: x.__setitem__("startDate", "20261101"))
    changed(lambda x: x.pop("traffic"))
    if kind != "by_date":
        changed(lambda x: x.__setitem__("childAsin", None))
        changed(lambda x: x.__setitem__("childAsin", ""))
        changed(lambda x: x.__setitem__("parentAsin", ""))
        changed(lambda x: x.__setitem__("sku", "SKU-1"))
    return out


@pytest.mark.parametrize("kind", ["trends", "by_date", "by_asin"])
def test_fast_path_gives_the_row_by_row_record_or_hands_the_line_over(kind):
    taken = 0
    for line in _variants(kind):
        fast, slow, _ = _both_paths(line, kind)
        if fast is None:
            continue  # the slow path decides (same record, an error, or drift counted)
        taken += 1
        assert slow is not None, line
        assert fast == slow and list(fast) == list(slow), line
        assert [type(v) for v in fast.values()] == [type(v) for v in slow.values()], line
    assert taken >= 4
    # what the parser yields for every variant is the slow path's answer wherever the fast path declines
    for line in _variants(kind):
        _, slow, _ = _both_paths(line, kind)
        data = jsonl([line])
        if slow is None:
            with pytest.raises(SalesTrafficFormatError):
                parse(data, kind)
        else:
            assert parse(data, kind) == [slow]


def _as_record_values(row: list) -> tuple:
    """Values compared as numbers: a kept literal (msgspec.Raw) → its Decimal, an int → Decimal (the record
    parser makes an integer in a Float field a Decimal; both are written to COPY as the same text)."""
    import msgspec

    return tuple(
        Decimal(bytes(v).decode()) if type(v) is msgspec.Raw else Decimal(v) if type(v) is int else v
        for v in row
    )


@pytest.mark.parametrize("kind", ["trends", "by_asin"])
@pytest.mark.parametrize("chunk_bytes", [1 << 20, 50])
def test_row_batches_give_the_record_parsers_values_or_its_error(kind, chunk_bytes):
    from chalkola_pipelines.amazon.parsers.data_kiosk_rows import ROW_FIELDS, row_batches

    for line in _variants(kind):
        data = jsonl([_variants(kind)[0], line, _variants(kind)[1]])
        try:
            records = parse(data, kind)
        except SalesTrafficFormatError as exc:
            with pytest.raises(SalesTrafficFormatError) as info:
                list(row_batches(iter_data_kiosk_sales_traffic(io.BytesIO(data), kind), chunk_bytes))
            assert str(info.value) == str(exc)
            continue
        except ValueError:
            continue
        if any(r["report_date"] is None for r in records):
            with pytest.raises(ValueError, match="no single day"):
                list(row_batches(iter_data_kiosk_sales_traffic(io.BytesIO(data), kind), chunk_bytes))
            continue
        rows = iter_data_kiosk_sales_traffic(io.BytesIO(data), kind)
        got = [
            (b.marketplace_id, b.day, _as_record_values(row))
            for b in row_batches(rows, chunk_bytes)
            for row in b.rows
        ]
        want = [
            (r["marketplace_id"], r["report_date"], _as_record_values([r[c] for c in ROW_FIELDS]))
            for r in records
        ]
        assert sorted(got, key=repr) == sorted(want, key=repr), line
        assert rows.records == 3 and rows.lines == 3
        reference = iter_data_kiosk_sales_traffic(io.BytesIO(data), kind)
        list(reference)
        assert rows.unknown_fields == reference.unknown_fields


def test_row_batches_refuse_by_date_documents_and_read_documents():
    from chalkola_pipelines.amazon.parsers.data_kiosk_rows import row_batches

    with pytest.raises(ValueError, match="Trends / ByAsin"):
        list(row_batches(iter_data_kiosk_sales_traffic(io.BytesIO(b""), "by_date")))
    rows = iter_data_kiosk_sales_traffic(io.BytesIO(jsonl(_variants("trends")[:2])), "trends")
    next(rows)
    with pytest.raises(ValueError, match="unread document"):
        list(row_batches(rows))
    with pytest.raises(SalesTrafficFormatError, match="the document is empty"):
        list(iter_data_kiosk_sales_traffic(io.BytesIO(b"\n \n"), "trends").row_batches())


@pytest.mark.parametrize("enabled", [True, False])
def test_row_batches_leave_the_garbage_collector_as_they_found_it(enabled):
    """The chunk decoder pauses the cyclic collector while it works, and restores the caller's setting,
    also when a chunk is refused and when the document is broken."""
    import gc

    from chalkola_pipelines.amazon.parsers.data_kiosk_rows import row_batches

    good = jsonl(_variants("trends")[:2])
    broken = good + b'{"startDate": "2026-11-01"\n'
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        rows = row_batches(iter_data_kiosk_sales_traffic(io.BytesIO(good), "trends"))
        assert sum(len(b.rows) for b in rows) == 2 and gc.isenabled() is enabled
        with pytest.raises(SalesTrafficFormatError, match="line 3: malformed"):
            list(row_batches(iter_data_kiosk_sales_traffic(io.BytesIO(broken), "trends"), 64))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
