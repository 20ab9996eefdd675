"""SyntheticSeller: a deterministic Amazon seller ("Chalkola", art supplies) for the local simulator.

Same seed → same data, whatever is asked first: every marketplace-day is generated from an RNG seeded by
(seed, marketplace, day) on demand and kept in an LRU cache. What is visible depends on the seller's clock
(``now``): orders placed later do not exist yet, statuses move Pending → Unshipped → Shipped (or Canceled
within 3 h), today's traffic is pro rata. Every source is built from the same arrays, so they agree the way
Amazon's do:

* order report / Orders API units per (local day, ASIN) = S&T byAsin unitsOrdered (CHILD, single day);
  cancelled items have quantity 0; pending MFN items have a blank price;
* S&T byAsin orderedProductSales = sum of item-price of the non-cancelled items; byDate totals are Amazon's
  own and differ from the byAsin sum by ≤ 0.5 % on some days; sessions and page views agree exactly;
* Sponsored Products: spend = clicks × cost per click; per ASIN and day the sum over ads of sales1d ≤ sales7d
  ≤ sales14d ≤ sales30d never exceeds the ASIN's ordered sales.

Numbers in returned documents: ``int`` for integers, ``Decimal`` for money (exact), ``float`` for
percentages and ratios in S&T. Serialise with :func:`chalkola_pipelines.simulator.documents.dumps_json` (or
``json.dumps(default=...)`` that writes Decimals as numbers): never through float for money.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_OFFICIAL_HEADER,
    SP_ADVERTISED_PRODUCT_COLUMNS,
)
from chalkola_pipelines.marketplaces import (
    Marketplace,
    UnknownMarketplaceError,
    all_marketplaces,
    get_marketplace,
    get_marketplace_by_id,
    parse_marketplace_codes,
)
from chalkola_pipelines.simulator.data_ads import AdsAccount, AdsDay, build_ads_account, generate_ads_day
from chalkola_pipelines.simulator.data_ads_rows import AdsColumns, add_ads_days
from chalkola_pipelines.simulator.data_catalogue import (
    Catalogue,
    Listing,
    build_listing,
    rng_for,
)
from chalkola_pipelines.simulator.data_sales import (
    CANCELED,
    EPOCH_DAY,
    PENDING,
    SHIP_STATES,
    SHIPPED,
    UNSHIPPED,
    AsinAggregate,
    SalesDay,
    aggregate_asins,
    generate_sales_day,
    order_status,
)
from chalkola_pipelines.simulator.ground_truth import AdDayTruth, AsinDayTruth, GroundTruth

__all__ = ["SyntheticSeller", "UnknownOrderError"]

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ID_MOD = 10**14
_ADS_COLUMN_NAMES = frozenset(c.name for c in SP_ADVERTISED_PRODUCT_COLUMNS)
_DATE_GRANULARITIES = ("DAY", "WEEK", "MONTH")
_ASIN_GRANULARITIES = ("PARENT", "CHILD", "SKU")
_STATUS_API = {PENDING: "Pending", UNSHIPPED: "Unshipped", SHIPPED: "Shipped", CANCELED: "Canceled"}
_STATUS_REPORT = {PENDING: "Pending", UNSHIPPED: "Shipping", SHIPPED: "Shipped", CANCELED: "Cancelled"}
_ITEM_STATUS_REPORT = {
    PENDING: "Unshipped",
    UNSHIPPED: "Unshipped",
    SHIPPED: "Shipped",
    CANCELED: "Cancelled",
}


class UnknownOrderError(LookupError):
    """An order id this seller never issued."""


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


def _as_utc(value: dt.datetime | str | None, name: str) -> dt.datetime | None:
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


def _as_date(value: dt.date | dt.datetime | str, name: str) -> dt.date:
    """A date from a date, a datetime (its date part, as Amazon ignores the time) or an ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an ISO-8601 date") from None


def _dec(minor: int, exponent: int) -> Decimal:
    return Decimal(int(minor)).scaleb(-exponent) if exponent else Decimal(int(minor))


def _money_str(minor: int, exponent: int) -> str:
    """Amazon's text form: "14.99", "-2.25", "1980" (JPY)."""
    v = int(minor)
    if exponent == 0:
        return str(v)
    sign = "-" if v < 0 else ""
    v = abs(v)
    return f"{sign}{v // 100}.{v % 100:02d}"


def _iso(ts: int, suffix: str) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + suffix


def _amount(minor: int, exponent: int, currency: str) -> dict[str, Any]:
    """S&T Amount: a JSON number (int when whole, as Amazon writes it) and the currency code."""
    value = _dec(minor, exponent)
    number: int | Decimal = int(value) if value == value.to_integral_value() else value.normalize()
    return {"amount": number, "currencyCode": currency}


def _num(x: float) -> int | float:
    """A 2-decimal JSON number, written as an integer when whole (like Amazon's documents)."""
    r = round(float(x), 2)
    return int(r) if r == int(r) else r


def _pct(part: float, whole: float) -> int | float:
    return _num(100.0 * part / whole) if whole else 0


def _avg_money(total_minor: int, count: int, exponent: int, currency: str) -> dict[str, Any]:
    if not count:
        return _amount(0, exponent, currency)
    return _amount(int(round(total_minor / count)), exponent, currency)


class SyntheticSeller:
    """The seller behind the simulator: catalogue, orders, sales & traffic, Sponsored Products.

    ``now`` is the clock the data is "as of" (default: real UTC now); the simulator passes its own clock so
    that ``SimulatedClock.advance`` also moves order statuses forward.
    """

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

    # ------------------------------------------------------------------------------------------------------
    # Sellers API
    # ------------------------------------------------------------------------------------------------------

    def marketplace_participations(self) -> list[dict]:
        """Sellers API ``MarketplaceParticipation`` objects, one per configured marketplace."""
        out = []
        for m in self.marketplaces:
            eco = self._listings[m.code].eco
            out.append(
                {
                    "marketplace": {
                        "id": m.marketplace_id,
                        "countryCode": m.country_code,
                        "name": m.sales_channel,
                        "defaultCurrencyCode": m.currency,
                        "defaultLanguageCode": eco.language,
                        "domainName": eco.domain,
                    },
                    "participation": {"isParticipating": True, "hasSuspendedListings": False},
                    "storeName": self.store_name,
                }
            )
        return out

    # ------------------------------------------------------------------------------------------------------
    # Sales and traffic report
    # ------------------------------------------------------------------------------------------------------

    def sales_and_traffic_document(
        self,
        marketplace_id: str,
        start: dt.date,
        end: dt.date,
        *,
        date_granularity: str = "DAY",
        asin_granularity: str = "PARENT",
    ) -> dict:
        """The GET_SALES_AND_TRAFFIC_REPORT document for local days ``start``..``end`` (inclusive).

        WEEK expands to Sunday–Saturday, MONTH to whole months (reportSpecification shows the expanded dates);
        byAsin is aggregated over the whole range. Money is ``Decimal``/``int``, percentages ``float``/``int``.
        """
        mkt = self.marketplace(marketplace_id)
        date_granularity = (date_granularity or "DAY").upper()
        asin_granularity = (asin_granularity or "PARENT").upper()
        if date_granularity not in _DATE_GRANULARITIES:
            raise ValueError(
                f"dateGranularity must be one of {_DATE_GRANULARITIES}, got {date_granularity!r}"
            )
        if asin_granularity not in _ASIN_GRANULARITIES:
            raise ValueError(
                f"asinGranularity must be one of {_ASIN_GRANULARITIES}, got {asin_granularity!r}"
            )
        start = _as_date(start, "dataStartTime")
        end = _as_date(end, "dataEndTime")
        if end < start:
            raise ValueError(f"dataEndTime {end} is before dataStartTime {start}")
        first, last = start, end
        if date_granularity == "WEEK":
            first = start - dt.timedelta(days=(start.weekday() + 1) % 7)
            last = end + dt.timedelta(days=(5 - end.weekday()) % 7)
        elif date_granularity == "MONTH":
            first = start.replace(day=1)
            nxt = (end.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            last = nxt - dt.timedelta(days=1)

        code = mkt.code
        listing = self._listings[code]
        exp = listing.eco.exponent
        cur = mkt.currency
        now_ts = self._now_ts()
        n = len(listing.products)
        fields = (
            "units", "units_b2b", "sales", "sales_b2b", "items", "items_b2b", "sessions", "mobile_sessions",
            "sessions_b2b", "mobile_sessions_b2b", "page_views", "mobile_page_views", "page_views_b2b",
            "mobile_page_views_b2b",
        )  # fmt: skip
        sums = {f: np.zeros(n, dtype=np.int64) for f in fields}
        bb = np.zeros(n, dtype=np.float64)
        bb_b2b = np.zeros(n, dtype=np.float64)
        periods: OrderedDict[dt.date, list[dict[str, Any]]] = OrderedDict()
        day = first
        while day <= last:
            agg = self._aggregate(code, day, now_ts)
            for f in fields:
                sums[f] += getattr(agg, f)
            bb += agg.buy_box_views
            bb_b2b += agg.buy_box_views_b2b
            if date_granularity == "DAY":
                period = day
            elif date_granularity == "WEEK":
                period = day - dt.timedelta(days=(day.weekday() + 1) % 7)
            else:
                period = day.replace(day=1)
            periods.setdefault(period, []).append(self._date_totals(code, day, agg))
            day += dt.timedelta(days=1)

        by_date = [self._by_date_entry(period, totals, exp, cur) for period, totals in periods.items()]
        by_asin = self._by_asin_entries(listing, sums, bb, bb_b2b, asin_granularity, exp, cur)
        return {
            "reportSpecification": {
                "reportType": "GET_SALES_AND_TRAFFIC_REPORT",
                "reportOptions": {"dateGranularity": date_granularity, "asinGranularity": asin_granularity},
                "dataStartTime": first.isoformat(),
                "dataEndTime": last.isoformat(),
                "marketplaceIds": [mkt.marketplace_id],
            },
            "salesAndTrafficByDate": by_date,
            "salesAndTrafficByAsin": by_asin,
        }

    def _date_totals(self, code: str, day: dt.date, agg: AsinAggregate) -> dict[str, Any]:
        """Amazon's own totals for one day (byDate): equal to the byAsin sums for traffic, and for sales
        except on ~30 % of days where they are 0.05–0.4 % lower (as in real reports)."""
        sd = self._sales_day(code, day)
        listing = self._listings[code]
        x = sd.extras
        units = int(agg.units.sum())
        items = int(agg.items.sum())
        sales = int(agg.sales.sum())
        if x[0] < 0.3 and units >= 50:
            delta = 0.0005 + 0.0035 * float(x[1])
            units -= int(round(units * delta))
            items -= int(round(items * delta))
            sales -= int(round(sales * delta))
        refunded = int(units * (0.01 + 0.02 * float(x[2])))
        claims = 1 if (x[3] < 0.02 and units > 0) else 0
        avg_price = sales // units if units else 0
        orders = agg.orders
        feedback = int(orders * (0.005 + 0.01 * float(x[5])))
        negative = int(feedback * 0.1 * float(x[6]) + (1 if x[7] < 0.03 and feedback else 0))
        negative = min(negative, feedback)
        ship_f = 0.9 + 0.2 * float(x[8])
        listed = int((agg.sessions > 0).sum())
        return {
            "units": units,
            "units_b2b": int(agg.units_b2b.sum()),
            "sales": sales,
            "sales_b2b": int(agg.sales_b2b.sum()),
            "items": items,
            "items_b2b": int(agg.items_b2b.sum()),
            "refunded": refunded,
            "claims": claims,
            "claims_amount": claims * avg_price,
            "shipped_sales": int(sales * ship_f),
            "units_shipped": int(units * ship_f),
            "orders_shipped": int(orders * ship_f),
            "sessions": int(agg.sessions.sum()),
            "mobile_sessions": int(agg.mobile_sessions.sum()),
            "sessions_b2b": int(agg.sessions_b2b.sum()),
            "mobile_sessions_b2b": int(agg.mobile_sessions_b2b.sum()),
            "page_views": int(agg.page_views.sum()),
            "mobile_page_views": int(agg.mobile_page_views.sum()),
            "page_views_b2b": int(agg.page_views_b2b.sum()),
            "mobile_page_views_b2b": int(agg.mobile_page_views_b2b.sum()),
            "bb_views": float(agg.buy_box_views.sum()),
            "bb_views_b2b": float(agg.buy_box_views_b2b.sum()),
            "offers": listed,
            "parents": len({listing.products[i].parent_index for i in np.flatnonzero(agg.sessions > 0)}),
            "feedback": feedback,
            "negative": negative,
        }

    @staticmethod
    def _by_date_entry(period: dt.date, days: list[dict[str, Any]], exp: int, cur: str) -> dict[str, Any]:
        t: dict[str, Any] = {k: sum(d[k] for d in days) for k in days[0] if k not in ("offers", "parents")}
        offers = int(round(sum(d["offers"] for d in days) / len(days)))
        parents = int(round(sum(d["parents"] for d in days) / len(days)))
        units, items, sales = t["units"], t["items"], t["sales"]
        u2, i2, s2 = t["units_b2b"], t["items_b2b"], t["sales_b2b"]
        sessions, s_b2b = t["sessions"], t["sessions_b2b"]
        pv, pv_b2b = t["page_views"], t["page_views_b2b"]
        return {
            "date": period.isoformat(),
            "salesByDate": {
                "orderedProductSales": _amount(sales, exp, cur),
                "orderedProductSalesB2B": _amount(s2, exp, cur),
                "unitsOrdered": units,
                "unitsOrderedB2B": u2,
                "totalOrderItems": items,
                "totalOrderItemsB2B": i2,
                "averageSalesPerOrderItem": _avg_money(sales, items, exp, cur),
                "averageSalesPerOrderItemB2B": _avg_money(s2, i2, exp, cur),
                "averageUnitsPerOrderItem": _num(units / items) if items else 0,
                "averageUnitsPerOrderItemB2B": _num(u2 / i2) if i2 else 0,
                "averageSellingPrice": _avg_money(sales, units, exp, cur),
                "averageSellingPriceB2B": _avg_money(s2, u2, exp, cur),
                "unitsRefunded": t["refunded"],
                "refundRate": _pct(min(t["refunded"], units), units),
                "claimsGranted": t["claims"],
                "claimsAmount": _amount(t["claims_amount"], exp, cur),
                "shippedProductSales": _amount(t["shipped_sales"], exp, cur),
                "unitsShipped": t["units_shipped"],
                "ordersShipped": t["orders_shipped"],
            },
            "trafficByDate": {
                "browserPageViews": pv - t["mobile_page_views"],
                "browserPageViewsB2B": pv_b2b - t["mobile_page_views_b2b"],
                "mobileAppPageViews": t["mobile_page_views"],
                "mobileAppPageViewsB2B": t["mobile_page_views_b2b"],
                "pageViews": pv,
                "pageViewsB2B": pv_b2b,
                "browserSessions": sessions - t["mobile_sessions"],
                "browserSessionsB2B": s_b2b - t["mobile_sessions_b2b"],
                "mobileAppSessions": t["mobile_sessions"],
                "mobileAppSessionsB2B": t["mobile_sessions_b2b"],
                "sessions": sessions,
                "sessionsB2B": s_b2b,
                "buyBoxPercentage": _pct(t["bb_views"], pv),
                "buyBoxPercentageB2B": _pct(t["bb_views_b2b"], pv_b2b),
                "orderItemSessionPercentage": _pct(min(items, sessions), sessions),
                "orderItemSessionPercentageB2B": _pct(min(i2, s_b2b), s_b2b),
                "unitSessionPercentage": _pct(units, sessions),
                "unitSessionPercentageB2B": _pct(u2, s_b2b),
                "averageOfferCount": offers,
                "averageParentItems": parents,
                "feedbackReceived": t["feedback"],
                "negativeFeedbackReceived": t["negative"],
                "receivedNegativeFeedbackRate": _pct(t["negative"], t["feedback"]),
            },
        }

    @staticmethod
    def _by_asin_entries(
        listing: Listing,
        sums: dict[str, np.ndarray],
        bb: np.ndarray,
        bb_b2b: np.ndarray,
        granularity: str,
        exp: int,
        cur: str,
    ) -> list[dict[str, Any]]:
        products = listing.products
        active = np.flatnonzero((sums["sessions"] > 0) | (sums["units"] > 0))
        if granularity == "PARENT":
            groups: dict[str, list[int]] = {}
            for i in active:
                groups.setdefault(products[i].parent_asin, []).append(int(i))
            keyed = sorted(groups.items())
        else:
            keyed = sorted(((products[i].child_asin, [int(i)]) for i in active), key=lambda kv: kv[0])
        browser = sums["sessions"] - sums["mobile_sessions"]
        browser_b2b = sums["sessions_b2b"] - sums["mobile_sessions_b2b"]
        browser_pv = sums["page_views"] - sums["mobile_page_views"]
        browser_pv_b2b = sums["page_views_b2b"] - sums["mobile_page_views_b2b"]
        tot = {
            "sessions": int(sums["sessions"].sum()),
            "sessions_b2b": int(sums["sessions_b2b"].sum()),
            "mobile": int(sums["mobile_sessions"].sum()),
            "mobile_b2b": int(sums["mobile_sessions_b2b"].sum()),
            "browser": int(browser.sum()),
            "browser_b2b": int(browser_b2b.sum()),
            "pv": int(sums["page_views"].sum()),
            "pv_b2b": int(sums["page_views_b2b"].sum()),
            "mpv": int(sums["mobile_page_views"].sum()),
            "mpv_b2b": int(sums["mobile_page_views_b2b"].sum()),
            "bpv": int(browser_pv.sum()),
            "bpv_b2b": int(browser_pv_b2b.sum()),
        }
        out: list[dict[str, Any]] = []
        for _, idx in keyed:

            def s(arr: np.ndarray, idx: list[int] = idx) -> int:
                return int(arr[idx].sum())

            sessions, s_b2b = s(sums["sessions"]), s(sums["sessions_b2b"])
            mobile, m_b2b = s(sums["mobile_sessions"]), s(sums["mobile_sessions_b2b"])
            pv, pv_b2b = s(sums["page_views"]), s(sums["page_views_b2b"])
            mpv, mpv_b2b = s(sums["mobile_page_views"]), s(sums["mobile_page_views_b2b"])
            units, u2 = s(sums["units"]), s(sums["units_b2b"])
            first = products[idx[0]]
            entry: dict[str, Any] = {"parentAsin": first.parent_asin}
            if granularity in ("CHILD", "SKU"):
                entry["childAsin"] = first.child_asin
            if granularity == "SKU":
                entry["sku"] = first.sku
            entry["salesByAsin"] = {
                "unitsOrdered": units,
                "unitsOrderedB2B": u2,
                "orderedProductSales": _amount(s(sums["sales"]), exp, cur),
                "orderedProductSalesB2B": _amount(s(sums["sales_b2b"]), exp, cur),
                "totalOrderItems": s(sums["items"]),
                "totalOrderItemsB2B": s(sums["items_b2b"]),
            }
            entry["trafficByAsin"] = {
                "browserSessions": sessions - mobile,
                "browserSessionsB2B": s_b2b - m_b2b,
                "mobileAppSessions": mobile,
                "mobileAppSessionsB2B": m_b2b,
                "sessions": sessions,
                "sessionsB2B": s_b2b,
                "browserSessionPercentage": _pct(sessions - mobile, tot["browser"]),
                "browserSessionPercentageB2B": _pct(s_b2b - m_b2b, tot["browser_b2b"]),
                "mobileAppSessionPercentage": _pct(mobile, tot["mobile"]),
                "mobileAppSessionPercentageB2B": _pct(m_b2b, tot["mobile_b2b"]),
                "sessionPercentage": _pct(sessions, tot["sessions"]),
                "sessionPercentageB2B": _pct(s_b2b, tot["sessions_b2b"]),
                "browserPageViews": pv - mpv,
                "browserPageViewsB2B": pv_b2b - mpv_b2b,
                "mobileAppPageViews": mpv,
                "mobileAppPageViewsB2B": mpv_b2b,
                "pageViews": pv,
                "pageViewsB2B": pv_b2b,
                "browserPageViewsPercentage": _pct(pv - mpv, tot["bpv"]),
                "browserPageViewsPercentageB2B": _pct(pv_b2b - mpv_b2b, tot["bpv_b2b"]),
                "mobileAppPageViewsPercentage": _pct(mpv, tot["mpv"]),
                "mobileAppPageViewsPercentageB2B": _pct(mpv_b2b, tot["mpv_b2b"]),
                "pageViewsPercentage": _pct(pv, tot["pv"]),
                "pageViewsPercentageB2B": _pct(pv_b2b, tot["pv_b2b"]),
                "buyBoxPercentage": _pct(float(bb[idx].sum()), pv),
                "buyBoxPercentageB2B": _pct(float(bb_b2b[idx].sum()), pv_b2b),
                "unitSessionPercentage": _pct(units, sessions),
                "unitSessionPercentageB2B": _pct(u2, s_b2b),
            }
            out.append(entry)
        return out

    # ------------------------------------------------------------------------------------------------------
    # Orders: flat-file report and Orders API
    # ------------------------------------------------------------------------------------------------------

    def _local_days(self, mkt: Marketplace, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
        first = mkt.local_date_of(start)
        last = mkt.local_date_of(end - dt.timedelta(microseconds=1))
        days = []
        d = first
        while d <= last:
            days.append(d)
            d += dt.timedelta(days=1)
        return days

    def order_report_rows(
        self, marketplace_id: str, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, str]]:
        """GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL rows (one per order item) for orders whose
        purchase-date is in [start, end) and not after now; keys = ORDER_REPORT_OFFICIAL_HEADER, values str."""
        mkt = self.marketplace(marketplace_id)
        start_utc = _as_utc(start, "start")
        end_utc = _as_utc(end, "end")
        assert start_utc is not None and end_utc is not None
        now_ts = self._now_ts()
        lo = int(np.ceil(start_utc.timestamp()))
        hi = min(int(np.ceil(end_utc.timestamp())), now_ts + 1)
        rows: list[dict[str, str]] = []
        if hi <= lo:
            return rows
        for day in self._local_days(mkt, start_utc, end_utc):
            sd = self._sales_day(mkt.code, day)
            sel = np.flatnonzero((sd.order_ts >= lo) & (sd.order_ts < hi))
            if sel.shape[0]:
                rows.extend(self._report_rows(mkt, sd, sel, now_ts))
        return rows

    def _report_rows(
        self, mkt: Marketplace, sd: SalesDay, orders: np.ndarray, now_ts: int
    ) -> list[dict[str, str]]:
        listing = self._listings[mkt.code]
        exp = listing.eco.exponent
        _, status, last_ts = order_status(sd, now_ts)
        states = SHIP_STATES.get(mkt.code, (("", 0.0),))
        country = mkt.country_code
        prods = listing.products
        starts = sd.order_item_start
        n_items = sd.item_order.shape[0]
        out: list[dict[str, str]] = []
        blank = ""
        for o in orders.tolist():
            st = int(status[o])
            afn = bool(sd.order_afn[o])
            b2b = bool(sd.order_b2b[o])
            cancelled = st == CANCELED
            hide_price = cancelled or (st == PENDING and not afn)
            order_id = self._order_id(mkt.code, sd.day, o)
            purchase = _iso(sd.order_ts[o], "+00:00")
            updated = _iso(last_ts[o], "+00:00")
            i_end = starts[o + 1] if o + 1 < starts.shape[0] else n_items
            synth = int(sd.order_synth[o])
            for i in range(int(starts[o]), int(i_end)):
                p = prods[int(sd.item_asin[i])]
                promo = int(sd.item_promo[i])

                def money(v: int, hide: bool = hide_price) -> str:
                    return blank if hide else _money_str(v, exp)

                out.append(
                    {
                        "amazon-order-id": order_id,
                        "merchant-order-id": blank,
                        "purchase-date": purchase,
                        "last-updated-date": updated,
                        "order-status": _STATUS_REPORT[st],
                        "fulfillment-channel": "Amazon" if afn else "Merchant",
                        "sales-channel": mkt.sales_channel,
                        "order-channel": blank,
                        "ship-service-level": "Expedited" if sd.order_prime[o] else "Standard",
                        "product-name": p.title,
                        "sku": p.sku,
                        "asin": p.child_asin,
                        "item-status": _ITEM_STATUS_REPORT[st],
                        "quantity": "0" if cancelled else str(int(sd.item_qty[i])),
                        "currency": blank if cancelled else mkt.currency,
                        "item-price": money(int(sd.item_price[i])),
                        "item-tax": money(int(sd.item_tax[i])),
                        "shipping-price": money(int(sd.ship_price[i])),
                        "shipping-tax": money(int(sd.ship_tax[i])),
                        "gift-wrap-price": blank,
                        "gift-wrap-tax": blank,
                        "item-promotion-discount": money(-promo) if promo else money(0),
                        "ship-promotion-discount": money(0),
                        "ship-city": f"SIMTOWN {synth % 997:03d}",
                        "ship-state": states[int(sd.order_state[o])][0],
                        "ship-postal-code": f"SIM-{synth:04d}",
                        "ship-country": country,
                        "promotion-ids": f"Chalkola Coupon {p.line.code}" if promo else blank,
                        "cpf": blank,
                        "is-business-order": "true" if b2b else "false",
                        "purchase-order-number": f"PO-{synth:05d}" if b2b else blank,
                        "price-designation": "BusinessPrice" if b2b else blank,
                    }
                )
        assert all(len(r) == len(ORDER_REPORT_OFFICIAL_HEADER) for r in out[:1])
        return out

    def orders(
        self,
        marketplace_ids: Sequence[str],
        *,
        created_after: dt.datetime | str | None = None,
        created_before: dt.datetime | str | None = None,
        last_updated_after: dt.datetime | str | None = None,
        last_updated_before: dt.datetime | str | None = None,
    ) -> list[dict]:
        """Orders API v0 ``Order`` objects (no buyer PII), sorted by PurchaseDate (created window) or by
        LastUpdateDate (last-updated window). Windows are [after, before); ``before`` defaults to now."""
        c_after = _as_utc(created_after, "CreatedAfter")
        c_before = _as_utc(created_before, "CreatedBefore")
        u_after = _as_utc(last_updated_after, "LastUpdatedAfter")
        u_before = _as_utc(last_updated_before, "LastUpdatedBefore")
        if c_after is None and u_after is None:
            raise ValueError("Either CreatedAfter or LastUpdatedAfter is required.")
        if c_after is not None and (u_after is not None or u_before is not None):
            raise ValueError("LastUpdatedAfter and LastUpdatedBefore cannot be set when CreatedAfter is set.")
        now = self.now()
        now_ts = int(now.timestamp())
        found: list[tuple[int, str, dict]] = []
        for mid in marketplace_ids:
            mkt = self.marketplace(mid)
            if c_after is not None:
                hi_dt = min(c_before or now, now + dt.timedelta(seconds=1))
                if hi_dt <= c_after:
                    continue
                days = self._local_days(mkt, c_after, hi_dt)
            else:
                assert u_after is not None
                hi_dt = min(u_before or now, now + dt.timedelta(seconds=1))
                if hi_dt <= u_after:
                    continue
                days = self._local_days(mkt, u_after - dt.timedelta(days=8), hi_dt)
            for day in days:
                sd = self._sales_day(mkt.code, day)
                visible, status, last_ts = order_status(sd, now_ts)
                if c_after is not None:
                    mask = visible & (sd.order_ts >= c_after.timestamp()) & (sd.order_ts < hi_dt.timestamp())
                else:
                    mask = visible & (last_ts >= u_after.timestamp()) & (last_ts < hi_dt.timestamp())
                for o in np.flatnonzero(mask).tolist():
                    obj = self._order_object(mkt, sd, o, int(status[o]), int(last_ts[o]))
                    sort_ts = int(sd.order_ts[o]) if c_after is not None else int(last_ts[o])
                    found.append((sort_ts, obj["AmazonOrderId"], obj))
        found.sort(key=lambda t: (t[0], t[1]))
        return [obj for _, _, obj in found]

    def _order_object(self, mkt: Marketplace, sd: SalesDay, o: int, st: int, last_ts: int) -> dict[str, Any]:
        listing = self._listings[mkt.code]
        exp = listing.eco.exponent
        start, end = self._item_range(sd, o)
        qty = int(sd.item_qty[start:end].sum())
        total = int(
            sd.item_price[start:end].sum() + sd.ship_price[start:end].sum() - sd.item_promo[start:end].sum()
        )
        if not listing.eco.tax_inclusive:  # US/CA sales tax comes on top; VAT/GST is inside the price
            total += int(sd.item_tax[start:end].sum() + sd.ship_tax[start:end].sum())
        afn = bool(sd.order_afn[o])
        prime = bool(sd.order_prime[o])
        purchase = int(sd.order_ts[o])
        ship_by = purchase + (24 if afn else 48) * 3_600
        obj: dict[str, Any] = {
            "AmazonOrderId": self._order_id(mkt.code, sd.day, o),
            "PurchaseDate": _iso(purchase, "Z"),
            "LastUpdateDate": _iso(last_ts, "Z"),
            "OrderStatus": _STATUS_API[st],
            "FulfillmentChannel": "AFN" if afn else "MFN",
            "SalesChannel": mkt.sales_channel,
            "ShipServiceLevel": "Expedited" if prime else "Standard",
            "NumberOfItemsShipped": qty if st == SHIPPED else 0,
            "NumberOfItemsUnshipped": qty if st in (PENDING, UNSHIPPED) else 0,
            "PaymentMethod": "Other",
            "PaymentMethodDetails": ["Standard"],
            "MarketplaceId": mkt.marketplace_id,
            "ShipmentServiceLevelCategory": "Expedited" if prime else "Standard",
            "OrderType": "StandardOrder",
            "EarliestShipDate": _iso(purchase, "Z"),
            "LatestShipDate": _iso(ship_by, "Z"),
            "IsBusinessOrder": bool(sd.order_b2b[o]),
            "IsPrime": prime,
            "IsPremiumOrder": False,
            "IsGlobalExpressEnabled": False,
            "IsReplacementOrder": False,
            "IsSoldByAB": False,
            "IsISPU": False,
            "IsAccessPointOrder": False,
            "HasRegulatedItems": False,
            "BuyerInfo": {},
            "AutomatedShippingSettings": {"HasAutomatedShippingSettings": False},
        }
        if st != PENDING:
            obj["OrderTotal"] = {"CurrencyCode": mkt.currency, "Amount": _money_str(total, exp)}
        if st == PENDING:
            obj["PaymentMethodDetails"] = []
            del obj["PaymentMethod"]
        if bool(sd.order_b2b[o]):
            obj["BuyerInvoicePreference"] = "BUSINESS"
        return obj

    @staticmethod
    def _item_range(sd: SalesDay, o: int) -> tuple[int, int]:
        start = int(sd.order_item_start[o])
        end = int(sd.order_item_start[o + 1]) if o + 1 < sd.n_orders else int(sd.item_order.shape[0])
        return start, end

    def order_items(self, order_id: str) -> list[dict] | None:
        """Orders API ``OrderItem`` objects of an order; ``None`` if this seller has no such order (yet)."""
        decoded = self._decode_order_id(order_id)
        if decoded is None:
            return None
        code, day, o = decoded
        sd = self._sales_day(code, day)
        now_ts = self._now_ts()
        if o >= sd.n_orders or int(sd.order_ts[o]) > now_ts:
            return None
        mkt = self._by_code[code]
        listing = self._listings[code]
        exp = listing.eco.exponent
        _, status, _ = order_status(sd, now_ts)
        st = int(status[o])
        cur = mkt.currency
        start, end = self._item_range(sd, o)
        items: list[dict[str, Any]] = []

        def money(v: int) -> dict[str, str]:
            return {"CurrencyCode": cur, "Amount": _money_str(v, exp)}

        for i in range(start, end):
            p = listing.products[int(sd.item_asin[i])]
            qty = int(sd.item_qty[i])
            item: dict[str, Any] = {
                "ASIN": p.child_asin,
                "SellerSKU": p.sku,
                "OrderItemId": self._order_item_id(code, day, o, int(sd.item_no[i])),
                "Title": p.title,
                "QuantityOrdered": 0 if st == CANCELED else qty,
                "QuantityShipped": qty if st == SHIPPED else 0,
                "ProductInfo": {"NumberOfItems": "1"},
                "IsGift": "false",
                "ConditionId": "New",
                "ConditionSubtypeId": "New",
                "IsTransparency": False,
                "SerialNumberRequired": False,
                "BuyerRequestedCancel": {"IsBuyerRequestedCancel": "false", "BuyerCancelReason": ""},
            }
            if st != PENDING:
                promo = int(sd.item_promo[i])
                item.update(
                    {
                        "ItemPrice": money(int(sd.item_price[i])),
                        "ItemTax": money(int(sd.item_tax[i])),
                        "ShippingPrice": money(int(sd.ship_price[i])),
                        "ShippingTax": money(int(sd.ship_tax[i])),
                        "ShippingDiscount": money(0),
                        "ShippingDiscountTax": money(0),
                        "PromotionDiscount": money(promo),
                        "PromotionDiscountTax": money(0),
                    }
                )
                if promo:
                    item["PromotionIds"] = [f"Chalkola Coupon {p.line.code}"]
            if mkt.code == "US":
                item["TaxCollection"] = {
                    "Model": "MarketplaceFacilitator",
                    "ResponsibleParty": "Amazon Services, Inc.",
                }
            if bool(sd.order_b2b[o]):
                item["PriceDesignation"] = "BusinessPrice"
            items.append(item)
        return items

    # ------------------------------------------------------------------------------------------------------
    # Amazon Ads
    # ------------------------------------------------------------------------------------------------------

    def ads_profiles(self, region: str) -> list[dict]:
        """Ads API v2 ``Profile`` objects of a region (na, eu, fe): one seller profile per marketplace."""
        region = region.strip().lower()
        out = []
        for m in self.marketplaces:
            if m.region != region:
                continue
            out.append(
                {
                    "profileId": self._profile_ids[m.code],
                    "countryCode": m.code if m.code == "UK" else m.country_code,
                    "currencyCode": m.currency,
                    "dailyBudget": 999999999.0,
                    "timezone": m.timezone,
                    "accountInfo": {
                        "marketplaceStringId": m.marketplace_id,
                        "id": self.seller_id,
                        "type": "seller",
                        "name": self.store_name,
                        "validPaymentMethod": True,
                    },
                }
            )
        return out

    def profile_region(self, profile_id: int) -> str | None:
        """The region (na, eu, fe) of one of this seller's profiles, or None."""
        code = self._profile_codes.get(int(profile_id))
        return self._by_code[code].region if code else None

    def sp_advertised_product_rows(
        self,
        profile_id: int,
        start: dt.date,
        end: dt.date,
        columns: Sequence[str],
        *,
        time_unit: str = "DAILY",
    ) -> Iterator[dict]:
        """spAdvertisedProduct rows (groupBy advertiser) for local days start..end, streamed.

        DAILY: one dict per ad per day with impressions; SUMMARY: one per ad over the range (startDate/endDate).
        Keys are exactly ``columns``; ids are ``int`` (some above 2**53), money and ratios ``Decimal``
        (write them as JSON numbers without going through float), undefined ratios ``None``.
        """
        code = self._profile_codes.get(int(profile_id))
        if code is None:
            raise ValueError(f"Unknown Ads profile id {profile_id}: not one of this seller's profiles.")
        unknown = [c for c in columns if c not in _ADS_COLUMN_NAMES]
        if unknown:
            raise ValueError(f"Unknown spAdvertisedProduct columns: {', '.join(unknown)}")
        start = _as_date(start, "startDate")
        end = _as_date(end, "endDate")
        time_unit = time_unit.upper()
        if time_unit not in ("DAILY", "SUMMARY"):
            raise ValueError(f"timeUnit must be DAILY or SUMMARY, got {time_unit!r}")
        if end < start:
            raise ValueError(f"endDate {end} is before startDate {start}")
        return self._ads_rows(code, start, end, list(columns), time_unit)

    def _ads_rows(
        self, code: str, start: dt.date, end: dt.date, columns: list[str], time_unit: str
    ) -> Iterator[dict]:
        account = self._account(code)
        listing = self._listings[code]
        now_ts = self._now_ts()
        if time_unit == "DAILY":
            day = start
            while day <= end:
                ad = self._ads_day(code, day, now_ts)
                rows = np.flatnonzero(ad.impressions > 0)
                if rows.shape[0]:
                    values = AdsColumns(account, listing, ad, rows, day.isoformat(), None, None)
                    lists = [values.column(c) for c in columns]
                    for vals in zip(*lists, strict=True):
                        yield dict(zip(columns, vals, strict=True))
                day += dt.timedelta(days=1)
            return
        total: AdsDay | None = None
        day = start
        while day <= end:
            total = add_ads_days(total, self._ads_day(code, day, now_ts))
            day += dt.timedelta(days=1)
        assert total is not None
        rows = np.flatnonzero(total.impressions > 0)
        if rows.shape[0]:
            values = AdsColumns(account, listing, total, rows, None, start.isoformat(), end.isoformat())
            lists = [values.column(c) for c in columns]
            for vals in zip(*lists, strict=True):
                yield dict(zip(columns, vals, strict=True))

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
                    ordered_sales=_dec(int(agg.sales[i]), exp),
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
                    spend=_dec(int(ad.cost[r]), exp),
                    sales_7d=_dec(int(ad.sales[7][r]), exp),
                    sales_14d=_dec(int(ad.sales[14][r]), exp),
                    purchases_7d=int(ad.purchases[7][r]),
                    purchases_14d=int(ad.purchases[14][r]),
                    units_sold_clicks_7d=int(ad.units[7][r]),
                    units_sold_clicks_14d=int(ad.units[14][r]),
                )
            )
        out.sort(key=lambda t: t.ad_id)
        return out
