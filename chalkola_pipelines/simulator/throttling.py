"""Throttling as Amazon applies it: token buckets per (seller, region, operation) on the simulated clock.

The rate and burst of each operation come from the client's table, :mod:`chalkola_pipelines.amazon.usage_plans`
(one table for both sides: SP-API values are the official usage plans; the Ads API publishes none).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from chalkola_pipelines.amazon.usage_plans import (
    ADS_API_USAGE_PLANS,
    SP_API_USAGE_PLANS,
    SellerQuota,
    UsagePlan,
)
from chalkola_pipelines.simulator.clock import SimulatedClock


def usage_plan(operation: str) -> UsagePlan | None:
    """The plan enforced for ``operation`` (None: not rate limited, e.g. LWA and document downloads)."""
    return SP_API_USAGE_PLANS.get(operation) or ADS_API_USAGE_PLANS.get(operation)


def format_rate(rate: float) -> str:
    """``x-amzn-RateLimit-Limit`` value: at most 4 decimals, no trailing zeros ("0.0167", "2.0" → "2")."""
    text = f"{rate:.4f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class _Bucket:
    tokens: float
    updated: float  # simulated seconds


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_simulated: float  # seconds until one token is available (0 when allowed)


class TokenBuckets:
    """Official rate/burst enforcement; buckets start full (burst) and refill at ``rate`` per simulated s."""

    def __init__(self, clock: SimulatedClock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[str, ...], plan: UsagePlan) -> RateDecision:
        now = self._clock.elapsed()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=float(plan.burst), updated=now)
            bucket.tokens = min(float(plan.burst), bucket.tokens + (now - bucket.updated) * plan.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return RateDecision(True, 0.0)
            return RateDecision(False, (1.0 - bucket.tokens) / plan.rate)

    def reset(self) -> None:
        """Refill every bucket (tests)."""
        with self._lock:
            self._buckets.clear()


@dataclass
class _Meter:
    tokens: float
    updated: float  # simulated seconds
    day: int  # simulated UTC day number of ``used``
    used: int


class SellerMeters:
    """Per-seller meters (:data:`~chalkola_pipelines.amazon.usage_plans.SP_API_SELLER_QUOTAS`): a bucket of
    ``burst`` refilled one token per ``refill_seconds`` plus a cap per simulated UTC day, keyed by seller
    (not region: the NA, EU and FE endpoints of one simulator are one seller account).

    The simulated calendar runs ``time_scale`` times faster than the real one from the simulator's start, so
    a "day" of the cap is 86,400 simulated seconds ending at simulated UTC midnight. ``initial_tokens``: the
    bucket of a seller seen for the first time (None = full, a seller that has not requested for an hour).
    """

    def __init__(self, clock: SimulatedClock, initial_tokens: float | None = None) -> None:
        self._clock = clock
        self._epoch0 = clock.now().timestamp() - clock.elapsed()
        self.initial_tokens = initial_tokens
        self._meters: dict[tuple[str, ...], _Meter] = {}
        self._lock = threading.Lock()

    def _day(self, elapsed: float) -> int:
        return math.floor((self._epoch0 + elapsed) / 86400.0)

    def take(self, key: tuple[str, ...], quota: SellerQuota) -> RateDecision:
        now = self._clock.elapsed()
        day = self._day(now)
        rate = 1.0 / quota.refill_seconds
        with self._lock:
            meter = self._meters.get(key)
            if meter is None:
                start = quota.burst if self.initial_tokens is None else self.initial_tokens
                meter = self._meters[key] = _Meter(float(min(quota.burst, start)), now, day, 0)
            meter.tokens = min(float(quota.burst), meter.tokens + (now - meter.updated) * rate)
            meter.updated = now
            if meter.day != day:
                meter.day, meter.used = day, 0
            if meter.used >= quota.daily_cap:
                midnight = (day + 1) * 86400.0 - self._epoch0
                return RateDecision(False, max(0.0, midnight - now))
            if meter.tokens >= 1.0:
                meter.tokens -= 1.0
                meter.used += 1
                return RateDecision(True, 0.0)
            return RateDecision(False, (1.0 - meter.tokens) / rate)

    def status(self, key: tuple[str, ...], quota: SellerQuota) -> dict[str, float | int]:
        """{"tokens", "usedToday"} as of now (the control route; a seller not seen yet is reported fresh)."""
        now = self._clock.elapsed()
        with self._lock:
            meter = self._meters.get(key)
            if meter is None:
                start = quota.burst if self.initial_tokens is None else self.initial_tokens
                return {"tokens": float(min(quota.burst, start)), "usedToday": 0}
            tokens = min(float(quota.burst), meter.tokens + (now - meter.updated) / quota.refill_seconds)
            used = meter.used if meter.day == self._day(now) else 0
        return {"tokens": round(tokens, 4), "usedToday": used}

    def reset(self, initial_tokens: float | None = None) -> None:
        """Forget every meter; sellers start again with ``initial_tokens`` (None = a full bucket)."""
        with self._lock:
            self._meters.clear()
            self.initial_tokens = initial_tokens
