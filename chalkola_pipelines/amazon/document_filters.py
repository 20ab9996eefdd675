"""Filters a report document passes through while it is downloaded, before any byte of it reaches disk.

Order documents (``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`` and the other order / shipment flat
files) carry buyer address columns and, in Brazil, the buyer's tax id. :class:`TsvColumnFilter` reads the
document as it streams in (gzip or plain; decompressed incrementally, only the current partial line is held
in memory), rewrites the header and every row by header name (``report_columns.order_report_header_action``):
catalogue and allowlisted columns are kept byte for byte, buyer personal data columns are removed, unknown
columns keep their header name (evidence of schema drift, reported by the parser) with empty values — and
writes the result gzip'd. Line structure is kept exactly (line ends, a short row stays short, a row with too
many fields keeps its excess as empty fields, an unterminated last line stays unterminated), so the parser
reports the same problems at the same line numbers as on the original document.

Bytes are never decoded: tab and line feed cannot occur inside a character of UTF-8, cp1252 or Shift_JIS.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from chalkola_pipelines.amazon.errors import DocumentCorruptError
from chalkola_pipelines.amazon.report_columns import order_report_header_action

GZIP_MAGIC = b"\x1f\x8b"
MAX_LINE_BYTES = 16 << 20  # a line longer than this is not an order report line
_BOM = b"\xef\xbb\xbf"

Action = Literal["keep", "remove", "blank"]

#: Report types whose documents go through the order-column filter before they are archived.
FILTERED_REPORT_TYPES: frozenset[str] = frozenset(
    {
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
        "GET_FLAT_FILE_ARCHIVED_ORDERS_DATA_BY_ORDER_DATE",
        "GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL",
    }
)


@dataclass
class FilterReport:
    """What a filter did to one document."""

    columns_in: int = 0
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # buyer personal data
    blanked: list[str] = field(default_factory=list)  # unknown: schema drift
    lines: int = 0
    bytes_in: int = 0  # decompressed bytes read


class TsvColumnFilter:
    """A write-only sink: feed it the document's bytes as received (``write``), then ``close`` it.

    ``out`` receives the filtered document, gzip'd. ``name`` names the document in errors. A damaged gzip
    raises :class:`DocumentCorruptError` (the download is not archived; a re-run downloads it again).
    """

    def __init__(
        self,
        out: BinaryIO,
        *,
        name: str,
        action: Callable[[str], Action] = order_report_header_action,
    ) -> None:
        self._gz = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0)
        self._name = name
        self._action = action
        self._decompressor: zlib._Decompress | None = None
        self._sniffed = False
        self._pending = b""  # raw bytes before the format is known (< 2 bytes)
        self._partial = b""  # the current, unfinished line
        self._header: bytes | None = None
        self._header_out = b""
        self._plan: list[tuple[int, bool]] = []  # (field index, keep value) for every column written
        self._width = 0
        self.report = FilterReport()

    # -- input
    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not self._sniffed:
            self._pending += chunk
            if len(self._pending) < 2:
                return
            chunk, self._pending = self._pending, b""
            self._sniffed = True
            if chunk[:2] == GZIP_MAGIC:
                self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._feed(self._inflate(chunk) if self._decompressor is not None else chunk)

    def close(self) -> FilterReport:
        if not self._sniffed and self._pending:  # a one-byte document
            self._sniffed = True
            self._feed(self._pending)
        if self._decompressor is not None:
            try:
                self._feed(self._decompressor.flush())
            except zlib.error as exc:
                raise self._corrupt(str(exc)) from exc
            if not self._decompressor.eof:
                raise self._corrupt("the gzip stream ends early (truncated download)")
        if self._partial:
            self._line(self._partial)  # the unterminated last line, kept unterminated
            self._partial = b""
        self._gz.close()
        return self.report

    def _inflate(self, data: bytes) -> bytes:
        out = []
        try:
            while data:
                decompressor = self._decompressor
                assert decompressor is not None
                if decompressor.eof:  # the next member of a multi-member gzip
                    decompressor = self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out.append(decompressor.decompress(data))
                data = decompressor.unused_data if decompressor.eof else b""
        except zlib.error as exc:
            raise self._corrupt(str(exc)) from exc
        return b"".join(out)

    def _corrupt(self, reason: str) -> DocumentCorruptError:
        return DocumentCorruptError(
            self._name, f"invalid or truncated gzip data while downloading ({reason})"
        )

    # -- lines
    def _feed(self, data: bytes) -> None:
        if not data:
            return
        self.report.bytes_in += len(data)
        data = self._partial + data
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            self._line(data[start : end + 1])
            start = end + 1
        self._partial = data[start:]
        if len(self._partial) > MAX_LINE_BYTES:
            raise DocumentCorruptError(
                self._name, f"a line longer than {MAX_LINE_BYTES} bytes: not a tab-separated report"
            )

    def _line(self, line: bytes) -> None:
        self.report.lines += 1
        if line.endswith(b"\r\n"):
            body, end = line[:-2], b"\r\n"
        elif line.endswith(b"\n"):
            body, end = line[:-1], b"\n"
        else:
            body, end = line, b""
        if self._header is None:
            if not body.strip():  # blank lines before the header: the parser says what is wrong
                self._gz.write(line)
                return
            self._header = body.removeprefix(_BOM)
            self._header_out = self._start(body)
            self._gz.write(self._header_out + end)
            return
        if body == self._header:  # a repeated header stays the (filtered) header
            self._gz.write(self._header_out.removeprefix(_BOM) + end)
            return
        fields = body.split(b"\t")
        out = [fields[i] if keep else b"" for i, keep in self._plan if i < len(fields)]
        if len(fields) > self._width:  # too many fields: keep the count, not the values
            out.extend([b""] * (len(fields) - self._width))
        self._gz.write(b"\t".join(out) + end)

    def _start(self, header: bytes) -> bytes:
        bom = _BOM if header.startswith(_BOM) else b""
        names = header[len(bom) :].split(b"\t")
        self._width = len(names)
        self.report.columns_in = len(names)
        kept: list[bytes] = []
        for index, raw in enumerate(names):
            name = raw.decode("latin-1").strip().lower()
            action = self._action(name) if name else "blank"
            if action == "remove":
                self.report.removed.append(name)
                continue
            self._plan.append((index, action == "keep"))
            kept.append(raw)
            if action == "keep":
                self.report.kept.append(name)
            elif name:
                self.report.blanked.append(name)
        return bom + b"\t".join(kept)


def filter_for(report_type: str) -> Callable[[BinaryIO, str], TsvColumnFilter] | None:
    """The filter the documents of ``report_type`` go through before archiving, or None (archived as
    received)."""
    if report_type in FILTERED_REPORT_TYPES:
        return lambda out, name: TsvColumnFilter(out, name=name)
    return None
