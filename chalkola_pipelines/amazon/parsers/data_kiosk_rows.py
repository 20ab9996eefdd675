"""Data Kiosk Trends / ByAsin documents as value rows per (marketplace, day), for bulk loading.

:func:`row_batches` reads a document in ~1 MB chunks cut at line ends. Each chunk is decoded at once by
msgspec (``decode_lines``) into the typed structs of ``parsers.data_kiosk_sales_traffic`` (required fields,
ints, the Amount shape and unknown keys checked in C), with non-integer numbers kept as their literal text
(``msgspec.Raw``: exact, no Decimal built, passed on as written). The checks msgspec cannot express
run on the decoded chunk: dates (startDate = endDate, ISO), non-empty ids, one currency per record, every
number an int or a literal (one type scan per chunk), required Floats present. A chunk that fails any of
them, or does not decode, is read again line by line by the record parser
(:meth:`DataKioskSalesTrafficRows.record`), which gives the same values, or the same error naming the line,
and counts schema drift. Rows come in document order, grouped within a chunk.

A row is ``ROW_COLUMNS``: the catalogue values (``ST_BY_ASIN_FIELDS`` order), then parent_asin, child_asin
('' if absent), sku ('' if absent), currency_code. Values are int, ``msgspec.Raw`` (a decimal literal),
Decimal (from the line-by-line parser), str or None; never float.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from datetime import date
from itertools import chain
from typing import Any, NamedTuple

import msgspec
from msgspec.structs import astuple

from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import (
    _BOM,
    _FAST,
    DataKioskSalesTrafficRows,
)
from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS

ROW_COLUMNS: tuple[str, ...] = (
    *(f.column for f in ST_BY_ASIN_FIELDS),
    "parent_asin",
    "child_asin",
    "sku",
    "currency_code",
)
CHUNK_BYTES = 1 << 20
_FIELD_VALUES = operator.itemgetter(*(f.column for f in ST_BY_ASIN_FIELDS))
_NoneType = type(None)
_NUMBERS = frozenset({int, msgspec.Raw})


class RowBatch(NamedTuple):
    """Rows of one (marketplace, day) from one chunk of a document."""

    marketplace_id: str
    day: date
    rows: list[Sequence[Any]]


class _Chunk:
    """Decoding of one kind: the record struct with literal decimals, and where the traffic Floats are."""

    def __init__(self, kind: str) -> None:
        decoder, (sales, traffic) = _FAST[kind]
        # the by-ASIN sales block is (units, units B2B, sales, sales B2B, order items, order items B2B); the
        # loop below reads it by name (a catalogue change that breaks this fails here, at import)
        if tuple(sales.struct.__struct_fields__) != _SALES_FIELDS:
            raise RuntimeError(
                f"data_kiosk_rows: the by-ASIN sales block changed: {sales.struct.__struct_fields__}"
            )
        self.decoder = msgspec.json.Decoder(decoder.type, float_hook=msgspec.Raw)
        self.required_num = tuple(sorted(traffic.required_num))


_SALES_FIELDS = (
    "unitsOrdered",
    "unitsOrderedB2B",
    "orderedProductSales",
    "orderedProductSalesB2B",
    "totalOrderItems",
    "totalOrderItemsB2B",
)
_CHUNKS = {kind: _Chunk(kind) for kind in ("trends", "by_asin")}


def row_batches(records: DataKioskSalesTrafficRows, chunk_bytes: int = CHUNK_BYTES) -> Iterator[RowBatch]:
    """The rows of a Trends or ByAsin (DAY) document, in batches per (marketplace id, day).

    ``records`` is a fresh ``iter_data_kiosk_sales_traffic(...)`` (nothing read yet); its counters
    (``lines``, ``records``, ``unknown_fields``) fill in as here, and its errors are raised as there. A
    ByAsin record over a window (no single day) raises ValueError.
    """
    if records.kind not in _CHUNKS:
        raise ValueError(f"row_batches reads Trends / ByAsin documents, not {records.kind!r}")
    if records.lines or records._done:
        raise ValueError("row_batches needs an unread document")
    chunking = _CHUNKS[records.kind]
    stream = records._stream
    rest = b""
    while True:
        block = stream.read(chunk_bytes)
        if not block:
            chunk, rest = rest, b""
        else:
            data = rest + block if rest else block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            chunk, rest = data[:cut], data[cut:]
        if chunk:
            yield from _chunk_batches(records, chunking, chunk)
        if not block:
            break
    records.finish()


def _chunk_batches(records: DataKioskSalesTrafficRows, chunking: _Chunk, chunk: bytes) -> Iterator[RowBatch]:
    first = records.lines == 0
    if first and chunk.startswith(_BOM):
        chunk = chunk[len(_BOM) :]
    groups = _fast_chunk(records, chunking, chunk)
    if groups is None:
        groups = _slow_chunk(records, chunk, first)
    else:
        records.lines += chunk.count(b"\n") + (not chunk.endswith(b"\n"))
    for (marketplace_id, day), rows in groups.items():
        yield RowBatch(marketplace_id, day, rows)


def _fast_chunk(
    records: DataKioskSalesTrafficRows, chunking: _Chunk, chunk: bytes
) -> dict[tuple[str, date], list[Sequence[Any]]] | None:
    """The chunk's rows grouped per (marketplace id, day), or None if any line needs the record parser."""
    try:
        objs = chunking.decoder.decode_lines(chunk)
    except msgspec.DecodeError:  # includes ValidationError
        return None
    dates = records._dates
    groups: dict[tuple[str, date], list[Sequence[Any]]] = {}
    traffics: list[tuple[Any, ...]] = []
    amounts: list[Any] = []  # for one type scan per chunk
    key: tuple[str, str] | None = None
    group: list[Sequence[Any]] = []
    for obj in objs:
        start, marketplace_id = obj.startDate, obj.marketplaceId
        if key is None or start != key[1] or marketplace_id != key[0]:
            day = dates.get(start) or records.fast_date(start)
            if day is None or not marketplace_id:
                return None
            key = (marketplace_id, start)
            group = groups.setdefault((marketplace_id, day), [])
        if obj.endDate != start or not obj.parentAsin:
            return None
        sales = obj.sales
        main, b2b = sales.orderedProductSales, sales.orderedProductSalesB2B
        currency = main.currencyCode
        if not currency:
            return None
        amounts.append(main.amount)
        if b2b is None:
            b2b_amount = None
        else:
            if b2b.currencyCode != currency:
                return None
            b2b_amount = b2b.amount
            amounts.append(b2b_amount)
        traffic = astuple(obj.traffic)
        traffics.append(traffic)
        group.append(
            (
                sales.unitsOrdered,
                sales.unitsOrderedB2B,
                main.amount,
                b2b_amount,
                sales.totalOrderItems,
                sales.totalOrderItemsB2B,
                *traffic,
                obj.parentAsin,
                obj.childAsin or "",
                obj.sku or "",
                currency,
            )
        )
    if not _numbers_ok(amounts, traffics, chunking.required_num):
        return None
    records.records += len(objs)
    return groups


def _numbers_ok(amounts: list[Any], traffics: list[tuple[Any, ...]], required: tuple[int, ...]) -> bool:
    """Every amount an int or a literal; every traffic value too, or None where the field is optional
    (the sales counts are typed ``int`` in the struct)."""
    if not set(map(type, amounts)) <= _NUMBERS:
        return False
    found = set(map(type, chain.from_iterable(traffics)))
    if found <= _NUMBERS:
        return True
    if found - _NUMBERS != {_NoneType}:
        return False
    return not any(traffic[i] is None for traffic in traffics for i in required)


def _slow_chunk(
    records: DataKioskSalesTrafficRows, chunk: bytes, first: bool
) -> dict[tuple[str, date], list[Sequence[Any]]]:
    """The chunk line by line through the record parser (its values, its errors, its drift counts)."""
    groups: dict[tuple[str, date], list[Sequence[Any]]] = {}
    lines = chunk.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for raw in lines:
        records.lines += 1
        if first and records.lines == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        line = raw.strip()
        if not line:
            continue
        record = records.record(line)
        records.records += 1
        day = record["report_date"]
        if day is None:
            raise ValueError("row_batches: a multi-day ByAsin record has no single day to load")
        row = [*_FIELD_VALUES(record), record["parent_asin"], record["child_asin"], record["sku"]]
        row.append(record["currency_code"])
        groups.setdefault((record["marketplace_id"], day), []).append(row)
    return groups
