"""Data Kiosk Trends documents: the bulk path (value rows streamed into one COPY, all days in one transaction)
loads exactly what the record path (records → one document per day → replace_sales_traffic_day) loads.

Real Postgres. Documents are written by hand with the tricky parts: escapes and unicode in ids, nulls and
absent optional fields, number literals of every shape, schema drift, BOM / CRLF / blank lines, other
marketplaces and days, several documents, chunks cut anywhere.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json

import psycopg
import pytest

from chalkola_pipelines.amazon.errors import SalesTrafficFormatError, SalesTrafficMissingFieldError
from chalkola_pipelines.amazon.parsers import data_kiosk_rows
from chalkola_pipelines.amazon.parsers.data_kiosk_rows import row_batches
from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import (
    iter_data_kiosk_sales_traffic,
    sales_traffic_documents,
)
from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS, ST_BY_DATE_FIELDS
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError
from chalkola_pipelines.warehouse.sales_traffic_tables import (
    ST_BY_ASIN_TABLE,
    ST_BY_DATE_TABLE,
    replace_sales_traffic_day,
    replace_sales_traffic_days,
)

US = get_marketplace("US")
CA = get_marketplace("CA")
DAYS = [dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)]


def _section(fields, section: str, i: int) -> dict:
    out = {}
    for k, f in enumerate(fields):
        if f.section != section:
            continue
        if f.kind == "money":
            out[f.name] = {"amount": round(10.5 + (i + k) * 1.25, 2), "currencyCode": "USD"}
        elif f.kind == "int":
            out[f.name] = i + k
        else:
            out[f.name] = round(0.5 + (i + k) / 8, 4)
    return out


def trends_line(
    i: int, day: dt.date, *, marketplace: str = US.marketplace_id, parent: str | None = None
) -> dict:
    return {
        "startDate": day.isoformat(),
        "endDate": day.isoformat(),
        "marketplaceId": marketplace,
        "parentAsin": parent or f"B0PARENT{i % 7:02d}",
        "childAsin": f"B0CHILD{i:04d}",
        "asinAggregation": "CHILD",
        "sales": _section(ST_BY_ASIN_FIELDS, "salesByAsin", i),
        "traffic": _section(ST_BY_ASIN_FIELDS, "trafficByAsin", i),
    }


def by_date_record(day: dt.date, source_id: str) -> dict:
    line = {
        "startDate": day.isoformat(),
        "endDate": day.isoformat(),
        "marketplaceId": US.marketplace_id,
        "sales": _section(ST_BY_DATE_FIELDS, "salesByDate", day.day),
        "traffic": _section(ST_BY_DATE_FIELDS, "trafficByDate", day.day),
    }
    (record,) = iter_data_kiosk_sales_traffic(io.BytesIO(json.dumps(line).encode()), "by_date")
    record["source_id"] = source_id
    return record


ST_BY_ASIN_COLUMNS_INDEX = {
    c: i
    for i, c in enumerate(
        ["marketplace", "marketplace_id", "report_date", "parent_asin", "child_asin", "sku", "currency_code"]
        + [f.column for f in ST_BY_ASIN_FIELDS]
    )
}


TRICKY_IDS = [
    'B0"QUOTE"',
    "B0\\BACKSLASH\\N",
    "B0],[COMMA,",
    "B0\nNEWLINE\r\tTAB",
    "B0日本語ÅSIN😀",
    "null",
    "\\N",
    "\\.",
    " B0 SPACES ",
    "B0\u2028SEP",
]


def tricky_lines() -> list[dict]:
    """Mostly plain lines (the bulk of a chunk) with every tricky variant sprinkled in."""
    lines = [trends_line(i, DAYS[i % 3]) for i in range(60)]
    for k, text in enumerate(TRICKY_IDS):
        line = trends_line(100 + k, DAYS[k % 3], parent=text)
        line["childAsin"] = text + "-c"
        line["sku"] = text
        lines.append(line)

    def variant(i: int, change) -> None:
        line = trends_line(200 + i, DAYS[i % 3])
        change(line)
        lines.append(line)

    number_literals = [
        *("1.50", "1e-5", "1E+2", "-0.0", "0.1e1", "0.123456789012345678901234567890", "7", "-3"),
        *("0.0100000000", "12.000", "1.5E-3", "-0"),  # trailing zeros and exponents keep their text
    ]
    for i, literal in enumerate(number_literals):
        variant(i + 70, lambda d, lit=literal: d["traffic"].__setitem__("buyBoxPercentage", f"@{lit}@"))
        variant(
            i + 50, lambda d, lit=literal: d["sales"]["orderedProductSales"].__setitem__("amount", f"@{lit}@")
        )
    variant(10, lambda d: d["traffic"].__setitem__("sessionsB2B", None))  # null optional Long
    variant(11, lambda d: d["traffic"].__setitem__("buyBoxPercentageB2B", None))  # null optional Float
    variant(12, lambda d: d["sales"].__setitem__("orderedProductSalesB2B", None))  # null optional Amount
    variant(13, lambda d: [d["traffic"].pop(k) for k in list(d["traffic"]) if k.endswith("B2B")])
    variant(14, lambda d: [d["sales"].pop(k) for k in list(d["sales"]) if k.endswith("B2B")])
    variant(15, lambda d: d.pop("childAsin"))
    variant(16, lambda d: d.__setitem__("childAsin", None))
    variant(17, lambda d: d.__setitem__("sku", "SKU-17"))
    variant(18, lambda d: d.pop("asinAggregation"))
    variant(19, lambda d: d["traffic"].__setitem__("sessions", 2**40))
    variant(20, lambda d: d["traffic"].__setitem__("unitSessionPercentage", 12))  # integer literal in a Float
    variant(
        21, lambda d: d["traffic"].__setitem__("pageViews", 5.0)
    )  # integral Float in a Long (record path)
    variant(22, lambda d: d["sales"].__setitem__("totalOrderItems", 0))
    # schema drift: unknown keys at every level (counted, never fatal)
    variant(30, lambda d: d.__setitem__("newTopLevel", {"x": 1}))
    variant(31, lambda d: d["traffic"].__setitem__("sessionsPrime", 3))
    variant(32, lambda d: d["sales"]["orderedProductSales"].__setitem__("fxRate", 1.1))
    # rows that are not loaded: another marketplace of the region, a day outside the run
    lines.append(trends_line(300, DAYS[0], marketplace=CA.marketplace_id))
    lines.append(trends_line(301, dt.date(2026, 11, 9)))
    lines += [trends_line(400 + i, DAYS[i % 3]) for i in range(60)]
    return lines


def encode(lines: list[dict], *, bom: bool = False, crlf: bool = False, blanks: bool = False) -> bytes:
    out = []
    for k, line in enumerate(lines):
        text = json.dumps(line, ensure_ascii=k % 2 == 0).encode()
        # number literals exactly as written (json.dumps would normalise them)
        while b'"@' in text:
            start = text.index(b'"@')
            end = text.index(b'@"', start)
            text = text[:start] + text[start + 2 : end] + text[end + 2 :]
        out.append(text + (b"\r\n" if crlf else b"\n"))
        if blanks and k % 17 == 0:
            out.append(b"   \n" if k % 2 else b"\n")
    return (b"\xef\xbb\xbf" if bom else b"") + b"".join(out)


def table(conn: psycopg.Connection, name: str) -> list[tuple]:
    columns = [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_schema || '.' || table_name = %s "
            "and column_name <> 'loaded_at' order by ordinal_position",
            (name,),
        )
    ]
    select = ", ".join(f"{c}::text" for c in columns)
    return conn.execute(f"select {select} from {name} order by {select}").fetchall()


def tables(conn: psycopg.Connection) -> tuple[list[tuple], list[tuple]]:
    return table(conn, ST_BY_DATE_TABLE), table(conn, ST_BY_ASIN_TABLE)


def load_record_path(conn: psycopg.Connection, documents: list[tuple[str, bytes]], by_date: dict) -> set[str]:
    """What the asset did before: records of every document, grouped per day, one transaction per day."""
    records, drift = [], set()
    for query_id, data in documents:
        rows = iter_data_kiosk_sales_traffic(io.BytesIO(data), "trends", source=query_id)
        for record in rows:
            record["source_id"] = query_id
            if record["marketplace_id"] == US.marketplace_id:
                records.append(record)
        drift |= rows.unknown_fields
    records += [r for day in DAYS for r in by_date.get(day, [])]
    grouped = sales_traffic_documents(records)
    for day in DAYS:
        replace_sales_traffic_day(
            conn,
            marketplace=US,
            day=day,
            document=grouped[(US.marketplace_id, day)],
            report_id="by-date-q",
            source="data_kiosk",
        )
    return drift


def load_bulk_path(
    conn: psycopg.Connection, documents: list[tuple[str, bytes]], by_date: dict, chunk_bytes: int
) -> tuple[dict, set[str]]:
    parsers = [
        (query_id, iter_data_kiosk_sales_traffic(io.BytesIO(data), "trends", source=query_id))
        for query_id, data in documents
    ]
    loaded = replace_sales_traffic_days(
        conn,
        marketplace=US,
        days=DAYS,
        by_date=by_date,
        by_asin=[(query_id, row_batches(rows, chunk_bytes)) for query_id, rows in parsers],
        report_id="by-date-q",
        source="data_kiosk",
    )
    return loaded, set().union(*(rows.unknown_fields for _, rows in parsers))


@pytest.mark.parametrize(
    ("chunk_bytes", "shape"),
    [
        (1 << 20, {}),
        (700, {"bom": True, "crlf": True}),  # many chunks: a line cut by every read
        (3000, {"blanks": True}),
        (64, {"bom": True, "blanks": True}),
    ],
)
def test_bulk_path_loads_exactly_the_record_path_tables(
    db: psycopg.Connection, chunk_bytes: int, shape: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = {True: 0, False: 0}
    fast_chunk = data_kiosk_rows._fast_chunk

    def counted(*args):
        groups = fast_chunk(*args)
        taken[groups is not None] += 1
        return groups

    monkeypatch.setattr(data_kiosk_rows, "_fast_chunk", counted)
    lines = tricky_lines()
    documents = [("q-trends-1", encode(lines[:90], **shape)), ("q-trends-2", encode(lines[90:], **shape))]
    by_date = {day: [by_date_record(day, "by-date-q")] for day in DAYS}

    drift_before = load_record_path(db, documents, by_date)
    expected = tables(db)
    db.execute(f"truncate {ST_BY_DATE_TABLE}, {ST_BY_ASIN_TABLE}")
    loaded, drift = load_bulk_path(db, documents, by_date, chunk_bytes)
    got = tables(db)

    assert got == expected
    assert (
        drift == drift_before == {"newTopLevel", "traffic.sessionsPrime", "sales.orderedProductSales.fxRate"}
    )
    n_asin = {day: sum(1 for r in expected[1] if r[2] == day.isoformat()) for day in DAYS}
    assert loaded == {day: (1, n_asin[day]) for day in DAYS} and loaded.ignored == 2
    assert sum(n_asin.values()) == len(lines) - 2
    # the tricky values arrived intact, typed as before
    asins = {r[3] for r in got[1]}
    assert set(TRICKY_IDS) <= asins
    literals = {r[ST_BY_ASIN_COLUMNS_INDEX["buy_box_percentage"]] for r in got[1]}
    assert {"1.50", "0.00001", "100", "0.0", "1", "0.123456789012345678901234567890", "7"} <= literals
    assert {"0.0100000000", "12.000", "0.0015", "0"} <= literals
    # chunks with a drifting or unusual line went line by line, the others through the chunk decoder
    assert taken[False] > 0 and (taken[True] > 0 or chunk_bytes == 1 << 20)
    # re-running never duplicates
    load_bulk_path(db, documents, by_date, chunk_bytes)
    assert tables(db) == expected


def _error(fn) -> tuple[type, str, tuple]:
    """The error's class, message and (for a missing field) the field, row and document it names."""
    with pytest.raises(SalesTrafficFormatError) as info:
        fn()
    exc = info.value
    named = tuple(getattr(exc, a, None) for a in ("field", "row", "document"))
    return type(exc), str(exc), named


# a broken value in line 2401 of a 2,500-line document (the expected error class; None: a format error)
BREAKAGES: dict[str, tuple[object, type | None]] = {
    "missing_required": (lambda d: d["sales"].pop("unitsOrdered"), SalesTrafficMissingFieldError),
    "missing_required_float": (
        lambda d: d["traffic"].pop("buyBoxPercentage"),
        SalesTrafficMissingFieldError,
    ),
    "null_required_float": (
        lambda d: d["traffic"].__setitem__("buyBoxPercentage", None),
        SalesTrafficMissingFieldError,
    ),
    "null_b2b_amount": (
        lambda d: d["sales"]["orderedProductSalesB2B"].__setitem__("amount", None),
        SalesTrafficMissingFieldError,
    ),
    "string_number": (lambda d: d["traffic"].__setitem__("buyBoxPercentage", "0.5"), None),
    "string_amount": (lambda d: d["sales"]["orderedProductSales"].__setitem__("amount", "12.30"), None),
    "string_null_optional_float": (
        lambda d: d["traffic"].__setitem__("buyBoxPercentageB2B", "null"),
        None,
    ),
    "bool_float": (lambda d: d["traffic"].__setitem__("sessionPercentage", True), None),
    "object_float": (lambda d: d["traffic"].__setitem__("sessionPercentageB2B", {"v": 1}), None),
    "array_float": (lambda d: d["traffic"].__setitem__("sessionPercentage", [1]), None),
    "array_amount": (lambda d: d["sales"]["orderedProductSalesB2B"].__setitem__("amount", [1.5]), None),
    "wrong_currency": (
        lambda d: d["sales"]["orderedProductSalesB2B"].__setitem__("currencyCode", "EUR"),
        None,
    ),
    "empty_parent": (lambda d: d.__setitem__("parentAsin", ""), None),
    "two_days": (lambda d: d.__setitem__("endDate", "2026-11-04"), None),
    "truncated": (None, None),
    "not_json": (None, None),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_document_loads_nothing_and_says_what_the_record_path_says(
    db: psycopg.Connection, breakage: str
) -> None:
    by_date = {day: [by_date_record(day, "by-date-q")] for day in DAYS}
    good = [trends_line(i, DAYS[i % 3]) for i in range(3000)]
    documents = [("q-good", encode(good))]
    load_record_path(db, documents, by_date)
    before = tables(db)

    broken = [trends_line(5000 + i, DAYS[i % 3]) for i in range(2500)]
    bad = copy.deepcopy(broken[2400])
    change, error_class = BREAKAGES[breakage]
    if change is not None:
        change(bad)
    broken[2400] = bad
    data = encode(broken)
    if breakage == "truncated":
        data = data[:-25]
    elif breakage == "not_json":
        data = data.replace(json.dumps(bad).encode(), b"{not json}")
    # after ~2,000 good rows of this document (already sent to COPY by the bulk path)
    documents = [("q-good", encode(good)), ("q-broken", data)]

    expected = _error(lambda: load_record_path(db, documents, by_date))
    assert tables(db) == before
    got = _error(lambda: load_bulk_path(db, documents, by_date, 1 << 16))
    line = 2500 if breakage == "truncated" else 2401
    assert got == expected and "q-broken" in got[1] and f"line {line}:" in got[1]
    if error_class is SalesTrafficMissingFieldError:
        assert got[0] is SalesTrafficMissingFieldError
        assert got[2][1:] == (f"line {line}", "q-broken") and got[2][0] in got[1]
    else:
        assert got[0] is SalesTrafficFormatError
    assert tables(db) == before  # every day keeps its previous rows


def test_a_database_error_rolls_every_day_back(db: psycopg.Connection) -> None:
    by_date = {day: [by_date_record(day, "by-date-q")] for day in DAYS}
    lines = [trends_line(i, DAYS[i % 3]) for i in range(300)]
    load_bulk_path(db, [("q-1", encode(lines))], by_date, 1 << 20)
    before = tables(db)
    # the same child ASIN twice on a day (two documents): the primary key refuses the second
    with pytest.raises(WarehouseLoadError, match="marketplace US, days 2026-11-01..2026-11-03") as info:
        load_bulk_path(db, [("q-1", encode(lines)), ("q-2", encode(lines[-1:]))], by_date, 1 << 20)
    assert "previous rows are intact" in str(info.value)
    assert tables(db) == before


def test_days_without_daily_totals_are_left_alone_and_documents_still_read(db: psycopg.Connection) -> None:
    by_date = {day: [by_date_record(day, "by-date-q")] for day in DAYS}
    lines = [trends_line(i, DAYS[i % 3]) for i in range(30)]
    load_bulk_path(db, [("q-1", encode(lines))], by_date, 1 << 20)
    before = tables(db)
    loaded = replace_sales_traffic_days(
        db,
        marketplace=US,
        days=[],
        by_date={},
        by_asin=[("q-2", iter_data_kiosk_sales_traffic(io.BytesIO(encode(lines)), "trends").row_batches())],
        report_id="x",
    )
    assert loaded == {} and loaded.ignored == 30 and tables(db) == before
    with pytest.raises(SalesTrafficFormatError, match="line 31: malformed"):
        replace_sales_traffic_days(
            db,
            marketplace=US,
            days=[],
            by_date={},
            by_asin=[
                (
                    "q-3",
                    iter_data_kiosk_sales_traffic(io.BytesIO(encode(lines) + b"{"), "trends").row_batches(),
                )
            ],
            report_id="x",
        )
