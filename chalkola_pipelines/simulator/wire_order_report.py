"""GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL rows (one per order item, every value a string; the
TSV itself is written by :func:`.document_encoding.tsv_bytes`).

Like Amazon's (amazon-facts §8.3), a report holds the orders of EVERY marketplace of the seller's account in
the region, whatever ``marketplaceIds`` asked for (:meth:`OrderReport.region_order_report_rows`); each row
names its marketplace only by ``sales-channel`` (``Amazon.com``, ``Amazon.de`` …) and multi-channel
fulfilment orders come with ``sales-channel`` ``Non-Amazon`` (:mod:`.data_mcf`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_OFFICIAL_HEADER
from chalkola_pipelines.marketplaces import NON_AMAZON_SALES_CHANNEL, Marketplace
from chalkola_pipelines.simulator.data_mcf import MCF_SHIP_DELAY
from chalkola_pipelines.simulator.data_sales import (
    CANCELED,
    PENDING,
    SHIP_STATES,
    SHIPPED,
    UNSHIPPED,
    SalesDay,
    order_status,
)
from chalkola_pipelines.simulator.seller_core import SellerCore
from chalkola_pipelines.simulator.wire_values import as_utc, iso_from_ts, money_str

_STATUS_REPORT = {PENDING: "Pending", UNSHIPPED: "Shipping", SHIPPED: "Shipped", CANCELED: "Cancelled"}
_ITEM_STATUS_REPORT = {
    PENDING: "Unshipped",
    UNSHIPPED: "Unshipped",
    SHIPPED: "Shipped",
    CANCELED: "Cancelled",
}


class OrderReport(SellerCore):
    """The order flat-file view of the seller."""

    def region_order_report_rows(
        self, region: str, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, str]]:
        """What Amazon's order report holds for a window: the rows of every marketplace of the seller in
        ``region`` (``marketplaceIds`` ignored) plus the region's MCF (``Non-Amazon``) orders."""
        rows: list[dict[str, str]] = []
        for mkt in self.marketplaces:
            if mkt.region == region:
                rows.extend(self.order_report_rows(mkt.marketplace_id, start, end))
                rows.extend(self.mcf_order_report_rows(mkt.marketplace_id, start, end))
        return rows

    def mcf_order_report_rows(
        self, marketplace_id: str, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, str]]:
        """The ``Non-Amazon`` rows of MCF orders fulfilled from the marketplace's FBA stock, purchased in
        [start, end) and not after now."""
        mkt = self.marketplace(marketplace_id)
        start_utc, end_utc = as_utc(start, "start"), as_utc(end, "end")
        assert start_utc is not None and end_utc is not None
        now_ts = self._now_ts()
        lo = int(np.ceil(start_utc.timestamp()))
        hi = min(int(np.ceil(end_utc.timestamp())), now_ts + 1)
        rows: list[dict[str, str]] = []
        if hi <= lo:
            return rows
        prods = self._listings[mkt.code].products
        states = SHIP_STATES.get(mkt.code, (("", 0.0),))
        for day in self._local_days(mkt, start_utc, end_utc):
            md = self._mcf_day(mkt.code, day)
            for o in np.flatnonzero((md.order_ts >= lo) & (md.order_ts < hi)).tolist():
                ts = int(md.order_ts[o])
                shipped = now_ts - ts >= MCF_SHIP_DELAY
                for i in md.items_of(o):
                    p = prods[int(md.item_asin[i])]
                    rows.append(
                        {
                            **dict.fromkeys(ORDER_REPORT_OFFICIAL_HEADER, ""),
                            "amazon-order-id": self._mcf_order_id(mkt.code, day, o),
                            "merchant-order-id": f"SHOP-{int(md.order_number[o])}",
                            "purchase-date": iso_from_ts(ts, "+00:00"),
                            "last-updated-date": iso_from_ts(
                                ts + MCF_SHIP_DELAY if shipped else ts + 60, "+00:00"
                            ),
                            "order-status": "Shipped" if shipped else "Pending",
                            "fulfillment-channel": "Amazon",
                            "sales-channel": NON_AMAZON_SALES_CHANNEL,
                            "ship-service-level": "Standard",
                            "product-name": p.title,
                            "sku": p.sku,
                            "asin": p.child_asin,
                            "item-status": "Shipped" if shipped else "Unshipped",
                            "quantity": str(int(md.item_qty[i])),
                            "ship-city": f"SIMTOWN {o % 997:03d}",
                            "ship-state": states[int(md.order_state[o]) % len(states)][0],
                            "ship-postal-code": f"SIM-{o:04d}",
                            "ship-country": mkt.country_code,
                            "is-business-order": "false",
                        }
                    )
        return rows

    def order_report_rows(
        self, marketplace_id: str, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, str]]:
        """The rows of ONE marketplace's Amazon orders (one per order item) whose purchase-date is in
        [start, end) and not after now; keys = ORDER_REPORT_OFFICIAL_HEADER, values str. A report document
        is :meth:`region_order_report_rows`."""
        mkt = self.marketplace(marketplace_id)
        start_utc = as_utc(start, "start")
        end_utc = as_utc(end, "end")
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

    def _truth_order_items(self, code: str, day: dt.date) -> list[tuple[str, str, int]]:
        mkt = self.marketplace(code)
        start, end = mkt.local_day_window_utc(day)
        return [_item(r) for r in self.order_report_rows(mkt.marketplace_id, start, end)]

    def _truth_mcf_items(self, code: str, day: dt.date) -> list[tuple[str, str, int]]:
        mkt = self.marketplace(code)
        start, end = mkt.local_day_window_utc(day)
        return [_item(r) for r in self.mcf_order_report_rows(mkt.marketplace_id, start, end)]

    def _truth_mcf_between(self, region: str, start: dt.datetime, end: dt.datetime) -> int:
        end_exclusive = end + dt.timedelta(microseconds=1)
        return sum(
            len(self.mcf_order_report_rows(m.marketplace_id, start, end_exclusive))
            for m in self.marketplaces
            if m.region == region
        )

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
            purchase = iso_from_ts(sd.order_ts[o], "+00:00")
            updated = iso_from_ts(last_ts[o], "+00:00")
            i_end = starts[o + 1] if o + 1 < starts.shape[0] else n_items
            synth = int(sd.order_synth[o])
            for i in range(int(starts[o]), int(i_end)):
                p = prods[int(sd.item_asin[i])]
                promo = int(sd.item_promo[i])

                def money(v: int, hide: bool = hide_price) -> str:
                    return blank if hide else money_str(v, exp)

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


def _item(row: dict[str, str]) -> tuple[str, str, int]:
    return row["amazon-order-id"], row["asin"], int(row["quantity"])
