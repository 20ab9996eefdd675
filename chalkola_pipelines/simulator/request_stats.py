"""Per-operation request counters of one simulator: every API call by operation, region and status code.

Filled by the request pipeline (``api_pipeline.endpoint``) for every answered request (injected faults and
429s included); read through ``state.request_stats`` and ``GET /_simulator/stats`` (benchmarks, tests).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestStats:
    """Thread-safe counters keyed by (operation, region, status code)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._lock = threading.Lock()

    def record(self, operation: str, region: str, status: int) -> None:
        with self._lock:
            self._counts[(operation, region, status)] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def count(self, operation: str, *, status: int | None = None, region: str | None = None) -> int:
        """Requests of ``operation`` (optionally only those answered ``status`` / in ``region``)."""
        with self._lock:
            items = list(self._counts.items())
        return sum(
            n
            for (op, reg, code), n in items
            if op == operation and (status is None or code == status) and (region is None or reg == region)
        )

    def snapshot(self) -> dict[str, Any]:
        """``{"total", "byOperation": {op: {"total", "statuses": {"200": n, ...}, "regions": {"na": n}}}}``."""
        with self._lock:
            items = sorted(self._counts.items())
        by_op: dict[str, dict[str, Any]] = {}
        for (op, region, code), n in items:
            entry = by_op.setdefault(op, {"total": 0, "statuses": {}, "regions": {}})
            entry["total"] += n
            entry["statuses"][str(code)] = entry["statuses"].get(str(code), 0) + n
            entry["regions"][region] = entry["regions"].get(region, 0) + n
        return {"total": sum(e["total"] for e in by_op.values()), "byOperation": by_op}
