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
percentages and ratios in S&T. Serialise with :func:`chalkola_pipelines.simulator.document_encoding.dumps_json` (or
``json.dumps(default=...)`` that writes Decimals as numbers): never through float for money.

Layout: :mod:`.seller_core` holds the catalogue, the generated days and the order ids; each API's wire format
is a mixin of its own (:mod:`.wire_sales_traffic`, :mod:`.wire_order_report`, :mod:`.wire_orders_api`,
:mod:`.wire_sellers_api`, :mod:`.wire_ads_api`); :class:`SyntheticSeller` is all of them together.
"""

from __future__ import annotations

from chalkola_pipelines.simulator.wire_ads_api import AdsApi
from chalkola_pipelines.simulator.wire_order_report import OrderReport
from chalkola_pipelines.simulator.wire_orders_api import OrdersApi
from chalkola_pipelines.simulator.wire_sales_traffic import SalesAndTrafficReport
from chalkola_pipelines.simulator.wire_sellers_api import SellersApi

__all__ = ["SyntheticSeller"]


class SyntheticSeller(SalesAndTrafficReport, OrderReport, OrdersApi, SellersApi, AdsApi):
    """The seller behind the simulator: catalogue, orders, sales & traffic, Sponsored Products.

    ``now`` is the clock the data is "as of" (default: real UTC now); the simulator passes its own clock so
    that ``SimulatedClock.advance`` also moves order statuses forward.
    """
