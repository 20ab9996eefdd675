"""Parser of GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL (tab-separated, one row per order item).

Streamed line by line. Columns are matched by header name (Amazon adds and reorders columns over time):
known columns are typed; other columns known to carry no personal data (``ORDER_REPORT_EXTRA_ALLOWED``) are
kept as text in ``extra_columns``; buyer personal data columns (``ORDER_REPORT_NEVER_STORED``; the landing
store has them removed already) are dropped; any other column is schema drift: dropped, its name reported in
``OrderReportRows.drift_columns``.

Encoding: UTF-8 by default; files that are not (older EU files in cp1252, JP files in Shift_JIS/cp932) are
detected on the first line that is not valid UTF-8, or can be forced with ``encoding=``.
"""

from __future__ import annotations

import codecs
import io
import logging
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from chalkola_pipelines.amazon.documents import document_name
from chalkola_pipelines.amazon.errors import OrderReportFormatError, OrderReportMissingFieldError
from chalkola_pipelines.amazon.parsers.order_values import CONVERTERS, looks_japanese
from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_COLUMNS,
    ORDER_REPORT_REQUIRED_HEADERS,
    ORDER_REPORT_REQUIRED_VALUES,
    ORDER_REPORT_REQUIRED_WITH,
    OrderReportColumn,
    order_report_header_action,
)

if TYPE_CHECKING:  # imported when first used: ~80 MB that other importers of the parsers need not pay
    import numpy as np
    import pyarrow as pa

logger = logging.getLogger(__name__)

REQUIRED_VALUES: frozenset[str] = frozenset(ORDER_REPORT_REQUIRED_VALUES)  # never blank on a data row
_REQUIRED_NOTE = (
    "a key column of the order report (amazon.report_columns.ORDER_REPORT_REQUIRED_VALUES); no row of this "
    "document is loaded."
)

_COLUMNS_BY_HEADER: dict[str, OrderReportColumn] = {c.header: c for c in ORDER_REPORT_COLUMNS}


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
            if looks_japanese(text):
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
    (dict of allowlisted extra headers → raw text; other unknown headers: ``.drift_columns``). Rows with fewer fields than the header are padded
    (Amazon drops trailing empty fields) — except an unterminated last line, which means a truncated
    document; more fields, a bad value, or a missing required header raise
    :class:`OrderReportFormatError` with the line number (the header is line 1). ``encoding=None`` sniffs
    UTF-8 → cp932 (Japanese text) → cp1252.
    """
    return OrderReportRows(stream, encoding=encoding)


def _iter_rows(
    stream: BinaryIO, encoding: str | None, source: str | None, on_drift: Callable[[list[str]], None]
) -> Iterator[dict[str, Any]]:
    """The row-by-row parser (every input; names the line of any problem)."""
    decoder = _Decoder(encoding)
    header: list[str] | None = None
    header_line = ""
    plan: list[tuple[int, str, Any, str]] = []  # (field index, column, converter, header)
    extras: list[tuple[int, str]] = []
    absent: list[str] = []
    required: list[tuple[int, str]] = []
    required_with: list[tuple[int, int, str, str]] = []
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
            plan, extras, absent, drift = _plan(header, line_no, source)
            on_drift(drift)
            required = [(index, name) for index, _, _, name in plan if name in REQUIRED_VALUES]
            required_with = _required_with(header)
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
                    "the document looks truncated",
                )
            fields.extend([""] * (len(header) - len(fields)))
        for index, name in required:
            if not fields[index].strip():
                raise OrderReportMissingFieldError(
                    line_no, f"{name} is blank{_where(source)}: {_REQUIRED_NOTE}", field=name, document=source
                )
        for index, needed_index, name, needed in required_with:
            if fields[index].strip() and not fields[needed_index].strip():
                reason = f"{needed} is blank but {name} has a value{_where(source)}: {_REQUIRED_NOTE}"
                raise OrderReportMissingFieldError(line_no, reason, field=needed, document=source)
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


def _clip(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters for error messages (a JSON document is one long "header")."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _where(source: str | None) -> str:
    return f" (in {source})" if source else ""


def _required_with(header: list[str]) -> list[tuple[int, int, str, str]]:
    """(index, index of the column it needs, name, needed name) of ``ORDER_REPORT_REQUIRED_WITH``."""
    return [
        (header.index(name), header.index(needed), name, needed)
        for name, needed in ORDER_REPORT_REQUIRED_WITH
    ]


def _plan(
    header: list[str], line_no: int, source: str | None
) -> tuple[list[tuple[int, str, Any, str]], list[tuple[int, str]], list[str], list[str]]:
    """(typed plan, allowlisted extras, catalogue columns absent, drift: unknown headers dropped)."""
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise OrderReportFormatError(line_no, f"header {_clip(repr(name))} appears twice{_where(source)}")
        seen.add(name)
    missing = [h for h in ORDER_REPORT_REQUIRED_HEADERS if h not in seen]
    if missing:
        raise OrderReportMissingFieldError(
            line_no,
            f"required header(s) {', '.join(missing)} missing{_where(source)}; found: {_clip(', '.join(header))}. "
            "Is this a GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL document?",
            field=", ".join(missing),
            document=source,
        )
    plan: list[tuple[int, str, Any, str]] = []
    extras: list[tuple[int, str]] = []
    drift: list[str] = []
    for index, name in enumerate(header):
        col = _COLUMNS_BY_HEADER.get(name)
        if col is not None:
            plan.append((index, col.column, CONVERTERS[col.kind], name))
        elif not name:
            continue
        elif (action := order_report_header_action(name)) == "keep":
            extras.append((index, name))
        elif action == "blank":
            drift.append(name)
    absent = [c.column for c in ORDER_REPORT_COLUMNS if c.header not in seen]
    return plan, extras, absent, drift


# --------------------------------------------------------------------------------------------------
# the iterator, and its Arrow path (pyarrow, in C)

# Value shapes the Arrow path accepts as is (each a subset of what the row-by-row converters accept, with
# the same meaning); anything else sends the document to the row-by-row parser, which names the problem.
_RE_MONEY = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
_RE_INT = r"^[+-]?[0-9]+$"
_RE_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
_BOOL_TRUE = ["true", "yes"]
_BOOL_VALUES = ["true", "false", "yes", "no"]


class OrderReportNeedsRowParser(Exception):
    """Raised while iterating :class:`OrderReportBatches`: a value further down the document is not one the
    Arrow path takes as is. Discard what was taken from the batches (a loader rolls back) and read the same
    :class:`OrderReportRows` by iterating it (the row-by-row parser reads the document again)."""


class OrderReportBatch(NamedTuple):
    """~1 MB of the document's rows, in report order.

    ``fields``: one column per stored header of the document, named by the header (e.g. ``amazon-order-id``):
    catalogue headers (``ORDER_REPORT_COLUMNS``) first, as text trimmed like ``str.strip()``, blank → null,
    each value one the row-by-row converter accepts with the same meaning (money and integers as their
    literal, timestamps as their ISO text), ``is-business-order`` as bool; then the other non-PII headers,
    their text as is. Catalogue headers absent from the document are absent here.
    ``purchase_micros``: ``purchase-date`` as µs since the epoch, UTC (numpy int64).
    """

    fields: pa.RecordBatch
    purchase_micros: np.ndarray


class OrderReportBatches:
    """What :meth:`OrderReportRows.record_batches` returns: iterate it once for the :class:`OrderReportBatch`
    blocks (read while the consumer handles the previous one). Iterating may raise
    :class:`OrderReportNeedsRowParser`."""

    def __init__(self, blocks: Callable[[], Iterator[OrderReportBatch]]) -> None:
        self._blocks = blocks

    def __iter__(self) -> Iterator[OrderReportBatch]:
        return self._blocks()


class OrderReportRows(Iterator[dict[str, Any]]):
    """What :func:`iter_order_report_rows` returns: an iterator of typed dicts (see there).

    It also offers :meth:`record_batches`, the document as Arrow record batches read in C (pyarrow), without
    a Python object per value, when the document is one the Arrow path handles exactly; a loader uses
    it when it gets this object unwrapped and not started.
    """

    def __init__(self, stream: BinaryIO, *, encoding: str | None = None) -> None:
        self._stream = stream
        self._encoding = encoding
        self._source = document_name(stream)
        self._data: bytes | None = None  # the document, once read whole by record_batches
        self._rows: Iterator[dict[str, Any]] | None = None
        self.started = False
        #: unknown headers of the document (schema drift), dropped; known once the header has been read
        self.drift_columns: list[str] = []

    def __iter__(self) -> OrderReportRows:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._rows is None:
            self.started = True
            stream = io.BytesIO(self._data) if self._data is not None else self._stream
            self._rows = _iter_rows(stream, self._encoding, self._source, self._note_drift)
        return next(self._rows)

    def _note_drift(self, drift: list[str]) -> None:
        already, self.drift_columns = self.drift_columns, list(drift)
        if drift and drift != already:
            logger.warning(
                "order report %s: %d unknown column(s) dropped (schema drift, not on the allowlist of "
                "non-personal columns): %s",
                self._source or "",
                len(drift),
                ", ".join(drift),
            )

    @property
    def source(self) -> str | None:
        """The document's name (for messages), if the stream has one."""
        return self._source

    def record_batches(self) -> OrderReportBatches | None:
        """The document as :class:`OrderReportBatch` blocks, or None: then iterate this object (row-by-row).

        Reads the stream to its end (the document is held in memory, so that the row-by-row parser can
        read it again). None when the document visibly needs the row-by-row parser (not UTF-8, a repeated
        header, a CR inside a line, no rows); a line with another field count or a value the Arrow path
        does not take as is is found while iterating the result (:class:`OrderReportNeedsRowParser`). A
        missing required header raises here.
        """
        if self.started:
            raise RuntimeError("record_batches() after iteration started")
        if self._data is None:
            self._data = self._stream.read()
        try:
            layout = _layout(self._data, self._encoding, self._source, self._note_drift)
        except _UseRowParser as exc:
            logger.info("order report %s: row-by-row parser (%s)", self._source or "", exc)
            return None

        def blocks() -> Iterator[OrderReportBatch]:
            try:
                yield from _arrow_blocks(layout)
            except _UseRowParser as exc:
                logger.info("order report %s: row-by-row parser (%s)", self._source or "", exc)
                raise OrderReportNeedsRowParser(str(exc)) from None

        return OrderReportBatches(blocks)


class _UseRowParser(Exception):
    """The Arrow path does not take this document as is."""


class _Layout(NamedTuple):
    body: pa.Buffer  # the document after the header line (a view of the same bytes)
    names: list[str]  # arrow column names f0..fn
    plan: list[tuple[int, str, Any, str]]
    extras: list[tuple[int, str]]


_NOT_SPACE = re.compile(rb"\S")
_VALIDATE_BYTES = 1 << 20


def _layout(
    data: bytes, encoding: str | None, source: str | None, on_drift: Callable[[list[str]], None]
) -> _Layout:
    """Whole-document checks, and the header (a missing required header raises OrderReportFormatError)."""
    import pyarrow as pa

    if encoding is not None and codecs.lookup(encoding).name != "utf-8":
        raise _UseRowParser(f"encoding {encoding}")
    end = data.find(b"\n")
    if end < 0:
        raise _UseRowParser("no line end after the header")
    view = memoryview(data)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        header_line = data[: end + 1].decode("utf-8").rstrip("\r\n").lstrip("\ufeff")
        for start in range(end + 1, len(data), _VALIDATE_BYTES):  # validation only, in C, 1 MB at a time
            decoder.decode(view[start : start + _VALIDATE_BYTES])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _UseRowParser("not UTF-8") from None
    if not header_line.strip() or not _NOT_SPACE.search(data, end + 1):
        raise _UseRowParser("no header or no rows")
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        raise _UseRowParser("a CR that does not end a line")
    if data.find(header_line.encode(), end + 1) >= 0:
        raise _UseRowParser("the header repeats")
    header = [h.strip().lower() for h in header_line.split("\t")]
    plan, extras, _, drift = _plan(header, 1, source)  # raises on a missing or repeated header
    on_drift(drift)
    body = pa.py_buffer(data).slice(end + 1)
    return _Layout(body, [f"f{i}" for i in range(len(header))], plan, extras)


_KINDS = {c.column: c.kind for c in ORDER_REPORT_COLUMNS}
_REQUIRED_COLUMNS = frozenset(c.column for c in ORDER_REPORT_COLUMNS if c.header in REQUIRED_VALUES)
_BLOCK_BYTES = 1 << 20


def _arrow_blocks(layout: _Layout) -> Iterator[OrderReportBatch]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    names, plan, extras = layout.names, layout.plan, layout.extras
    invalid: list[int] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row.actual_columns)
        return "skip"

    wanted = [index for index, *_ in plan] + [index for index, _ in extras]
    reader = pa_csv.open_csv(
        pa.BufferReader(layout.body),
        read_options=pa_csv.ReadOptions(column_names=names, block_size=_BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(
            delimiter="\t", quote_char=False, escape_char=False, invalid_row_handler=on_invalid
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            include_columns=[names[i] for i in wanted],
            strings_can_be_null=False,
        ),
    )
    bool_true, bool_values = pa.array(_BOOL_TRUE), pa.array(_BOOL_VALUES)
    headers = [header for *_, header in plan] + [header for _, header in extras]
    position = {header: i for i, header in enumerate(headers)}  # in ``columns`` below
    required_with = [(position[a], position[b], a, b) for a, b in ORDER_REPORT_REQUIRED_WITH]
    for batch in reader:
        if invalid:
            raise _UseRowParser(f"{len(invalid)} line(s) with another field count")
        if not batch.num_rows:
            continue
        columns: list[pa.Array] = []
        purchase_micros = None
        for index, column, _, _ in plan:
            value = pc.utf8_trim_whitespace(batch.column(names[index]))  # = str.strip() (a test checks it)
            blank = pc.equal(value, "")
            if column in _REQUIRED_COLUMNS and pc.any(blank).as_py():
                raise _UseRowParser(f"{column}: a blank value")  # the row-by-row parser names the line
            value = pc.if_else(blank, pa.scalar(None, pa.string()), value)
            kind = _KINDS[column]
            if kind == "money":
                _check(value, _RE_MONEY, column)  # the literal keeps its meaning exactly, like Decimal(text)
            elif kind == "int":
                _check(value, _RE_INT, column)
            elif kind == "bool":
                lower = pc.utf8_lower(value)
                if not pc.all(pc.or_kleene(pc.is_null(lower), pc.is_in(lower, bool_values))).as_py():
                    raise _UseRowParser(f"{column}: a value that is not true/false/yes/no")
                value = pc.if_else(pc.is_null(lower), pa.scalar(None, pa.bool_()), pc.is_in(lower, bool_true))
            elif kind == "timestamp":
                _check(value, _RE_TIMESTAMP, column)
                try:  # a real instant (no 30 February); the ISO text itself is kept
                    instants = value.cast(pa.timestamp("us", "UTC"))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise _UseRowParser(f"{column}: a timestamp pyarrow does not read") from None
                if column == "purchase_date":
                    purchase_micros = instants.cast(pa.int64()).to_numpy()
            columns.append(value)
        columns.extend(batch.column(names[index]) for index, _ in extras)
        for index, needed_index, name, needed in required_with:
            if pc.any(pc.and_(pc.is_valid(columns[index]), pc.is_null(columns[needed_index]))).as_py():
                raise _UseRowParser(f"{needed}: blank where {name} has a value")
        assert purchase_micros is not None  # purchase-date is a required header
        yield OrderReportBatch(pa.RecordBatch.from_arrays(columns, names=headers), purchase_micros)
    if invalid:
        raise _UseRowParser(f"{len(invalid)} line(s) with another field count")


def _check(values: pa.Array, pattern: str, column: str) -> None:
    import pyarrow.compute as pc

    ok = pc.or_kleene(pc.is_null(values), pc.match_substring_regex(values, pattern))
    if not pc.all(ok).as_py():
        raise _UseRowParser(f"{column}: a value the Arrow path does not take as is")
