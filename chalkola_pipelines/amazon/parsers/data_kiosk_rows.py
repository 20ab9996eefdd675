"""Data Kiosk Trends / ByAsin (DAY) documents as value rows per (marketplace, day), for bulk loading.

:func:`row_batches` reads a document in 256 KB chunks cut at line ends. Each chunk is decoded at once by
msgspec (``decode_lines``) into structs built here from the catalogue (``parsers.data_kiosk_sales_traffic``
``_SECTIONS``: which fields a kind has, which are required): required fields, Long fields as ``int``,
ids as ``str``, the Amount shape and unknown keys are checked in C, and every Float (and Amount.amount) is
kept as its literal (``msgspec.Raw``: the bytes of the document, no Python call or Decimal per value;
handed on as they came, so the consumer sees exactly the document's number). The checks msgspec cannot
express run on the decoded chunk:

* per record, in one Python loop that also builds the rows: startDate = endDate and an ISO date (cached per
  distinct value), non-empty marketplaceId and parentAsin, one currency per record (the B2B Amount's
  currency is the main one's);
* per chunk, in C: every kept literal is a JSON number. The required ones (every Amount.amount, the
  non-B2B Floats) are joined into one bytes object, which must be empty once the characters of a number
  (``0-9 . + - e E``) are deleted (``bytes.translate``); the optional Floats likewise, where ``null`` is
  also allowed. msgspec has already checked each literal is one well-formed JSON value, so a literal made
  of those characters only is a number, and anything else (a string, true/false, an object, a null in a
  required field) leaves a character behind.

A chunk that fails any of them, or does not decode, is read again line by line by the record parser
(:meth:`DataKioskSalesTrafficRows.record`), which gives the same values, or the same error naming the line,
and counts schema drift. Rows come in document order, grouped within a chunk.

Cost (105,557 records, 115 MB, in a process holding the Dagster definitions): ~0.3 CPU-s with the CSV
rendering, against ~0.45 for the previous version of this module. The savings: the cyclic garbage
collector is paused while a chunk is decoded and its rows built (no cycles can form there, and the row
tuples kept would set off collections that walk them again and again), newlines are counted with numpy,
and the literal check is one ``translate`` per chunk instead of a type scan of every value. The chunk size
(256 KB) is chosen for the load, not the parse: see :data:`CHUNK_BYTES`. pyarrow's JSON reader was
measured as an alternative and is slower than msgspec here (0.47-0.6 CPU-s for the document's chunks
against 0.16-0.24 for ``decode_lines``), and its decimal128 columns accept JSON strings and lose a
literal's scale (``1.50`` → ``1.5000000000``), which Postgres keeps.

A row holds the values named by :data:`ROW_FIELDS`: the by-ASIN catalogue fields (``ST_BY_ASIN_FIELDS``
order, named by their ``.column`` as the record parser's keys are), then parent_asin, child_asin ('' if
absent), sku ('' if absent), currency_code. Values are int, ``msgspec.Raw`` (a number literal), Decimal
(from the line-by-line parser), str or None; never float. Which table the rows go to, in which column
order, is the warehouse's business (``warehouse.sales_traffic_tables`` maps these names to its columns).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from datetime import date
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec
import numpy as np
from msgspec.structs import astuple

from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import (
    _BOM,
    _SECTIONS,
    DataKioskSalesTrafficRows,
)
from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS

ROW_FIELDS: tuple[str, ...] = (
    *(f.column for f in ST_BY_ASIN_FIELDS),
    "parent_asin",
    "child_asin",
    "sku",
    "currency_code",
)
#: ~250 records a chunk: small batches let a consumer that writes them out overlap its work with the decoding
#: of the next chunk (measured with the warehouse's loader: 1 MB chunks made it wait; benchmarks/README.md)
CHUNK_BYTES = 1 << 18
_FIELD_VALUES = itemgetter(*(f.column for f in ST_BY_ASIN_FIELDS))
_NUMBER_CHARS = b"0123456789.+-eE"
_NEWLINE = ord("\n")


class RowBatch(NamedTuple):
    """Rows (values named by :data:`ROW_FIELDS`) of one (marketplace, day) from one chunk of a document."""

    marketplace_id: str
    day: date
    rows: list[Sequence[Any]]


class _Amount(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    amount: msgspec.Raw  # a number literal (checked per chunk)
    currencyCode: str  # noqa: N815 - the schema's name


# the by-ASIN sales block, read by name below (a catalogue change that breaks this fails at import)
_SALES_FIELDS = (
    "unitsOrdered",
    "unitsOrderedB2B",
    "orderedProductSales",
    "orderedProductSalesB2B",
    "totalOrderItems",
    "totalOrderItemsB2B",
)
_TRAFFIC_AT = len(_SALES_FIELDS)  # where the traffic values start in a row


class _Chunk:
    """Decoding of one kind: the record struct (literals kept), and which row positions hold literals."""

    def __init__(self, kind: str) -> None:
        (_, sales), (_, traffic) = _SECTIONS[kind]
        if tuple(e[0] for e in sales) != _SALES_FIELDS:
            raise RuntimeError(f"data_kiosk_rows: the by-ASIN sales block changed: {sales}")
        spec: list[Any] = [
            ("startDate", str),
            ("endDate", str),
            ("marketplaceId", str),
            ("sales", self._section(kind, "sales", sales)),
            ("traffic", self._section(kind, "traffic", traffic)),
            ("parentAsin", str),
            ("childAsin", str | None, None),
            ("sku", str | None, None),
        ]
        if kind == "trends":
            spec.append(("asinAggregation", Any, None))  # its value is not read
        record = msgspec.defstruct(f"_DkRow_{kind}", spec, kw_only=True, forbid_unknown_fields=True, gc=False)
        self.decoder = msgspec.json.Decoder(record)
        floats = [(i, e[3]) for i, e in enumerate(traffic) if e[2] == "num"]
        # the Amounts (main: position 2, B2B: 3, None when absent) and the required Floats must be numbers;
        # the optional Floats numbers or null
        self.required = itemgetter(2, 3, *(_TRAFFIC_AT + i for i, required in floats if required))
        self.optional = itemgetter(*(_TRAFFIC_AT + i for i, required in floats if not required))

    @staticmethod
    def _section(kind: str, name: str, entries: tuple[tuple[str, str, str, bool], ...]) -> Any:
        spec: list[Any] = []
        for field, _, value_kind, required in entries:
            t: Any = {"int": int, "money": _Amount}.get(value_kind, msgspec.Raw)
            if required:
                spec.append((field, t))
            else:  # a Raw field takes null as the literal ``null``; an absent one is None
                spec.append((field, t if t is msgspec.Raw else t | None, None))
        return msgspec.defstruct(
            f"_DkRow_{kind}_{name}", spec, kw_only=True, forbid_unknown_fields=True, gc=False
        )


_CHUNKS = {kind: _Chunk(kind) for kind in ("trends", "by_asin")}


def row_batches(records: DataKioskSalesTrafficRows, chunk_bytes: int = CHUNK_BYTES) -> Iterator[RowBatch]:
    """The rows of a Trends or ByAsin (DAY) document, in batches per (marketplace id, day).

    ``records`` is a fresh ``iter_data_kiosk_sales_traffic(...)`` (nothing read yet); its counters
    (``lines``, ``records``, ``unknown_fields``) fill in as there, and its errors are raised as there. A
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
    collecting = gc.isenabled()
    if collecting:  # see _fast_chunk
        gc.disable()
    try:
        groups = _fast_chunk(records, chunking, chunk)
    finally:
        if collecting:
            gc.enable()
    if groups is None:
        groups = _slow_chunk(records, chunk, first)
    else:
        newlines = int(np.count_nonzero(np.frombuffer(chunk, np.uint8) == _NEWLINE))
        records.lines += newlines + (not chunk.endswith(b"\n"))
    for (marketplace_id, day), rows in groups.items():
        yield RowBatch(marketplace_id, day, rows)


def _fast_chunk(
    records: DataKioskSalesTrafficRows, chunking: _Chunk, chunk: bytes
) -> dict[tuple[str, date], list[Sequence[Any]]] | None:
    """The chunk's rows grouped per (marketplace id, day), or None if any line needs the record parser.

    Run with the cyclic garbage collector paused (by the caller): nothing here can form a reference cycle,
    and the ~1,000 row tuples a chunk keeps would otherwise set off collections that walk them again and
    again (in a run worker, whose heap holds Dagster and the definitions, ~15% of the parse).
    """
    try:
        objs = chunking.decoder.decode_lines(chunk)
    except msgspec.DecodeError:  # includes ValidationError
        return None
    dates = records._dates
    groups: dict[tuple[str, date], list[Sequence[Any]]] = {}
    start_of: str | None = None
    marketplace_of: str | None = None
    group: list[Sequence[Any]] = []
    append = group.append
    for obj in objs:
        start, marketplace_id = obj.startDate, obj.marketplaceId
        if start != start_of or marketplace_id != marketplace_of:
            day = dates.get(start) or records.fast_date(start)
            if day is None or not marketplace_id:
                return None
            start_of, marketplace_of = start, marketplace_id
            group = groups.setdefault((marketplace_id, day), [])
            append = group.append
        if obj.endDate != start or not obj.parentAsin:
            return None
        sales = obj.sales
        main, b2b = sales.orderedProductSales, sales.orderedProductSalesB2B
        currency = main.currencyCode
        if b2b is None:
            b2b_amount = None
        elif b2b.currencyCode != currency:
            return None
        else:
            b2b_amount = b2b.amount
        if not currency:
            return None
        append(
            (
                sales.unitsOrdered,
                sales.unitsOrderedB2B,
                main.amount,
                b2b_amount,
                sales.totalOrderItems,
                sales.totalOrderItemsB2B,
            )
            + astuple(obj.traffic)
            + (obj.parentAsin, obj.childAsin or "", obj.sku or "", currency)
        )
    if not _numbers_ok(chunking, groups.values()):
        return None
    records.records += len(objs)
    return groups


def _numbers_ok(chunking: _Chunk, groups: Any) -> bool:
    """Every kept literal a JSON number, or ``null`` where the field is optional (module docstring)."""
    rows = list(chain.from_iterable(groups))
    required = b"".join(filter(None, chain.from_iterable(map(chunking.required, rows))))
    if required.translate(None, _NUMBER_CHARS):
        return False
    optional = b"".join(filter(None, chain.from_iterable(map(chunking.optional, rows))))
    left = optional.translate(None, _NUMBER_CHARS)
    return not left or left == b"null" * (len(left) // 4)


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
        row = (*_FIELD_VALUES(record), record["parent_asin"], record["child_asin"], record["sku"])
        groups.setdefault((record["marketplace_id"], day), []).append((*row, record["currency_code"]))
    return groups
