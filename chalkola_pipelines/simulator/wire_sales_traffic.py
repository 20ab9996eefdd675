"""GET_SALES_AND_TRAFFIC_REPORT JSON: byDate and byAsin entries from the seller's daily aggregates."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import numpy as np

from chalkola_pipelines.simulator.data_catalogue import Listing
from chalkola_pipelines.simulator.data_sales import AsinAggregate
from chalkola_pipelines.simulator.seller_core import SellerCore
from chalkola_pipelines.simulator.wire_values import as_date, dec

_DATE_GRANULARITIES = ("DAY", "WEEK", "MONTH")
_ASIN_GRANULARITIES = ("PARENT", "CHILD", "SKU")


def _amount(minor: int, exponent: int, currency: str) -> dict[str, Any]:
    """S&T Amount: a JSON number (int when whole, as Amazon writes it) and the currency code."""
    value = dec(minor, exponent)
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


def _by_channel(
    count: str, share: str, total: int, total_b2b: int, mobile: int, mobile_b2b: int, of: tuple[int, ...]
) -> dict[str, Any]:
    """One byAsin traffic measure (sessions or page views) by channel: browser, mobile app and all, each
    also B2B, then each one's share of the marketplace's ``of`` = (browser, browser B2B, mobile, mobile B2B,
    all, all B2B)."""
    every, every_share = count[0].lower() + count[1:], share[0].lower() + share[1:]
    return {
        f"browser{count}": total - mobile,
        f"browser{count}B2B": total_b2b - mobile_b2b,
        f"mobileApp{count}": mobile,
        f"mobileApp{count}B2B": mobile_b2b,
        every: total,
        f"{every}B2B": total_b2b,
        f"browser{share}": _pct(total - mobile, of[0]),
        f"browser{share}B2B": _pct(total_b2b - mobile_b2b, of[1]),
        f"mobileApp{share}": _pct(mobile, of[2]),
        f"mobileApp{share}B2B": _pct(mobile_b2b, of[3]),
        every_share: _pct(total, of[4]),
        f"{every_share}B2B": _pct(total_b2b, of[5]),
    }


class SalesAndTrafficReport(SellerCore):
    """The S&T report view of the seller."""

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
        start = as_date(start, "dataStartTime")
        end = as_date(end, "dataEndTime")
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
        session_totals = (
            int(browser.sum()),
            int(browser_b2b.sum()),
            int(sums["mobile_sessions"].sum()),
            int(sums["mobile_sessions_b2b"].sum()),
            int(sums["sessions"].sum()),
            int(sums["sessions_b2b"].sum()),
        )
        page_view_totals = (
            int(browser_pv.sum()),
            int(browser_pv_b2b.sum()),
            int(sums["mobile_page_views"].sum()),
            int(sums["mobile_page_views_b2b"].sum()),
            int(sums["page_views"].sum()),
            int(sums["page_views_b2b"].sum()),
        )
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
                **_by_channel(
                    "Sessions", "SessionPercentage", sessions, s_b2b, mobile, m_b2b, session_totals
                ),
                **_by_channel("PageViews", "PageViewsPercentage", pv, pv_b2b, mpv, mpv_b2b, page_view_totals),
                "buyBoxPercentage": _pct(float(bb[idx].sum()), pv),
                "buyBoxPercentageB2B": _pct(float(bb_b2b[idx].sum()), pv_b2b),
                "unitSessionPercentage": _pct(units, sessions),
                "unitSessionPercentageB2B": _pct(u2, s_b2b),
            }
            out.append(entry)
        return out
