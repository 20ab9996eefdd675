"""open_document: gzip sniffing, streaming, and corrupt/truncated gzip surfacing with the path."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from chalkola_pipelines.amazon.documents import document_name, is_gzip, open_document
from chalkola_pipelines.amazon.errors import DocumentCorruptError

PAYLOAD = b"".join(b"line %d\tvalue\n" % i for i in range(20_000))


@pytest.fixture
def gz_path(tmp_path: Path) -> Path:
    path = tmp_path / "report.bin"  # no .gz suffix: detection is by magic bytes only
    path.write_bytes(gzip.compress(PAYLOAD))
    return path


def test_plain_file_is_returned_as_is(tmp_path: Path) -> None:
    path = tmp_path / "doc.json.gz"  # a misleading suffix does not matter either
    path.write_bytes(b'{"a": 1}')
    assert not is_gzip(path)
    with open_document(path) as stream:
        assert stream.read() == b'{"a": 1}'
        assert document_name(stream) == str(path)


def test_gzip_is_decompressed_and_streams(gz_path: Path) -> None:
    assert is_gzip(gz_path)
    with open_document(gz_path) as stream:
        assert document_name(stream) == str(gz_path)
        first = stream.read(10)
        assert first == PAYLOAD[:10]
        rest = b"".join(iter(lambda: stream.read(4096), b""))
    assert first + rest == PAYLOAD


def test_gzip_line_iteration(gz_path: Path) -> None:
    with open_document(gz_path) as stream:
        lines = list(stream)
    assert len(lines) == 20_000
    assert lines[0] == b"line 0\tvalue\n"


def test_empty_file_is_an_empty_stream(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with open_document(path) as stream:
        assert stream.read() == b""


def _assert_corrupt_on_read(path: Path) -> None:
    stream = open_document(path)  # opening succeeds; the damage surfaces while reading
    try:
        with pytest.raises(DocumentCorruptError) as info:
            while stream.read(65536):
                pass
    finally:
        stream.close()
    assert str(path) in str(info.value)
    assert info.value.path == path


def test_truncated_gzip_raises_document_corrupt_naming_the_path(gz_path: Path) -> None:
    data = gz_path.read_bytes()
    gz_path.write_bytes(data[: len(data) // 2])
    _assert_corrupt_on_read(gz_path)


def test_truncated_gzip_raises_while_iterating_lines(gz_path: Path) -> None:
    data = gz_path.read_bytes()
    gz_path.write_bytes(data[: len(data) - 20])
    with open_document(gz_path) as stream, pytest.raises(DocumentCorruptError, match=str(gz_path)):
        for _ in stream:
            pass


def test_damaged_deflate_data_raises_document_corrupt(gz_path: Path) -> None:
    data = bytearray(gz_path.read_bytes())
    data[40:60] = os.urandom(20)
    gz_path.write_bytes(bytes(data))
    _assert_corrupt_on_read(gz_path)


def test_bad_crc_raises_document_corrupt(gz_path: Path) -> None:
    data = bytearray(gz_path.read_bytes())
    data[-8] ^= 0xFF  # CRC32 in the trailer
    gz_path.write_bytes(bytes(data))
    _assert_corrupt_on_read(gz_path)


def test_magic_bytes_only_raises_document_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "stub.gz"
    path.write_bytes(b"\x1f\x8b\x00garbage")
    _assert_corrupt_on_read(path)
