"""The synthetic seller's core: catalogue, listings, the generated marketplace-days (cached), order ids,
the clock the data is as of, and the ground truth. The wire formats of each API build on it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chalkola_pipelines.marketplaces import (
    Marketplace,
    UnknownMarketplaceError,
    all_marketplaces,
    get_marketplace,
    get_marketplace_by_id,
    parse_marketplace_codes,
)
from chalkola_pipelines.simulator.data_ads import AdsAccount, AdsDay, build_ads_account, generate_ads_day
from chalkola_pipelines.simulator.data_catalogue import Catalogue, Listing, build_listing, rng_for
from chalkola_pipelines.simulator.data_mcf import McfDay, generate_mcf_day
from chalkola_pipelines.simulator.data_sales import (
    EPOCH_DAY,
    SHIP_STATES,
    AsinAggregate,
    SalesDay,
    aggregate_asins,
    generate_sales_day,
)
from chalkola_pipelines.simulator.ground_truth import AdDayTruth, AsinDayTruth, GroundTruth
from chalkola_pipelines.simulator.wire_values import dec

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_MOD = 10**14


class _Lru:
    """A small thread-safe LRU cache."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SellerCore:
    """Catalogue, state and data generation of the synthetic seller (see :mod:`.seller`)."""

    def __init__(
        self,
        seed: int = 7,
        marketplaces: Sequence[str] | None = None,
        scale: float = 1.0,
        *,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.seed = int(seed)
        self.scale = float(scale)
        self._now = now or _utcnow
        self.marketplaces: list[Marketplace] = parse_marketplace_codes(
            [self._code_of(m) for m in marketplaces] if marketplaces is not None else None
        )
        self._by_code = {m.code: m for m in self.marketplaces}
        rng = rng_for(self.seed, "seller")
        self.seller_id: str = "A" + "".join(_ALNUM[i] for i in rng.integers(1, len(_ALNUM), size=13))
        self.store_name: str = "Chalkola"
        self.catalogue = Catalogue(self.seed, self.scale)
        self._listings: dict[str, Listing] = {
            m.code: build_listing(self.seed, self.catalogue, m) for m in self.marketplaces
        }
        self._profile_ids: dict[str, int] = {}
        for m in self.marketplaces:
            self._profile_ids[m.code] = int(
                rng_for(self.seed, "profile", m.code).integers(10**15, 4 * 10**15)
            )
        self._profile_codes = {pid: code for code, pid in self._profile_ids.items()}
        self._accounts: dict[str, AdsAccount] = {}
        self._accounts_lock = threading.Lock()
        self._mkt_number = {m.code: i for i, m in enumerate(all_marketplaces())}
        id_rng = rng_for(self.seed, "order-ids")
        self._id_a = int(id_rng.integers(10**12, 10**13)) * 10 + 3  # ends in 3: coprime with 10**14
        self._id_b = int(id_rng.integers(0, _ID_MOD))
        self._item_a = int(id_rng.integers(10**12, 10**13)) * 10 + 7
        self._item_b = int(id_rng.integers(0, _ID_MOD))
        self._id_a_inv = pow(self._id_a, -1, _ID_MOD)
        cache_size = max(32, int(400 / max(1.0, self.scale)))
        self._days = _Lru(cache_size)
        self._aggs = _Lru(cache_size * 4)
        self._ads_days = _Lru(max(16, int(64 / max(1.0, self.scale))))
        self.truth = GroundTruth(self)

    # ------------------------------------------------------------------------------------------------------
    # lookups
    # ------------------------------------------------------------------------------------------------------

    @staticmethod
    def _code_of(value: str) -> str:
        try:
            return get_marketplace(value).code
        except UnknownMarketplaceError:
            return get_marketplace_by_id(value).code

    def marketplace(self, code_or_id: str) -> Marketplace:
        """A configured marketplace by code (US, UK ...) or Amazon marketplace id; ValueError otherwise."""
        try:
            code = self._code_of(code_or_id)
        except UnknownMarketplaceError as exc:
            raise ValueError(str(exc)) from None
        mkt = self._by_code.get(code)
        if mkt is None:
            configured = ", ".join(self._by_code)
            raise ValueError(
                f"Marketplace {code_or_id!r} is not one of this seller's marketplaces ({configured})."
            )
        return mkt

    def now(self) -> dt.datetime:
        return self._now().astimezone(dt.UTC)

    def _now_ts(self) -> int:
        return int(self.now().timestamp())

    def _account(self, code: str) -> AdsAccount:
        account = self._accounts.get(code)
        if account is None:
            with self._accounts_lock:
                account = self._accounts.get(code)
                if account is None:
                    account = build_ads_account(
                        self.seed, self._listings[code], self.scale, self._profile_ids[code], self.seller_id
                    )
                    self._accounts[code] = account
        return account

    def _profile_id(self, code: str) -> int:
        return self._profile_ids[self.marketplace(code).code]

    # ------------------------------------------------------------------------------------------------------
    # generation with caches
    # ------------------------------------------------------------------------------------------------------

    def _sales_day(self, code: str, day: dt.date) -> SalesDay:
        key = (code, day)
        sd = self._days.get(key)
        if sd is None:
            sd = generate_sales_day(self.seed, self._listings[code], day)
            self._days.put(key, sd)
        return sd

    def _mcf_day(self, code: str, day: dt.date) -> McfDay:
        key = ("mcf", code, day)
        md = self._days.get(key)
        if md is None:
            states = len(SHIP_STATES.get(code, (("", 0.0),)))
            md = generate_mcf_day(self.seed, self._listings[code], self._sales_day(code, day), states)
            self._days.put(key, md)
        return md

    def _aggregate(self, code: str, day: dt.date, now_ts: int) -> AsinAggregate:
        key = (code, day)
        agg = self._aggs.get(key)
        if agg is not None:
            return agg
        agg = aggregate_asins(self._sales_day(code, day), len(self._listings[code].products), now_ts)
        if agg.complete:
            self._aggs.put(key, agg)
        return agg

    def _ads_day(self, code: str, day: dt.date, now_ts: int) -> AdsDay:
        key = (code, day)
        ad = self._ads_days.get(key)
        if ad is not None:
            return ad
        sd = self._sales_day(code, day)
        agg = self._aggregate(code, day, now_ts)
        fraction = (now_ts - sd.start_ts) / (sd.end_ts - sd.start_ts)
        ad = generate_ads_day(
            self.seed, self._account(code), self._listings[code], agg, day, min(1.0, fraction)
        )
        if agg.complete:
            self._ads_days.put(key, ad)
        return ad

    # ------------------------------------------------------------------------------------------------------
    # order ids
    # ------------------------------------------------------------------------------------------------------

    def _order_raw(self, code: str, day: dt.date, index: int) -> int:
        return (self._mkt_number[code] * 100_000 + (day - EPOCH_DAY).days) * 1_000_000 + index

    def _order_id(self, code: str, day: dt.date, index: int) -> str:
        raw = self._order_raw(code, day, index)
        s = (self._id_a * raw + self._id_b) % _ID_MOD
        prefixes = self._listings[code].eco.order_prefixes
        digits = f"{s:014d}"
        return f"{prefixes[index % len(prefixes)]}-{digits[:7]}-{digits[7:]}"

    def _mcf_order_id(self, code: str, day: dt.date, index: int) -> str:
        """MCF orders have Amazon ids of their own series (``S01-…``): never an Amazon marketplace's order."""
        raw = self._order_raw(code, day, index) + 7 * _ID_MOD // 11
        digits = f"{(self._id_a * raw + self._id_b) % _ID_MOD:014d}"
        return f"S01-{digits[:7]}-{digits[7:]}"

    def _order_item_id(self, code: str, day: dt.date, index: int, item_no: int) -> str:
        raw = self._order_raw(code, day, index) * 10 + item_no
        return f"{(self._item_a * raw + self._item_b) % _ID_MOD:014d}"

    def _decode_order_id(self, order_id: str) -> tuple[str, dt.date, int] | None:
        parts = order_id.strip().split("-")
        if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(parts[0]) != 3:
            return None
        if len(parts[1]) != 7 or len(parts[2]) != 7:
            return None
        s = int(parts[1] + parts[2])
        raw = ((s - self._id_b) * self._id_a_inv) % _ID_MOD
        index = raw % 1_000_000
        rest = raw // 1_000_000
        day_offset = rest % 100_000
        mkt_no = rest // 100_000
        markets = all_marketplaces()
        if mkt_no >= len(markets):
            return None
        code = markets[mkt_no].code
        if code not in self._by_code:
            return None
        try:
            day = EPOCH_DAY + dt.timedelta(days=day_offset)
        except OverflowError:
            return None
        if self._order_id(code, day, index) != order_id.strip():
            return None
        return code, day, index

    def _local_days(self, mkt: Marketplace, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
        first = mkt.local_date_of(start)
        last = mkt.local_date_of(end - dt.timedelta(microseconds=1))
        days = []
        d = first
        while d <= last:
            days.append(d)
            d += dt.timedelta(days=1)
        return days

    # ------------------------------------------------------------------------------------------------------
    # ground truth (used by GroundTruth)
    # ------------------------------------------------------------------------------------------------------

    def _truth_asin_days(self, code: str, day: dt.date) -> list[AsinDayTruth]:
        code = self.marketplace(code).code
        listing = self._listings[code]
        exp = listing.eco.exponent
        agg = self._aggregate(code, day, self._now_ts())
        out = []
        for i in np.flatnonzero((agg.sessions > 0) | (agg.units > 0)).tolist():
            p = listing.products[i]
            out.append(
                AsinDayTruth(
                    child_asin=p.child_asin,
                    parent_asin=p.parent_asin,
                    sku=p.sku,
                    units_ordered=int(agg.units[i]),
                    ordered_sales=dec(int(agg.sales[i]), exp),
                    sessions=int(agg.sessions[i]),
                    page_views=int(agg.page_views[i]),
                    total_order_items=int(agg.items[i]),
                )
            )
        out.sort(key=lambda r: r.child_asin)
        return out

    def _truth_ad_rows(self, code: str, day: dt.date) -> list[AdDayTruth]:
        code = self.marketplace(code).code
        account = self._account(code)
        listing = self._listings[code]
        exp = account.exponent
        ad = self._ads_day(code, day, self._now_ts())
        out = []
        for r in np.flatnonzero(ad.impressions > 0).tolist():
            c = int(account.ad_campaign[r])
            p = listing.products[int(account.ad_asin[r])]
            out.append(
                AdDayTruth(
                    campaign_id=account.campaign_ids[c],
                    campaign_name=account.campaign_names[c],
                    ad_group_id=account.ad_group_ids[int(account.ad_group[r])],
                    ad_id=int(account.ad_ids[r]),
                    advertised_asin=p.child_asin,
                    advertised_sku=p.sku,
                    impressions=int(ad.impressions[r]),
                    clicks=int(ad.clicks[r]),
                    spend=dec(int(ad.cost[r]), exp),
                    sales_7d=dec(int(ad.sales[7][r]), exp),
                    sales_14d=dec(int(ad.sales[14][r]), exp),
                    purchases_7d=int(ad.purchases[7][r]),
                    purchases_14d=int(ad.purchases[14][r]),
                    units_sold_clicks_7d=int(ad.units[7][r]),
                    units_sold_clicks_14d=int(ad.units[14][r]),
                )
            )
        out.sort(key=lambda t: t.ad_id)
        return out
