"""Streaming parser of Ads API v3 ``spAdvertisedProduct`` report documents (GZIP_JSON).

The document is one JSON array of flat objects keyed by the requested column names. It can be hundreds
of MB for a large advertiser, so it is read in ~1 MB slices cut at row boundaries, and each slice is
decoded at once by msgspec (C) into typed rows: memory stays flat whatever the document size. A slice that
does not decode as it is (a string id, an unknown key, a wrongly typed value) is converted row by row, and
if no clean cut is found, or the end does not decode (truncated document), ijson takes over for the rest:
every complete row is yielded, then the exact error. Numbers are exact: integer literals are ``int``, the
rest ``Decimal`` from the literal text (never a float), ids are ``int`` (a string id such as
``"144158449488730278"`` is converted exactly), money and ratios are ``Decimal``.

Unknown keys (columns Amazon added, or another report type's columns) are not fatal: they are counted in
:attr:`SpAdvertisedProductRows.unknown_keys` so the caller can log or surface schema drift. A row without a
value for a column the marts need (``ADS_REQUIRED_COLUMNS``) fails the document (``AdsMissingFieldError``
naming the column, the row and the document), in the fast path too: the loader then writes nothing.

The loader reads the same iterator through :meth:`SpAdvertisedProductRows.literal_batches` (tuples, numbers
kept as their literal text, no dict and no Decimal per row) when it is handed the iterator itself.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from itertools import chain
from typing import Any, BinaryIO

import ijson
import msgspec
from msgspec.structs import astuple

from chalkola_pipelines.amazon.documents import document_name
from chalkola_pipelines.amazon.errors import AdsMissingFieldError, AdsReportFormatError
from chalkola_pipelines.amazon.report_columns import ADS_REQUIRED_COLUMNS, SP_ADVERTISED_PRODUCT_COLUMNS

CHUNK_SIZE = 1 << 20
_DIGITS = re.compile(r"\d+")
_LEADING = b"\xef\xbb\xbf \t\r\n"  # UTF-8 BOM and JSON whitespace before the array


class _Prefixed:
    """A reader that returns ``head`` (already read to sniff the document) before the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson probes with read(0) to tell bytes from text
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._stream.read(size)


def _to_date(value: Any) -> date | None:
    if value is None:
        return None
    if type(value) is str:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"expected a YYYY-MM-DD date, got {value!r}")


def _to_text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) is int or type(value) is Decimal:  # e.g. an all-digit SKU written as a number
        return str(value)
    raise ValueError(f"expected text, got {value!r}")


def _integral(value: Any, what: str) -> int:
    if type(value) is Decimal and value.is_finite() and value == value.to_integral_value():
        return int(value)  # exact: Decimal holds the literal, never a binary float
    raise ValueError(f"expected {what}, got {value!r}")


def _to_id(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    if type(value) is str and _DIGITS.fullmatch(value):
        return int(value)
    return _integral(value, "an integer id")


def _to_int(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    return _integral(value, "an integer")


def _to_decimal(value: Any) -> Decimal | None:
    if value is None or type(value) is Decimal:
        return value
    if type(value) is int:
        return Decimal(value)
    raise ValueError(f"expected a number, got {value!r}")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "date": _to_date,
    "text": _to_text,
    "id": _to_id,
    "int": _to_int,
    "decimal": _to_decimal,
}
# The type a value already has when it needs no conversion (the common case, checked inline: a
# function call per value would double the parser's cost on a 300 MB document).
_READY_TYPE: dict[str, type] = {"date": type(None), "text": str, "id": int, "int": int, "decimal": Decimal}
# document key → (row key, type that needs no conversion, converter)
_SPEC: dict[str, tuple[str, type, Callable[[Any], Any]]] = {
    c.name: (c.column, _READY_TYPE[c.kind], _CONVERTERS[c.kind]) for c in SP_ADVERTISED_PRODUCT_COLUMNS
}
_TEMPLATE: dict[str, Any] = {c.column: None for c in SP_ADVERTISED_PRODUCT_COLUMNS}

#: The keys of a row dict (the catalogue's ``.column``), in catalogue order: the order of the tuples of
#: ``row_batches()`` and ``literal_batches()``.
ROW_KEYS: tuple[str, ...] = tuple(c.column for c in SP_ADVERTISED_PRODUCT_COLUMNS)
_TUPLE_OF = operator.itemgetter(*ROW_KEYS)

# The fast path: msgspec decodes a whole slice of the array into typed structs in C. Exactness: integer
# literals are ``int`` (any size), other numbers reach ``Decimal`` as their literal text (float_hook), a
# float is never built. Decimal columns are decoded untyped and their types checked once per batch
# (a typed ``Decimal`` field would also accept a JSON string). Anything the fast path does not accept
# as is (a string id, an unknown key, a wrong type, a missing required column) sends the slice through
# ``_convert``, which applies the documented conversions or raises the error naming the row and column.
_FAST_TYPES: dict[str, Any] = {"date": date | None, "text": str | None, "id": int | None, "int": int | None}
_REQUIRED_TYPES: dict[str, Any] = {"date": date, "text": str, "id": int, "int": int}  # no None: null fails
_SLOW_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_DECIMAL_NAMES = tuple(c.name for c in SP_ADVERTISED_PRODUCT_COLUMNS if c.kind == "decimal")
_DECIMAL_INDEXES = tuple(i for i, c in enumerate(SP_ADVERTISED_PRODUCT_COLUMNS) if c.kind == "decimal")
_DECIMAL_VALUES = operator.attrgetter(*_DECIMAL_NAMES)
_DECIMAL_OK = frozenset({Decimal, msgspec.Raw, int, type(None)})
_DATE_VALUE = operator.attrgetter("date")
_COLUMN_OF = {c.name: c.column for c in SP_ADVERTISED_PRODUCT_COLUMNS}


class _Required:
    """The required columns (``ADS_REQUIRED_COLUMNS``; ``date`` only for DAILY reports) and the fast-path
    decoders that enforce them: a required date / text / id / int column is a required struct field of its
    type (absent or null fails in C, and the slice goes row by row, which names the row); required decimal
    columns (decoded untyped) and groups ("cost or spend") are checked once per batch, in C (``None in``)."""

    def __init__(self, require_date: bool, require_columns: bool) -> None:
        groups = ADS_REQUIRED_COLUMNS if require_columns else (("date",),)
        self.groups = tuple(g for g in groups if require_date or g != ("date",))
        self.row_groups = tuple(tuple(_COLUMN_OF[name] for name in g) for g in self.groups)
        singles = {g[0] for g in self.groups if len(g) == 1}
        spec = [
            (c.name, _REQUIRED_TYPES[c.kind])
            if c.name in singles and c.kind != "decimal"
            else (c.name, _FAST_TYPES.get(c.kind, Any), None)
            for c in SP_ADVERTISED_PRODUCT_COLUMNS
        ]
        row = msgspec.defstruct("_FastRow", spec, kw_only=True, forbid_unknown_fields=True, gc=False)
        self.decoder = msgspec.json.Decoder(list[row], float_hook=Decimal)
        # for literal_batches(), non-integer numbers stay their literal text (msgspec.Raw): no Decimal is built
        self.literal_decoder = msgspec.json.Decoder(list[row], float_hook=msgspec.Raw)
        kinds = {c.name: c.kind for c in SP_ADVERTISED_PRODUCT_COLUMNS}
        checked = [g for g in self.groups if len(g) > 1 or kinds[g[0]] == "decimal"]
        # attrgetter of one name gives the value, of several a tuple: each compared with its "all null"
        self.checks = tuple(
            (operator.attrgetter(*g), None if len(g) == 1 else (None,) * len(g)) for g in checked
        )

    def batch_ok(self, structs: list[Any]) -> bool:
        return all(null not in map(get, structs) for get, null in self.checks)

    def missing(self, row: dict[str, Any]) -> str | None:
        """The first required column (or group, "cost or spend") without a value in ``row``."""
        for names, columns in zip(self.groups, self.row_groups, strict=True):
            if all(row[c] is None for c in columns):
                return " or ".join(names)
        return None


_REQUIRED = {(d, c): _Required(d, c) for d in (True, False) for c in (True, False)}
_NEXT_TOKEN = re.compile(rb"[ \t\r\n]*.", re.S)  # whitespace, then the next character
_MAX_CUT_FAILURES = 4


def _exact_decimals(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Decimal columns as Decimal: from an integer literal, or from a literal kept as text (msgspec.Raw)."""
    out = list(values)
    for i in _DECIMAL_INDEXES:
        value = out[i]
        if type(value) is int:
            out[i] = Decimal(value)
        elif type(value) is msgspec.Raw:
            out[i] = Decimal(bytes(value).decode())
    return tuple(out)


class _Batch:
    """Rows decoded together: msgspec structs (fast path) or converted tuples (row-by-row path)."""

    __slots__ = ("_structs", "_tuples", "_int_decimals")

    def __init__(
        self,
        *,
        structs: list[Any] | None = None,
        tuples: list[tuple[Any, ...]] | None = None,
        int_decimals: bool = False,
    ) -> None:
        self._structs = structs
        self._tuples = tuples
        self._int_decimals = int_decimals

    def tuples(self) -> list[tuple[Any, ...]]:
        if self._tuples is None:
            tuples = list(map(astuple, self._structs or ()))
            if self._int_decimals:  # 0 or 12 in a Decimal column (or literals kept as text)
                tuples = [_exact_decimals(values) for values in tuples]
            self._tuples = tuples
        return self._tuples

    def days(self) -> list[Any]:
        if self._structs is not None:
            return list(map(_DATE_VALUE, self._structs))
        return [values[0] for values in self._tuples or ()]

    def literals(self) -> list[tuple[Any, ...]]:
        """The rows as tuples (catalogue order), non-integer numbers of the fast path still their literal
        text (``msgspec.Raw``: exact, no Decimal built); rows of the row-by-row path as :meth:`tuples`."""
        if self._structs is None:
            return self._tuples or []
        return list(map(astuple, self._structs))


class SpAdvertisedProductRows(Iterator[dict[str, Any]]):
    """Iterator over the rows of one document, with what it learned along the way.

    ``rows``: rows parsed so far (the parser works ahead by at most one batch of ~1 MB); ``rows_per_day``:
    the same, per ``report_date``. ``unknown_keys``: document keys that are not spAdvertisedProduct columns,
    with the number of rows that carried each. All three are complete once the iterator is exhausted. :meth:`row_batches` gives the same rows as tuples, in
    batches, without building a dict per row; :meth:`literal_batches` the same with number literals kept
    as text (what a loader uses).
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        require_date: bool = True,
        require_columns: bool = True,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.rows = 0
        self.unknown_keys: Counter[str] = Counter()
        self._source = document_name(stream)
        self._require_date = require_date
        self._required = _REQUIRED[(require_date, require_columns)]
        self.rows_per_day: Counter[date | None] = Counter()
        self._batches = self._counted(self._generate(stream, chunk_size))
        self._pending: Iterator[tuple[Any, ...]] = iter(())
        self._started = False
        self._fast_decoder = self._required.decoder

    def __iter__(self) -> SpAdvertisedProductRows:
        return self

    def __next__(self) -> dict[str, Any]:
        self._started = True
        for values in self._pending:
            return dict(zip(ROW_KEYS, values, strict=True))
        for batch, _ in self._batches:
            tuples = batch.tuples()
            if tuples:
                self._pending = iter(tuples)
                return dict(zip(ROW_KEYS, next(self._pending), strict=True))
        raise StopIteration

    def _counted(self, batches: Iterator[_Batch]) -> Iterator[tuple[_Batch, list[Any]]]:
        for batch in batches:
            days = batch.days()
            self.rows_per_day.update(days)
            yield batch, days

    def row_batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """The remaining rows, in batches of tuples ordered as :data:`ROW_KEYS` (same types as the
        dicts: ``date`` / ``str`` / ``int`` / ``Decimal`` / None). Shares the position with ``next()``."""
        self._started = True
        rest = list(self._pending)
        self._pending = iter(())
        if rest:
            yield rest
        for batch, _ in self._batches:
            yield batch.tuples()

    def literal_batches(self) -> Iterator[tuple[list[date | None], list[tuple[Any, ...]]]]:
        """The remaining rows as ``(report dates, rows)`` batches: rows are tuples in catalogue order
        (``SP_ADVERTISED_PRODUCT_COLUMNS``), with the same values as the dicts except that a non-integer
        number may be ``msgspec.Raw``, its literal text exactly as it came (no Decimal is built for it).
        Shares the position with ``next()``."""
        self._started = True
        self._fast_decoder = self._required.literal_decoder  # numbers stay the literals they came in
        rest = list(self._pending)
        self._pending = iter(())
        if rest:
            batch = _Batch(tuples=rest)
            yield batch.days(), batch.literals()
        for batch, days in self._batches:
            yield days, batch.literals()

    @property
    def started(self) -> bool:
        """True once rows were taken (``next()``, :meth:`row_batches` or :meth:`literal_batches`)."""
        return self._started

    def _fail(self, message: str) -> AdsReportFormatError:
        where = f" {self._source}" if self._source else ""
        return AdsReportFormatError(
            # what happens next (quarantine, download again) is the workflow's one message (defs/report_errors)
            f"Ads spAdvertisedProduct report document{where}: {message}"
        )

    def _missing(self, column: str, message: str) -> AdsMissingFieldError:
        where = f" {self._source}" if self._source else ""
        return AdsMissingFieldError(
            f"Ads spAdvertisedProduct report document{where}: {message}; no row of this document is loaded.",
            field=column,
            row=f"row {self.rows}",
            document=self._source,
        )

    # -- reading -------------------------------------------------------------------------------------

    def _generate(self, stream: BinaryIO, chunk_size: int) -> Iterator[_Batch]:
        """Cut the array into ~chunk_size slices at row boundaries and decode each slice at once.

        A candidate cut is a ``}`` followed (after whitespace) by ``,``. A ``}`` inside a string or a
        nested object can look like one, but then the left part is not valid JSON (unterminated string or
        object) and the previous candidate is tried; after a few failures (or at the end of the document
        if the rest does not decode) ijson takes over for the rest of the stream, which yields every
        complete row and then reports the exact problem. Memory: one slice plus one chunk.
        """
        head = b""
        while not head.lstrip(_LEADING):
            chunk = stream.read(chunk_size)
            if not chunk:
                raise self._fail("the document is empty")
            head += chunk
        head = head.removeprefix(b"\xef\xbb\xbf")
        stripped = head.lstrip(_LEADING)
        if stripped[:1] != b"[":
            raise self._fail(f"expected a JSON array of rows, the document starts with {stripped[:40]!r}")
        buf = stripped[1:]
        while True:
            chunk = stream.read(chunk_size)
            if not chunk:  # the rest: the last rows, "]" and whitespace
                batch = self._decode(b"[" + buf)
                if batch is None:
                    yield from self._ijson_rest(b"[" + buf, stream, chunk_size)
                else:
                    yield batch
                return
            buf += chunk
            end, failures = len(buf), 0
            while failures < _MAX_CUT_FAILURES:
                cut = buf.rfind(b"}", 0, end)
                if cut < 0:
                    break  # no complete row yet: read more
                comma = _NEXT_TOKEN.match(buf, cut + 1)
                if comma is None or buf[comma.end() - 1] != 0x2C:  # not "},": try the previous "}"
                    end = cut
                    continue
                batch = self._decode(b"[" + buf[: cut + 1] + b"]")
                if batch is None:
                    end, failures = cut, failures + 1
                    continue
                yield batch
                buf = buf[comma.end() :]
                break
            else:
                yield from self._ijson_rest(b"[" + buf, stream, chunk_size)
                return

    def _decode(self, data: bytes) -> _Batch | None:
        """Rows of one complete JSON array, or None if ``data`` is not valid JSON."""
        try:
            structs = self._fast_decoder.decode(data)
        except msgspec.ValidationError:
            pass  # a value outside the fast path's types, or an unknown key: convert row by row
        except msgspec.DecodeError:
            return None
        else:
            batch = self._fast_rows(structs)
            if batch is not None:
                return batch
        try:
            objects = _SLOW_DECODER.decode(data)
        except msgspec.DecodeError:
            return None
        return _Batch(tuples=[_TUPLE_OF(self._convert(obj)) for obj in objects])

    def _fast_rows(self, structs: list[Any]) -> _Batch | None:
        """The batch if every row is well typed (checked once per batch, in C), else None."""
        if not structs:
            return _Batch(tuples=[])
        kinds = set(map(type, chain.from_iterable(map(_DECIMAL_VALUES, structs))))
        if not kinds <= _DECIMAL_OK:
            return None  # text, bool, object...: the row-by-row path names the row and column
        if not self._required.batch_ok(structs):
            return None  # the row-by-row path names the row and the column
        self.rows += len(structs)
        return _Batch(structs=structs, int_decimals=int in kinds or msgspec.Raw in kinds)

    def _ijson_rest(self, head: bytes, stream: BinaryIO, chunk_size: int) -> Iterator[_Batch]:
        """The rest of the array through ijson: every complete row, then the exact error."""
        objects = ijson.items(_Prefixed(head, stream), "item", use_float=False, buf_size=chunk_size)
        batch: list[tuple[Any, ...]] = []
        try:
            for obj in objects:
                batch.append(_TUPLE_OF(self._convert(obj)))
                if len(batch) >= 1000:
                    yield _Batch(tuples=batch)
                    batch = []
        except ijson.JSONError as exc:
            yield _Batch(tuples=batch)
            detail = " ".join(str(exc).split())
            raise self._fail(f"truncated/invalid JSON after row {self.rows} ({detail})") from None
        yield _Batch(tuples=batch)

    def _convert(self, obj: Any) -> dict[str, Any]:
        if type(obj) is not dict:
            raise self._fail(f"row {self.rows} is not a JSON object: {obj!r:.80}")
        out = {**_TEMPLATE}
        spec = _SPEC
        for key, value in obj.items():
            target = spec.get(key)
            if target is None:
                self.unknown_keys[key] += 1
                continue
            column, ready, conv = target
            if type(value) is ready or value is None:
                out[column] = value
                continue
            try:
                out[column] = conv(value)
            except ValueError as exc:
                raise self._fail(f"row {self.rows}, column {key}: {exc}") from None
        if self._require_date and out["report_date"] is None:
            raise self._missing(
                "date",
                f"row {self.rows} has no date (a DAILY spAdvertisedProduct report carries one per row)",
            )
        missing = self._required.missing(out)
        if missing is not None:
            raise self._missing(
                missing,
                f"row {self.rows} (counting from 0) has no {missing}, a column the marts need "
                "(amazon.report_columns.ADS_REQUIRED_COLUMNS)",
            )
        self.rows += 1
        return out


def iter_sp_advertised_product_rows(
    stream: BinaryIO, *, require_date: bool = True, require_columns: bool = True
) -> SpAdvertisedProductRows:
    """Stream the rows of an spAdvertisedProduct document (decompressed, see :func:`open_document`).

    Each row has every ``SP_ADVERTISED_PRODUCT_COLUMNS`` column (missing → None; ``date`` becomes
    ``report_date``). The returned iterator's ``unknown_keys`` counts keys that are not report columns.
    Raises :class:`AdsReportFormatError` for truncated/invalid JSON, a top level that is not an array, a
    value of the wrong type (e.g. an id that is not an integer); :class:`AdsMissingFieldError` (a subclass)
    for a row without ``date`` (``require_date``: DAILY reports) or, with ``require_columns``, without a
    value of an ``ADS_REQUIRED_COLUMNS`` column (off only for documents that are not v3 reports of the marts).
    """
    return SpAdvertisedProductRows(stream, require_date=require_date, require_columns=require_columns)
