"""Token buckets per (seller, region, operation) on the simulated clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from chalkola_pipelines.simulator.clock import SimulatedClock
from chalkola_pipelines.simulator.usage_plans import UsagePlan


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
