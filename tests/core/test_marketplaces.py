import datetime as dt

import pytest

from chalkola_pipelines.marketplaces import (
    DEFAULT_MARKETPLACE_CODES,
    UnknownMarketplaceError,
    all_marketplaces,
    get_marketplace,
    get_marketplace_by_id,
    iso_z,
    local_days_window_utc,
    parse_marketplace_codes,
)


def test_catalogue_covers_required_marketplaces_with_unique_ids():
    required = "US CA MX BR UK DE FR IT ES NL SE PL BE TR AE SA IN JP AU SG".split()
    codes = {m.code for m in all_marketplaces()}
    assert set(required) <= codes
    ids = [m.marketplace_id for m in all_marketplaces()]
    assert len(ids) == len(set(ids))
    for m in all_marketplaces():
        assert m.region in ("na", "eu", "fe")
        assert len(m.currency) == 3 and m.tz is not None


@pytest.mark.parametrize(
    ("code", "mid", "region", "currency", "tz"),
    [
        ("US", "ATVPDKIKX0DER", "na", "USD", "America/Los_Angeles"),
        ("UK", "A1F83G8C2ARO7P", "eu", "GBP", "Europe/London"),
        ("DE", "A1PA6795UKMFR9", "eu", "EUR", "Europe/Paris"),
        ("JP", "A1VC38T7YXB528", "fe", "JPY", "Asia/Tokyo"),
        ("AU", "A39IBJ37TRP1C6", "fe", "AUD", "Australia/Sydney"),
        ("AE", "A2VIGQ35RCS4UG", "eu", "AED", "Asia/Dubai"),
    ],
)
def test_lookups(code, mid, region, currency, tz):
    m = get_marketplace(code.lower())
    assert (m.marketplace_id, m.region, m.currency, m.timezone) == (mid, region, currency, tz)
    assert get_marketplace_by_id(mid) is m


def test_gb_alias_and_unknown_codes():
    assert get_marketplace("GB").code == "UK"
    with pytest.raises(UnknownMarketplaceError, match="Unknown marketplace code 'XX'.*Known codes"):
        get_marketplace("XX")
    with pytest.raises(UnknownMarketplaceError, match="NOPE"):
        get_marketplace_by_id("NOPE")
    with pytest.raises(UnknownMarketplaceError):
        parse_marketplace_codes("US,ZZ")


def test_parse_marketplace_codes_default_and_order():
    assert [m.code for m in parse_marketplace_codes(None)] == list(DEFAULT_MARKETPLACE_CODES)
    assert [m.code for m in parse_marketplace_codes(" jp, US ,jp,")] == ["JP", "US"]


def test_local_day_windows_on_both_sides_of_utc_and_dst():
    jp = get_marketplace("JP")
    start, end = jp.local_day_window_utc(dt.date(2024, 1, 2))
    assert iso_z(start) == "2024-01-01T15:00:00Z" and iso_z(end) == "2024-01-02T15:00:00Z"
    us = get_marketplace("US")
    # 2024-03-10 is the US spring-forward day: 23 hours long.
    start, end = us.local_day_window_utc(dt.date(2024, 3, 10))
    assert iso_z(start) == "2024-03-10T08:00:00Z" and iso_z(end) == "2024-03-11T07:00:00Z"
    start, end = local_days_window_utc(us, dt.date(2024, 11, 1), dt.date(2024, 11, 30))
    assert (end - start) == dt.timedelta(days=30, hours=1)  # fall back adds an hour
    assert us.local_date_of(dt.datetime(2024, 1, 2, 7, 59, tzinfo=dt.UTC)) == dt.date(2024, 1, 1)
    assert jp.local_date_of(dt.datetime(2024, 1, 1, 15, 0, tzinfo=dt.UTC)) == dt.date(2024, 1, 2)
    with pytest.raises(ValueError):
        us.local_date_of(dt.datetime(2024, 1, 2))
