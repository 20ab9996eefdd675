"""Streaming parser of Ads API v3 ``spAdvertisedProduct`` report documents (GZIP_JSON).

The document is one JSON array of flat objects keyed by the requested column names. It can be hundreds
of MB for a large advertiser, so ijson's C backend reads it in fixed-size chunks and each row is converted
as soon as it is complete: memory stays flat whatever the document size. Numbers are exact: ijson gives ``int`` for integer
literals and ``Decimal`` for the rest (``use_float=False``), ids are ``int`` (a string id such as
``"144158449488730278"`` is converted exactly; a float is never involved), money and ratios are ``Decimal``.

Unknown keys (columns Amazon added, or another report type's columns) are not fatal: they are counted in
:attr:`SpAdvertisedProductRows.unknown_keys` so the caller can log or surface schema drift.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any, BinaryIO

import ijson

from chalkola_pipelines.amazon.documents import document_name
from chalkola_pipelines.amazon.errors import AdsReportFormatError
from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_COLUMNS

CHUNK_SIZE = 256 * 1024
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
# document key → (warehouse column, type that needs no conversion, converter)
_SPEC: dict[str, tuple[str, type, Callable[[Any], Any]]] = {
    c.name: (c.column, _READY_TYPE[c.kind], _CONVERTERS[c.kind]) for c in SP_ADVERTISED_PRODUCT_COLUMNS
}
_TEMPLATE: dict[str, Any] = {c.column: None for c in SP_ADVERTISED_PRODUCT_COLUMNS}


class SpAdvertisedProductRows(Iterator[dict[str, Any]]):
    """Iterator over the rows of one document, with what it learned along the way.

    ``rows``: rows parsed so far (the parser works ahead by at most one batch of ~1 MB). ``unknown_keys``:
    document keys that are not spAdvertisedProduct columns, with the number of rows that carried each
    (complete once the iterator is exhausted). :meth:`row_batches` gives the same rows as tuples, in
    batches, without building a dict per row (what the COPY loader uses).
    """

    def __init__(self, stream: BinaryIO, *, require_date: bool = True, chunk_size: int = CHUNK_SIZE) -> None:
        self.rows = 0
        self.unknown_keys: Counter[str] = Counter()
        self._source = document_name(stream)
        self._require_date = require_date
        self._batches = self._generate(stream, chunk_size)
        self._pending: Iterator[tuple[Any, ...]] = iter(())

    def __iter__(self) -> SpAdvertisedProductRows:
        return self

    def __next__(self) -> dict[str, Any]:
        for values in self._pending:
            return dict(zip(COLUMN_NAMES, values, strict=True))
        for batch in self._batches:
            if batch:
                self._pending = iter(batch)
                return dict(zip(COLUMN_NAMES, next(self._pending), strict=True))
        raise StopIteration

    def row_batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """The remaining rows, in batches of tuples ordered as :data:`COLUMN_NAMES` (same types as the
        dicts: ``date`` / ``str`` / ``int`` / ``Decimal`` / None). Shares the position with ``next()``."""
        rest = list(self._pending)
        self._pending = iter(())
        if rest:
            yield rest
        yield from self._batches

    def _fail(self, message: str) -> AdsReportFormatError:
        where = f" {self._source}" if self._source else ""
        return AdsReportFormatError(
            f"Ads spAdvertisedProduct report document{where}: {message}. Keep the archived document for "
            "investigation; re-running the partition requests and downloads a new report."
        )

    # -- reading -------------------------------------------------------------------------------------

    def _generate(self, stream: BinaryIO, chunk_size: int) -> Iterator[list[tuple[Any, ...]]]:
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
                if comma is None or comma.end() > len(buf) or buf[comma.end() - 1] != 0x2C:  # ","
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

    def _decode(self, data: bytes) -> list[tuple[Any, ...]] | None:
        """Rows of one complete JSON array, or None if ``data`` is not valid JSON."""
        try:
            structs = _FAST_DECODER.decode(data)
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
        return [_TUPLE_OF(self._convert(obj)) for obj in objects]

    def _fast_rows(self, structs: list[Any]) -> list[tuple[Any, ...]] | None:
        """Tuples of well-typed rows (checked per batch, in C), or None to convert row by row."""
        if not structs:
            return []
        kinds = set(map(type, chain.from_iterable(map(_DECIMAL_VALUES, structs))))
        if not kinds <= _DECIMAL_OK:
            return None  # text, bool, object...: the row-by-row path names the row and column
        if self._require_date and None in map(_DATE_VALUE, structs):
            return None
        batch = list(map(astuple, structs))
        if int in kinds:  # an integral metric written as 0 or 12: Decimal, like every other number
            batch = [_decimals_from_ints(values) for values in batch]
        self.rows += len(batch)
        return batch

    def _ijson_rest(self, head: bytes, stream: BinaryIO, chunk_size: int) -> Iterator[list[tuple[Any, ...]]]:
        """The rest of the array through ijson: every complete row, then the exact error."""
        objects = ijson.items(_Prefixed(head, stream), "item", use_float=False, buf_size=chunk_size)
        batch: list[tuple[Any, ...]] = []
        try:
            for obj in objects:
                batch.append(_TUPLE_OF(self._convert(obj)))
                if len(batch) >= 1000:
                    yield batch
                    batch = []
        except ijson.JSONError as exc:
            yield batch
            detail = " ".join(str(exc).split())
            raise self._fail(f"truncated/invalid JSON after row {self.rows} ({detail})") from None
        yield batch

def iter_sp_advertised_product_rows(
    stream: BinaryIO, *, require_date: bool = True
) -> SpAdvertisedProductRows:
    """Stream the rows of an spAdvertisedProduct document (decompressed, see :func:`open_document`).

    Each row has every ``SP_ADVERTISED_PRODUCT_COLUMNS`` column (missing → None; ``date`` becomes
    ``report_date``). The returned iterator's ``unknown_keys`` counts keys that are not report columns.
    Raises :class:`AdsReportFormatError` for truncated/invalid JSON, a top level that is not an array, a
    value of the wrong type (e.g. an id that is not an integer) or, with ``require_date`` (DAILY reports),
    a row without ``date``.
    """
    return SpAdvertisedProductRows(stream, require_date=require_date)
