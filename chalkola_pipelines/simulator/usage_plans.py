"""Rate (requests/s) and burst per operation, as the simulator enforces them.

SP-API: the official "Usage Plan" tables of the selling-partner-api-models (shared/amazon-facts.md §2.1).
Ads API: Amazon publishes no fixed plan (limits are dynamic per region and report-queue size, signalled by
429 + Retry-After, see ads-api docs reference/concepts/rate-limiting.md); the values below are our
documented-plausible choices: createAsyncReport 1 rps burst 5, getAsyncReport 2 rps burst 10, profiles
1 rps burst 5, deleteAsyncReport 1 rps burst 5.
"""

from __future__ import annotations

from typing import NamedTuple


class UsagePlan(NamedTuple):
    rate: float  # requests per (simulated) second
    burst: int


SP_API_USAGE_PLANS: dict[str, UsagePlan] = {
    "createReport": UsagePlan(0.0167, 15),
    "getReports": UsagePlan(0.0222, 10),
    "getReport": UsagePlan(2.0, 15),
    "cancelReport": UsagePlan(0.0222, 10),
    "getReportDocument": UsagePlan(0.0167, 15),
    "getOrders": UsagePlan(0.0167, 20),
    "getOrder": UsagePlan(0.5, 30),
    "getOrderItems": UsagePlan(0.5, 30),
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
}

ADS_API_USAGE_PLANS: dict[str, UsagePlan] = {
    "listProfiles": UsagePlan(1.0, 5),
    "createAsyncReport": UsagePlan(1.0, 5),
    "getAsyncReport": UsagePlan(2.0, 10),
    "deleteAsyncReport": UsagePlan(1.0, 5),
}


def usage_plan(operation: str) -> UsagePlan | None:
    """The plan enforced for ``operation`` (None: not rate limited, e.g. LWA and document downloads)."""
    return SP_API_USAGE_PLANS.get(operation) or ADS_API_USAGE_PLANS.get(operation)


def format_rate(rate: float) -> str:
    """``x-amzn-RateLimit-Limit`` value: at most 4 decimals, no trailing zeros ("0.0167", "2.0" → "2")."""
    text = f"{rate:.4f}".rstrip("0").rstrip(".")
    return text or "0"
