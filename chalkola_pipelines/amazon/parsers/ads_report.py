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

    ``rows``: rows yielded so far. ``unknown_keys``: document keys that are not spAdvertisedProduct
    columns, with the number of rows that carried each (complete once the iterator is exhausted).
    """

    def __init__(self, stream: BinaryIO, *, require_date: bool = True, chunk_size: int = CHUNK_SIZE) -> None:
        self.rows = 0
        self.unknown_keys: Counter[str] = Counter()
        self._source = document_name(stream)
        self._require_date = require_date
        self._it = self._generate(stream, chunk_size)

    def __iter__(self) -> SpAdvertisedProductRows:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._it)

    def _fail(self, message: str) -> AdsReportFormatError:
        where = f" {self._source}" if self._source else ""
        return AdsReportFormatError(
            f"Ads spAdvertisedProduct report document{where}: {message}. Keep the archived document for "
            "investigation; re-running the partition requests and downloads a new report."
        )

    def _generate(self, stream: BinaryIO, chunk_size: int) -> Iterator[dict[str, Any]]:
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
        convert = self._convert
        # ijson's C backend drives the reads itself (twice as fast as pushing chunks through items_coro)
        objects = ijson.items(_Prefixed(head, stream), "item", use_float=False, buf_size=chunk_size)
        try:
            for obj in objects:
                yield convert(obj)
        except ijson.JSONError as exc:
            detail = " ".join(str(exc).split())
            raise self._fail(f"truncated/invalid JSON after row {self.rows} ({detail})") from None

    def _convert(self, obj: Any) -> dict[str, Any]:
        if type(obj) is not dict:
            raise self._fail(f"row {self.rows} is not a JSON object: {obj!r:.80}")
        out = _TEMPLATE.copy()
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
            raise self._fail(
                f"row {self.rows} has no date (a DAILY spAdvertisedProduct report carries one per row)"
            )
        self.rows += 1
        return out


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
