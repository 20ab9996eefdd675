"""Order report windows: one per region and run of local days, within Amazon's 30-day limit, across DST."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from chalkola_pipelines.defs.jobs import MAX_DAYS_PER_RUN, SP_ORDERS
from chalkola_pipelines.defs.order_windows import (
    ORDER_REPORT_MAX_SPAN,
    OrderWindowError,
    check_span,
    region_window,
    region_windows,
    reports_needed,
)
from chalkola_pipelines.defs.orders import orders_units
from chalkola_pipelines.defs.partitions import MarketplaceDays
from chalkola_pipelines.marketplaces import (
    get_marketplace,
    iso_z,
    local_days_window_utc,
    parse_marketplace_codes,
)

D = dt.date
NOW = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)


def _days(first: dt.date, n: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(n)]


def _mkts(*codes: str):
    return [get_marketplace(c) for c in codes]


# 30 local days around each DST change of the year: US (Nov 1 / Mar 8 2026), UK (Oct 25 / Mar 29 2026),
# AU in the southern hemisphere (Apr 5 2026 ends DST: a 25-hour day; Oct 4 2026 starts it: 23 hours).
@pytest.mark.parametrize(
    ("codes", "first", "windows"),
    [
        (("US",), D(2026, 10, 20), 2),  # fall back: 30 days + 1 h → 29 + 1
        (("US",), D(2026, 2, 25), 1),  # spring forward: 30 days − 1 h fits
        (("UK",), D(2026, 10, 10), 2),
        (("UK",), D(2026, 3, 20), 1),
        (("AU",), D(2026, 3, 25), 2),  # AU's autumn is April
        (("AU",), D(2026, 9, 25), 1),
        (("US", "CA", "MX"), D(2026, 10, 20), 2),
        (("UK", "DE"), D(2026, 3, 20), 1),  # London–Paris adds 1 h, spring forward takes it back
        (("UK", "DE"), D(2026, 10, 10), 2),
        (("JP", "AU"), D(2026, 9, 25), 2),  # Sydney is 1–2 h ahead of Tokyo
    ],
)
def test_thirty_local_days_become_windows_amazon_accepts(codes, first, windows) -> None:
    mkts = _mkts(*codes)
    days = _days(first, 30)
    built = region_windows(mkts, days)
    assert len(built) == windows
    for w in built:
        assert w.span <= ORDER_REPORT_MAX_SPAN, (w.describe(), w.span)
        check_span(w)
    # consecutive and covering every day, each day complete in every marketplace of the region
    assert built[0].first == days[0] and built[-1].last == days[-1]
    for a, b in zip(built, built[1:], strict=False):
        assert b.first == a.last + dt.timedelta(days=1)
    for w in built:
        for m in mkts:
            start, end = local_days_window_utc(m, w.first, w.last)
            assert w.start <= start and end - dt.timedelta(seconds=1) <= w.end


def test_the_november_us_window_that_amazon_refused_is_cut_in_two() -> None:
    """Measured: 30 local days across 1 November = 30 days 1 hour in UTC → FATAL "Date range exceeded"."""
    na = _mkts("US", "CA", "MX")
    too_long = region_window(na, D(2026, 10, 20), D(2026, 11, 18))
    assert too_long.span > ORDER_REPORT_MAX_SPAN
    with pytest.raises(OrderWindowError, match="Date range exceeded"):
        check_span(too_long)
    first, second = region_windows(na, _days(D(2026, 10, 20), 30))
    assert (iso_z(first.start), iso_z(first.end)) == ("2026-10-20T07:00:00Z", "2026-11-18T07:59:59Z")
    assert (first.first, first.last, second.first, second.last) == (
        D(2026, 10, 20),
        D(2026, 11, 17),
        D(2026, 11, 18),
        D(2026, 11, 18),
    )


def test_a_region_window_covers_every_time_zone_of_the_region() -> None:
    w = region_window(_mkts("UK", "DE"), D(2026, 11, 1), D(2026, 11, 7))
    # from Paris's midnight (earliest) to one second before London's (latest)
    assert (iso_z(w.start), iso_z(w.end)) == ("2026-10-31T23:00:00Z", "2026-11-07T23:59:59Z")


def test_every_marketplace_of_a_region_builds_the_same_units() -> None:
    configured = parse_marketplace_codes("US,CA,MX,UK,DE,JP")
    days = tuple(_days(D(2026, 10, 20), 30))  # 30 days across the fall-back: two reports
    specs = {}
    for code in ("US", "CA", "MX"):
        units = orders_units(
            MarketplaceDays(get_marketplace(code), days), D(2027, 6, 1), NOW, configured=configured
        )
        specs[code] = [(u.request.scope, u.request.ident(), u.job.create_body()) for u in units]
        assert all(u.request.scope == "NA" for u in units)
        assert units[0].job.marketplace_ids == ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8")
    assert specs["US"] == specs["CA"] == specs["MX"] and len(specs["US"]) == 2
    de = orders_units(
        MarketplaceDays(get_marketplace("DE"), days[:7]), D(2027, 6, 1), NOW, configured=configured
    )
    assert [u.request.scope for u in de] == ["EU"] and de[0].job.marketplace_ids == (
        "A1F83G8C2ARO7P",
        "A1PA6795UKMFR9",
    )


def test_a_window_that_has_not_started_fails_without_retries() -> None:
    today = D(2027, 6, 1)
    with pytest.raises(dg.Failure, match="has not started yet") as failure:
        orders_units(MarketplaceDays(get_marketplace("US"), (D(2027, 6, 2),)), today, NOW)
    assert failure.value.allow_retries is False


def _runs(first: dt.date, days: int, per_run: int) -> list[tuple[dt.date, dt.date]]:
    out = []
    while days > 0:
        n = min(per_run, days)
        out.append((first, first + dt.timedelta(days=n - 1)))
        first, days = first + dt.timedelta(days=n), days - n
    return out


def test_one_report_per_region_and_window_instead_of_per_marketplace() -> None:
    eleven = parse_marketplace_codes(None)  # NA: US CA MX; EU: UK DE FR IT ES AE; FE: AU JP
    nightly = [(D(2026, 6, 1), D(2026, 6, 7))]
    assert reports_needed(eleven, nightly, per_region=False) == 11
    assert reports_needed(eleven, nightly) == 3  # NA, EU, FE
    # 24 months: before, 25 reports of ≤ 30 days per marketplace; now 29-day runs, one report per region
    assert reports_needed(eleven, _runs(D(2025, 1, 1), 730, 30), per_region=False) == 11 * 25
    assert MAX_DAYS_PER_RUN[SP_ORDERS] == 29
    assert reports_needed(eleven, _runs(D(2025, 1, 1), 730, 29)) == 3 * 26
