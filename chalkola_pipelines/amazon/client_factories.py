"""Building an ``AmazonHttpClient`` for one API in one region: its endpoints, its LWA token provider.

The SP-API gets its access tokens from the one SP-API LWA host (whatever the region); the Ads API from
the region's LWA host. Errors about a refused refresh token name the environment variables that hold it
(names only, never values).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from chalkola_pipelines.amazon.retries import RetryPolicy
from chalkola_pipelines.amazon.transport import DEFAULT_TIMEOUT, AmazonHttpClient, Api

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.credentials import LwaCredentials
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
    from chalkola_pipelines.amazon.token_buckets import RateLimiter
    from chalkola_pipelines.marketplaces import Region


def sp_http_client(
    region: Region,
    credentials: LwaCredentials,
    *,
    endpoints: AmazonEndpoints | None = None,
    rate_limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AmazonHttpClient:
    """An SP-API client for ``region`` (LWA at the SP-API token host, shared token cache).

    Without ``endpoints``: ``AmazonEndpoints.from_env()``."""
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints

    ep = endpoints or AmazonEndpoints.from_env()
    return _http_client(
        "sp", region, credentials, token_url=ep.sp_lwa_token_url, base_url=ep.sp_api_base_urls[region],
        label=f"SP-API {region.upper()} refresh token",
        token_env=f"SP_REFRESH_TOKEN_{region.upper()}", client_env=("SP_LWA_CLIENT_ID", "SP_LWA_CLIENT_SECRET"),
        rate_limiter=rate_limiter, retry=retry, client=client, sleep=sleep, quota_time_scale=ep.quota_time_scale,
        read_timeout=ep.read_timeout_seconds,
    )  # fmt: skip


def ads_http_client(
    region: Region,
    credentials: LwaCredentials,
    *,
    endpoints: AmazonEndpoints | None = None,
    rate_limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AmazonHttpClient:
    """An Ads API client for ``region`` (LWA at the region's token host).

    Without ``endpoints``: ``AmazonEndpoints.from_env()``."""
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints

    ep = endpoints or AmazonEndpoints.from_env()
    return _http_client(
        "ads", region, credentials, token_url=ep.ads_lwa_token_urls[region], base_url=ep.ads_api_base_urls[region],
        label=f"Ads API {region.upper()} refresh token",
        token_env=f"ADS_REFRESH_TOKEN_{region.upper()}", client_env=("ADS_CLIENT_ID", "ADS_CLIENT_SECRET"),
        rate_limiter=rate_limiter, retry=retry, client=client, sleep=sleep, quota_time_scale=ep.quota_time_scale,
        read_timeout=ep.read_timeout_seconds,
    )  # fmt: skip


def _http_client(
    api: Api,
    region: Region,
    credentials: LwaCredentials,
    *,
    token_url: str,
    base_url: str,
    label: str,
    token_env: str,
    client_env: tuple[str, str],
    rate_limiter: RateLimiter | None,
    retry: RetryPolicy | None,
    client: httpx.Client | None,
    sleep: Callable[[float], None],
    quota_time_scale: float = 1.0,
    read_timeout: float | None = None,
) -> AmazonHttpClient:
    from chalkola_pipelines.amazon.lwa import LwaTokenProvider

    timeout = (
        DEFAULT_TIMEOUT
        if read_timeout is None
        else httpx.Timeout(read_timeout, connect=DEFAULT_TIMEOUT.connect)
    )
    http = client or httpx.Client(timeout=timeout)
    tokens = LwaTokenProvider(
        credentials,
        token_url,
        label=label,
        token_env=token_env,
        client_env=client_env,
        client=http,
        sleep=sleep,
    )
    out = AmazonHttpClient(
        api=api,
        region=region,
        base_url=base_url,
        tokens=tokens,
        ads_client_id=credentials.client_id if api == "ads" else None,
        rate_limiter=rate_limiter,
        retry=retry,
        client=http,
        sleep=sleep,
        quota_time_scale=quota_time_scale,
    )
    out._owns_client = client is None
    return out
