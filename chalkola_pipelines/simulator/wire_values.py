"""Amazon's text and number forms of the seller's values: instants, dates, money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal


def as_utc(value: dt.datetime | str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name}={value!r} is not an ISO-8601 date-time") from None
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got {value!r}")
    return value.astimezone(dt.UTC)


def as_date(value: dt.date | dt.datetime | str, name: str) -> dt.date:
    """A date from a date, a datetime (its date part, as Amazon ignores the time) or an ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an ISO-8601 date") from None


def dec(minor: int, exponent: int) -> Decimal:
    return Decimal(int(minor)).scaleb(-exponent) if exponent else Decimal(int(minor))


def money_str(minor: int, exponent: int) -> str:
    """Amazon's text form: "14.99", "-2.25", "1980" (JPY)."""
    v = int(minor)
    if exponent == 0:
        return str(v)
    sign = "-" if v < 0 else ""
    v = abs(v)
    return f"{sign}{v // 100}.{v % 100:02d}"


def iso_from_ts(ts: int, suffix: str) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + suffix
