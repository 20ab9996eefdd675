"""Replacing warehouse partitions with COPY: the one CSV encoding, the partition lock, the transaction.

Every load of ``raw_amazon`` goes through here. A partition is (marketplace, local day) for sales & traffic
and order items, (profile, day) for Ads. :func:`replacing_partitions` opens ONE transaction, takes a
transaction-level advisory lock per partition (pooler-safe; concurrent replaces of the same partition
are serialised), deletes the partitions' rows, and lets the caller stream the new ones with
``COPY … FROM STDIN`` (:func:`copy_rows`, :func:`copy_csv_blocks`) in the same transaction: re-running a
partition never duplicates, readers see the old rows or the new rows and never a mix, and any failure
(bad value, constraint violation, exception in the row iterator) rolls back to the old rows.

One CSV encoding for every COPY (:data:`COPY_OPTIONS`): strings are always quoted, NULL is an unquoted
``null`` (so a quoted ``"null"`` and ``""`` stay text), numbers are their exact literals, dates and
timestamps ISO, booleans ``true``/``false``. :func:`encode_csv_rows` renders Python values (msgspec, in
C); :func:`encode_csv_table` renders pyarrow tables with the same spelling.

Transactions: on an autocommit connection, or an idle one, ``conn.transaction()`` is a transaction committed
on success. Inside a transaction the caller already opened (even implicitly, by a SELECT on a
non-autocommit connection) it is only a savepoint, committed when the caller commits and lost if the
caller rolls back: use autocommit connections (``postgres.connect(url, autocommit=True)``) so that each
partition commits on its own. A warning is logged in that case.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import chain
from typing import TYPE_CHECKING, Any

import msgspec
import psycopg
from psycopg.pq import TransactionStatus

from chalkola_pipelines.warehouse.postgres import guard_transaction

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

CSV_NULL = "null"
#: The options of every ``COPY … FROM STDIN`` of the warehouse (see the module docstring).
COPY_OPTIONS = f"format csv, null '{CSV_NULL}'"


class WarehouseLoadError(RuntimeError):
    """A partition could not be loaded; the previous rows are intact. The message says what and where;
    ``transient`` when the database itself failed (connection lost, server restarted, deadlock, serialization
    or lock failure): re-running is the fix, nothing in the input is wrong."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


#: psycopg errors that say nothing about the rows: the same load succeeds when re-run.
TRANSIENT_ERRORS: tuple[type[psycopg.Error], ...] = (
    psycopg.OperationalError,  # connection lost, admin shutdown, server starting up, too many connections
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    psycopg.errors.LockNotAvailable,
)


def is_transient(exc: BaseException) -> bool:
    """A database error a re-run fixes (``TRANSIENT_ERRORS``, or any error once the connection is broken)."""
    return isinstance(exc, TRANSIENT_ERRORS) or isinstance(exc, psycopg.InterfaceError)


class PartitionCounts(dict[dt.date, int]):
    """Rows written per day (every requested day present, 0 for an empty day) plus ``ignored``:
    rows of the input that fell outside the requested days and were not loaded."""

    def __init__(self, days: Iterable[dt.date]) -> None:
        super().__init__((d, 0) for d in days)
        self.ignored = 0


# --------------------------------------------------------------------------------------------------
# the transaction


class load_errors:  # noqa: N801 - used as a context manager, like contextlib's
    """Turn database errors into WarehouseLoadError naming the partition (old rows are intact)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, psycopg.Error):
            detail = str(exc).strip().replace("\n", " ")
            if is_transient(exc):
                raise WarehouseLoadError(
                    f"Could not load {self.what}: {detail}. The transaction was rolled back, the previous rows "
                    "are intact. Transient database error (connection lost, server restarted, deadlock or lock "
                    "conflict), nothing is wrong with the data: re-run the partition (a retry or the next run does "
                    "it; the landed document is re-parsed without asking Amazon again).",
                    transient=True,
                ) from exc
            raise WarehouseLoadError(
                f"Could not load {self.what}: {detail}. The transaction was rolled back, the previous rows "
                "are intact; fix the input (or the parser) and re-run the partition."
            ) from exc
        return False


def warn_if_in_caller_transaction(conn: psycopg.Connection, what: str) -> None:
    if not conn.autocommit and conn.info.transaction_status == TransactionStatus.INTRANS:
        log.warning(
            "%s: the connection already has an open transaction, so this load is a savepoint that is committed "
            "only when the caller commits (and lost if it rolls back); use an autocommit connection",
            what,
        )


def lock_partitions(conn: psycopg.Connection, table: str, keys: Sequence[str]) -> None:
    """Serialise concurrent replaces of the same partitions (transaction-level: pooler-safe)."""
    if not keys:
        return
    conn.execute(
        "select count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
        " from (select k from unnest(%s::text[]) k order by k offset 0) s",
        ([f"{table}:{k}" for k in sorted(keys)],),
    )


@contextlib.contextmanager
def replacing_partitions(
    conn: psycopg.Connection,
    *,
    table: str,
    partition_keys: Sequence[str],
    deletes: Sequence[tuple[str, Sequence[Any]]],
    what: str,
    error_what: str | None = None,
) -> Iterator[None]:
    """ONE transaction: reset pooled-session settings (``postgres.guard_transaction``: no statement or lock
    timeout another client left behind), lock ``table``'s ``partition_keys``, run ``deletes`` (SQL, params),
    then the body (its COPY). Database errors become :class:`WarehouseLoadError` naming ``error_what`` (default ``what``)."""
    warn_if_in_caller_transaction(conn, what)
    with load_errors(error_what or what), conn.transaction():
        guard_transaction(conn)  # session settings left on a pooled connection by other clients do not apply
        lock_partitions(conn, table, partition_keys)
        for sql, params in deletes:
            conn.execute(sql, params)
        yield


# --------------------------------------------------------------------------------------------------
# COPY


def copy_statement(table: str, columns: Sequence[str]) -> str:
    return f"copy {table} ({', '.join(columns)}) from stdin ({COPY_OPTIONS})"


def copy_csv_blocks(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    blocks: Iterable[bytes],
) -> None:
    """COPY CSV text already rendered in this module's encoding (:func:`encode_csv_rows`, ...), block by
    block as ``blocks`` yields them (a block the socket can hold returns at once: producing the next block
    overlaps with the server loading this one)."""
    with conn.cursor() as cur, cur.copy(copy_statement(table, columns)) as copy:
        for block in blocks:
            copy.write(block)


_CSV_BLOCK_ROWS = 1000


def copy_rows(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    where: str,
) -> int:
    """COPY ``rows`` into ``table``; a float anywhere is refused (money and ids never go through float).

    Rows are rendered ``_CSV_BLOCK_ROWS`` at a time by :func:`encode_csv_rows`. Returns rows written.
    """
    n = 0
    block: list[Sequence[Any]] = []

    def flush() -> None:
        nonlocal n, block
        # one type scan per block (in C) instead of one per row; the first float is named as before
        if float in set(map(type, chain.from_iterable(block))):
            index = next(i for i, values in enumerate(block) if float in map(type, values))
            column = next(c for c, v in zip(columns, block[index], strict=True) if type(v) is float)
            raise WarehouseLoadError(
                f"Loading {table} ({where}): column {column} is a float in row {n + index + 1}; "
                "money, measures and ids must be Decimal/int (parse JSON with parse_float=Decimal). "
                "Nothing was changed."
            )
        copy.write(encode_csv_rows(block))
        n += len(block)
        block = []

    with conn.cursor() as cur:
        with cur.copy(copy_statement(table, columns)) as copy:
            for values in rows:
                block.append(values)
                if len(block) == _CSV_BLOCK_ROWS:
                    flush()
            if block:
                flush()
    return n


# --------------------------------------------------------------------------------------------------
# the encoding

_ENCODER = msgspec.json.Encoder(decimal_format="number")  # Decimal → its exact literal, unquoted
_ENCODE_ERRORS = (TypeError, OverflowError, msgspec.EncodeError)  # e.g. an int beyond 64 bits


def encode_csv_rows(rows: Sequence[Sequence[Any]], suffix: bytes = b"") -> bytes:
    """CSV lines (:data:`COPY_OPTIONS`) of rows of scalars, ``suffix`` (CSV fields, e.g. ``b',"US",42'``)
    appended to every line.

    Values: None, str, bool, int, Decimal, date, datetime, and ``msgspec.Raw`` (a number literal, written
    as it came). msgspec writes ``[[v, ...], [v, ...]]``. If it contains no backslash (no escaped
    character), every string is a plain ``"..."``, which is also a CSV quoted field with the same content;
    numbers are their literals, ``true``/``false``/``null`` are what COPY reads; and ``],[`` occurring
    exactly between rows means no string contains it — so the JSON body is the CSV. Otherwise, rows are
    rendered one by one, in Python only for those that need it.
    """
    if not rows:
        return b""
    end = suffix + b"\n"
    try:
        data = _ENCODER.encode(rows)
    except _ENCODE_ERRORS:  # Postgres says what is wrong with the value
        return b"".join(encode_csv_line(values, suffix) for values in rows)
    if b"\\" not in data and data.count(b"],[") == len(rows) - 1:
        return data[2:-2].replace(b"],[", end) + end
    out = []
    for values in rows:
        try:
            line = _ENCODER.encode(values)
        except _ENCODE_ERRORS:
            line = b"\\"
        out.append(encode_csv_line(values, suffix) if b"\\" in line else line[1:-1] + end)
    return b"".join(out)


def _csv_field(value: Any) -> str:
    if value is None:
        return CSV_NULL
    if isinstance(value, str):
        return csv_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):  # and datetime
        return value.isoformat()
    if type(value) is msgspec.Raw:
        return bytes(value).decode()  # a number literal, as it came
    if isinstance(value, int | Decimal):
        return str(value)  # exact literal
    return csv_text(str(value))


def csv_text(value: str) -> str:
    """A string as a quoted CSV field (always quoted: never read as NULL)."""
    return '"' + value.replace('"', '""') + '"'


def encode_csv_line(values: Sequence[Any], suffix: bytes = b"") -> bytes:
    """One row as a CSV line with its line end (the slow, exact path of :func:`encode_csv_rows`)."""
    return ",".join(map(_csv_field, values)).encode() + suffix + b"\n"


_ARROW_WRITE_OPTIONS: Any = None


def encode_csv_table(table: pa.Table) -> bytes:
    """A pyarrow table as CSV lines in the same encoding (strings quoted, NULL unquoted ``null``)."""
    global _ARROW_WRITE_OPTIONS
    import pyarrow.csv as pa_csv

    if _ARROW_WRITE_OPTIONS is None:
        _ARROW_WRITE_OPTIONS = pa_csv.WriteOptions(
            include_header=False, batch_size=8192, null_string=CSV_NULL
        )
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, _ARROW_WRITE_OPTIONS)
    return sink.getvalue()
