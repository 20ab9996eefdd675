"""Demand over time for the synthetic seller: growth, months, weekdays, Prime Day, Black Friday, launches.

Private helper of :mod:`chalkola_pipelines.simulator.seller`; pure functions of the date.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

_MONTH = (0.85, 0.85, 0.95, 0.95, 0.95, 0.95, 1.0, 1.15, 1.05, 1.05, 1.30, 1.55)
_WEEKDAY = (1.06, 1.03, 1.0, 0.98, 0.92, 0.93, 1.08)  # Monday .. Sunday
_GROWTH_REFERENCE = dt.date(2025, 1, 1)
_GROWTH_PER_YEAR = 1.25

#: Relative purchase intensity per local hour (0..23): quiet nights, evening peak.
HOURLY = np.array(
    [0.30, 0.20, 0.15, 0.12, 0.12, 0.20, 0.40, 0.60, 0.80, 1.00, 1.10, 1.20,
     1.20, 1.15, 1.10, 1.10, 1.15, 1.25, 1.40, 1.50, 1.45, 1.30, 1.00, 0.60],
    dtype=np.float64,
)  # fmt: skip
HOURLY_P = HOURLY / HOURLY.sum()


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def prime_day(year: int) -> tuple[dt.date, dt.date]:
    """Prime Day: the second Tuesday of July and the day after (2025 ran four days: 8–11 July)."""
    if year == 2025:
        return dt.date(2025, 7, 8), dt.date(2025, 7, 11)
    start = _nth_weekday(year, 7, 1, 2)
    return start, start + dt.timedelta(days=1)


def black_friday(year: int) -> dt.date:
    return _nth_weekday(year, 11, 3, 4) + dt.timedelta(days=1)


def event_factor(day: dt.date) -> float:
    """Peak-day multiplier (Prime Day, Black Friday, Cyber Monday and their shoulders); 1.0 otherwise."""
    pd_start, pd_end = prime_day(day.year)
    if pd_start <= day <= pd_end:
        return 2.6
    if day in (pd_start - dt.timedelta(days=1), pd_end + dt.timedelta(days=1)):
        return 1.2
    bf = black_friday(day.year)
    if day == bf:
        return 2.3
    if day == bf + dt.timedelta(days=3):
        return 2.0
    if bf - dt.timedelta(days=7) <= day <= bf + dt.timedelta(days=10):
        return 1.3
    return 1.0


def is_deal_day(day: dt.date) -> bool:
    return event_factor(day) >= 2.0


def season_factor(day: dt.date) -> float:
    """Seller-wide demand multiplier for a day (without noise)."""
    month = _MONTH[day.month - 1]
    if day.month == 12 and day.day >= 22:
        month = 0.8 if day.day < 27 else 0.9
    growth = _GROWTH_PER_YEAR ** ((day - _GROWTH_REFERENCE).days / 365.25)
    return month * _WEEKDAY[day.weekday()] * growth * event_factor(day)


def launch_factor(day: dt.date, launch: dt.date) -> float:
    """0 before the seller launched in a marketplace, ramping up over 120 days after."""
    if day < launch:
        return 0.0
    return min(1.0, 0.15 + 0.85 * (day - launch).days / 120.0)


def line_season_factors(day: dt.date, seasons: list[str]) -> np.ndarray:
    """Multiplier per product line for seasonal lines (Easter, Halloween, Christmas, back to school)."""
    out = np.ones(len(seasons), dtype=np.float64)
    md = (day.month, day.day)
    for i, season in enumerate(seasons):
        if season == "easter":
            out[i] = 4.0 if (3, 1) <= md <= (4, 20) else 0.3
        elif season == "halloween":
            out[i] = 4.0 if (9, 15) <= md <= (10, 31) else 0.3
        elif season == "christmas":
            out[i] = 4.0 if (11, 1) <= md <= (12, 24) else 0.3
        elif season == "school":
            out[i] = 1.4 if (8, 1) <= md <= (9, 15) else 1.0
    return out
