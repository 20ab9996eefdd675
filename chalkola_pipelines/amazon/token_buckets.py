"""Client-side token buckets, so the pipeline does not provoke 429s in the first place.

A bucket is named by a string ``"{api}:{region}:{operation}"`` (e.g. ``"sp:eu:createReport"``); the
limiter adds its own namespace (seller / deployment), so the full key is (namespace, region, operation).
``InMemoryRateLimiter`` serves one process; ``warehouse.shared_rate_limiter.PostgresRateLimiter`` implements the
same protocol for every run of a seller on every machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class RateLimiter(Protocol):
    """What the HTTP layer needs from a rate limiter."""

    def acquire(self, bucket: str, rate: float, burst: int) -> None:
        """Block until one request may be sent on ``bucket`` (``rate`` tokens/s, at most ``burst`` saved).

        ``rate``/``burst`` are the defaults for a bucket the limiter has not seen yet; a rate learnt with
        ``observe_limit`` takes precedence over ``rate``.
        """
        ...

    def observe_limit(self, bucket: str, rate: float) -> None:
        """Record the rate Amazon says applies (``x-amzn-RateLimit-Limit``, requests per second)."""
        ...


def bucket_name(api: str, region: str, operation: str) -> str:
    """The bucket string the HTTP layer uses: ``"sp:eu:createReport"``."""
    return f"{api}:{region}:{operation}"


@dataclass
class _Bucket:
    rate: float
    burst: int
    tokens: float
    updated: float
    observed_rate: float | None = None

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.effective_rate)
        self.updated = now

    @property
    def effective_rate(self) -> float:
        return self.observed_rate if self.observed_rate is not None else self.rate


class InMemoryRateLimiter:
    """Thread-safe token buckets in this process. ``clock``/``sleep`` are injectable for tests.

    A bucket starts full (``burst`` tokens) and refills at its rate. Each ``acquire`` reserves a token
    under the lock, computing how long the caller must wait, then sleeps outside the lock: concurrent
    callers queue up fairly, each at its own slot.
    """

    def __init__(
        self,
        *,
        namespace: str = "default",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.namespace = namespace
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, bucket: str, rate: float, burst: int, now: float) -> _Bucket:
        state = self._buckets.get(bucket)
        if state is None:
            state = _Bucket(
                rate=rate, burst=max(1, int(burst)), tokens=float(max(1, int(burst))), updated=now
            )
            self._buckets[bucket] = state
        return state

    def acquire(self, bucket: str, rate: float, burst: int) -> None:
        if rate <= 0:
            raise ValueError(f"rate for bucket {bucket!r} must be positive, got {rate}")
        with self._lock:
            now = self._clock()
            state = self._bucket(bucket, rate, burst, now)
            state.rate = rate
            state.refill(now)
            state.tokens -= 1.0  # may go negative: a reservation for a future slot
            wait = 0.0 if state.tokens >= 0 else -state.tokens / state.effective_rate
        if wait > 0:
            self._sleep(wait)

    def observe_limit(self, bucket: str, rate: float) -> None:
        if rate <= 0:
            return
        with self._lock:
            now = self._clock()
            state = self._buckets.get(bucket)
            if state is None:
                return
            state.refill(now)
            state.observed_rate = rate

    def tokens(self, bucket: str) -> float | None:
        """Tokens currently in ``bucket`` (negative = reservations queued); None if unknown. For tests."""
        with self._lock:
            state = self._buckets.get(bucket)
            if state is None:
                return None
            state.refill(self._clock())
            return state.tokens


class NoRateLimiter:
    """A limiter that never waits (for one-off calls where Amazon's 429 + Retry-After is enough)."""

    def acquire(self, bucket: str, rate: float, burst: int) -> None:
        return None

    def observe_limit(self, bucket: str, rate: float) -> None:
        return None
