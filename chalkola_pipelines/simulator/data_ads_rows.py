"""spAdvertisedProduct report rows from a day's ad metrics: column values as Amazon writes them.

Private helper of :mod:`chalkola_pipelines.simulator.seller`. Ids are ``int``; money and ratios ``Decimal``
(never float); undefined ratios (division by zero) ``None``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from chalkola_pipelines.simulator.data_ads import AdsAccount, AdsDay
from chalkola_pipelines.simulator.data_catalogue import Listing


def _dec(minor: int, exponent: int) -> Decimal:
    return Decimal(int(minor)).scaleb(-exponent) if exponent else Decimal(int(minor))


def add_ads_days(a: AdsDay | None, b: AdsDay) -> AdsDay:
    if a is None:
        return b
    return AdsDay(
        day=a.day,
        impressions=a.impressions + b.impressions,
        clicks=a.clicks + b.clicks,
        cpc=np.zeros_like(a.cpc),  # not additive: recomputed from cost / clicks
        cost=a.cost + b.cost,
        purchases={w: a.purchases[w] + b.purchases[w] for w in a.purchases},
        purchases_same={w: a.purchases_same[w] + b.purchases_same[w] for w in a.purchases_same},
        units={w: a.units[w] + b.units[w] for w in a.units},
        units_same={w: a.units_same[w] + b.units_same[w] for w in a.units_same},
        sales={w: a.sales[w] + b.sales[w] for w in a.sales},
        sales_same={w: a.sales_same[w] + b.sales_same[w] for w in a.sales_same},
        sales_other_7d=a.sales_other_7d + b.sales_other_7d,
        units_other_7d=a.units_other_7d + b.units_other_7d,
    )


class _DecimalCache:
    """int minor units → Decimal, memoised (ads reports repeat the same small amounts a lot)."""

    def __init__(self, exponent: int) -> None:
        self.exponent = exponent
        self._cache: dict[int, Decimal] = {}

    def __call__(self, values: np.ndarray) -> list[Decimal]:
        cache = self._cache
        exp = self.exponent
        out = []
        for v in values.tolist():
            d = cache.get(v)
            if d is None:
                d = Decimal(v).scaleb(-exp) if exp else Decimal(v)
                if len(cache) < 200_000:
                    cache[v] = d
            out.append(d)
        return out


def _ratio(num: np.ndarray, den: np.ndarray, places: int) -> list[Decimal | None]:
    """num/den rounded half-up to ``places`` decimals as Decimal; None where den is 0."""
    scale = 10**places
    n = num.astype(np.int64)
    d = den.astype(np.int64)
    safe = np.maximum(d, 1)
    q = (2 * n * scale + safe) // (2 * safe)  # round half up, integers only
    out: list[Decimal | None] = []
    for qv, dv in zip(q.tolist(), d.tolist(), strict=True):
        out.append(Decimal(qv).scaleb(-places) if dv else None)
    return out


class AdsColumns:
    """Column values (lists aligned with ``rows``) of one ads report day (or summary)."""

    def __init__(
        self,
        account: AdsAccount,
        listing: Listing,
        ad: AdsDay,
        rows: np.ndarray,
        date: str | None,
        start: str | None,
        end: str | None,
    ) -> None:
        self.a = account
        self.listing = listing
        self.ad = ad
        self.rows = rows
        self.date = date
        self.start = start
        self.end = end
        self.money = _MONEY_CACHES.setdefault(account.exponent, _DecimalCache(account.exponent))

    def _const(self, value: Any) -> list[Any]:
        return [value] * self.rows.shape[0]

    def column(self, name: str) -> list[Any]:
        a, ad, r = self.a, self.ad, self.rows
        exp = a.exponent
        if name == "date":
            return self._const(self.date)
        if name == "startDate":
            return self._const(self.start or self.date)
        if name == "endDate":
            return self._const(self.end or self.date)
        if name == "campaignName":
            return [a.campaign_names[c] for c in a.ad_campaign[r].tolist()]
        if name == "campaignId":
            return [a.campaign_ids[c] for c in a.ad_campaign[r].tolist()]
        if name == "adGroupName":
            return [a.ad_group_names[g] for g in a.ad_group[r].tolist()]
        if name == "adGroupId":
            return [a.ad_group_ids[g] for g in a.ad_group[r].tolist()]
        if name == "adId":
            return a.ad_ids[r].tolist()
        if name in (
            "addToList",
            "qualifiedBorrows",
            "royaltyQualifiedBorrows",
            "kindleEditionNormalizedPagesRead14d",
        ):
            return self._const(0)
        if name == "kindleEditionNormalizedPagesRoyalties14d":
            return self._const(_dec(0, exp))
        if name == "portfolioId":
            return [a.campaign_portfolio[c] for c in a.ad_campaign[r].tolist()]
        if name == "impressions":
            return ad.impressions[r].tolist()
        if name == "clicks":
            return ad.clicks[r].tolist()
        if name == "costPerClick":
            cost, clicks = ad.cost[r], ad.clicks[r]
            return _ratio(cost, clicks * 10**exp, exp)
        if name == "clickThroughRate":
            return _ratio(ad.clicks[r], ad.impressions[r], 4)
        if name in ("cost", "spend"):
            return self.money(ad.cost[r])
        if name == "campaignBudgetCurrencyCode":
            return self._const(a.currency)
        if name == "campaignBudgetAmount":
            return self.money(
                np.array([a.campaign_budget[c] for c in a.ad_campaign[r].tolist()], dtype=np.int64)
            )
        if name == "campaignBudgetType":
            return self._const("DAILY_BUDGET")
        if name == "campaignStatus":
            return self._const("ENABLED")
        if name == "advertisedAsin":
            return [self.listing.products[i].child_asin for i in a.ad_asin[r].tolist()]
        if name == "advertisedSku":
            return [self.listing.products[i].sku for i in a.ad_asin[r].tolist()]
        if name == "salesOtherSku7d":
            return self.money(ad.sales_other_7d[r])
        if name == "unitsSoldOtherSku7d":
            return ad.units_other_7d[r].tolist()
        if name.startswith(("acosClicks", "roasClicks")):
            w = 7 if name.endswith("7d") else 14
            if name.startswith("acos"):
                return _ratio(ad.cost[r], ad.sales[w][r], 4)
            return _ratio(ad.sales[w][r], ad.cost[r], 2)
        for prefix, table, is_money in (
            ("purchasesSameSku", ad.purchases_same, False),
            ("purchases", ad.purchases, False),
            ("unitsSoldClicks", ad.units, False),
            ("unitsSoldSameSku", ad.units_same, False),
            ("attributedSalesSameSku", ad.sales_same, True),
            ("sales", ad.sales, True),
        ):
            if name.startswith(prefix) and name.endswith("d"):
                window = name[len(prefix) : -1]
                if window.isdigit() and int(window) in table:
                    values = table[int(window)][r]
                    return self.money(values) if is_money else values.tolist()
        raise ValueError(f"spAdvertisedProduct column {name!r} is not produced by the simulator")


_MONEY_CACHES: dict[int, _DecimalCache] = {}
