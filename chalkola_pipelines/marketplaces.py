"""The marketplace catalogue: code, marketplace id, region, country, currency, time zone.

A partition's date is the marketplace's local calendar day; ``local_day_window_utc`` turns it into the
UTC instants that API windows are built from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

Region = Literal["na", "eu", "fe"]
REGIONS: tuple[Region, ...] = ("na", "eu", "fe")


class UnknownMarketplaceError(ValueError):
    """A marketplace code or id that is not in the catalogue."""


@dataclass(frozen=True)
class Marketplace:
    code: str  # the code operators use: US, UK, DE, JP ...
    marketplace_id: str  # Amazon's marketplace id, e.g. ATVPDKIKX0DER
    region: Region  # SP-API / Ads API region: na, eu, fe
    country_code: str  # ISO 3166-1 alpha-2 (GB for UK)
    currency: str  # ISO 4217
    timezone: str  # IANA zone Amazon reports the marketplace's days in
    sales_channel: str  # as written in order reports, e.g. Amazon.com

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_day_window_utc(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of the marketplace's local calendar ``day`` as aware UTC datetimes."""
        return local_days_window_utc(self, day, day)

    def local_date_of(self, instant: dt.datetime) -> dt.date:
        """The marketplace-local calendar day an aware instant falls on."""
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        return instant.astimezone(self.tz).date()


def local_days_window_utc(mkt: Marketplace, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC covering local days first..last inclusive (DST-safe)."""
    start = dt.datetime.combine(first, dt.time.min, tzinfo=mkt.tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=mkt.tz).astimezone(dt.UTC)
    return start, end


def iso_z(instant: dt.datetime) -> str:
    """ISO-8601 in UTC with a Z suffix, as Amazon expects: 2024-01-02T08:00:00Z."""
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_CATALOGUE: tuple[Marketplace, ...] = (
    # North America
    Marketplace("US", "ATVPDKIKX0DER", "na", "US", "USD", "America/Los_Angeles", "Amazon.com"),
    Marketplace("CA", "A2EUQ1WTGCTBG2", "na", "CA", "CAD", "America/Los_Angeles", "Amazon.ca"),
    Marketplace("MX", "A1AM78C64UM0Y8", "na", "MX", "MXN", "America/Los_Angeles", "Amazon.com.mx"),
    Marketplace("BR", "A2Q3Y263D00KWC", "na", "BR", "BRL", "America/Sao_Paulo", "Amazon.com.br"),
    # Europe, Middle East, India
    Marketplace("UK", "A1F83G8C2ARO7P", "eu", "GB", "GBP", "Europe/London", "Amazon.co.uk"),
    Marketplace("DE", "A1PA6795UKMFR9", "eu", "DE", "EUR", "Europe/Paris", "Amazon.de"),
    Marketplace("FR", "A13V1IB3VIYZZH", "eu", "FR", "EUR", "Europe/Paris", "Amazon.fr"),
    Marketplace("IT", "APJ6JRA9NG5V4", "eu", "IT", "EUR", "Europe/Paris", "Amazon.it"),
    Marketplace("ES", "A1RKKUPIHCS9HS", "eu", "ES", "EUR", "Europe/Paris", "Amazon.es"),
    Marketplace("NL", "A1805IZSGTT6HS", "eu", "NL", "EUR", "Europe/Amsterdam", "Amazon.nl"),
    Marketplace("SE", "A2NODRKZP88ZB9", "eu", "SE", "SEK", "Europe/Stockholm", "Amazon.se"),
    Marketplace("PL", "A1C3SOZRARQ6R3", "eu", "PL", "PLN", "Europe/Warsaw", "Amazon.pl"),
    Marketplace("BE", "AMEN7PMS3EDWL", "eu", "BE", "EUR", "Europe/Brussels", "Amazon.com.be"),
    Marketplace("TR", "A33AVAJ2PDY3EV", "eu", "TR", "TRY", "Europe/Istanbul", "Amazon.com.tr"),
    Marketplace("AE", "A2VIGQ35RCS4UG", "eu", "AE", "AED", "Asia/Dubai", "Amazon.ae"),
    Marketplace("SA", "A17E79C6D8DWNP", "eu", "SA", "SAR", "Asia/Riyadh", "Amazon.sa"),
    Marketplace("IN", "A21TJRUUN4KGV", "eu", "IN", "INR", "Asia/Kolkata", "Amazon.in"),
    Marketplace("EG", "ARBP9OOSHTCHU", "eu", "EG", "EGP", "Africa/Cairo", "Amazon.eg"),
    Marketplace("ZA", "AE08WJ6YKNBMC", "eu", "ZA", "ZAR", "Africa/Johannesburg", "Amazon.co.za"),
    Marketplace("IE", "A28R8C7NBKEWEA", "eu", "IE", "EUR", "Europe/Dublin", "Amazon.ie"),
    # Far East
    Marketplace("JP", "A1VC38T7YXB528", "fe", "JP", "JPY", "Asia/Tokyo", "Amazon.co.jp"),
    Marketplace("AU", "A39IBJ37TRP1C6", "fe", "AU", "AUD", "Australia/Sydney", "Amazon.com.au"),
    Marketplace("SG", "A19VAU5U5O7RUS", "fe", "SG", "SGD", "Asia/Singapore", "Amazon.sg"),
)

_BY_CODE = {m.code: m for m in _CATALOGUE}
_BY_ID = {m.marketplace_id: m for m in _CATALOGUE}
_BY_SALES_CHANNEL = {m.sales_channel.casefold(): m for m in _CATALOGUE}

#: ``sales-channel`` of multi-channel fulfilment orders (FBA shipping orders of the seller's other shops): tied
#: to Amazon's "Non-Amazon" marketplaces, not sales of any Amazon marketplace (selling-partner-api-docs #761).
NON_AMAZON_SALES_CHANNEL = "Non-Amazon"
# Amazon itself uses "UK" in some places (older Ads profiles) and "GB" in others.
_ALIASES = {"GB": "UK"}

DEFAULT_MARKETPLACE_CODES: tuple[str, ...] = (
    "US",
    "CA",
    "MX",
    "UK",
    "DE",
    "FR",
    "IT",
    "ES",
    "AE",
    "AU",
    "JP",
)


def all_marketplaces() -> tuple[Marketplace, ...]:
    return _CATALOGUE


def get_marketplace(code: str) -> Marketplace:
    """Look up by operator code (US, UK, JP ...); GB is accepted for UK. Case-insensitive."""
    key = code.strip().upper()
    key = _ALIASES.get(key, key)
    try:
        return _BY_CODE[key]
    except KeyError:
        known = ", ".join(sorted(_BY_CODE))
        raise UnknownMarketplaceError(f"Unknown marketplace code {code!r}. Known codes: {known}.") from None


def get_marketplace_by_id(marketplace_id: str) -> Marketplace:
    """Look up by Amazon marketplace id (ATVPDKIKX0DER ...)."""
    try:
        return _BY_ID[marketplace_id.strip()]
    except KeyError:
        raise UnknownMarketplaceError(
            f"Unknown Amazon marketplace id {marketplace_id!r}: not in chalkola_pipelines.marketplaces."
        ) from None


def marketplace_of_sales_channel(sales_channel: str) -> Marketplace | None:
    """The marketplace an order report's ``sales-channel`` names (``Amazon.de`` → DE, case-insensitive);
    None for ``Non-Amazon`` (multi-channel fulfilment); UnknownMarketplaceError for anything else."""
    key = (sales_channel or "").strip().casefold()
    if key == NON_AMAZON_SALES_CHANNEL.casefold():
        return None
    try:
        return _BY_SALES_CHANNEL[key]
    except KeyError:
        raise UnknownMarketplaceError(
            f"Unknown sales channel {sales_channel!r}: not in chalkola_pipelines.marketplaces "
            f"(known: {', '.join(m.sales_channel for m in _CATALOGUE)}, {NON_AMAZON_SALES_CHANNEL})."
        ) from None


def parse_marketplace_codes(value: str | Iterable[str] | None) -> list[Marketplace]:
    """Parse a setting such as ``CHALKOLA_MARKETPLACES="US,UK,JP"``; empty → the default eleven.

    Order is preserved, duplicates removed; an unknown code raises UnknownMarketplaceError.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        codes: Iterable[str] = DEFAULT_MARKETPLACE_CODES
    elif isinstance(value, str):
        codes = [c for c in value.replace(";", ",").split(",") if c.strip()]
    else:
        codes = value
    seen: dict[str, Marketplace] = {}
    for code in codes:
        m = get_marketplace(code)
        seen.setdefault(m.code, m)
    return list(seen.values())
