"""Throttling as Amazon applies it: token buckets per (seller, region, operation) on the simulated clock.

The rate and burst of each operation come from the client's table, :mod:`chalkola_pipelines.amazon.usage_plans`
(one table for both sides: SP-API values are the official usage plans; the Ads API publishes none).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from chalkola_pipelines.amazon.usage_plans import ADS_API_USAGE_PLANS, SP_API_USAGE_PLANS, UsagePlan
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
