"""Builds the real Amazon clients against a running simulator (helpers for tests/amazon_integration)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import httpx

from chalkola_pipelines.amazon.ads import AdsClient
from chalkola_pipelines.amazon.client_factories import ads_http_client, sp_http_client
from chalkola_pipelines.amazon.credentials import ads_credentials_from_env, sp_credentials_from_env
from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
from chalkola_pipelines.amazon.retries import RetryPolicy
from chalkola_pipelines.amazon.sp_orders import SpOrdersClient
from chalkola_pipelines.amazon.sp_reports import ReportSpec, SpReportsClient
from chalkola_pipelines.amazon.token_buckets import InMemoryRateLimiter
from chalkola_pipelines.amazon.transport import AmazonHttpClient
from chalkola_pipelines.marketplaces import get_marketplace

FAST_RETRY = RetryPolicy(
    max_attempts=6, max_total_seconds=60, initial_backoff_seconds=0.05, max_backoff_seconds=1.0
)
US = get_marketplace("US")


def environment(simulator) -> dict[str, str]:
    from chalkola_pipelines.simulator.credentials import simulator_environment

    return simulator_environment(simulator.base_url, simulator.state.time_scale)


class StatusRecorder:
    """An httpx response hook recording (method, path, status) of every response."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def __call__(self, response: httpx.Response) -> None:
        self.seen.append((response.request.method, response.request.url.path, response.status_code))

    def statuses(self, path_part: str) -> list[int]:
        return [s for _, p, s in self.seen if path_part in p]


def sp_http(
    simulator,
    region: str = "na",
    *,
    timeout: float = 30.0,
    recorder: StatusRecorder | None = None,
    retry: RetryPolicy = FAST_RETRY,
) -> AmazonHttpClient:
    env = environment(simulator)
    hooks = {"response": [recorder]} if recorder else {}
    client = httpx.Client(timeout=timeout, event_hooks=hooks)
    return sp_http_client(
        region,  # type: ignore[arg-type]
        sp_credentials_from_env(region, env),  # type: ignore[arg-type]
        endpoints=AmazonEndpoints.from_env(env),
        rate_limiter=InMemoryRateLimiter(),
        retry=retry,
        client=client,
    )


def ads_http(simulator, region: str = "na", *, recorder: StatusRecorder | None = None) -> AmazonHttpClient:
    env = environment(simulator)
    hooks = {"response": [recorder]} if recorder else {}
    return ads_http_client(
        region,  # type: ignore[arg-type]
        ads_credentials_from_env(region, env),  # type: ignore[arg-type]
        endpoints=AmazonEndpoints.from_env(env),
        rate_limiter=InMemoryRateLimiter(),
        retry=FAST_RETRY,
        client=httpx.Client(timeout=30.0, event_hooks=hooks),
    )


def reports_client(simulator, *, reuse_in_flight: bool = True, **kw) -> SpReportsClient:
    return SpReportsClient(
        sp_http(simulator, **kw),
        poll_initial_seconds=0.05,
        poll_max_seconds=0.5,
        poll_timeout_seconds=120,
        reuse_in_flight=reuse_in_flight,
    )


def orders_client(simulator, **kw) -> SpOrdersClient:
    return SpOrdersClient(sp_http(simulator), **kw)


def ads_client(simulator, **kw) -> AdsClient:
    return AdsClient(
        ads_http(simulator, **kw), poll_initial_seconds=0.05, poll_max_seconds=0.5, poll_timeout_seconds=120
    )


def st_spec(days_ago: int, marketplace_id: str = US.marketplace_id) -> ReportSpec:
    """A single-day GET_SALES_AND_TRAFFIC_REPORT (US by default), ``days_ago`` days before today."""
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    return ReportSpec(
        report_type="GET_SALES_AND_TRAFFIC_REPORT",
        marketplace_ids=(marketplace_id,),
        data_start_time=datetime.combine(day, time(0, 0, 0), tzinfo=UTC),
        data_end_time=datetime.combine(day, time(23, 59, 59), tzinfo=UTC),
        report_options={"dateGranularity": "DAY", "asinGranularity": "CHILD"},
    )


def order_spec(days_ago: int) -> ReportSpec:
    """A one-day US all-orders report (the general createReport plan: burst 15, no per-seller meter)."""
    day = datetime.now(UTC).date() - timedelta(days=days_ago)
    return ReportSpec(
        report_type="GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        marketplace_ids=(US.marketplace_id,),
        data_start_time=datetime.combine(day, time(0, 0, 0), tzinfo=UTC),
        data_end_time=datetime.combine(day, time(23, 59, 59), tzinfo=UTC),
    )


def utc_today() -> date:
    return datetime.now(UTC).date()
