"""Sponsored Products for the synthetic seller: campaigns, ad groups, ads, and their daily metrics.

Private helper of :mod:`chalkola_pipelines.simulator.seller`. The structure of a marketplace's account is
fixed by (seed, marketplace); the metrics of a day come from an RNG seeded by (seed, marketplace, day), and
attribution is capped by that day's ordered sales per ASIN (sum over ads of sales14d ≤ ordered sales).
Money is int64 minor units of the marketplace currency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from chalkola_pipelines.simulator.data_calendar import launch_factor, line_season_factors, season_factor
from chalkola_pipelines.simulator.data_catalogue import PRODUCT_LINES, Listing, rng_for
from chalkola_pipelines.simulator.data_sales import AsinAggregate

#: Seller-wide Sponsored Products spend target at scale 1 and season 1.0, in USD per day.
_SPEND_USD_PER_DAY = 2_500.0
_TOTAL_DEMAND = 1.985  # sum of the default eleven marketplaces' demand shares
_TARGETING = (("Auto", 1.0), ("Exact", 0.8), ("Broad", 0.9), ("Phrase", 0.7), ("Product Targeting", 0.5))


def _ids(rng: np.random.Generator, count: int, used: set[int]) -> list[int]:
    """Large positive ids like Amazon's: half 15-digit, half 18-digit (above 2**53)."""
    out: list[int] = []
    while len(out) < count:
        if rng.random() < 0.5:
            value = int(rng.integers(100_000_000_000_000, 300_000_000_000_000))
        else:
            value = int(rng.integers(140_000_000_000_000_000, 290_000_000_000_000_000))
        if value not in used:
            used.add(value)
            out.append(value)
    return out


@dataclass(frozen=True)
class AdsAccount:
    """One marketplace's Sponsored Products account (one Ads profile)."""

    code: str
    profile_id: int
    entity_id: str
    exponent: int
    currency: str
    campaign_ids: list[int]
    campaign_names: list[str]
    campaign_budget: list[int]  # daily budget, minor units
    campaign_portfolio: list[int | None]
    ad_group_ids: list[int]
    ad_group_names: list[str]
    ad_ids: np.ndarray  # int64
    ad_campaign: np.ndarray  # index into campaign_*
    ad_group: np.ndarray  # index into ad_group_*
    ad_asin: np.ndarray  # index into Listing.products
    ad_line: np.ndarray  # index into PRODUCT_LINES
    ad_weight: np.ndarray  # relative expected clicks (mean 1)
    ad_ctr: np.ndarray
    ad_cvr: np.ndarray
    ad_bid: np.ndarray  # max cost per click, minor units
    ad_start_ordinal: np.ndarray  # first active day (ordinal) of the ad's campaign
    clicks_per_ad: float  # mean expected clicks per ad per day at season 1.0


def build_ads_account(
    seed: int, listing: Listing, scale: float, profile_id: int, entity_id: str
) -> AdsAccount:
    mkt = listing.marketplace
    eco = listing.eco
    rng = rng_for(seed, "ads-structure", mkt.code)
    used: set[int] = set()
    n_campaigns = max(1, round(eco.campaigns * scale))
    line_sessions = np.bincount(
        listing.line_index, weights=listing.base_sessions, minlength=len(PRODUCT_LINES)
    )
    lines = [int(i) for i in np.argsort(-line_sessions) if line_sessions[i] > 0]
    combos = [(line, t) for t in range(len(_TARGETING)) for line in lines]
    campaign_ids = _ids(rng, n_campaigns, used)
    portfolio_ids = _ids(rng, 4, set())
    names: list[str] = []
    budgets: list[int] = []
    portfolios: list[int | None] = []
    starts: list[dt.date] = []
    ag_ids: list[int] = []
    ag_names: list[str] = []
    ad_campaign: list[int] = []
    ad_group: list[int] = []
    ad_asin: list[int] = []
    ad_type_factor: list[float] = []
    ad_bid: list[int] = []
    minor = 1 if eco.exponent == 0 else 100
    cpc_local = eco.cpc_usd * eco.fx * minor
    for c in range(n_campaigns):
        line_idx, t_idx = combos[c % len(combos)] if combos else (0, 0)
        round_no = c // max(1, len(combos))
        t_name, t_factor = _TARGETING[t_idx]
        line = PRODUCT_LINES[line_idx]
        names.append(f"SP - {line.name} - {t_name}" + (f" {round_no + 1}" if round_no else ""))
        budgets.append(int(rng.choice([25, 50, 75, 100, 150, 200, 300])) * int(round(eco.fx)) * minor)
        portfolios.append(portfolio_ids[int(rng.integers(0, 4))] if rng.random() < 0.6 else None)
        late = rng.random() < 0.2
        start_offset = int(rng.integers(0, 700 if late else 120))
        starts.append(eco.launch + dt.timedelta(days=start_offset))
        candidates = np.flatnonzero(listing.line_index == line_idx)
        n_groups = int(rng.integers(1, 5))
        bid_base = cpc_local * float(rng.lognormal(0.0, 0.25)) * (1.2 if t_name == "Exact" else 1.0)
        for g in range(n_groups):
            ag_index = len(ag_ids)
            ag_ids.extend(_ids(rng, 1, used))
            ag_names.append(f"{line.name} - {t_name} - Group {g + 1}")
            if candidates.shape[0] == 0:
                continue
            k = min(candidates.shape[0], int(rng.integers(2, 13)))
            p = listing.base_sessions[candidates] + 1e-9
            chosen = rng.choice(candidates, size=k, replace=False, p=p / p.sum())
            for a in chosen:
                ad_campaign.append(c)
                ad_group.append(ag_index)
                ad_asin.append(int(a))
                ad_type_factor.append(t_factor)
                ad_bid.append(max(2, int(round(bid_base * float(rng.lognormal(0.0, 0.15))))))
    n_ads = len(ad_asin)
    asin_idx = np.array(ad_asin, dtype=np.int64)
    base = listing.base_sessions[asin_idx] if n_ads else np.zeros(0)
    # Clicks per ASIN follow its traffic (so ads convert into the ASIN's real orders), split over its ads.
    ads_per_asin = np.bincount(asin_idx, minlength=len(listing.products))[asin_idx] if n_ads else base
    weight = (base + 0.05) / np.maximum(ads_per_asin, 1) * np.array(ad_type_factor)
    weight = weight * rng.lognormal(0.0, 0.3, size=n_ads)
    weight = weight / weight.mean() if n_ads else weight
    ad_ids = np.array(_ids(rng, n_ads, used), dtype=np.int64)
    target_local = _SPEND_USD_PER_DAY * eco.demand / _TOTAL_DEMAND * eco.fx * minor
    n_ads_unit = max(1.0, n_ads / scale)
    clicks_per_ad = target_local / (cpc_local * 0.8) / n_ads_unit
    start_ord = np.array([s.toordinal() for s in starts], dtype=np.int64)
    return AdsAccount(
        code=mkt.code,
        profile_id=profile_id,
        entity_id=entity_id,
        exponent=eco.exponent,
        currency=mkt.currency,
        campaign_ids=campaign_ids,
        campaign_names=names,
        campaign_budget=budgets,
        campaign_portfolio=portfolios,
        ad_group_ids=ag_ids,
        ad_group_names=ag_names,
        ad_ids=ad_ids,
        ad_campaign=np.array(ad_campaign, dtype=np.int64),
        ad_group=np.array(ad_group, dtype=np.int64),
        ad_asin=asin_idx,
        ad_line=listing.line_index[asin_idx] if n_ads else np.zeros(0, dtype=np.int64),
        ad_weight=weight,
        ad_ctr=np.clip(rng.lognormal(np.log(0.0045), 0.35, size=n_ads), 0.001, 0.03),
        ad_cvr=np.clip(rng.lognormal(np.log(0.15), 0.3, size=n_ads), 0.03, 0.4),
        ad_bid=np.array(ad_bid, dtype=np.int64),
        ad_start_ordinal=start_ord[np.array(ad_campaign, dtype=np.int64)] if n_ads else start_ord[:0],
        clicks_per_ad=clicks_per_ad,
    )


@dataclass
class AdsDay:
    """Metrics per ad for one marketplace-local day (all ads; rows are the ones with impressions > 0)."""

    day: dt.date
    impressions: np.ndarray
    clicks: np.ndarray
    cpc: np.ndarray  # minor units per click
    cost: np.ndarray  # minor units
    purchases: dict[int, np.ndarray]  # window (1, 7, 14, 30) → all purchases
    purchases_same: dict[int, np.ndarray]
    units: dict[int, np.ndarray]  # unitsSoldClicks
    units_same: dict[int, np.ndarray]
    sales: dict[int, np.ndarray]  # minor units
    sales_same: dict[int, np.ndarray]
    sales_other_7d: np.ndarray
    units_other_7d: np.ndarray


def _cap_alloc(desired: np.ndarray, asin: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Scale ``desired`` down per ASIN so that its sum over the ASIN's ads stays ≤ ``cap`` (integers)."""
    if desired.shape[0] == 0:
        return desired
    total = np.bincount(asin, weights=desired, minlength=cap.shape[0])
    ratio = np.where(total > cap, cap / np.maximum(total, 1), 1.0)
    return np.floor(desired * ratio[asin] + 1e-9).astype(np.int64)


def generate_ads_day(seed: int, account: AdsAccount, listing: Listing, agg: AsinAggregate, day: dt.date,
                     fraction: float) -> AdsDay:  # fmt: skip
    """One day's metrics; ``fraction`` < 1 for today (only the part of the day that has passed)."""
    rng = rng_for(seed, "ads", account.code, day.isoformat())
    n = account.ad_ids.shape[0]
    level = season_factor(day) * launch_factor(day, listing.eco.launch) * float(rng.lognormal(0.0, 0.08))
    line_f = line_season_factors(day, [line.season for line in PRODUCT_LINES])
    active = account.ad_start_ordinal <= day.toordinal()
    exp_clicks = account.ad_weight * account.clicks_per_ad * level * line_f[account.ad_line]
    exp_imp = exp_clicks / account.ad_ctr * rng.gamma(3.0, 1.0 / 3.0, size=n)
    impressions = np.where(active, rng.poisson(exp_imp), 0).astype(np.int64)
    ctr = np.clip(account.ad_ctr * rng.lognormal(0.0, 0.2, size=n), 0.0, 0.2)
    clicks = rng.binomial(impressions, ctr).astype(np.int64)
    cpc = np.maximum(2, np.rint(account.ad_bid * rng.uniform(0.6, 1.0, size=n))).astype(np.int64)
    # Amazon stops serving a campaign once a day's spend reaches ~125 % of its daily budget.
    budget = np.array(account.campaign_budget, dtype=np.float64) * 1.25
    campaign_cost = np.bincount(account.ad_campaign, weights=clicks * cpc, minlength=budget.shape[0])
    over = np.where(campaign_cost > budget, budget / np.maximum(campaign_cost, 1.0), 1.0)
    if n and bool((over < 1.0).any()):
        clicks = np.floor(clicks * over[account.ad_campaign]).astype(np.int64)
        impressions = np.floor(impressions * over[account.ad_campaign]).astype(np.int64)
        clicks = np.minimum(clicks, impressions)
    if fraction < 1.0:  # today: only the part of the day that has passed
        f = max(0.0, fraction)
        impressions = np.floor(impressions * f).astype(np.int64)
        clicks = np.minimum(np.floor(clicks * f).astype(np.int64), impressions)
    # Ad-attributed orders are a share (50–70 %) of the ASIN's real order items, spread over its ads by
    # clicks; the ad's own conversion rate modulates it.
    n_asins = agg.items.shape[0]
    clicks_asin = np.bincount(account.ad_asin, weights=clicks, minlength=n_asins) if n else np.zeros(n_asins)
    share = float(rng.uniform(0.5, 0.7))
    q = np.clip(agg.items * share / np.maximum(clicks_asin, 1.0), 0.0, 0.9)
    cvr = np.clip(q[account.ad_asin] * account.ad_cvr / 0.15, 0.0, 0.95) if n else np.zeros(0)
    d7 = rng.binomial(clicks, cvr).astype(np.int64)
    d14 = rng.binomial(clicks, 0.012).astype(np.int64)
    d30 = rng.binomial(clicks, 0.006).astype(np.int64)
    p1_share = rng.uniform(0.75, 0.95, size=n)
    r_other = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0.0, 0.08, size=n))
    cost = clicks * cpc

    a = account.ad_asin
    items, units_asin, sales_asin = agg.items, agg.units, agg.sales
    # Same-SKU attribution: the sum over an ASIN's ads never exceeds the ASIN's order items of the day.
    n_asins = items.shape[0]
    p7 = _cap_alloc(d7, a, items.astype(np.float64))
    used7 = np.bincount(a, weights=p7, minlength=n_asins) if n else np.zeros(n_asins)
    p14 = p7 + _cap_alloc(d14, a, np.maximum(0.0, items - used7))
    used14 = np.bincount(a, weights=p14, minlength=n_asins) if n else np.zeros(n_asins)
    p30 = p14 + _cap_alloc(d30, a, np.maximum(0.0, items - used14))
    p1 = np.floor(p7 * p1_share).astype(np.int64)

    i_a = items[a]
    u_a = units_asin[a]
    s_a = sales_asin[a]
    safe_i = np.maximum(i_a, 1)
    safe_u = np.maximum(u_a, 1)
    windows = {1: p1, 7: p7, 14: p14, 30: p30}
    units_same = {w: np.where(i_a > 0, p * u_a // safe_i, 0) for w, p in windows.items()}
    sales_same = {w: np.where(u_a > 0, u * s_a // safe_u, 0) for w, u in units_same.items()}
    # Other-SKU ("halo") sales: a few % on top, scaled down per ASIN so that sales30d over the ASIN's ads
    # stays within the ASIN's ordered sales (the invariant the pipeline's checks rely on).
    raw_other = {w: np.floor(v * r_other) for w, v in sales_same.items()}
    same30 = np.bincount(a, weights=sales_same[30], minlength=n_asins) if n else np.zeros(n_asins)
    other30 = np.bincount(a, weights=raw_other[30], minlength=n_asins) if n else np.zeros(n_asins)
    room = np.maximum(0.0, sales_asin - same30)
    factor = np.where(other30 > room, room / np.maximum(other30, 1.0), 1.0)[a] if n else np.zeros(0)
    purchases: dict[int, np.ndarray] = {}
    purchases_same: dict[int, np.ndarray] = {}
    units: dict[int, np.ndarray] = {}
    sales: dict[int, np.ndarray] = {}
    for w, p in windows.items():
        other = np.floor(raw_other[w] * factor).astype(np.int64)
        u_other = np.where(s_a > 0, other * u_a // np.maximum(s_a, 1), 0)
        purchases_same[w] = p
        purchases[w] = p + u_other
        units[w] = units_same[w] + u_other
        sales[w] = sales_same[w] + other
    return AdsDay(
        day=day,
        impressions=impressions,
        clicks=clicks,
        cpc=cpc,
        cost=cost,
        purchases=purchases,
        purchases_same=purchases_same,
        units=units,
        units_same=units_same,
        sales=sales,
        sales_same=sales_same,
        sales_other_7d=sales[7] - sales_same[7],
        units_other_7d=units[7] - units_same[7],
    )
