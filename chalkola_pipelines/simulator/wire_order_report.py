"""GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL rows (one per order item, every value a string; the
TSV itself is written by :func:`.document_encoding.tsv_bytes`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from chalkola_pipelines.amazon.report_columns import ORDER_REPORT_OFFICIAL_HEADER
from chalkola_pipelines.marketplaces import Marketplace
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

    def order_report_rows(
        self, marketplace_id: str, start: dt.datetime, end: dt.datetime
    ) -> list[dict[str, str]]:
        """GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL rows (one per order item) for orders whose
        purchase-date is in [start, end) and not after now; keys = ORDER_REPORT_OFFICIAL_HEADER, values str."""
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
