"""Parser of GET_SALES_AND_TRAFFIC_REPORT documents (JSON, schema sellerSalesAndTrafficReport.json).

A one-day document for ~1,000 ASINs is a few hundred kB, so it is read whole from the stream. Numbers are
parsed exactly: integers stay ``int``, every decimal literal becomes ``Decimal`` (``parse_float``), and each
field is normalised to its catalogue kind (``int`` / ``num`` → Decimal / ``money`` → Decimal amount, with
the row's single currency kept in ``currency_code``). Fields the official schema does not know are
reported in ``unknown_fields`` (schema drift) instead of failing the load.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import chain
from typing import Any, BinaryIO

import msgspec
from msgspec.structs import astuple

from chalkola_pipelines.amazon.documents import document_name
from chalkola_pipelines.amazon.errors import SalesTrafficFormatError, SalesTrafficMissingFieldError
from chalkola_pipelines.amazon.report_columns import (
    ST_BY_ASIN_FIELDS,
    ST_BY_DATE_FIELDS,
    ST_REQUIRED_FIELDS,
    ReportField,
)

BY_DATE_KEY = "salesAndTrafficByDate"
BY_ASIN_KEY = "salesAndTrafficByAsin"

REQUIRED_FIELD_NAMES = ST_REQUIRED_FIELDS  # (section, field): tests/parsers check it against the schema file
REPORT_SPECIFICATION_KEYS = frozenset(
    {"reportType", "reportOptions", "dataStartTime", "dataEndTime", "marketplaceIds"}
)
REPORT_OPTIONS_KEYS = frozenset({"dateGranularity", "asinGranularity"})
BY_DATE_ROW_KEYS = frozenset({"date", "salesByDate", "trafficByDate"})
BY_ASIN_ROW_KEYS = frozenset({"parentAsin", "childAsin", "sku", "salesByAsin", "trafficByAsin"})
AMOUNT_KEYS = frozenset({"amount", "currencyCode"})
_NUMBER_TYPES = frozenset({Decimal, int})  # type() is exact: bool is not int here


@dataclass
class SalesTrafficDocument:
    """A parsed sales and traffic document, one dict per row, keyed by the catalogue's ``.column`` names."""

    report_specification: dict
    by_date: list[dict]  # report_date, currency_code, <ST_BY_DATE_FIELDS .column>
    by_asin: list[dict]  # parent_asin, child_asin ('' if absent), sku ('' if absent), currency_code, ...
    unknown_fields: set[str] = field(default_factory=set)  # dotted paths not in the official schema


def _group(fields: tuple[ReportField, ...]) -> dict[str, tuple[tuple[str, str, str, bool], ...]]:
    """section → ((name, column, kind, required), ...)"""
    sections: dict[str, list[tuple[str, str, str, bool]]] = {}
    for f in fields:
        required = (f.section, f.name) in REQUIRED_FIELD_NAMES
        sections.setdefault(f.section, []).append((f.name, f.column, f.kind, required))
    return {section: tuple(entries) for section, entries in sections.items()}


_BY_DATE_SECTIONS = _group(ST_BY_DATE_FIELDS)
_BY_ASIN_SECTIONS = _group(ST_BY_ASIN_FIELDS)
_KNOWN_KEYS: dict[str, frozenset[str]] = {
    section: frozenset(entry[0] for entry in entries)
    for sections in (_BY_DATE_SECTIONS, _BY_ASIN_SECTIONS)
    for section, entries in sections.items()
}


class _Parser:
    def __init__(self, source: str | None) -> None:
        self.source = source
        self.unknown: set[str] = set()

    def fail(self, message: str) -> SalesTrafficFormatError:
        where = f" {self.source}" if self.source else ""
        return SalesTrafficFormatError(
            # what happens next (quarantine, download again) is the workflow's one message (defs/report_errors)
            f"sales and traffic report document{where}: {message}. The document does not match the "
            "GET_SALES_AND_TRAFFIC_REPORT schema"
        )

    def missing(self, row: str, field: str) -> SalesTrafficMissingFieldError:
        """A field the official schema requires is absent (or null) in ``row``: the document is refused."""
        where = f" {self.source}" if self.source else ""
        path = f"{row}.{field}" if row else field
        return SalesTrafficMissingFieldError(
            f"sales and traffic report document{where}: required field {path} is missing (the official "
            "schema sellerSalesAndTrafficReport.json requires it); no row of this document is loaded.",
            field=field,
            row=row or "the document",
            document=self.source,
        )

    def note_unknown(self, obj: dict, known: frozenset[str] | set[str], prefix: str) -> None:
        if obj.keys() <= known:  # the common case, checked in C
            return
        for key in obj:
            if key not in known:
                self.unknown.add(f"{prefix}.{key}" if prefix else key)

    def number(self, value: Any, kind: str, path: str) -> int | Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self.fail(f"{path} must be a number, got {value!r}")
        if kind == "int":
            if isinstance(value, int):
                return value
            if value != value.to_integral_value():
                raise self.fail(f"{path} must be an integer, got {value}")
            return int(value)
        return Decimal(value) if isinstance(value, int) else value

    def section(
        self,
        row: dict,
        section: str,
        fields: tuple[tuple[str, str, str, bool], ...],
        out: dict[str, Any],
        currencies: set[str],
        path: str,
        schema_path: str,
    ) -> None:
        obj = row.get(section)
        if obj is None:
            raise self.missing(path, section)
        if type(obj) is not dict:
            raise self.fail(f"{path}.{section} must be an object, got {type(obj).__name__}")
        self.note_unknown(obj, _KNOWN_KEYS[section], f"{schema_path}.{section}")
        get = obj.get
        # Fast paths inline (the common, well-typed case); paths are only formatted for an error.
        for name, column, kind, required in fields:
            value = get(name)
            if value is None:
                if required:
                    raise self.missing(path, f"{section}.{name}")
                out[column] = None
            elif kind == "money":
                if (
                    type(value) is dict
                    and type(amount := value.get("amount")) in _NUMBER_TYPES
                    and type(currency := value.get("currencyCode")) is str
                    and currency
                    and len(value) == 2
                ):
                    currencies.add(currency)
                    out[column] = amount if type(amount) is Decimal else Decimal(amount)
                else:
                    out[column] = self.amount(
                        value, currencies, f"{path}.{section}.{name}", f"{schema_path}.{section}.{name}"
                    )
            elif kind == "int":
                out[column] = (
                    value if type(value) is int else self.number(value, kind, f"{path}.{section}.{name}")
                )
            elif type(value) is Decimal:
                out[column] = value
            elif type(value) is int:  # a "num" written as 0 or 100
                out[column] = Decimal(value)
            else:
                out[column] = self.number(value, kind, f"{path}.{section}.{name}")

    def amount(self, value: Any, currencies: set[str], fpath: str, schema_path: str) -> Decimal:
        if not isinstance(value, dict):
            raise self.fail(f"{fpath} must be an Amount object, got {value!r}")
        self.note_unknown(value, AMOUNT_KEYS, schema_path)
        for key in ("amount", "currencyCode"):
            if value.get(key) is None:
                row, _, name = fpath.partition(".")
                raise self.missing(row, f"{name}.{key}")
        currency = value["currencyCode"]
        if not isinstance(currency, str) or not currency:
            raise self.fail(f"{fpath}.currencyCode must be a currency code, got {currency!r}")
        currencies.add(currency)
        return self.number(value["amount"], "num", f"{fpath}.amount")  # type: ignore[return-value]

    def row_currency(self, currencies: set[str], path: str) -> str:
        if len(currencies) != 1:
            found = ", ".join(sorted(currencies)) or "none"
            raise self.fail(f"{path} must carry exactly one currency across its Amounts, found {found}")
        return next(iter(currencies))

    def by_date_row(self, row: Any, index: int) -> dict[str, Any]:
        path = f"{BY_DATE_KEY}[{index}]"
        if not isinstance(row, dict):
            raise self.fail(f"{path} must be an object")
        self.note_unknown(row, BY_DATE_ROW_KEYS, BY_DATE_KEY)
        raw_date = row.get("date")
        if raw_date is None:
            raise self.missing(path, "date")
        try:
            report_date = date.fromisoformat(raw_date)
        except (TypeError, ValueError):
            raise self.fail(f"{path}.date must be a YYYY-MM-DD date, got {raw_date!r}") from None
        out: dict[str, Any] = {"report_date": report_date}
        currencies: set[str] = set()
        for section, fields in _BY_DATE_SECTIONS.items():
            self.section(row, section, fields, out, currencies, path, BY_DATE_KEY)
        out["currency_code"] = self.row_currency(currencies, path)
        return out

    def by_asin_row(self, row: Any, index: int) -> dict[str, Any]:
        path = f"{BY_ASIN_KEY}[{index}]"
        if not isinstance(row, dict):
            raise self.fail(f"{path} must be an object")
        self.note_unknown(row, BY_ASIN_ROW_KEYS, BY_ASIN_KEY)
        out: dict[str, Any] = {}
        for key, column, required in (
            ("parentAsin", "parent_asin", True),
            ("childAsin", "child_asin", False),
            ("sku", "sku", False),
        ):
            value = row.get(key)
            if value is None:
                if required:
                    raise self.missing(path, key)
                value = ""
            elif not isinstance(value, str):
                raise self.fail(f"{path}.{key} must be a string, got {value!r}")
            out[column] = value
        currencies: set[str] = set()
        for section, fields in _BY_ASIN_SECTIONS.items():
            self.section(row, section, fields, out, currencies, path, BY_ASIN_KEY)
        out["currency_code"] = self.row_currency(currencies, path)
        return out

    def document(self, data: Any) -> SalesTrafficDocument:
        if not isinstance(data, dict):
            raise self.fail(f"the document must be a JSON object, got {type(data).__name__}")
        for key in ("reportSpecification", BY_DATE_KEY, BY_ASIN_KEY):
            if key not in data:
                raise self.missing("", key)
        self.note_unknown(data, {"reportSpecification", BY_DATE_KEY, BY_ASIN_KEY}, "")
        spec = data["reportSpecification"]
        self.check_specification(spec)
        by_date_rows, by_asin_rows = data[BY_DATE_KEY], data[BY_ASIN_KEY]
        for key, rows in ((BY_DATE_KEY, by_date_rows), (BY_ASIN_KEY, by_asin_rows)):
            if not isinstance(rows, list):
                raise self.fail(f"{key} must be an array, got {type(rows).__name__}")
        by_date = [self.by_date_row(row, i) for i, row in enumerate(by_date_rows)]
        by_asin = [self.by_asin_row(row, i) for i, row in enumerate(by_asin_rows)]
        return SalesTrafficDocument(
            report_specification=spec, by_date=by_date, by_asin=by_asin, unknown_fields=self.unknown
        )

    def document_from_parts(
        self, spec: dict, by_date: list[dict], by_asin: list[dict]
    ) -> SalesTrafficDocument:
        """The document from rows the fast path built (see ``_fast_document``)."""
        self.check_specification(spec)
        return SalesTrafficDocument(
            report_specification=spec, by_date=by_date, by_asin=by_asin, unknown_fields=self.unknown
        )

    def check_specification(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            raise self.fail("reportSpecification must be an object")
        self.note_unknown(spec, REPORT_SPECIFICATION_KEYS, "reportSpecification")
        if isinstance(spec.get("reportOptions"), dict):
            self.note_unknown(spec["reportOptions"], REPORT_OPTIONS_KEYS, "reportSpecification.reportOptions")
        report_type = spec.get("reportType")
        if report_type is not None and report_type != "GET_SALES_AND_TRAFFIC_REPORT":
            raise self.fail(
                f"reportSpecification.reportType is {report_type!r}, not GET_SALES_AND_TRAFFIC_REPORT"
            )


_DECODER = msgspec.json.Decoder(float_hook=Decimal)  # integer literals → int, other numbers → exact Decimal


# ------------------------------------------------------------------------------------------------------
# Fast path: msgspec decodes the whole document into typed structs in C (required fields, ints, Amount
# shape, unknown keys all checked there); the few checks msgspec cannot express (a "num" that must be a
# number, one currency per row) run once per document over all values. Any document it does not accept as
# is goes through _Parser above, which gives the same result or the error naming the row and field.


class _Amount(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    amount: Any  # int or Decimal (checked per document)
    currencyCode: str  # noqa: N815 - the schema's name


_FIELD_TYPES: dict[str, Any] = {"int": int, "money": _Amount, "num": Any}


def _tuple_getter(indexes: tuple[int, ...]) -> Callable[[list[Any]], tuple[Any, ...]] | None:
    if not indexes:
        return None
    if len(indexes) == 1:
        index = indexes[0]
        return lambda values: (values[index],)
    return operator.itemgetter(*indexes)


class _Section:
    """One section (e.g. salesByAsin): its struct type and how to flatten it."""

    def __init__(self, section: str, fields: tuple[tuple[str, str, str, bool], ...]) -> None:
        spec: list[Any] = []
        for name, _, kind, required in fields:
            kind_type = _FIELD_TYPES[kind]
            if required:
                spec.append((name, kind_type))
            else:
                spec.append((name, kind_type if kind_type is Any else kind_type | None, None))
        self.struct = msgspec.defstruct(
            f"_{section}", spec, kw_only=True, forbid_unknown_fields=True, gc=False
        )
        self.name = section
        self.columns = tuple(column for _, column, _, _ in fields)
        money_names = [name for name, _, kind, _ in fields if kind == "money"]
        self.money_values = operator.attrgetter(*money_names) if len(money_names) > 1 else None
        self.money = tuple(i for i, (_, _, kind, _) in enumerate(fields) if kind == "money")
        self.num = tuple(i for i, (_, _, kind, _) in enumerate(fields) if kind == "num")
        self.required_num = tuple(i for i, (_, _, kind, req) in enumerate(fields) if kind == "num" and req)
        # list → the values at those positions, always a tuple (itemgetter gives a bare value for one)
        self.num_values = _tuple_getter(self.num)
        self.required_num_values = _tuple_getter(self.required_num)


_SECTIONS = {
    section: _Section(section, fields)
    for section, fields in {**_BY_DATE_SECTIONS, **_BY_ASIN_SECTIONS}.items()
}
_SALES_BY_DATE, _TRAFFIC_BY_DATE = _SECTIONS["salesByDate"], _SECTIONS["trafficByDate"]
_SALES_BY_ASIN, _TRAFFIC_BY_ASIN = _SECTIONS["salesByAsin"], _SECTIONS["trafficByAsin"]


class _ByDateRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    date: str
    salesByDate: _SALES_BY_DATE.struct  # type: ignore[valid-type]  # noqa: N815
    trafficByDate: _TRAFFIC_BY_DATE.struct  # type: ignore[valid-type]  # noqa: N815


class _ByAsinRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    parentAsin: str  # noqa: N815
    salesByAsin: _SALES_BY_ASIN.struct  # type: ignore[valid-type]  # noqa: N815
    trafficByAsin: _TRAFFIC_BY_ASIN.struct  # type: ignore[valid-type]  # noqa: N815
    childAsin: str | None = None  # noqa: N815
    sku: str | None = None


class _Document(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    reportSpecification: dict[str, Any]  # noqa: N815
    salesAndTrafficByDate: list[_ByDateRow]  # noqa: N815
    salesAndTrafficByAsin: list[_ByAsinRow]  # noqa: N815


_FAST_DECODER = msgspec.json.Decoder(_Document, float_hook=Decimal)
_NUMBER_OR_NONE = frozenset({Decimal, int, type(None)})
# Decimal(int) costs ~0.3 µs; counts and percentages written as integers are mostly small (Decimal is
# immutable, so sharing these is safe)
_SMALL: dict[int, Decimal] = {i: Decimal(i) for i in range(0, 1001)}


def _decimal_of_int(value: int) -> Decimal:
    small = _SMALL.get(value)
    return small if small is not None else Decimal(value)


def _flat_values(sections: list[Any], section: _Section) -> list[list[Any]] | None:
    """Each struct's values in catalogue order, Amounts as their Decimal amount; None if any value needs
    the row-by-row parser (a "num" that is not a number, a required "num" that is null)."""
    rows = [list(astuple(s)) for s in sections]
    convert_ints = False
    if section.num_values is not None:
        kinds = set(map(type, chain.from_iterable(map(section.num_values, rows))))
        if not kinds <= _NUMBER_OR_NONE:
            return None
        if section.required_num_values is not None and None in chain.from_iterable(
            map(section.required_num_values, rows)
        ):
            return None
        convert_ints = int in kinds
    money = section.money
    if money or convert_ints:
        for row in rows:
            for i in money:
                amount = row[i]
                if amount is not None:
                    value = amount.amount
                    row[i] = value if type(value) is Decimal else _decimal_of_int(value)
            if convert_ints:
                for i in section.num:
                    if type(row[i]) is int:
                        row[i] = _decimal_of_int(row[i])
    return rows


def _amount_types_and_currencies(sections: list[Any], section: _Section) -> tuple[set[type], set[str]]:
    get = section.money_values  # two or more money fields per sales section (asserted above)
    assert get is not None
    present = [a for s in sections for a in get(s) if a is not None]
    return {type(a.amount) for a in present}, {a.currencyCode for a in present}


def _fast_document(parser: _Parser, text: str) -> SalesTrafficDocument | None:
    try:
        doc = _FAST_DECODER.decode(text)
    except msgspec.DecodeError:  # includes ValidationError
        return None
    by_date_rows, by_asin_rows = doc.salesAndTrafficByDate, doc.salesAndTrafficByAsin
    kinds: set[type] = set()
    currencies: set[str] = set()
    for rows, section in (
        (by_date_rows, _SALES_BY_DATE),
        (by_asin_rows, _SALES_BY_ASIN),
    ):
        k, c = _amount_types_and_currencies([getattr(r, section.name) for r in rows], section)
        kinds |= k
        currencies |= c
    # one currency in the whole document (so in every row: each row has its required Amounts); amounts
    # numbers (bool is not int for type())
    if len(currencies) > 1 or not kinds <= {Decimal, int} or "" in currencies:
        return None
    currency = next(iter(currencies), None)
    flat = {}
    for rows, section in (
        (by_date_rows, _SALES_BY_DATE),
        (by_date_rows, _TRAFFIC_BY_DATE),
        (by_asin_rows, _SALES_BY_ASIN),
        (by_asin_rows, _TRAFFIC_BY_ASIN),
    ):
        values = _flat_values([getattr(r, section.name) for r in rows], section)
        if values is None:
            return None
        flat[section.name] = values
    by_date = []
    for i, row in enumerate(by_date_rows):
        try:
            report_date = date.fromisoformat(row.date)
        except ValueError:
            return None
        out: dict[str, Any] = {"report_date": report_date}
        out.update(zip(_SALES_BY_DATE.columns, flat["salesByDate"][i], strict=True))
        out.update(zip(_TRAFFIC_BY_DATE.columns, flat["trafficByDate"][i], strict=True))
        out["currency_code"] = currency
        by_date.append(out)
    asin_columns = (
        "parent_asin",
        "child_asin",
        "sku",
        *_SALES_BY_ASIN.columns,
        *_TRAFFIC_BY_ASIN.columns,
        "currency_code",
    )
    by_asin = [
        dict(
            zip(
                asin_columns,
                (row.parentAsin, row.childAsin or "", row.sku or "", *sales, *traffic, currency),
                strict=True,
            )
        )
        for row, sales, traffic in zip(by_asin_rows, flat["salesByAsin"], flat["trafficByAsin"], strict=True)
    ]
    return parser.document_from_parts(doc.reportSpecification, by_date, by_asin)


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def parse_sales_and_traffic(stream: BinaryIO) -> SalesTrafficDocument:
    """Parse a GET_SALES_AND_TRAFFIC_REPORT document from a binary stream (see :func:`open_document`).

    Raises :class:`SalesTrafficFormatError` for invalid/truncated JSON (with the byte offset), a missing
    required field (with its path and row index), a wrongly typed value, or a row whose Amounts disagree
    on the currency. :class:`DocumentCorruptError` from the stream propagates unchanged.
    """
    parser = _Parser(document_name(stream))
    raw = stream.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise parser.fail(f"not UTF-8 at byte {exc.start}") from None
    document = _fast_document(parser, text)
    if document is not None:
        return document
    try:
        data = _DECODER.decode(text)  # C: ~4x json.loads; the same values (int / Decimal from the literal)
    except msgspec.DecodeError:
        data = None  # json.loads below names the byte offset of the problem (or accepts what msgspec did not)
    if data is not None:
        return parser.document(data)
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8"))
        raise parser.fail(f"truncated/invalid JSON at byte {offset} ({exc.msg})") from None
    except ValueError as exc:  # NaN / Infinity: not JSON numbers Amazon sends
        raise parser.fail(f"non-finite number {exc} in the document") from None
    return parser.document(data)
