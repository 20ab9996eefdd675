"""Column catalogues of the reports the pipeline loads.

One place that names every field Amazon sends and the snake_case warehouse column it lands in. Parsers,
the simulator, the warehouse DDL and the dbt sources all follow these lists.

Naming rule: camelCase → snake_case, ``B2B`` → ``_b2b``, digits split off (``sales7d`` → ``sales_7d``).
S&T ``Amount`` objects become one numeric column (the amount); the row's currency is kept once, in
``currency_code``.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

FieldKind = Literal["int", "num", "money"]


class ReportField(NamedTuple):
    section: str  # salesByDate / trafficByDate / salesByAsin / trafficByAsin
    name: str  # field name in the S&T JSON document
    column: str  # warehouse column
    kind: FieldKind  # int = integer, num = decimal number, money = Amount {amount, currencyCode}


ST_BY_DATE_FIELDS: tuple[ReportField, ...] = (
    ReportField("salesByDate", "orderedProductSales", "ordered_product_sales", "money"),
    ReportField("salesByDate", "orderedProductSalesB2B", "ordered_product_sales_b2b", "money"),
    ReportField("salesByDate", "unitsOrdered", "units_ordered", "int"),
    ReportField("salesByDate", "unitsOrderedB2B", "units_ordered_b2b", "int"),
    ReportField("salesByDate", "totalOrderItems", "total_order_items", "int"),
    ReportField("salesByDate", "totalOrderItemsB2B", "total_order_items_b2b", "int"),
    ReportField("salesByDate", "averageSalesPerOrderItem", "average_sales_per_order_item", "money"),
    ReportField("salesByDate", "averageSalesPerOrderItemB2B", "average_sales_per_order_item_b2b", "money"),
    ReportField("salesByDate", "averageUnitsPerOrderItem", "average_units_per_order_item", "num"),
    ReportField("salesByDate", "averageUnitsPerOrderItemB2B", "average_units_per_order_item_b2b", "num"),
    ReportField("salesByDate", "averageSellingPrice", "average_selling_price", "money"),
    ReportField("salesByDate", "averageSellingPriceB2B", "average_selling_price_b2b", "money"),
    ReportField("salesByDate", "unitsRefunded", "units_refunded", "int"),
    ReportField("salesByDate", "refundRate", "refund_rate", "num"),
    ReportField("salesByDate", "claimsGranted", "claims_granted", "int"),
    ReportField("salesByDate", "claimsAmount", "claims_amount", "money"),
    ReportField("salesByDate", "shippedProductSales", "shipped_product_sales", "money"),
    ReportField("salesByDate", "unitsShipped", "units_shipped", "int"),
    ReportField("salesByDate", "ordersShipped", "orders_shipped", "int"),
    ReportField("trafficByDate", "browserPageViews", "browser_page_views", "int"),
    ReportField("trafficByDate", "browserPageViewsB2B", "browser_page_views_b2b", "int"),
    ReportField("trafficByDate", "mobileAppPageViews", "mobile_app_page_views", "int"),
    ReportField("trafficByDate", "mobileAppPageViewsB2B", "mobile_app_page_views_b2b", "int"),
    ReportField("trafficByDate", "pageViews", "page_views", "int"),
    ReportField("trafficByDate", "pageViewsB2B", "page_views_b2b", "int"),
    ReportField("trafficByDate", "browserSessions", "browser_sessions", "int"),
    ReportField("trafficByDate", "browserSessionsB2B", "browser_sessions_b2b", "int"),
    ReportField("trafficByDate", "mobileAppSessions", "mobile_app_sessions", "int"),
    ReportField("trafficByDate", "mobileAppSessionsB2B", "mobile_app_sessions_b2b", "int"),
    ReportField("trafficByDate", "sessions", "sessions", "int"),
    ReportField("trafficByDate", "sessionsB2B", "sessions_b2b", "int"),
    ReportField("trafficByDate", "buyBoxPercentage", "buy_box_percentage", "num"),
    ReportField("trafficByDate", "buyBoxPercentageB2B", "buy_box_percentage_b2b", "num"),
    ReportField("trafficByDate", "orderItemSessionPercentage", "order_item_session_percentage", "num"),
    ReportField("trafficByDate", "orderItemSessionPercentageB2B", "order_item_session_percentage_b2b", "num"),
    ReportField("trafficByDate", "unitSessionPercentage", "unit_session_percentage", "num"),
    ReportField("trafficByDate", "unitSessionPercentageB2B", "unit_session_percentage_b2b", "num"),
    ReportField("trafficByDate", "averageOfferCount", "average_offer_count", "int"),
    ReportField("trafficByDate", "averageParentItems", "average_parent_items", "int"),
    ReportField("trafficByDate", "feedbackReceived", "feedback_received", "int"),
    ReportField("trafficByDate", "negativeFeedbackReceived", "negative_feedback_received", "int"),
    ReportField("trafficByDate", "receivedNegativeFeedbackRate", "received_negative_feedback_rate", "num"),
)

ST_BY_ASIN_FIELDS: tuple[ReportField, ...] = (
    ReportField("salesByAsin", "unitsOrdered", "units_ordered", "int"),
    ReportField("salesByAsin", "unitsOrderedB2B", "units_ordered_b2b", "int"),
    ReportField("salesByAsin", "orderedProductSales", "ordered_product_sales", "money"),
    ReportField("salesByAsin", "orderedProductSalesB2B", "ordered_product_sales_b2b", "money"),
    ReportField("salesByAsin", "totalOrderItems", "total_order_items", "int"),
    ReportField("salesByAsin", "totalOrderItemsB2B", "total_order_items_b2b", "int"),
    ReportField("trafficByAsin", "browserSessions", "browser_sessions", "int"),
    ReportField("trafficByAsin", "browserSessionsB2B", "browser_sessions_b2b", "int"),
    ReportField("trafficByAsin", "mobileAppSessions", "mobile_app_sessions", "int"),
    ReportField("trafficByAsin", "mobileAppSessionsB2B", "mobile_app_sessions_b2b", "int"),
    ReportField("trafficByAsin", "sessions", "sessions", "int"),
    ReportField("trafficByAsin", "sessionsB2B", "sessions_b2b", "int"),
    ReportField("trafficByAsin", "browserSessionPercentage", "browser_session_percentage", "num"),
    ReportField("trafficByAsin", "browserSessionPercentageB2B", "browser_session_percentage_b2b", "num"),
    ReportField("trafficByAsin", "mobileAppSessionPercentage", "mobile_app_session_percentage", "num"),
    ReportField("trafficByAsin", "mobileAppSessionPercentageB2B", "mobile_app_session_percentage_b2b", "num"),
    ReportField("trafficByAsin", "sessionPercentage", "session_percentage", "num"),
    ReportField("trafficByAsin", "sessionPercentageB2B", "session_percentage_b2b", "num"),
    ReportField("trafficByAsin", "browserPageViews", "browser_page_views", "int"),
    ReportField("trafficByAsin", "browserPageViewsB2B", "browser_page_views_b2b", "int"),
    ReportField("trafficByAsin", "mobileAppPageViews", "mobile_app_page_views", "int"),
    ReportField("trafficByAsin", "mobileAppPageViewsB2B", "mobile_app_page_views_b2b", "int"),
    ReportField("trafficByAsin", "pageViews", "page_views", "int"),
    ReportField("trafficByAsin", "pageViewsB2B", "page_views_b2b", "int"),
    ReportField("trafficByAsin", "browserPageViewsPercentage", "browser_page_views_percentage", "num"),
    ReportField("trafficByAsin", "browserPageViewsPercentageB2B", "browser_page_views_percentage_b2b", "num"),
    ReportField("trafficByAsin", "mobileAppPageViewsPercentage", "mobile_app_page_views_percentage", "num"),
    ReportField(
        "trafficByAsin", "mobileAppPageViewsPercentageB2B", "mobile_app_page_views_percentage_b2b", "num"
    ),
    ReportField("trafficByAsin", "pageViewsPercentage", "page_views_percentage", "num"),
    ReportField("trafficByAsin", "pageViewsPercentageB2B", "page_views_percentage_b2b", "num"),
    ReportField("trafficByAsin", "buyBoxPercentage", "buy_box_percentage", "num"),
    ReportField("trafficByAsin", "buyBoxPercentageB2B", "buy_box_percentage_b2b", "num"),
    ReportField("trafficByAsin", "unitSessionPercentage", "unit_session_percentage", "num"),
    ReportField("trafficByAsin", "unitSessionPercentageB2B", "unit_session_percentage_b2b", "num"),
)

# Required by the official schema (sellerSalesAndTrafficReport.json ``required``; Data Kiosk's SDL marks the
# same fields non-null): every non-B2B metric; *B2B metrics are only populated for B2B sellers. A row without
# one fails the document (tests/parsers check both official files). Row keys: ``date`` (by date),
# ``parentAsin`` (by ASIN); an Amount needs ``amount`` and ``currencyCode``.
ST_REQUIRED_FIELDS: frozenset[tuple[str, str]] = frozenset(
    (f.section, f.name) for f in ST_BY_DATE_FIELDS + ST_BY_ASIN_FIELDS if not f.name.endswith("B2B")
)

AdsKind = Literal["date", "text", "id", "int", "decimal"]


class AdsColumn(NamedTuple):
    name: str  # column name in the Ads v3 report request and document
    column: str  # warehouse column
    kind: AdsKind  # id = 64-bit integer id (never parsed as float)


# Every column Amazon documents for spAdvertisedProduct (groupBy advertiser). With timeUnit DAILY the
# document carries ``date``; startDate/endDate only exist for SUMMARY, so the pipeline does not request them.
SP_ADVERTISED_PRODUCT_COLUMNS: tuple[AdsColumn, ...] = (
    AdsColumn("date", "report_date", "date"),
    AdsColumn("startDate", "start_date", "date"),
    AdsColumn("endDate", "end_date", "date"),
    AdsColumn("campaignName", "campaign_name", "text"),
    AdsColumn("campaignId", "campaign_id", "id"),
    AdsColumn("adGroupName", "ad_group_name", "text"),
    AdsColumn("adGroupId", "ad_group_id", "id"),
    AdsColumn("adId", "ad_id", "id"),
    AdsColumn("addToList", "add_to_list", "int"),
    AdsColumn("qualifiedBorrows", "qualified_borrows", "int"),
    AdsColumn("royaltyQualifiedBorrows", "royalty_qualified_borrows", "int"),
    AdsColumn("portfolioId", "portfolio_id", "id"),
    AdsColumn("impressions", "impressions", "int"),
    AdsColumn("clicks", "clicks", "int"),
    AdsColumn("costPerClick", "cost_per_click", "decimal"),
    AdsColumn("clickThroughRate", "click_through_rate", "decimal"),
    AdsColumn("cost", "cost", "decimal"),
    AdsColumn("spend", "spend", "decimal"),
    AdsColumn("campaignBudgetCurrencyCode", "campaign_budget_currency_code", "text"),
    AdsColumn("campaignBudgetAmount", "campaign_budget_amount", "decimal"),
    AdsColumn("campaignBudgetType", "campaign_budget_type", "text"),
    AdsColumn("campaignStatus", "campaign_status", "text"),
    AdsColumn("advertisedAsin", "advertised_asin", "text"),
    AdsColumn("advertisedSku", "advertised_sku", "text"),
    AdsColumn("purchases1d", "purchases_1d", "int"),
    AdsColumn("purchases7d", "purchases_7d", "int"),
    AdsColumn("purchases14d", "purchases_14d", "int"),
    AdsColumn("purchases30d", "purchases_30d", "int"),
    AdsColumn("purchasesSameSku1d", "purchases_same_sku_1d", "int"),
    AdsColumn("purchasesSameSku7d", "purchases_same_sku_7d", "int"),
    AdsColumn("purchasesSameSku14d", "purchases_same_sku_14d", "int"),
    AdsColumn("purchasesSameSku30d", "purchases_same_sku_30d", "int"),
    AdsColumn("unitsSoldClicks1d", "units_sold_clicks_1d", "int"),
    AdsColumn("unitsSoldClicks7d", "units_sold_clicks_7d", "int"),
    AdsColumn("unitsSoldClicks14d", "units_sold_clicks_14d", "int"),
    AdsColumn("unitsSoldClicks30d", "units_sold_clicks_30d", "int"),
    AdsColumn("sales1d", "sales_1d", "decimal"),
    AdsColumn("sales7d", "sales_7d", "decimal"),
    AdsColumn("sales14d", "sales_14d", "decimal"),
    AdsColumn("sales30d", "sales_30d", "decimal"),
    AdsColumn("attributedSalesSameSku1d", "attributed_sales_same_sku_1d", "decimal"),
    AdsColumn("attributedSalesSameSku7d", "attributed_sales_same_sku_7d", "decimal"),
    AdsColumn("attributedSalesSameSku14d", "attributed_sales_same_sku_14d", "decimal"),
    AdsColumn("attributedSalesSameSku30d", "attributed_sales_same_sku_30d", "decimal"),
    AdsColumn("salesOtherSku7d", "sales_other_sku_7d", "decimal"),
    AdsColumn("unitsSoldSameSku1d", "units_sold_same_sku_1d", "int"),
    AdsColumn("unitsSoldSameSku7d", "units_sold_same_sku_7d", "int"),
    AdsColumn("unitsSoldSameSku14d", "units_sold_same_sku_14d", "int"),
    AdsColumn("unitsSoldSameSku30d", "units_sold_same_sku_30d", "int"),
    AdsColumn("unitsSoldOtherSku7d", "units_sold_other_sku_7d", "int"),
    AdsColumn("kindleEditionNormalizedPagesRead14d", "kindle_edition_normalized_pages_read_14d", "int"),
    AdsColumn(
        "kindleEditionNormalizedPagesRoyalties14d", "kindle_edition_normalized_pages_royalties_14d", "decimal"
    ),
    AdsColumn("acosClicks7d", "acos_clicks_7d", "decimal"),
    AdsColumn("acosClicks14d", "acos_clicks_14d", "decimal"),
    AdsColumn("roasClicks7d", "roas_clicks_7d", "decimal"),
    AdsColumn("roasClicks14d", "roas_clicks_14d", "decimal"),
)

SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in SP_ADVERTISED_PRODUCT_COLUMNS if c.name not in ("startDate", "endDate")
)

# The Ads columns the dbt marts use (dbt_project/models: staging → intermediate → marts; tests/parsers check
# the list against the SQL), plus the raw table's key (adId, date). Every row must carry each of them with a
# value; a group of several names is satisfied by any one of them (``spend`` and ``cost`` are the same figure:
# the staging model takes either). Ratios (acos/roas/CTR/CPC) are null when undefined, and advertisedAsin /
# advertisedSku are nullable in the marts: not required.
ADS_REQUIRED_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("date",), ("adId",), ("campaignId",), ("campaignName",), ("campaignStatus",), ("impressions",),
    ("clicks",), ("cost", "spend"), ("sales7d",), ("sales14d",), ("attributedSalesSameSku7d",),
    ("attributedSalesSameSku14d",), ("purchases7d",), ("purchases14d",), ("unitsSoldClicks7d",),
    ("unitsSoldClicks14d",),
)  # fmt: skip

OrderKind = Literal["text", "timestamp", "int", "money", "bool"]


class OrderReportColumn(NamedTuple):
    header: str  # header name in the tab-separated report
    column: str  # warehouse column
    kind: OrderKind


# GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL, official attribute list in order, minus the
# columns we never store (ORDER_REPORT_NEVER_STORED). Parse by header name: Amazon adds columns over time.
ORDER_REPORT_COLUMNS: tuple[OrderReportColumn, ...] = (
    OrderReportColumn("amazon-order-id", "amazon_order_id", "text"),
    OrderReportColumn("merchant-order-id", "merchant_order_id", "text"),
    OrderReportColumn("purchase-date", "purchase_date", "timestamp"),
    OrderReportColumn("last-updated-date", "last_updated_date", "timestamp"),
    OrderReportColumn("order-status", "order_status", "text"),
    OrderReportColumn("fulfillment-channel", "fulfillment_channel", "text"),
    OrderReportColumn("sales-channel", "sales_channel", "text"),
    OrderReportColumn("order-channel", "order_channel", "text"),
    OrderReportColumn("ship-service-level", "ship_service_level", "text"),
    OrderReportColumn("product-name", "product_name", "text"),
    OrderReportColumn("sku", "sku", "text"),
    OrderReportColumn("asin", "asin", "text"),
    OrderReportColumn("item-status", "item_status", "text"),
    OrderReportColumn("quantity", "quantity", "int"),
    OrderReportColumn("currency", "currency", "text"),
    OrderReportColumn("item-price", "item_price", "money"),
    OrderReportColumn("item-tax", "item_tax", "money"),
    OrderReportColumn("shipping-price", "shipping_price", "money"),
    OrderReportColumn("shipping-tax", "shipping_tax", "money"),
    OrderReportColumn("gift-wrap-price", "gift_wrap_price", "money"),
    OrderReportColumn("gift-wrap-tax", "gift_wrap_tax", "money"),
    OrderReportColumn("item-promotion-discount", "item_promotion_discount", "money"),
    OrderReportColumn("ship-promotion-discount", "ship_promotion_discount", "money"),
    OrderReportColumn("ship-state", "ship_state", "text"),
    OrderReportColumn("ship-country", "ship_country", "text"),
    OrderReportColumn("promotion-ids", "promotion_ids", "text"),
    OrderReportColumn("is-business-order", "is_business_order", "bool"),
    OrderReportColumn("purchase-order-number", "purchase_order_number", "text"),
    OrderReportColumn("price-designation", "price_designation", "text"),
)

# The full official header (32 columns), as the simulator writes it.
ORDER_REPORT_OFFICIAL_HEADER: tuple[str, ...] = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
    "fulfillment-channel", "sales-channel", "order-channel", "ship-service-level", "product-name", "sku",
    "asin", "item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price", "shipping-tax",
    "gift-wrap-price", "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "cpf", "is-business-order",
    "purchase-order-number", "price-designation",
)  # fmt: skip

# The order report's key columns: the header must have each; a data row needs a value in
# ORDER_REPORT_REQUIRED_VALUES (the order, its instant, its marketplace, its product and quantity — the
# official OrderItem requires ASIN and QuantityOrdered, not SellerSKU), and a currency wherever item-price has
# a value. Prices themselves may be blank: Amazon sends none for pending and cancelled items.
ORDER_REPORT_REQUIRED_HEADERS: tuple[str, ...] = (
    "amazon-order-id", "purchase-date", "sales-channel", "sku", "asin", "quantity", "currency", "item-price",
)  # fmt: skip
ORDER_REPORT_REQUIRED_VALUES: tuple[str, ...] = (
    "amazon-order-id", "purchase-date", "sales-channel", "asin", "quantity",
)  # fmt: skip
#: (value, column required wherever it has one)
ORDER_REPORT_REQUIRED_WITH: tuple[tuple[str, str], ...] = (("item-price", "currency"),)

# Buyer personal data in order documents (Amazon's Data Protection Policy: information that identifies,
# contacts or locates a natural person — name, address, e-mail, phone, tax id). Removed from the document
# before it reaches disk (``amazon.document_filters``) and never stored anywhere. Matching is by exact name or
# by prefix (names ending in "-"). Of the official 32 columns: ship-city, ship-postal-code (the buyer's
# address below region level) and cpf (a Brazilian buyer's tax id). ship-state and ship-country are kept: a
# region of millions of people does not locate anyone, and sellers need them for sales-tax / VAT nexus.
# The rest are columns of sibling reports (shipments, invoicing) and future variants, dropped by name.
ORDER_REPORT_NEVER_STORED: tuple[str, ...] = (
    "ship-city", "ship-postal-code", "ship-zip", "ship-county", "ship-district", "cpf", "address-type",
    "buyer-", "recipient-", "ship-address-", "ship-phone-", "bill-", "ship-to-", "tax-registration-",
    "customer-", "delivery-", "gift-message", "customized-", "vat-", "tax-id", "national-id",
)  # fmt: skip

# Columns of real all-orders files that are not in the official list and are known to carry no personal
# data: kept (as text, in ``extra_columns``). Any other unknown column is schema drift: its values are
# dropped before the document reaches disk, its name is reported (run metadata and a warning).
ORDER_REPORT_EXTRA_ALLOWED: frozenset[str] = frozenset({
    "number-of-items", "tax-collection-model", "tax-collection-responsible-party",
    "signature-confirmation-recommended", "ship-promotion-id", "is-heavy-or-bulky",
    "is-replacement-order", "original-order-id", "is-iba", "is-prime", "is-premium-order",
    "is-global-express-enabled", "is-sold-by-ab", "is-transparency", "is-amazon-invoiced",
})  # fmt: skip

#: Headers of the order report stored with their values: the catalogue + the allowlist.
ORDER_REPORT_STORED_HEADERS: frozenset[str] = frozenset(
    {c.header for c in ORDER_REPORT_COLUMNS} | ORDER_REPORT_EXTRA_ALLOWED
)


def order_report_header_is_never_stored(header: str) -> bool:
    """True for a buyer personal data column (``ORDER_REPORT_NEVER_STORED``)."""
    h = header.strip().lower()
    return any(h == p or (p.endswith("-") and h.startswith(p)) for p in ORDER_REPORT_NEVER_STORED)


def order_report_header_action(header: str) -> Literal["keep", "remove", "blank"]:
    """What happens to an order-report column before storage: ``keep`` (catalogue or allowlist), ``remove``
    (buyer personal data: the column goes) or ``blank`` (unknown: schema drift; on disk the header stays as
    evidence, its values are emptied; the parser drops it and reports its name)."""
    h = header.strip().lower()
    if h in ORDER_REPORT_STORED_HEADERS:
        return "keep"
    if order_report_header_is_never_stored(h):
        return "remove"
    return "blank"
