"""Multi-channel fulfilment (MCF) orders of the synthetic seller: FBA shipping orders of its other shops.

Amazon lists them in the all-orders report with ``sales-channel`` ``Non-Amazon`` (they are tied to "Non-Amazon"
marketplaces, selling-partner-api-docs #761): they are not sales of any Amazon marketplace, so they are not in
sales & traffic and never in a marketplace's figures. The seller's own shop sets the price, so Amazon's report
carries no price or currency for them; ``merchant-order-id`` is the shop's order number.

Generated per (fulfilling marketplace, local day) from an RNG of their own — about 3 % of the day's Amazon
orders (at least one every other day) — so the Amazon orders, S&T and ads of the day are unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from chalkola_pipelines.simulator.data_catalogue import Listing, rng_for
from chalkola_pipelines.simulator.data_sales import SalesDay

MCF_SHARE = 0.03  # MCF orders per Amazon order of the same marketplace-day
MCF_MIN_DAILY = 0.5  # expected MCF orders on a quiet day
MCF_SHIP_DELAY = 8 * 3_600  # seconds after purchase when an MCF order is Shipped


@dataclass
class McfDay:
    """MCF orders fulfilled from one marketplace's FBA stock during one of its local days."""

    code: str
    day: dt.date
    order_ts: np.ndarray  # purchase instant (UTC epoch seconds), sorted
    order_number: np.ndarray  # the shop's order number (merchant-order-id)
    order_state: np.ndarray  # ship-state index
    order_item_start: np.ndarray
    item_asin: np.ndarray  # index into Listing.products
    item_qty: np.ndarray

    @property
    def n_orders(self) -> int:
        return int(self.order_ts.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.item_asin.shape[0])

    def items_of(self, order: int) -> range:
        end = self.order_item_start[order + 1] if order + 1 < self.n_orders else self.n_items
        return range(int(self.order_item_start[order]), int(end))


def generate_mcf_day(seed: int, listing: Listing, sd: SalesDay, n_states: int) -> McfDay:
    """The MCF orders of ``sd``'s marketplace-day (products drawn like the day's Amazon items)."""
    rng = rng_for(seed, "mcf", sd.code, sd.day.isoformat())
    n_orders = int(rng.poisson(max(MCF_MIN_DAILY, MCF_SHARE * sd.n_orders)))
    order_ts = np.sort(rng.integers(sd.start_ts, sd.end_ts, size=n_orders)).astype(np.int64)
    sizes = rng.choice(np.array([1, 2], dtype=np.int64), p=[0.85, 0.15], size=n_orders)
    n_items = int(sizes.sum())
    pool = sd.item_asin if sd.item_asin.shape[0] else np.arange(len(listing.products), dtype=np.int64)
    item_asin = pool[rng.integers(0, pool.shape[0], size=n_items)] if n_items else pool[:0]
    # one item per ASIN per order: a repeated draw becomes quantity 2 of the first item
    item_qty = np.ones(n_items, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if n_orders else sizes[:0]
    keep = np.ones(n_items, dtype=bool)
    for o, size in zip(starts.tolist(), sizes.tolist(), strict=True):
        if size == 2 and item_asin[o] == item_asin[o + 1]:
            keep[o + 1] = False
            item_qty[o] = 2
    order_of_item = np.repeat(np.arange(n_orders, dtype=np.int64), sizes)[keep]
    item_asin, item_qty = item_asin[keep], item_qty[keep]
    order_item_start = np.searchsorted(order_of_item, np.arange(n_orders, dtype=np.int64), side="left")
    return McfDay(
        code=sd.code,
        day=sd.day,
        order_ts=order_ts,
        order_number=rng.integers(100_000, 999_999, size=n_orders),
        order_state=rng.integers(0, max(1, n_states), size=n_orders),
        order_item_start=order_item_start.astype(np.int64),
        item_asin=item_asin.astype(np.int64),
        item_qty=item_qty,
    )
