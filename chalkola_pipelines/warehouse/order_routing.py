"""Routing the rows of a region-wide order report by ``sales-channel``, and the MCF table they may go to.

Amazon's all-orders report ignores ``marketplaceIds``: one document holds the orders of every marketplace of
the seller's account in the region (amazon-facts §8.3). A load for marketplace M keeps only the rows whose
``sales-channel`` is M's (``Amazon.com`` for US, ``Amazon.de`` for DE …, the catalogue's ``sales_channel``):

- ``own``: M's rows → ``raw_amazon.sp_order_items`` under M's partitions;
- ``configured``: rows of the seller's other configured marketplaces → skipped (their own run loads them
  from the same document), counted;
- ``unconfigured``: a catalogue marketplace the seller has not configured (``CHALKOLA_MARKETPLACES``) →
  skipped and counted, reported in the run's metadata (never loaded as another marketplace);
- ``non_amazon``: ``Non-Amazon`` = multi-channel fulfilment → ``raw_amazon.sp_mcf_order_items``, replaced
  by purchase instant within the document's window in the same transaction (idempotent: loading the same
  document for another marketplace writes the same rows);
- a channel the catalogue does not know (or a blank one) fails the load: nothing is changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_COLUMNS
from chalkola_pipelines.marketplaces import (
    Marketplace,
    UnknownMarketplaceError,
    marketplace_of_sales_channel,
)
from chalkola_pipelines.warehouse.partition_copy import PartitionCounts, WarehouseLoadError

MCF_ORDER_ITEMS_TABLE = "raw_amazon.sp_mcf_order_items"
MCF_ORDER_ITEM_COLUMNS: tuple[str, ...] = (
    "region",
    "line_number",
    *(c.column for c in ORDER_REPORT_COLUMNS),
    "extra_columns",
    "report_id",
)

Route = Literal["own", "configured", "unconfigured", "non_amazon"]


@dataclass(frozen=True)
class OrderRouting:
    """Where the rows of one region-wide order document go when loading ``marketplace``'s partitions."""

    marketplace: Marketplace
    configured: frozenset[str]  # codes of the seller's configured marketplaces
    window_start: dt.datetime  # the document's dataStartTime (aware)
    window_end: dt.datetime  # the document's dataEndTime, inclusive

    @classmethod
    def for_document(
        cls,
        marketplace: Marketplace,
        configured: Iterable[Marketplace],
        window: tuple[dt.datetime, dt.datetime],
    ) -> OrderRouting:
        codes = frozenset(m.code for m in configured) | {marketplace.code}
        return cls(marketplace, codes, window[0], window[1])

    @property
    def region(self) -> str:
        return self.marketplace.region

    def route(self, sales_channel: str | None, where: str, order_id: Any) -> Route:
        """The route of a row's ``sales-channel``; WarehouseLoadError (one line) for an unknown channel."""
        try:
            mkt = marketplace_of_sales_channel(sales_channel or "")
        except UnknownMarketplaceError:
            raise WarehouseLoadError(
                f"Order report {where}: order {order_id} has sales-channel {sales_channel!r}, which the marketplace "
                "catalogue (chalkola_pipelines/marketplaces.py) does not know; nothing was changed. Add the "
                "marketplace (code, id, sales channel) to the catalogue, then re-run the partition."
            ) from None
        if mkt is None:
            return "non_amazon"
        if mkt.code == self.marketplace.code:
            return "own"
        return "configured" if mkt.code in self.configured else "unconfigured"

    def in_window(self, purchase: dt.datetime) -> bool:
        return self.window_start <= purchase <= self.window_end

    def mcf_delete(self) -> tuple[str, tuple[Any, ...]]:
        """The MCF rows this document replaces: the region's, purchased inside its window."""
        return (
            f"delete from {MCF_ORDER_ITEMS_TABLE} where region = %s and purchase_date between %s and %s",
            (self.region, self.window_start, self.window_end),
        )


@dataclass
class RoutedRows:
    """What routing did with the rows that were not the marketplace's own (for the run's metadata)."""

    other_marketplaces: dict[str, int] = field(
        default_factory=dict
    )  # sales channel → rows (loaded elsewhere)
    unconfigured: dict[str, int] = field(default_factory=dict)  # sales channel → rows (not loaded)
    non_amazon: int = 0  # MCF rows written to sp_mcf_order_items

    def add(self, route: Route, channel: str, n: int = 1) -> None:
        if route == "configured":
            self.other_marketplaces[channel] = self.other_marketplaces.get(channel, 0) + n
        elif route == "unconfigured":
            self.unconfigured[channel] = self.unconfigured.get(channel, 0) + n
        elif route == "non_amazon":
            self.non_amazon += n

    def metadata(self) -> dict[str, Any]:
        return {
            "rows_of_other_configured_marketplaces": _describe(self.other_marketplaces),
            "rows_of_unconfigured_sales_channels": _describe(self.unconfigured),
            "unconfigured_sales_channel_rows": sum(self.unconfigured.values()),
            "non_amazon_mcf_rows": self.non_amazon,
        }


def _describe(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"


class OrderCounts(PartitionCounts):
    """Rows written per local day (``PartitionCounts``) and what routing did with the other rows."""

    def __init__(self, days: Iterable[dt.date]) -> None:
        super().__init__(days)
        self.routed = RoutedRows()
