"""One marketplace-day of the synthetic seller: traffic per ASIN, orders and order items, as numpy arrays.

Private helper of :mod:`chalkola_pipelines.simulator.seller`. A day is generated in full (every order of the
local day, every status change to come) from an RNG seeded by (seed, marketplace, day), so the result does
not depend on the order of requests. What a caller sees "as of now" (orders not yet placed, statuses not yet
reached, partial-day traffic) is applied afterwards by :func:`aggregate_asins` and the formatting code.

Money is held as int64 minor units of the marketplace currency (cents; yen for JPY).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.simulator.data_calendar import (
    HOURLY_P,
    is_deal_day,
    launch_factor,
    line_season_factors,
    season_factor,
)
from chalkola_pipelines.simulator.data_catalogue import PRODUCT_LINES, Listing, rng_for

EPOCH_DAY = dt.date(2000, 1, 1)
_QTY_VALUES = np.array([1, 2, 3, 4, 6], dtype=np.int64)
_QTY_P = np.array([0.885, 0.085, 0.02, 0.006, 0.004])
_ORDER_SIZE_P = np.array([0.87, 0.10, 0.03])

#: Ship-to regions written in ``ship-state`` (state/county level only; city and postal code are synthetic).
SHIP_STATES: dict[str, tuple[tuple[str, float], ...]] = {
    "US": (("CA", 0.0825), ("TX", 0.0825), ("NY", 0.08875), ("FL", 0.07), ("IL", 0.0925), ("PA", 0.06),
           ("OH", 0.0725), ("GA", 0.07), ("NC", 0.07), ("MI", 0.06), ("WA", 0.101), ("NJ", 0.06625),
           ("VA", 0.053), ("AZ", 0.084), ("MA", 0.0625), ("CO", 0.077), ("OR", 0.0), ("MN", 0.0738)),
    "CA": (("ON", 0.13), ("QC", 0.14975), ("BC", 0.12), ("AB", 0.05), ("NS", 0.15), ("MB", 0.12)),
    "MX": (("CDMX", 0.16), ("JALISCO", 0.16), ("NUEVO LEON", 0.16), ("PUEBLA", 0.16)),
    "UK": (("Greater London", 0.2), ("West Midlands", 0.2), ("Lancashire", 0.2), ("Kent", 0.2), ("Essex", 0.2)),
    "DE": (("Bayern", 0.19), ("Berlin", 0.19), ("Hessen", 0.19), ("Nordrhein-Westfalen", 0.19), ("Sachsen", 0.19)),
    "FR": (("Ile-de-France", 0.2), ("Occitanie", 0.2), ("Bretagne", 0.2), ("Grand Est", 0.2)),
    "IT": (("Lombardia", 0.22), ("Lazio", 0.22), ("Campania", 0.22), ("Veneto", 0.22)),
    "ES": (("Madrid", 0.21), ("Barcelona", 0.21), ("Valencia", 0.21), ("Sevilla", 0.21)),
    "AE": (("Dubai", 0.05), ("Abu Dhabi", 0.05), ("Sharjah", 0.05)),
    "AU": (("NSW", 0.1), ("VIC", 0.1), ("QLD", 0.1), ("WA", 0.1)),
    "JP": (("Tokyo", 0.1), ("Osaka", 0.1), ("Kanagawa", 0.1), ("Aichi", 0.1), ("Hokkaido", 0.1)),
}  # fmt: skip


@dataclass
class SalesDay:
    """Everything that happens in one marketplace-local day (generated in full, filtered by time later)."""

    code: str
    day: dt.date
    start_ts: int  # UTC epoch seconds of local midnight
    end_ts: int  # UTC epoch seconds of the next local midnight
    # per listed child (index into Listing.products), full-day traffic
    sessions: np.ndarray
    mobile_sessions: np.ndarray
    sessions_b2b: np.ndarray
    mobile_sessions_b2b: np.ndarray
    page_views: np.ndarray
    mobile_page_views: np.ndarray
    page_views_b2b: np.ndarray
    mobile_page_views_b2b: np.ndarray
    buy_box: np.ndarray  # percentage 0..100
    # per order (sorted by purchase time; position = sequence number of the day)
    order_ts: np.ndarray  # purchase instant, UTC epoch seconds
    order_afn: np.ndarray  # bool
    order_b2b: np.ndarray  # bool
    order_prime: np.ndarray  # bool
    order_cancel: np.ndarray  # bool: will be cancelled at order_ts + t_cancel
    order_state: np.ndarray  # ship-state index into SHIP_STATES[code]
    order_synth: np.ndarray  # number used for the synthetic city / postal code
    t_created: np.ndarray  # seconds after purchase of the first LastUpdateDate
    t_unshipped: np.ndarray
    t_shipped: np.ndarray
    t_updated: np.ndarray  # a later update after shipping (delivery)
    t_cancel: np.ndarray
    order_item_start: np.ndarray  # first item position of each order (items are grouped by order)
    # per order item (grouped by order)
    item_order: np.ndarray
    item_no: np.ndarray  # position of the item inside its order
    item_asin: np.ndarray  # index into Listing.products
    item_qty: np.ndarray
    item_price: np.ndarray  # extended price (unit price × quantity), minor units
    item_tax: np.ndarray
    item_promo: np.ndarray  # promotion discount (positive amount), minor units
    ship_price: np.ndarray
    ship_tax: np.ndarray
    # day-level draws for the byDate extras
    extras: np.ndarray  # uniform draws in [0, 1)

    @property
    def n_orders(self) -> int:
        return int(self.order_ts.shape[0])


def _utc_ts(mkt: Marketplace, day: dt.date) -> tuple[int, int]:
    start, end = mkt.local_day_window_utc(day)
    return int(start.timestamp()), int(end.timestamp())


def _round_minor(values: np.ndarray) -> np.ndarray:
    return np.rint(values).astype(np.int64)


def generate_sales_day(seed: int, listing: Listing, day: dt.date) -> SalesDay:
    """Generate one marketplace-local day in full. Cost: a few ms for 1,000 ASINs."""
    mkt = listing.marketplace
    eco = listing.eco
    start_ts, end_ts = _utc_ts(mkt, day)
    rng = rng_for(seed, "sales", mkt.code, day.isoformat())
    n = len(listing.products)

    # --- traffic per ASIN -------------------------------------------------------------------------------
    day_noise = float(rng.lognormal(0.0, 0.07))
    level = season_factor(day) * launch_factor(day, eco.launch) * day_noise
    line_f = line_season_factors(day, [line.season for line in PRODUCT_LINES])[listing.line_index]
    asin_noise = rng.gamma(4.0, 0.25, size=n)
    lam = listing.base_sessions * line_f * asin_noise * level
    sessions = rng.poisson(lam).astype(np.int64)
    mobile = rng.binomial(sessions, 0.62)
    browser = sessions - mobile
    pv_extra = rng.poisson(sessions * 0.55).astype(np.int64)
    page_views = sessions + pv_extra
    mobile_pv = mobile + rng.binomial(pv_extra, 0.6)
    browser_pv = page_views - mobile_pv
    mobile_b2b = rng.binomial(mobile, 0.035)
    browser_b2b = rng.binomial(browser, 0.05)
    mobile_pv_b2b = mobile_b2b + rng.binomial(mobile_pv - mobile, 0.035)
    browser_pv_b2b = browser_b2b + rng.binomial(browser_pv - browser, 0.05)
    lost_bb = rng.random(n) < 0.12
    buy_box = np.where(lost_bb, 100.0 - rng.uniform(0.5, 25.0, size=n), 100.0)

    # --- order items ---------------------------------------------------------------------------------------
    deal = is_deal_day(day)
    deal_mask = rng.random(n) < (0.35 if deal else 0.0)
    conv = listing.conversion * (1.3 if deal else 1.0) * rng.lognormal(0.0, 0.15, size=n)
    items_per_asin = rng.binomial(sessions, np.clip(conv, 0.0, 0.6))
    total = int(items_per_asin.sum())
    item_asin = np.repeat(np.arange(n, dtype=np.int64), items_per_asin)
    qty = rng.choice(_QTY_VALUES, p=_QTY_P, size=total)
    perm = rng.permutation(total)
    item_asin = item_asin[perm]
    qty = qty[perm]
    sizes = rng.choice(np.array([1, 2, 3], dtype=np.int64), p=_ORDER_SIZE_P, size=max(total, 1))
    cum = np.cumsum(sizes)
    n_orders = int(np.searchsorted(cum, total, side="left")) + 1 if total else 0
    if n_orders:
        sizes = sizes[:n_orders].copy()
        sizes[-1] -= int(cum[n_orders - 1] - total)
    else:
        sizes = sizes[:0]
    item_order = np.repeat(np.arange(n_orders, dtype=np.int64), sizes)
    # one item per ASIN per order: merge duplicates
    key = item_order * max(n, 1) + item_asin
    uniq, inverse = np.unique(key, return_inverse=True)
    qty = np.bincount(inverse, weights=qty, minlength=uniq.shape[0]).astype(np.int64)
    item_order = uniq // max(n, 1)
    item_asin = uniq % max(n, 1)
    n_items = int(uniq.shape[0])
    order_item_start = np.searchsorted(item_order, np.arange(n_orders, dtype=np.int64), side="left")
    item_no = np.arange(n_items, dtype=np.int64) - order_item_start[item_order] if n_items else item_order

    # --- orders ------------------------------------------------------------------------------------------------
    hours = rng.choice(24, p=HOURLY_P, size=n_orders)
    frac = (hours + rng.random(n_orders)) / 24.0
    order_ts = np.sort(start_ts + np.floor(frac * (end_ts - start_ts)).astype(np.int64))
    order_afn = rng.random(n_orders) >= eco.mfn_rate
    order_b2b = rng.random(n_orders) < eco.b2b_rate
    order_prime = order_afn & (rng.random(n_orders) < 0.8)
    order_cancel = rng.random(n_orders) < 0.015
    states = SHIP_STATES.get(mkt.code, (("", eco.tax_rate),))
    order_state = rng.integers(0, len(states), size=n_orders)
    order_synth = rng.integers(0, 10_000, size=n_orders)
    t_created = rng.integers(2, 40, size=n_orders)
    t_unshipped = np.where(
        order_afn, rng.integers(120, 3_600, size=n_orders), rng.integers(300, 3 * 3_600, size=n_orders)
    )
    t_shipped = np.where(
        order_afn,
        rng.integers(4 * 3_600, 36 * 3_600, size=n_orders),
        rng.integers(12 * 3_600, 60 * 3_600, size=n_orders),
    )
    t_updated = t_shipped + rng.integers(3_600, 72 * 3_600, size=n_orders)
    t_cancel = rng.integers(300, 3 * 3_600, size=n_orders)
    t_unshipped = np.maximum(t_unshipped, t_created + 1)

    # --- prices, taxes, promotions ---------------------------------------------------------------------------
    unit = listing.price_minor[item_asin] if n_items else np.zeros(0, dtype=np.int64)
    unit = np.where(deal_mask[item_asin], _round_minor(unit * 0.8), unit) if n_items else unit
    unit = np.where(order_b2b[item_order], _round_minor(unit * 0.95), unit) if n_items else unit
    item_price = unit * qty
    promo_pct = rng.choice(np.array([0.0, 0.10, 0.15, 0.20]), p=[0.93, 0.03, 0.025, 0.015], size=n_items)
    item_promo = _round_minor(item_price * promo_pct)
    rates = np.array([r for _, r in states], dtype=np.float64)
    rate = rates[order_state[item_order]] if n_items else np.zeros(0)
    if eco.tax_inclusive:
        item_tax = _round_minor((item_price - item_promo) * rate / (1.0 + rate))
    else:
        item_tax = _round_minor((item_price - item_promo) * rate)
    ship_unit = 4.99 * eco.fx * (1 if eco.exponent == 0 else 100)
    charge_ship = (~order_afn[item_order]) & (item_no == 0) if n_items else np.zeros(0, dtype=bool)
    ship_price = np.where(charge_ship, int(round(ship_unit)), 0).astype(np.int64)
    if eco.tax_inclusive:
        ship_tax = _round_minor(ship_price * rate / (1.0 + rate))
    else:
        ship_tax = _round_minor(ship_price * rate)

    extras = rng.random(16)
    return SalesDay(
        code=mkt.code,
        day=day,
        start_ts=start_ts,
        end_ts=end_ts,
        sessions=sessions,
        mobile_sessions=mobile,
        sessions_b2b=mobile_b2b + browser_b2b,
        mobile_sessions_b2b=mobile_b2b,
        page_views=page_views,
        mobile_page_views=mobile_pv,
        page_views_b2b=mobile_pv_b2b + browser_pv_b2b,
        mobile_page_views_b2b=mobile_pv_b2b,
        buy_box=buy_box,
        order_ts=order_ts,
        order_afn=order_afn,
        order_b2b=order_b2b,
        order_prime=order_prime,
        order_cancel=order_cancel,
        order_state=order_state,
        order_synth=order_synth,
        t_created=t_created,
        t_unshipped=t_unshipped,
        t_shipped=t_shipped,
        t_updated=t_updated,
        t_cancel=t_cancel,
        order_item_start=order_item_start,
        item_order=item_order,
        item_no=item_no,
        item_asin=item_asin,
        item_qty=qty,
        item_price=item_price,
        item_tax=item_tax,
        item_promo=item_promo,
        ship_price=ship_price,
        ship_tax=ship_tax,
        extras=extras,
    )


# ---------------------------------------------------------------------------------------------------------
# Order status as of an instant
# ---------------------------------------------------------------------------------------------------------

PENDING, UNSHIPPED, SHIPPED, CANCELED = 0, 1, 2, 3


def order_status(sd: SalesDay, now_ts: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(visible, status code, last-update epoch seconds) per order as of ``now_ts``."""
    elapsed = now_ts - sd.order_ts
    visible = elapsed >= 0
    status = np.full(sd.n_orders, PENDING, dtype=np.int64)
    last = sd.t_created.copy()
    cancelled = sd.order_cancel & (elapsed >= sd.t_cancel)
    unshipped = ~sd.order_cancel & (elapsed >= sd.t_unshipped)
    shipped = ~sd.order_cancel & (elapsed >= sd.t_shipped)
    delivered = ~sd.order_cancel & (elapsed >= sd.t_updated)
    status[unshipped] = UNSHIPPED
    last = np.where(unshipped, sd.t_unshipped, last)
    status[shipped] = SHIPPED
    last = np.where(shipped, sd.t_shipped, last)
    last = np.where(delivered, sd.t_updated, last)
    status[cancelled] = CANCELED
    last = np.where(cancelled, sd.t_cancel, last)
    last_ts = sd.order_ts + np.minimum(last, np.maximum(elapsed, 0))
    return visible, status, last_ts


# ---------------------------------------------------------------------------------------------------------
# Per-ASIN aggregates (what S&T byAsin reports for a single day)
# ---------------------------------------------------------------------------------------------------------


@dataclass
class AsinAggregate:
    """Per listed child for one day, as of an instant: the numbers S&T byAsin shows for a single day."""

    units: np.ndarray
    units_b2b: np.ndarray
    sales: np.ndarray  # minor units
    sales_b2b: np.ndarray
    items: np.ndarray
    items_b2b: np.ndarray
    sessions: np.ndarray
    mobile_sessions: np.ndarray
    sessions_b2b: np.ndarray
    mobile_sessions_b2b: np.ndarray
    page_views: np.ndarray
    mobile_page_views: np.ndarray
    page_views_b2b: np.ndarray
    mobile_page_views_b2b: np.ndarray
    buy_box_views: np.ndarray  # page views × buy box % / 100 (float), to weight buy box % over ranges
    buy_box_views_b2b: np.ndarray
    orders: int  # orders counted (not cancelled) — for byDate extras
    complete: bool  # the day is over and every count is final


def _scaled(values: np.ndarray, fraction: float) -> np.ndarray:
    return np.floor(values * fraction).astype(np.int64)


def aggregate_asins(sd: SalesDay, n_asins: int, now_ts: int) -> AsinAggregate:
    """Sum the day's non-cancelled order items per ASIN, as of ``now_ts``; traffic pro rata for today."""
    visible, status, _ = order_status(sd, now_ts)
    counted_order = visible & (status != CANCELED)
    counted = counted_order[sd.item_order] if sd.item_order.shape[0] else np.zeros(0, dtype=bool)
    b2b = sd.order_b2b[sd.item_order] & counted if counted.shape[0] else counted
    a = sd.item_asin

    def per_asin(mask: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        if a.shape[0] == 0:
            return np.zeros(n_asins, dtype=np.int64)
        w = mask.astype(np.float64) if weights is None else np.where(mask, weights, 0).astype(np.float64)
        return np.rint(np.bincount(a, weights=w, minlength=n_asins)).astype(np.int64)

    units = per_asin(counted, sd.item_qty)
    units_b2b = per_asin(b2b, sd.item_qty)
    sales = per_asin(counted, sd.item_price)
    sales_b2b = per_asin(b2b, sd.item_price)
    items = per_asin(counted, None)
    items_b2b = per_asin(b2b, None)

    fraction = (now_ts - sd.start_ts) / (sd.end_ts - sd.start_ts)
    settled = now_ts >= sd.end_ts + 4 * 3_600  # cancellations happen within 3 h of purchase
    if fraction >= 1.0:
        sessions, mobile = sd.sessions, sd.mobile_sessions
        s_b2b, m_b2b = sd.sessions_b2b, sd.mobile_sessions_b2b
        pv, mpv = sd.page_views, sd.mobile_page_views
        pv_b2b, mpv_b2b = sd.page_views_b2b, sd.mobile_page_views_b2b
    else:
        f = max(0.0, fraction)
        sessions = np.maximum(_scaled(sd.sessions, f), items)
        mobile = np.minimum(_scaled(sd.mobile_sessions, f), sessions)
        s_b2b = np.minimum(np.maximum(_scaled(sd.sessions_b2b, f), items_b2b), sessions)
        m_b2b = np.minimum(np.minimum(_scaled(sd.mobile_sessions_b2b, f), s_b2b), mobile)
        pv = np.maximum(_scaled(sd.page_views, f), sessions)
        mpv = np.minimum(np.maximum(_scaled(sd.mobile_page_views, f), mobile), pv - (sessions - mobile))
        pv_b2b = np.minimum(np.maximum(_scaled(sd.page_views_b2b, f), s_b2b), pv)
        mpv_b2b = np.minimum(np.maximum(_scaled(sd.mobile_page_views_b2b, f), m_b2b), mpv)
        mpv_b2b = np.maximum(mpv_b2b, pv_b2b - (pv - mpv))
    return AsinAggregate(
        units=units,
        units_b2b=units_b2b,
        sales=sales,
        sales_b2b=sales_b2b,
        items=items,
        items_b2b=items_b2b,
        sessions=sessions,
        mobile_sessions=mobile,
        sessions_b2b=s_b2b,
        mobile_sessions_b2b=m_b2b,
        page_views=pv,
        mobile_page_views=mpv,
        page_views_b2b=pv_b2b,
        mobile_page_views_b2b=mpv_b2b,
        buy_box_views=pv * sd.buy_box / 100.0,
        buy_box_views_b2b=pv_b2b * sd.buy_box / 100.0,
        orders=int(counted_order.sum()),
        complete=settled,
    )
