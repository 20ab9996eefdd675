"""Official rate (requests/s) and burst per operation, from the usage-plan tables of the SP-API models.

Source: amzn/selling-partner-api-models @ 34dc93f (see shared/amazon-facts.md §2.1). The Ads API publishes
no fixed plan (limits are dynamic, signalled by 429 + Retry-After): its entries are conservative defaults.
Amazon's ``x-amzn-RateLimit-Limit`` response header overrides the rate at run time.
"""

from __future__ import annotations

from typing import NamedTuple


class UsagePlan(NamedTuple):
    rate: float  # requests per second
    burst: int


SP_API_USAGE_PLANS: dict[str, UsagePlan] = {
    # Reports API 2021-06-30
    "createReport": UsagePlan(0.0167, 15),
    "getReports": UsagePlan(0.0222, 10),
    "getReport": UsagePlan(2.0, 15),
    "cancelReport": UsagePlan(0.0222, 10),
    "getReportDocument": UsagePlan(0.0167, 15),
    "getReportSchedules": UsagePlan(0.0222, 10),
    "createReportSchedule": UsagePlan(0.0222, 10),
    # Orders API v0
    "getOrders": UsagePlan(0.0167, 20),
    "getOrder": UsagePlan(0.5, 30),
    "getOrderItems": UsagePlan(0.5, 30),
    # Sellers API v1
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
    "getAccount": UsagePlan(0.016, 15),
    # Tokens API 2021-03-01
    "createRestrictedDataToken": UsagePlan(1.0, 10),
    # Data Kiosk API 2023-11-15 (models/data-kiosk-api-model/dataKiosk_2023-11-15.json, "Usage Plan" tables)
    "createQuery": UsagePlan(0.0167, 15),
    "getQueries": UsagePlan(0.0222, 10),
    "getQuery": UsagePlan(2.0, 15),
    "cancelQuery": UsagePlan(0.0222, 10),
    "getDocument": UsagePlan(0.0167, 15),
}


class SellerQuota(NamedTuple):
    """A per-seller meter on top of an operation's usage plan: a bucket of ``burst`` requests refilled one
    per ``refill_seconds``, and at most ``daily_cap`` requests per UTC day. Shared by every region and app."""

    burst: int
    refill_seconds: float
    daily_cap: int


#: createReport of these report types is metered per seller (the operation's usage plan still applies).
#: shared/amazon-facts.md §8.1 (amzn/selling-partner-api-models#5210, since 2026-04-24): "no more than once
#: every 15 minutes … and up to 96 times per day", "metering per seller account", "4 requests per hour";
#: the models' usage-plan tables do not show it.
SP_API_SELLER_QUOTAS: dict[tuple[str, str], SellerQuota] = {
    ("createReport", "GET_SALES_AND_TRAFFIC_REPORT"): SellerQuota(
        burst=4, refill_seconds=900.0, daily_cap=96
    ),
}

ADS_API_USAGE_PLANS: dict[str, UsagePlan] = {
    # Not published by Amazon (dynamic, per region and queue size); defaults well under observed limits.
    "listProfiles": UsagePlan(1.0, 5),
    "createAsyncReport": UsagePlan(1.0, 10),
    "getAsyncReport": UsagePlan(2.0, 10),
    "deleteAsyncReport": UsagePlan(1.0, 5),
}

#: Used for an operation missing from the tables above.
DEFAULT_USAGE_PLAN = UsagePlan(0.5, 5)


def seller_quota(operation: str, report_type: str) -> SellerQuota | None:
    """The per-seller meter of ``operation`` for ``report_type`` (None: only the usage plan applies)."""
    return SP_API_SELLER_QUOTAS.get((operation, report_type))


def usage_plan(api: str, operation: str) -> UsagePlan:
    """The official (or default) plan for ``operation`` of ``api`` (``"sp"`` or ``"ads"``)."""
    table = SP_API_USAGE_PLANS if api == "sp" else ADS_API_USAGE_PLANS
    return table.get(operation, DEFAULT_USAGE_PLAN)
