"""Orders API v0 JSON: ``Order`` and ``OrderItem`` objects (no buyer PII)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from chalkola_pipelines.marketplaces import Marketplace
from chalkola_pipelines.simulator.data_sales import (
    CANCELED,
    PENDING,
    SHIPPED,
    UNSHIPPED,
    SalesDay,
    order_status,
)
from chalkola_pipelines.simulator.seller_core import SellerCore
from chalkola_pipelines.simulator.wire_values import as_utc, iso_from_ts, money_str

_STATUS_API = {PENDING: "Pending", UNSHIPPED: "Unshipped", SHIPPED: "Shipped", CANCELED: "Canceled"}


class OrdersApi(SellerCore):
    """The Orders API view of the seller."""

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
        c_after = as_utc(created_after, "CreatedAfter")
        c_before = as_utc(created_before, "CreatedBefore")
        u_after = as_utc(last_updated_after, "LastUpdatedAfter")
        u_before = as_utc(last_updated_before, "LastUpdatedBefore")
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
            "PurchaseDate": iso_from_ts(purchase, "Z"),
            "LastUpdateDate": iso_from_ts(last_ts, "Z"),
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
            "EarliestShipDate": iso_from_ts(purchase, "Z"),
            "LatestShipDate": iso_from_ts(ship_by, "Z"),
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
            obj["OrderTotal"] = {"CurrencyCode": mkt.currency, "Amount": money_str(total, exp)}
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
            return {"CurrencyCode": cur, "Amount": money_str(v, exp)}

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
