"""The simulator's clock: real calendar for dates, scaled time for durations.

Data dates and timestamps follow the real UTC calendar. Durations that a client waits for (token-bucket
refill, report processing, URL expiry, Retry-After) run ``time_scale`` times faster: one real second is
``time_scale`` simulated seconds. Tests can also jump ahead with :meth:`SimulatedClock.advance`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time


class SimulatedClock:
    """Thread-safe clock with a scaled monotonic counter (simulated seconds) and the real calendar."""

    def __init__(self, time_scale: float = 60.0) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self._start = time.monotonic()
        self._offset = 0.0  # simulated seconds added by advance()
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        """Simulated seconds since the simulator started (monotonic)."""
        with self._lock:
            offset = self._offset
        return (time.monotonic() - self._start) * self.time_scale + offset

    def now(self) -> dt.datetime:
        """The real current instant (aware UTC), plus any time added by :meth:`advance` at real speed."""
        with self._lock:
            offset = self._offset
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset / self.time_scale)

    def today(self) -> dt.date:
        """The real UTC calendar day."""
        return self.now().date()

    def advance(self, simulated_seconds: float) -> None:
        """Jump ahead: reports progress and URLs expire as if ``simulated_seconds`` had passed."""
        if simulated_seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += simulated_seconds

    def advanced_seconds(self) -> float:
        """Simulated seconds added by :meth:`advance` so far."""
        with self._lock:
            return self._offset

    def to_real_seconds(self, simulated_seconds: float) -> float:
        """How long ``simulated_seconds`` last in real time."""
        return simulated_seconds / self.time_scale

    def at_elapsed(self, simulated_elapsed: float) -> dt.datetime:
        """The calendar instant at which :meth:`elapsed` reaches (or reached) ``simulated_elapsed``."""
        delta_sim = simulated_elapsed - self.elapsed()
        return self.now() + dt.timedelta(seconds=delta_sim / self.time_scale)
