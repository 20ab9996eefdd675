"""Fault injection: a plan of faults to apply to the next N calls of an operation.

Operation names are the official operationIds plus a few (see OPERATIONS). Kinds:
``429`` (retry_after=simulated seconds, default 1; ``retry_after=none``: no Retry-After header), ``500``, ``503``, ``reset`` (connection closed without a
response), ``slow`` (delay=real seconds), ``fatal`` / ``cancelled`` (SP report or Data Kiosk query outcome,
on createReport / createQuery), ``failed`` (Ads report FAILED), ``expired_url`` (getReportDocument,
getDocument or the downloads), ``corrupt_gzip``, ``truncated_json`` (also a JSONL cut mid-line),
``extra_field`` (schema drift), ``missing_field`` (a field the official schema requires is dropped from the
document's last row: S&T ``sales…/unitsOrdered``, order report ``quantity`` blanked, Ads ``impressions``,
Data Kiosk ``sales.unitsOrdered``; ``field=`` names another: a dotted path in the row, a TSV header or an Ads
column).
Command-line form: ``operation:kind[:count[:key=value,...]]``, e.g. ``createReport:429:3``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OPERATIONS: frozenset[str] = frozenset(
    {
        "lwaToken",
        "createReport",
        "getReports",
        "getReport",
        "getReportDocument",
        "downloadReportDocument",
        "cancelReport",
        "getOrders",
        "getOrderItems",
        "getMarketplaceParticipations",
        "listProfiles",
        "createAsyncReport",
        "getAsyncReport",
        "deleteAsyncReport",
        "downloadAsyncReport",
        "createQuery",
        "getQueries",
        "getQuery",
        "cancelQuery",
        "getDocument",
        "downloadDataKioskDocument",
    }
)
KINDS: frozenset[str] = frozenset(
    {
        "429",
        "500",
        "503",
        "reset",
        "slow",
        "fatal",
        "cancelled",
        "failed",
        "expired_url",
        "corrupt_gzip",
        "truncated_json",
        "extra_field",
        "missing_field",
    }
)
#: Faults applied when a request arrives, before anything else.
REQUEST_KINDS: frozenset[str] = frozenset({"429", "500", "503", "reset", "slow"})


class FaultError(ValueError):
    """An unknown operation or kind, or a malformed --fault specification."""


@dataclass
class Fault:
    operation: str
    kind: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "kind": self.kind, "count": self.remaining, **self.params}


class FaultPlan:
    """Thread-safe: tests add faults from their thread while the server consumes them in its own."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, operation: str, kind: str, *, count: int = 1, **params: Any) -> None:
        """Apply ``kind`` to the next ``count`` calls of ``operation``."""
        if operation not in OPERATIONS:
            raise FaultError(f"Unknown operation {operation!r}; known: {', '.join(sorted(OPERATIONS))}")
        if kind not in KINDS:
            raise FaultError(f"Unknown fault kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        if int(count) < 1:
            raise FaultError(f"Fault count must be >= 1, got {count!r}")
        if str(params.get("retry_after", "")).strip().lower() == "none":
            params["retry_after"] = None  # a 429 without a Retry-After header
        for key in ("retry_after", "delay"):
            if params.get(key) is not None:
                params[key] = float(params[key])
        with self._lock:
            self._faults.append(Fault(operation, kind, int(count), dict(params)))

    def add_spec(self, spec: str) -> None:
        """Parse and add ``operation:kind[:count[:key=value,...]]``."""
        parts = spec.split(":")
        if len(parts) < 2 or len(parts) > 4:
            raise FaultError(f"Bad fault {spec!r}: expected operation:kind[:count[:key=value,...]]")
        count = 1
        if len(parts) >= 3 and parts[2]:
            try:
                count = int(parts[2])
            except ValueError:
                raise FaultError(f"Bad fault {spec!r}: count {parts[2]!r} is not an integer") from None
        params: dict[str, Any] = {}
        if len(parts) == 4 and parts[3]:
            for item in parts[3].split(","):
                key, sep, value = item.partition("=")
                if not sep:
                    raise FaultError(f"Bad fault {spec!r}: parameter {item!r} is not key=value")
                params[key.strip()] = value.strip()
        self.add(parts[0], parts[1], count=count, **params)

    def add_many(self, specs: Iterable[str]) -> None:
        for spec in specs:
            self.add_spec(spec)

    def add_from_json(self, body: Mapping[str, Any]) -> None:
        """``{"operation", "kind", "count", ...params}`` as posted to /_simulator/faults."""
        data = dict(body)
        try:
            operation = str(data.pop("operation"))
            kind = str(data.pop("kind"))
        except KeyError as exc:
            raise FaultError(f"Fault needs 'operation' and 'kind' (missing {exc.args[0]!r})") from None
        count = data.pop("count", 1)
        self.add(operation, kind, count=int(count), **data)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, operation: str, kinds: Iterable[str]) -> Fault | None:
        """Consume one occurrence of the first pending fault of ``operation`` whose kind is in ``kinds``."""
        wanted = set(kinds)
        with self._lock:
            for fault in self._faults:
                if fault.operation == operation and fault.kind in wanted:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return Fault(fault.operation, fault.kind, 1, dict(fault.params))
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]
