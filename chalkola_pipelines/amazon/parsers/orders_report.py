"""Parser of GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL (tab-separated, one row per order item).

Streamed line by line. Columns are matched by header name (Amazon adds and reorders columns over time):
known columns are typed, unknown non-PII columns are kept as text in ``extra_columns``, and buyer/location
columns (``report_columns.order_report_header_is_never_stored``) are dropped on read.

Encoding: UTF-8 by default; files that are not (older EU files in cp1252, JP files in Shift_JIS/cp932) are
detected on the first line that is not valid UTF-8, or can be forced with ``encoding=``.
"""

from __future__ import annotations

import logging
import operator
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from chalkola_pipelines.amazon.documents import document_name
from chalkola_pipelines.amazon.errors import OrderReportFormatError
from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_COLUMNS,
    OrderReportColumn,
    order_report_header_is_never_stored,
)

logger = logging.getLogger(__name__)

REQUIRED_HEADERS: tuple[str, ...] = ("amazon-order-id", "purchase-date", "asin", "quantity")
# Headers whose value may not be blank on a data row (the warehouse key and partition need them).
REQUIRED_VALUES: frozenset[str] = frozenset({"amazon-order-id", "purchase-date"})

_COLUMNS_BY_HEADER: dict[str, OrderReportColumn] = {c.header: c for c in ORDER_REPORT_COLUMNS}
_PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_PLAIN_INT = re.compile(r"[+-]?\d+")
_BOOLS = {"true": True, "false": False, "yes": True, "no": False}


def _money(value: str) -> Decimal:
    if not _PLAIN_DECIMAL.fullmatch(value):
        raise ValueError(f"{value!r} is not a plain decimal number (e.g. 14.0 or 1234.56)")
    return Decimal(value)


def _int(value: str) -> int:
    if _PLAIN_INT.fullmatch(value):
        return int(value)
    if _PLAIN_DECIMAL.fullmatch(value) and Decimal(value) == Decimal(value).to_integral_value():
        return int(Decimal(value))  # "1.0"
    raise ValueError(f"{value!r} is not an integer")


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (expected e.g. 2024-02-14T08:15:00+00:00 or ...Z)")
    return parsed.astimezone(UTC)


def _bool(value: str) -> bool:
    try:
        return _BOOLS[value.lower()]
    except KeyError:
        raise ValueError(f"{value!r} is not true/false") from None


_CONVERTERS = {"money": _money, "int": _int, "timestamp": _timestamp, "bool": _bool, "text": str}


def _looks_japanese(text: str) -> bool:
    for ch in text:
        if ord(ch) < 0x3000:
            continue
        name = unicodedata.name(ch, "")
        if name.startswith(("HIRAGANA", "KATAKANA", "CJK", "FULLWIDTH", "HALFWIDTH KATAKANA")):
            return True
    return False


class _Decoder:
    """Decodes lines: UTF-8 until a line is not valid UTF-8, then the detected legacy encoding."""

    def __init__(self, encoding: str | None) -> None:
        self.encoding = encoding or "utf-8"
        self.sniffing = encoding is None

    def decode(self, raw: bytes, line: int) -> str:
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            if not self.sniffing:
                raise OrderReportFormatError(
                    line, f"not valid {self.encoding} at byte {exc.start}; pass the right encoding="
                ) from None
        self.sniffing = False
        try:
            text = raw.decode("cp932")
            if _looks_japanese(text):
                self.encoding = "cp932"
                logger.info("order report is not UTF-8; decoding as cp932 (Shift_JIS) from line %d", line)
                return text
        except UnicodeDecodeError:
            pass
        self.encoding = "cp1252"
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            self.encoding = "latin-1"
            text = raw.decode("latin-1")
        logger.info("order report is not UTF-8; decoding as %s from line %d", self.encoding, line)
        return text


def iter_order_report_rows(stream: BinaryIO, *, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield one typed dict per order-item row of an all-orders flat file.

    Keys: every ``ORDER_REPORT_COLUMNS`` column (Decimal money, aware UTC datetimes, int quantity, bool
    is_business_order, text; blank → None; columns absent from the header → None) and ``extra_columns``
    (dict of unknown, non-PII headers → raw text). Rows with fewer fields than the header are padded
    (Amazon drops trailing empty fields) — except an unterminated last line, which means a truncated
    document; more fields, a bad value, or a missing required header raise
    :class:`OrderReportFormatError` with the line number (the header is line 1). ``encoding=None`` sniffs
    UTF-8 → cp932 (Japanese text) → cp1252.
    """
    source = document_name(stream)
    decoder = _Decoder(encoding)
    header: list[str] | None = None
    header_line = ""
    plan: list[tuple[int, str, Any, str]] = []  # (field index, column, converter, header)
    extras: list[tuple[int, str]] = []
    absent: list[str] = []
    required: list[tuple[int, str]] = []
    text_plan: list[tuple[int, str]] = []
    text_columns: list[str] = []
    text_values: Callable[[list[str]], Sequence[str]] = lambda fields: ()  # noqa: E731
    typed_plan: list[tuple[int, str, Any, str, dict[str, Any]]] = []
    for line_no, raw in enumerate(stream, start=1):
        text = decoder.decode(raw, line_no).rstrip("\r\n")
        if line_no == 1:
            text = text.lstrip("\ufeff")
        if header is None:
            if not text.strip():
                raise OrderReportFormatError(line_no, "the report has no header line")
            header = [h.strip().lower() for h in text.split("\t")]
            header_line = text
            plan, extras, absent = _plan(header, line_no, source)
            required = [(index, name) for index, _, _, name in plan if name in REQUIRED_VALUES]
            text_plan = [(index, column) for index, column, convert, _ in plan if convert is str]
            text_columns = [column for _, column in text_plan]
            text_values = _getter([index for index, _ in text_plan])
            typed_plan = [(i, column, conv, name, {}) for i, column, conv, name in plan if conv is not str]
            continue
        if not text.strip():
            continue
        if text == header_line:
            logger.warning("order report %s: line %d repeats the header; skipped", source or "", line_no)
            continue
        fields = text.split("\t")
        if len(fields) > len(header):
            raise OrderReportFormatError(
                line_no,
                f"{len(fields)} tab-separated fields but the header has {len(header)}"
                f"{_where(source)}; the file is not a well-formed flat file",
            )
        if len(fields) < len(header):
            if not raw.endswith(b"\n"):
                # The last line, cut short: padding it would silently load part of a truncated document.
                raise OrderReportFormatError(
                    line_no,
                    f"the last line has {len(fields)} of {len(header)} fields and no line end{_where(source)}: "
                    "the document looks truncated. Re-run the partition to download it again",
                )
            fields.extend([""] * (len(header) - len(fields)))
        for index, name in required:
            if not fields[index].strip():
                raise OrderReportFormatError(line_no, f"{name} is blank{_where(source)}")
        row: dict[str, Any] = dict.fromkeys(absent) if absent else {}
        if text_plan:  # text columns in bulk: blank → None
            row.update(zip(text_columns, [v.strip() or None for v in text_values(fields)], strict=True))
        for index, column, convert, name, cache in typed_plan:
            value = fields[index].strip()
            if not value:
                row[column] = None
                continue
            # Prices, dates and quantities repeat a lot: converted values (immutable) are cached per column.
            converted = cache.get(value, _MISSING)
            if converted is _MISSING:
                try:
                    converted = convert(value)
                except ValueError as exc:
                    raise OrderReportFormatError(line_no, f"{name}: {exc}{_where(source)}") from None
                if len(cache) < _CACHE_SIZE:
                    cache[value] = converted
            row[column] = converted
        row["extra_columns"] = {name: fields[index] for index, name in extras} if extras else {}
        yield row
    if header is None:
        raise OrderReportFormatError(0, f"the report is empty (no header line){_where(source)}")


_MISSING = object()
_CACHE_SIZE = 4096  # distinct values cached per column


def _getter(indexes: list[int]) -> Callable[[list[str]], Sequence[str]]:
    """fields → the values at ``indexes``, always as a sequence (itemgetter returns a bare value for one)."""
    if len(indexes) == 1:
        index = indexes[0]
        return lambda fields: (fields[index],)
    return operator.itemgetter(*indexes) if indexes else (lambda fields: ())


def _where(source: str | None) -> str:
    return f" (in {source})" if source else ""


def _plan(
    header: list[str], line_no: int, source: str | None
) -> tuple[list[tuple[int, str, Any, str]], list[tuple[int, str]], list[str]]:
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise OrderReportFormatError(line_no, f"header {name!r} appears twice{_where(source)}")
        seen.add(name)
    missing = [h for h in REQUIRED_HEADERS if h not in seen]
    if missing:
        raise OrderReportFormatError(
            line_no,
            f"required header(s) {', '.join(missing)} missing{_where(source)}; found: {', '.join(header)}. "
            "Is this a GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL document?",
        )
    plan: list[tuple[int, str, Any, str]] = []
    extras: list[tuple[int, str]] = []
    for index, name in enumerate(header):
        col = _COLUMNS_BY_HEADER.get(name)
        if col is not None:
            plan.append((index, col.column, _CONVERTERS[col.kind], name))
        elif name and not order_report_header_is_never_stored(name):
            extras.append((index, name))
    absent = [c.column for c in ORDER_REPORT_COLUMNS if c.header not in seen]
    return plan, extras, absent
