"""Typed values of the order report's text fields (plain decimals, integers, ISO-8601 instants, booleans)
and the test that tells a Japanese legacy-encoded file from a European one."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal

_PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_PLAIN_INT = re.compile(r"[+-]?\d+")
_BOOLS = {"true": True, "false": False, "yes": True, "no": False}


def _money(value: str) -> Decimal:
    if not _PLAIN_DECIMAL.fullmatch(value):
        raise ValueError(f"{value!r} is not a plain decimal number (e.g. 14.0 or 1234.56)")
    return Decimal(value)


def _int(value: str) -> int:
    if _PLAIN_INT.fullmatch(value):
        return int(value)
    if _PLAIN_DECIMAL.fullmatch(value) and Decimal(value) == Decimal(value).to_integral_value():
        return int(Decimal(value))  # "1.0"
    raise ValueError(f"{value!r} is not an integer")


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (expected e.g. 2024-02-14T08:15:00+00:00 or ...Z)")
    return parsed.astimezone(UTC)


def _bool(value: str) -> bool:
    try:
        return _BOOLS[value.lower()]
    except KeyError:
        raise ValueError(f"{value!r} is not true/false") from None


CONVERTERS = {"money": _money, "int": _int, "timestamp": _timestamp, "bool": _bool, "text": str}


def looks_japanese(text: str) -> bool:
    for ch in text:
        if ord(ch) < 0x3000:
            continue
        name = unicodedata.name(ch, "")
        if name.startswith(("HIRAGANA", "KATAKANA", "CJK", "FULLWIDTH", "HALFWIDTH KATAKANA")):
            return True
    return False
