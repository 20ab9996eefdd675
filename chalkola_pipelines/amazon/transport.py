"""The transport for every Amazon API call: httpx + retries + token buckets + request-id logs.

- Retries 429, 500, 502, 503, 504 and transport errors (reset, timeout, ...) with exponential backoff and
  full jitter, honouring ``Retry-After``; bounded in attempts and in total time (``amazon.retries``).
- Paces itself with a per-operation token bucket (official usage plan, adjusted from
  ``x-amzn-RateLimit-Limit``) so that Amazon rarely has to answer 429.
- Logs operation, status, latency and request id of every attempt; never a token, never a query string
  of a presigned URL (a filter on the ``httpx`` logger strips them from httpx's own log lines too).
- SP-API: ``x-amz-access-token``. Ads: ``Amazon-Advertising-API-ClientId``, ``Authorization: Bearer`` and
  ``Amazon-Advertising-API-Scope`` (profile id) when a profile is given.

Presigned document downloads live in ``amazon.presigned`` (``download``/``download_bytes`` delegate
there); building a client for an API and a region (endpoints, LWA) in ``amazon.client_factories``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from chalkola_pipelines.amazon.errors import AmazonApiError
from chalkola_pipelines.amazon.retries import (
    RETRYABLE_STATUSES,
    AuthRefresh,
    RetryableResponse,
    RetryPolicy,
    call_with_retries,
    error_details,
    parse_json,
    parse_retry_after,
    request_id_of,
)
from chalkola_pipelines.amazon.token_buckets import InMemoryRateLimiter, RateLimiter, bucket_name
from chalkola_pipelines.amazon.usage_plans import seller_quota, usage_plan

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.presigned import DownloadResult
    from chalkola_pipelines.marketplaces import Region

logger = logging.getLogger(__name__)

Api = Literal["sp", "ads"]
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
USER_AGENT = "chalkola-pipelines/0.1 (Language=Python; +https://github.com/chalkola/chalkola-pipelines)"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)


# --------------------------------------------------------------------------------------------------------
# helpers


def strip_url_query(url: str | httpx.URL) -> str:
    """scheme://host/path without query string or fragment (presigned URLs carry credentials there)."""
    parts = urlsplit(str(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _RedactQueryFilter(logging.Filter):
    """Strips query strings from URLs in httpx's own INFO lines ("HTTP Request: GET https://...?X-Amz-...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                strip_url_query(a) if isinstance(a, httpx.URL) or (isinstance(a, str) and "://" in a) else a
                for a in record.args
            )
        return True


def _install_httpx_log_filter() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactQueryFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactQueryFilter())


_install_httpx_log_filter()


# --------------------------------------------------------------------------------------------------------
# the client


class AccessTokenSource(Protocol):
    """What the HTTP layer needs from LWA (``lwa.LwaTokenProvider``)."""

    def access_token(self) -> str: ...

    def invalidate(self) -> None: ...


@dataclass
class AmazonResponse:
    """A completed Amazon API call."""

    operation: str
    status_code: int
    headers: httpx.Headers
    content: bytes
    request_id: str | None

    def json(self) -> Any:
        """The body parsed with exact numbers (int ids, Decimal amounts)."""
        return parse_json(self.content)


SELLER_QUOTA_MARGIN = 1.05


class AmazonHttpClient:
    """Calls one Amazon API (``api`` = "sp" or "ads") in one region, with auth, pacing and retries."""

    def __init__(
        self,
        *,
        api: Api,
        region: Region,
        base_url: str,
        tokens: AccessTokenSource,
        ads_client_id: str | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        quota_time_scale: float = 1.0,
    ) -> None:
        if api == "ads" and not ads_client_id:
            raise ValueError("the Ads API needs ads_client_id (Amazon-Advertising-API-ClientId)")
        self.api: Api = api
        self.region = region
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.ads_client_id = ads_client_id
        self.rate_limiter: RateLimiter = (
            rate_limiter if rate_limiter is not None else InMemoryRateLimiter(sleep=sleep, clock=clock)
        )
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self._rng = rng
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._observed_rates: dict[str, float] = {}
        self.quota_time_scale = quota_time_scale

    # -- lifecycle
    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> AmazonHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AmazonHttpClient(api={self.api!r}, region={self.region!r}, base_url={self.base_url!r})"

    # -- API calls
    def bucket(self, operation: str) -> str:
        return bucket_name(self.api, self.region, operation)

    def _auth_headers(self, *, profile_id: int | None, authenticated: bool) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if not authenticated:
            return headers
        token = self.tokens.access_token()
        if self.api == "sp":
            headers["x-amz-access-token"] = token
        else:
            headers["Amazon-Advertising-API-ClientId"] = str(self.ads_client_id)
            headers["Authorization"] = f"Bearer {token}"
            if profile_id is not None:
                headers["Amazon-Advertising-API-Scope"] = str(int(profile_id))
        return headers

    def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        json_body: Any = None,
        content_type: str | None = None,
        accept: str | None = None,
        profile_id: int | None = None,
        ok_statuses: Iterable[int] = (200, 201, 202),
        passthrough_statuses: Iterable[int] = (),
        metered_as: str | None = None,
    ) -> AmazonResponse:
        """Call ``method base_url+path`` as ``operation``; return on an ok or passthrough status.

        Any other status raises ``AmazonApiError`` (after retries for 429/5xx and one token refresh for
        401/403). ``metered_as`` (e.g. a report type) selects a per-seller quota on top of the operation's
        usage plan (``usage_plans.SP_API_SELLER_QUOTAS``): its buckets are shared by every region.
        """
        ok = frozenset(ok_statuses)
        passthrough = frozenset(passthrough_statuses)
        url = f"{self.base_url}{path}"
        bucket = self.bucket(operation)
        plan = usage_plan(self.api, operation)
        seller_buckets = self._seller_buckets(operation, metered_as)
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body, default=_json_default, separators=(",", ":")).encode()
        attempts = {"n": 0}

        def attempt() -> httpx.Response:
            attempts["n"] += 1
            for name, rate, burst in seller_buckets:
                self.rate_limiter.acquire(name, rate, burst)
            self.rate_limiter.acquire(bucket, plan.rate, plan.burst)
            headers = self._auth_headers(profile_id=profile_id, authenticated=True)
            if body is not None:
                headers["Content-Type"] = content_type or "application/json"
            if accept:
                headers["Accept"] = accept
            started = self.clock()
            response = self._client.request(method, url, params=params, content=body, headers=headers)
            latency_ms = (self.clock() - started) * 1000.0
            response.read()
            rid = request_id_of(response.headers)
            logger.info(
                "amazon %s %s %s %s -> %d in %.0f ms (x-amzn-RequestId %s, attempt %d)",
                self.api,
                self.region,
                operation,
                f"{method} {urlsplit(url).path}",
                response.status_code,
                latency_ms,
                rid,
                attempts["n"],
            )
            status = response.status_code
            if not self._observe(bucket, response) and status == 429:
                self._learn_from_throttle(bucket, plan.rate)
            if status in ok or status in passthrough:
                return response
            if status in RETRYABLE_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                min_wait = 0.0
                if status == 429 and retry_after is None:
                    rate = self._observed_rates.get(bucket, plan.rate)
                    min_wait = 1.0 / rate if rate > 0 else 0.0
                raise RetryableResponse(response, retry_after, min_wait)
            if status in (401, 403):
                self.tokens.invalidate()
                raise AuthRefresh(response)
            code, message = error_details(response.content)
            raise AmazonApiError(operation, status, code, message, rid)

        response = call_with_retries(
            attempt,
            operation=f"{self.api}:{self.region}:{operation}",
            policy=self.retry,
            sleep=self.sleep,
            rng=self._rng,
        )
        return AmazonResponse(
            operation=operation,
            status_code=response.status_code,
            headers=response.headers,
            content=response.content,
            request_id=request_id_of(response.headers),
        )

    def _seller_buckets(self, operation: str, metered_as: str | None) -> list[tuple[str, float, int]]:
        """(bucket, rate, burst) of the per-seller meter of ``operation`` for ``metered_as``: one bucket for
        the hourly allowance and one for the daily cap, named without the region (all regions share them)."""
        quota = seller_quota(operation, metered_as) if metered_as else None
        if quota is None:
            return []
        base = bucket_name(self.api, "seller", f"{operation}:{metered_as}")
        # 5 % slower than the meter: no header tells us where Amazon's bucket stands, and the request that
        # fills our bucket reaches Amazon a little later than the one that emptied it.
        scale = self.quota_time_scale / SELLER_QUOTA_MARGIN
        return [
            (base, scale / quota.refill_seconds, quota.burst),
            (f"{base}:daily", scale * quota.daily_cap / 86400.0, quota.daily_cap),
        ]

    def _observe(self, bucket: str, response: httpx.Response) -> bool:
        """Follow ``x-amzn-RateLimit-Limit``; True if the response carried it."""
        raw = response.headers.get(RATE_LIMIT_HEADER)
        if not raw:
            return False
        try:
            rate = float(raw)
        except ValueError:
            return False
        if rate > 0 and self._observed_rates.get(bucket) != rate:
            self._observed_rates[bucket] = rate
            self.rate_limiter.observe_limit(bucket, rate)
        return rate > 0

    def _learn_from_throttle(self, bucket: str, model_rate: float) -> None:
        """A 429 although our bucket let the call through, and no header saying the rate: Amazon's bucket
        for us is smaller than we think (another app of the seller spends it, or the plan changed). Halve
        our rate, down to an eighth of the model's, for every run sharing the limiter, until a response's
        ``x-amzn-RateLimit-Limit`` says otherwise."""
        current = self._observed_rates.get(bucket, model_rate)
        lowered = max(model_rate / 8.0, current / 2.0)
        if lowered < current:
            self._observed_rates[bucket] = lowered
            self.rate_limiter.observe_limit(bucket, lowered)
            logger.warning(
                "amazon %s %s: 429 QuotaExceeded on %s although our bucket allowed the call: pacing it at "
                "%.4g/s (was %.4g/s) until Amazon's x-amzn-RateLimit-Limit header says otherwise",
                self.api, self.region, bucket, lowered, current,
            )  # fmt: skip

    # -- presigned document URLs (amazon.presigned)
    def download(self, operation: str, url: str, dest: Path, *, transform: Any = None) -> DownloadResult:
        """Stream a presigned ``url`` to ``dest`` byte for byte (or through ``transform``), atomically, into a
        private file (see ``presigned.download_to_file``)."""
        from chalkola_pipelines.amazon.presigned import download_to_file

        return download_to_file(self, operation, url, dest, transform=transform)

    def download_bytes(self, operation: str, url: str, *, max_bytes: int = 1 << 20) -> bytes:
        """A small presigned document read into memory (see ``presigned.download_bytes``)."""
        from chalkola_pipelines.amazon.presigned import download_bytes

        return download_bytes(self, operation, url, max_bytes=max_bytes)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
