"""Streaming parser of Data Kiosk ``analytics_salesAndTraffic_2024_04_24`` documents (JSONL).

One JSON object per line, one line per record of the query's list (``salesAndTrafficTrends`` /
``salesAndTrafficByDate`` / ``salesAndTrafficByAsin``). The document is read line by line (gzip or plain,
see ``amazon.documents.open_document``), never whole, and each line becomes one record with the keys the
S&T report parser (``parsers.sales_traffic``) gives its rows, so the warehouse loads either source the same
way:

* ByDate → ``report_date, <ST_BY_DATE_FIELDS .column>, currency_code`` (a report ``by_date`` row);
* Trends / ByAsin → ``parent_asin, child_asin ('' if absent), sku ('' if absent), <ST_BY_ASIN_FIELDS
  .column>, currency_code`` (a report ``by_asin`` row) plus ``report_date``;

and, in every record, ``marketplace_id``, ``start_date`` and ``end_date`` (a report document is one
marketplace and one day; a Data Kiosk document is many). ``report_date`` is the day of a DAY record
(startDate = endDate); a ByAsin record over a longer window (ASIN discovery) has ``report_date`` None.
Numbers are exact (integers ``int``, decimals ``Decimal`` from the literal; Amounts become their amount,
the record's single currency goes to ``currency_code``). :func:`sales_traffic_documents` groups records
into one ``SalesTrafficDocument`` per (marketplace, day), the report parser's result type.

Keys outside the catalogue (schema drift, or fields selected beyond it) are not fatal: they are collected in
``unknown_fields`` (dotted paths, as the report parser does) and counted in ``unknown_field_counts``. A
malformed or truncated line, a missing required field, a wrongly typed value or a record mixing currencies
raises ``SalesTrafficFormatError`` (the report parser's class) naming the line and the document.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import msgspec
from msgspec.structs import astuple

from chalkola_pipelines.amazon.documents import document_name
from chalkola_pipelines.amazon.errors import SalesTrafficFormatError, SalesTrafficMissingFieldError
from chalkola_pipelines.amazon.parsers.sales_traffic import SalesTrafficDocument
from chalkola_pipelines.amazon.report_columns import (
    ST_BY_ASIN_FIELDS,
    ST_BY_DATE_FIELDS,
    ST_REQUIRED_FIELDS,
    ReportField,
)

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.parsers.data_kiosk_rows import RowBatch

DocumentKind = Literal["trends", "by_date", "by_asin"]
_ROOTS = {
    "trends": "salesAndTrafficTrends",
    "by_date": "salesAndTrafficByDate",
    "by_asin": "salesAndTrafficByAsin",
}
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_BOM = b"\xef\xbb\xbf"
#: (field, column, kind, required) per section: SDL section name → report catalogue section
_Entry = tuple[str, str, str, bool]


def _entries(fields: tuple[ReportField, ...], section: str) -> tuple[_Entry, ...]:
    """The SDL marks the report schema's required fields non-null (tests/parsers check it)."""
    return tuple(
        (f.name, f.column, f.kind, (f.section, f.name) in ST_REQUIRED_FIELDS)
        for f in fields
        if f.section == section
    )


_SECTIONS: dict[str, tuple[tuple[str, tuple[_Entry, ...]], ...]] = {
    "by_date": (
        ("sales", _entries(ST_BY_DATE_FIELDS, "salesByDate")),
        ("traffic", _entries(ST_BY_DATE_FIELDS, "trafficByDate")),
    ),
    "by_asin": (
        ("sales", _entries(ST_BY_ASIN_FIELDS, "salesByAsin")),
        ("traffic", _entries(ST_BY_ASIN_FIELDS, "trafficByAsin")),
    ),
}
_SECTIONS["trends"] = _SECTIONS["by_asin"]
_DATE_HEADS = ("startDate", "endDate", "marketplaceId")
_ASIN_HEADS = ("parentAsin", "childAsin", "sku")
#: record-level keys of the SDL types (asinAggregation: Trends only)
_RECORD_KEYS: dict[str, frozenset[str]] = {
    "by_date": frozenset({*_DATE_HEADS, "sales", "traffic"}),
    "by_asin": frozenset({*_DATE_HEADS, *_ASIN_HEADS, "sales", "traffic"}),
    "trends": frozenset({*_DATE_HEADS, *_ASIN_HEADS, "asinAggregation", "sales", "traffic"}),
}
_KNOWN_SECTION_KEYS = {
    (kind, name): frozenset(e[0] for e in entries)
    for kind, pairs in _SECTIONS.items()
    for name, entries in pairs
}
_AMOUNT_KEYS = frozenset({"amount", "currencyCode"})


# ------------------------------------------------------------------------------------------------------
# Fast path: each line is decoded by msgspec into typed structs (required fields, ints, strings, the Amount
# shape and unknown keys are checked in C); the checks msgspec cannot express (a Float that must be a
# number, non-empty ids, one currency per record, the day rule) run in Python on the decoded values. A line
# the fast path does not take as is goes through the dict-based code below, which gives the same record or
# the error naming the line and field (and counts unknown fields).


class _FastAmount(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    amount: Any  # int or Decimal (checked per record)
    currencyCode: str  # noqa: N815 - the schema's name


class _FastSection:
    """One block (sales / traffic) of a kind: its struct and which positions need a conversion."""

    def __init__(self, kind: str, name: str, entries: tuple[_Entry, ...]) -> None:
        spec: list[Any] = []
        for field, _, value_kind, required in entries:
            t: Any = {"int": int, "money": _FastAmount}.get(value_kind, Any)
            spec.append((field, t) if required else (field, t if t is Any else t | None, None))
        self.struct = msgspec.defstruct(
            f"_Dk_{kind}_{name}", spec, kw_only=True, forbid_unknown_fields=True, gc=False
        )
        self.columns = tuple(column for _, column, _, _ in entries)
        self.money = tuple(i for i, e in enumerate(entries) if e[2] == "money")
        self.num = tuple(i for i, e in enumerate(entries) if e[2] not in ("money", "int"))
        self.required_num = frozenset(i for i in self.num if entries[i][3])


def _fast_decoder(kind: str) -> tuple[msgspec.json.Decoder, tuple[_FastSection, ...]]:
    sections = tuple(_FastSection(kind, name, entries) for name, entries in _SECTIONS[kind])
    spec: list[Any] = [
        ("startDate", str),
        ("endDate", str),
        ("marketplaceId", str),
        ("sales", sections[0].struct),
        ("traffic", sections[1].struct),
    ]
    if kind != "by_date":
        spec += [("parentAsin", str), ("childAsin", str | None, None), ("sku", str | None, None)]
    if kind == "trends":
        spec.append(("asinAggregation", Any, None))  # its value is not read
    record = msgspec.defstruct(f"_Dk_{kind}", spec, kw_only=True, forbid_unknown_fields=True, gc=False)
    return msgspec.json.Decoder(record, float_hook=Decimal), sections


_FAST = {kind: _fast_decoder(kind) for kind in _ROOTS}
# Decimal(int) costs ~0.3 µs; integers written in Float fields are mostly small (Decimal is immutable)
_SMALL_DECIMALS: dict[int, Decimal] = {i: Decimal(i) for i in range(0, 1001)}


class DataKioskSalesTrafficRows(Iterator[dict[str, Any]]):
    """Records of one Data Kiosk S&T document, read lazily; drift counters fill in while iterating."""

    def __init__(
        self, stream: BinaryIO, kind: DocumentKind, *, source: str | None = None, allow_empty: bool = False
    ) -> None:
        if kind not in _ROOTS:
            raise ValueError(f"unknown Data Kiosk document kind {kind!r} (trends, by_date, by_asin)")
        self.kind = kind
        self.source = source or document_name(stream)
        self.allow_empty = allow_empty
        self.unknown_fields: set[str] = set()
        self.unknown_field_counts: Counter[str] = Counter()
        self.lines = 0  # lines read (blank lines included)
        self.records = 0
        self._stream = stream
        self._done = False
        self._sections = _SECTIONS[kind]
        self._record_keys = _RECORD_KEYS[kind]
        self._asin = kind != "by_date"
        self._fast_decoder, self._fast_sections = _FAST[kind]
        self._dates: dict[str, date] = {}

    def __iter__(self) -> DataKioskSalesTrafficRows:
        return self

    def row_batches(self) -> Iterator[RowBatch]:
        """The document as value rows per (marketplace, day) instead of records (``parsers.data_kiosk_rows``:
        same values, errors and drift counts; Trends / ByAsin DAY documents), for bulk loading."""
        from chalkola_pipelines.amazon.parsers.data_kiosk_rows import row_batches

        return row_batches(self)

    def __next__(self) -> dict[str, Any]:
        while not self._done:
            raw = self._stream.readline()
            if not raw:
                self.finish()
                break
            self.lines += 1
            if self.lines == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            line = raw.strip()
            if not line:
                continue
            record = self.record(line)
            self.records += 1
            return record
        raise StopIteration

    def finish(self) -> None:
        """The document was read to its end: an empty one raises unless allowed."""
        self._done = True
        if self.records == 0 and not self.allow_empty:
            raise self.fail(
                None,
                "the document is empty (no JSONL record). Amazon signals 'no data' by a DONE query "
                "without dataDocumentId, so an empty data document is a broken download or a fault",
            )

    # -- one line
    def fail(self, line: int | None, message: str) -> SalesTrafficFormatError:
        where = f" {self.source}" if self.source else ""
        at = f" line {line}" if line is not None else ""
        return SalesTrafficFormatError(
            # what happens next (quarantine, download again) is the workflow's one message (defs/report_errors)
            f"Data Kiosk {_ROOTS[self.kind]} document{where}{at}: {message}"
        )

    def missing(self, line: int, field: str) -> SalesTrafficMissingFieldError:
        """A field the SDL declares non-null is absent (or null) on ``line``: the document is refused."""
        where = f" {self.source}" if self.source else ""
        return SalesTrafficMissingFieldError(
            f"Data Kiosk {_ROOTS[self.kind]} document{where} line {line}: required field {field} is missing "
            "(non-null in the official schema analytics_salesAndTraffic_2024_04_24); no record of this "
            "document is loaded.",
            field=field,
            row=f"line {line}",
            document=self.source,
        )

    def unknown(self, obj: dict[str, Any], known: frozenset[str], prefix: str) -> None:
        if obj.keys() <= known:
            return
        for key in obj:
            if key not in known:
                path = f"{prefix}.{key}" if prefix else key
                self.unknown_fields.add(path)
                self.unknown_field_counts[path] += 1

    def record(self, line: bytes) -> dict[str, Any]:
        record = self.fast_record(line)
        return record if record is not None else self.slow_record(line)

    def fast_date(self, value: str) -> date | None:
        day = self._dates.get(value)
        if day is None:
            try:
                day = self._dates[value] = date.fromisoformat(value)
            except ValueError:
                return None
        return day

    def fast_record(self, line: bytes) -> dict[str, Any] | None:
        """The record, or None when the line needs :meth:`slow_record` (which raises or counts drift)."""
        try:
            obj = self._fast_decoder.decode(line)
        except msgspec.DecodeError:  # includes ValidationError
            return None
        start, end = self.fast_date(obj.startDate), self.fast_date(obj.endDate)
        if start is None or end is None or end < start or not obj.marketplaceId:
            return None
        out: dict[str, Any] = {"marketplace_id": obj.marketplaceId, "start_date": start, "end_date": end}
        if start == end:
            out["report_date"] = start
        elif self.kind == "by_asin":
            out["report_date"] = None
        else:
            return None
        if self._asin:
            if not obj.parentAsin:
                return None
            out["parent_asin"] = obj.parentAsin
            out["child_asin"] = obj.childAsin or ""
            out["sku"] = obj.sku or ""
        currency = None
        small = _SMALL_DECIMALS
        for block, section in zip((obj.sales, obj.traffic), self._fast_sections, strict=True):
            values = list(astuple(block))
            for i in section.money:
                amount = values[i]
                if amount is None:
                    continue
                value, code = amount.amount, amount.currencyCode
                if type(value) is int:
                    value = small.get(value) or Decimal(value)
                elif type(value) is not Decimal:
                    return None
                if not code or (currency is not None and code != currency):
                    return None
                currency = code
                values[i] = value
            for i in section.num:
                value = values[i]
                if type(value) is Decimal:
                    continue
                if type(value) is int:
                    values[i] = small.get(value) or Decimal(value)
                elif value is not None or i in section.required_num:
                    return None
            out.update(zip(section.columns, values, strict=True))
        if currency is None:
            return None
        out["currency_code"] = currency
        return out

    def slow_record(self, line: bytes) -> dict[str, Any]:
        n = self.lines
        try:
            obj = _DECODER.decode(line)
        except msgspec.DecodeError as exc:
            raise self.fail(n, f"malformed or truncated JSON line ({exc})") from None
        if type(obj) is not dict:
            raise self.fail(n, f"a record must be a JSON object, got {type(obj).__name__}")
        self.unknown(obj, self._record_keys, "")
        start, end = self.day(obj, "startDate", n), self.day(obj, "endDate", n)
        if end < start:
            raise self.fail(n, f"endDate {end} is before startDate {start}")
        marketplace_id = self.text(obj, "marketplaceId", n, required=True)
        out: dict[str, Any] = {"marketplace_id": marketplace_id, "start_date": start, "end_date": end}
        if start == end:
            out["report_date"] = start
        elif self.kind == "by_asin":
            out["report_date"] = None
        else:
            raise self.fail(n, f"the record spans {start}..{end}; a DAY query gives one day per record")
        if self._asin:
            out["parent_asin"] = self.text(obj, "parentAsin", n, required=True)
            out["child_asin"] = self.text(obj, "childAsin", n, required=False)
            out["sku"] = self.text(obj, "sku", n, required=False)
        currencies: set[str] = set()
        for name, entries in self._sections:
            self.section(obj, name, entries, out, currencies, n)
        if len(currencies) != 1:
            found = ", ".join(sorted(currencies)) or "none"
            raise self.fail(n, f"a record must carry exactly one currency across its Amounts, found {found}")
        out["currency_code"] = next(iter(currencies))
        return out

    def day(self, obj: dict[str, Any], key: str, n: int) -> date:
        value = obj.get(key)
        if value is None:
            raise self.missing(n, key)
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise self.fail(n, f"{key} must be a YYYY-MM-DD date, got {value!r}") from None

    def text(self, obj: dict[str, Any], key: str, n: int, *, required: bool) -> str:
        value = obj.get(key)
        if value is None:
            if required:
                raise self.missing(n, key)
            return ""
        if type(value) is not str or (required and not value):
            raise self.fail(n, f"{key} must be a non-empty string, got {value!r}")
        return value

    def section(
        self,
        obj: dict[str, Any],
        name: str,
        entries: tuple[_Entry, ...],
        out: dict[str, Any],
        currencies: set[str],
        n: int,
    ) -> None:
        block = obj.get(name)
        if block is None:
            raise self.missing(n, name)
        if type(block) is not dict:
            raise self.fail(n, f"{name} must be an object, got {type(block).__name__}")
        self.unknown(block, _KNOWN_SECTION_KEYS[(self.kind, name)], name)
        for field, column, kind, required in entries:
            value = block.get(field)
            path = f"{name}.{field}"
            if value is None:
                if required:
                    raise self.missing(n, path)
                out[column] = None
            elif kind == "money":
                out[column] = self.amount(value, currencies, path, n)
            elif kind == "int":
                out[column] = self.integer(value, path, n)
            else:
                out[column] = self.number(value, path, n)

    def integer(self, value: Any, path: str, n: int) -> int:
        if type(value) is int:
            return value
        if type(value) is Decimal and value.is_finite() and value == value.to_integral_value():
            return int(value)
        raise self.fail(n, f"{path} must be an integer (Long), got {value!r}")

    def number(self, value: Any, path: str, n: int) -> Decimal:
        if type(value) is Decimal:
            return value
        if type(value) is int:
            return Decimal(value)
        raise self.fail(n, f"{path} must be a number (Float), got {value!r}")

    def amount(self, value: Any, currencies: set[str], path: str, n: int) -> Decimal:
        if type(value) is not dict:
            raise self.fail(n, f"{path} must be an Amount object, got {value!r}")
        self.unknown(value, _AMOUNT_KEYS, path)
        currency = value.get("currencyCode")
        if currency is None:
            raise self.missing(n, f"{path}.currencyCode")
        if type(currency) is not str or not currency:
            raise self.fail(n, f"{path}.currencyCode must be a currency code, got {currency!r}")
        if value.get("amount") is None:
            raise self.missing(n, f"{path}.amount")
        currencies.add(currency)
        return self.number(value["amount"], f"{path}.amount", n)


def iter_data_kiosk_sales_traffic(
    stream: BinaryIO, kind: DocumentKind, *, source: str | None = None, allow_empty: bool = False
) -> DataKioskSalesTrafficRows:
    """The records of a Data Kiosk S&T document of ``kind`` (the ``DataKioskQuery.kind`` it answers).

    ``source`` names the document (e.g. the query id and path) in errors; the stream's file name is used
    otherwise. An empty document raises unless ``allow_empty``.
    """
    return DataKioskSalesTrafficRows(stream, kind, source=source, allow_empty=allow_empty)


def sales_traffic_documents(
    records: Iterable[dict[str, Any]],
) -> dict[tuple[str, date], SalesTrafficDocument]:
    """Records (ByDate and/or Trends) grouped per (marketplace id, day) as report-parser documents.

    Holds the grouped records in memory (one query's documents; a 30-day Trends window for 1,000 ASINs is
    ~30,000 records). Window aggregates (``report_date`` None, ByAsin discovery) are refused.
    """
    out: dict[tuple[str, date], SalesTrafficDocument] = {}
    for record in records:
        day = record.get("report_date")
        if day is None:
            raise ValueError("sales_traffic_documents: a multi-day ByAsin record has no single day to load")
        key = (record["marketplace_id"], day)
        document = out.get(key)
        if document is None:
            spec = {"source": "dataKiosk", "marketplaceIds": [key[0]], "startDate": day, "endDate": day}
            document = out[key] = SalesTrafficDocument(report_specification=spec, by_date=[], by_asin=[])
        (document.by_asin if "parent_asin" in record else document.by_date).append(record)
    return out
