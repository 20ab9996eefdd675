"""What the pipeline must end up with: per-ASIN and per-ad daily numbers straight from the generators.

``GroundTruth`` never reads the documents the simulator serves; it asks the same generators that build
them (:class:`~chalkola_pipelines.simulator.seller.SyntheticSeller`), as of the seller's clock. Money is
``Decimal`` to the currency's minor unit (cents; whole yen for JPY).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalkola_pipelines.simulator.seller import SyntheticSeller


@dataclass(frozen=True)
class AsinDayTruth:
    """One child ASIN on one marketplace-local day (the single-day S&T byAsin row at CHILD granularity)."""

    child_asin: str
    parent_asin: str
    sku: str
    units_ordered: int
    ordered_sales: Decimal
    sessions: int
    page_views: int
    total_order_items: int = 0


@dataclass(frozen=True)
class AdDayTruth:
    """One Sponsored Products ad on one marketplace-local day (a DAILY spAdvertisedProduct row)."""

    campaign_id: int
    campaign_name: str
    ad_group_id: int
    ad_id: int
    advertised_asin: str
    advertised_sku: str
    impressions: int
    clicks: int
    spend: Decimal
    sales_7d: Decimal
    sales_14d: Decimal
    purchases_7d: int
    purchases_14d: int
    units_sold_clicks_7d: int
    units_sold_clicks_14d: int


class GroundTruth:
    """Ground truth of a :class:`SyntheticSeller`, by marketplace code (US, UK, JP ...) and local day."""

    def __init__(self, seller: SyntheticSeller) -> None:
        self._seller = seller

    def asin_days(self, code: str, day: dt.date) -> list[AsinDayTruth]:
        """Child ASINs with sessions or orders that day, sorted by child ASIN."""
        return self._seller._truth_asin_days(code, day)

    def ordered_sales(self, code: str, day: dt.date) -> Decimal:
        """Sum of ordered product sales over child ASINs (= S&T byAsin, CHILD, single day)."""
        return sum((row.ordered_sales for row in self.asin_days(code, day)), Decimal(0))

    def units_ordered(self, code: str, day: dt.date) -> int:
        return sum(row.units_ordered for row in self.asin_days(code, day))

    def ad_rows(self, code: str, day: dt.date) -> list[AdDayTruth]:
        """Ads with impressions that day (= the rows of a DAILY spAdvertisedProduct report), sorted by ad id."""
        return self._seller._truth_ad_rows(code, day)

    def ad_spend(self, code: str, day: dt.date) -> Decimal:
        return sum((row.spend for row in self.ad_rows(code, day)), Decimal(0))

    def ad_sales_7d(self, code: str, day: dt.date) -> Decimal:
        return sum((row.sales_7d for row in self.ad_rows(code, day)), Decimal(0))

    # -- order report ------------------------------------------------------------------------------------
    # Amazon's order report of a region holds every marketplace's orders, routed by sales-channel; the
    # truth keeps them per marketplace, and the Non-Amazon (MCF) orders separately.

    def order_items(self, code: str, day: dt.date) -> list[tuple[str, str, int]]:
        """``(amazon-order-id, asin, quantity)`` of every order-report row of the marketplace's Amazon orders
        purchased on its local ``day`` (cancelled items included, quantity 0), as of the seller's clock."""
        return self._seller._truth_order_items(code, day)

    def order_units(self, code: str, day: dt.date) -> int:
        return sum(q for _, _, q in self.order_items(code, day))

    def mcf_order_items(self, code: str, day: dt.date) -> list[tuple[str, str, int]]:
        """``(amazon-order-id, asin, quantity)`` of the MCF (``Non-Amazon``) rows fulfilled from the
        marketplace's FBA stock and purchased on its local ``day``: never part of its sales."""
        return self._seller._truth_mcf_items(code, day)

    def mcf_order_items_between(self, region: str, start: dt.datetime, end: dt.datetime) -> int:
        """MCF rows of the region's marketplaces purchased in [start, end] (the report window)."""
        return self._seller._truth_mcf_between(region, start, end)

    def profile_id(self, code: str) -> int:
        """The Ads profile id of the marketplace."""
        return self._seller._profile_id(code)
