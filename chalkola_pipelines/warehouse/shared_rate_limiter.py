"""PostgresRateLimiter: token buckets in ``chalkola_ops.rate_limit_buckets``, shared by every process and
machine that runs the pipeline for the same seller (namespace).

Implements ``amazon.token_buckets.RateLimiter`` with the same reservation semantics as ``InMemoryRateLimiter``:
each ``acquire`` takes a token in ONE statement (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, an atomic
row-locked refill-and-take using the database clock), which may leave the bucket negative — a reservation of
a future slot — and then sleeps, outside any transaction, until that slot. So N callers anywhere share the
bucket's rate; time comes only from ``clock_timestamp()`` on the server, never from the machines' clocks.

Pooler-safe: autocommit single statements, no prepared statements, no session state.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

log = logging.getLogger(__name__)

TABLE = "chalkola_ops.rate_limit_buckets"

# One atomic refill-and-take. On first use the bucket starts full (burst) minus this token.
_ACQUIRE_SQL = f"""
insert into {TABLE} as b (namespace, bucket, tokens, rate, burst, updated_at)
select %(namespace)s, %(bucket)s, %(burst)s - 1, %(rate)s, %(burst)s, n.t from (select clock_timestamp() as t) n
on conflict (namespace, bucket) do update set
    tokens = least(
        excluded.burst,
        b.tokens + greatest(0, extract(epoch from excluded.updated_at - b.updated_at)::float8)
            * coalesce(b.observed_rate, b.rate)
    ) - 1,
    rate = excluded.rate,
    burst = excluded.burst,
    updated_at = greatest(b.updated_at, excluded.updated_at)
returning tokens, coalesce(observed_rate, rate) as effective_rate
"""

# Refill at the old rate up to now, then switch to the observed one.
_OBSERVE_SQL = f"""
update {TABLE} as b set
    tokens = least(
        b.burst,
        b.tokens + greatest(0, extract(epoch from n.t - b.updated_at)::float8) * coalesce(b.observed_rate, b.rate)
    ),
    observed_rate = %(rate)s,
    updated_at = greatest(b.updated_at, n.t)
from (select clock_timestamp() as t) n
where b.namespace = %(namespace)s and b.bucket = %(bucket)s
"""


class PostgresRateLimiter:
    """Token buckets shared through Postgres. ``url``: the warehouse URL; ``namespace``: e.g. the seller id.

    One connection per limiter (per process), opened lazily, guarded by a lock (statements take about a
    millisecond; waiting happens outside the lock) and re-opened after a fork or a lost connection.
    Requires migration 002 (``chalkola db migrate``).
    """

    def __init__(self, url: str, *, namespace: str, sleep: Callable[[float], None] = time.sleep) -> None:
        if not namespace:
            raise ValueError("namespace must be a non-empty string (e.g. the seller id or 'default')")
        self.url = url
        self.namespace = namespace
        self._sleep = sleep
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._pid = os.getpid()

    def acquire(self, bucket: str, rate: float, burst: int) -> None:
        """Block until one request may be sent on ``bucket``."""
        if rate <= 0:
            raise ValueError(f"rate for bucket {bucket!r} must be positive, got {rate}")
        params = {
            "namespace": self.namespace,
            "bucket": bucket,
            "rate": float(rate),
            "burst": float(max(1, burst)),
        }
        row = self._execute(_ACQUIRE_SQL, params)
        assert row is not None
        tokens, effective_rate = row
        if tokens < 0:
            wait = -tokens / effective_rate
            log.debug("rate limiter %s/%s: waiting %.3fs", self.namespace, bucket, wait)
            self._sleep(wait)

    def observe_limit(self, bucket: str, rate: float) -> None:
        """Use ``rate`` (from ``x-amzn-RateLimit-Limit``) for ``bucket`` from now on (all processes)."""
        if rate <= 0:
            return
        self._execute(_OBSERVE_SQL, {"namespace": self.namespace, "bucket": bucket, "rate": float(rate)})

    def tokens(self, bucket: str) -> float | None:
        """Tokens in ``bucket`` now (negative = reservations queued); None if unknown. For tests/ops."""
        row = self._execute(
            f"select least(burst, tokens + greatest(0, extract(epoch from clock_timestamp() - updated_at)::float8)"
            f" * coalesce(observed_rate, rate)) from {TABLE} where namespace = %(namespace)s and bucket = %(bucket)s",
            {"namespace": self.namespace, "bucket": bucket},
        )
        return None if row is None else float(row[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> PostgresRateLimiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_conn"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def __repr__(self) -> str:
        from chalkola_pipelines.warehouse.postgres import mask_url_password

        return f"PostgresRateLimiter({mask_url_password(self.url)!r}, namespace={self.namespace!r})"

    def _execute(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    cur = conn.execute(sql, params)
                    return cur.fetchone() if cur.description is not None else None
                except psycopg.OperationalError:
                    # A dropped connection (server restart, pooler recycle): reconnect once.
                    self._discard()
                    if attempt == 2:
                        raise
        return None

    def _connection(self) -> psycopg.Connection:
        if self._pid != os.getpid():  # forked: never share the parent's socket
            self._conn = None
            self._pid = os.getpid()
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, prepare_threshold=None)
        return self._conn

    def _discard(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None
