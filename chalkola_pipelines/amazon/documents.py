"""Open an archived report document as a decompressed, streaming binary file.

Amazon sends SP-API documents either plain or GZIP (``compressionAlgorithm``) and Ads v3 documents as
GZIP_JSON. The landing store keeps them as received, so the format is sniffed from the magic bytes rather
than trusted from a file name. A corrupt or truncated gzip surfaces while reading, as
:class:`DocumentCorruptError` naming the file.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import BinaryIO

from chalkola_pipelines.amazon.errors import DocumentCorruptError

GZIP_MAGIC = b"\x1f\x8b"

# What gzip/zlib raise on a damaged stream: bad header/CRC/length (BadGzipFile is an OSError),
# a stream that ends early (EOFError) and deflate data errors (zlib.error).
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


class _CheckedGzipReader(io.BufferedIOBase):
    """A read-only gzip stream whose decompression errors become :class:`DocumentCorruptError`."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="rb")

    @property
    def name(self) -> str:
        return str(self._path)

    def _corrupt(self, exc: BaseException) -> DocumentCorruptError:
        reason = str(exc) or type(exc).__name__
        return DocumentCorruptError(self._path, f"invalid or truncated gzip data ({reason})")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._gz.read(-1 if size is None else size)
        except _GZIP_ERRORS as exc:
            raise self._corrupt(exc) from exc

    def read1(self, size: int = -1) -> bytes:
        try:
            return self._gz.read1(size)
        except _GZIP_ERRORS as exc:
            raise self._corrupt(exc) from exc

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        try:
            return self._gz.readinto(buffer)
        except _GZIP_ERRORS as exc:
            raise self._corrupt(exc) from exc

    def readline(self, size: int | None = -1) -> bytes:
        try:
            return self._gz.readline(-1 if size is None else size)
        except _GZIP_ERRORS as exc:
            raise self._corrupt(exc) from exc

    def close(self) -> None:
        if not self.closed:
            try:
                self._gz.close()
            finally:
                self._raw.close()
                super().close()


def is_gzip(path: Path) -> bool:
    """True if the file starts with the gzip magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_document(path: Path | str) -> BinaryIO:
    """Open a report document for streaming: gzip (sniffed by magic bytes) is decompressed on the fly.

    The returned object is a binary file (``read``, ``readline``, iteration, context manager) with a
    ``name`` attribute naming the file. Decompression errors (bad header, CRC, truncated stream) are
    raised while reading as :class:`DocumentCorruptError` with the path in the message.
    """
    path = Path(path)
    if is_gzip(path):
        return _CheckedGzipReader(path)  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - the caller owns the file


def document_name(stream: object) -> str | None:
    """The file name behind a stream (for error messages), or None for in-memory streams."""
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) else None


def error_document_text(document_id: str, data: bytes, limit: int = 4000) -> str:
    """An error document's text on one line (it goes into a one-line failure message), or a note when the
    bytes are not text (damaged, or compressed in a way that did not decompress): never raw binary."""
    text = data.decode("utf-8", "replace")
    unreadable = sum(1 for c in text if c == "\ufffd" or (c < " " and c not in "\t\r\n"))
    if data[:2] == b"\x1f\x8b" or unreadable > max(2, len(text) // 100):
        return f"(the error document {document_id} is not readable text: {len(data)} bytes, damaged or compressed)"
    return " ".join(text.split())[:limit]


def gunzip_prefix(data: bytes) -> bytes:
    """As much of a (possibly cut) gzip stream as decompresses; other bytes as they are."""
    import gzip
    import zlib

    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
        except zlib.error:
            return data
