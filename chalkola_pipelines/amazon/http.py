"""The one HTTP layer for every Amazon call: httpx + tenacity retries + token buckets + request-id logs.

- Retries 429, 500, 502, 503, 504 and transport errors (reset, timeout, ...) with exponential backoff and
  full jitter, honouring ``Retry-After``; bounded in attempts and in total time.
- Paces itself with a per-operation token bucket (official usage plan, adjusted from
  ``x-amzn-RateLimit-Limit``) so that Amazon rarely has to answer 429.
- Logs operation, status, latency and request id of every attempt; never a token, never a query string
  of a presigned URL (a filter on the ``httpx`` logger strips them from httpx's own log lines too).
- SP-API: ``x-amz-access-token``. Ads: ``Amazon-Advertising-API-ClientId``, ``Authorization: Bearer`` and
  ``Amazon-Advertising-API-Scope`` (profile id) when a profile is given.
- Presigned document URLs are downloaded streamed to disk, as received, without Amazon auth headers.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
import tenacity

from chalkola_pipelines.amazon.errors import AmazonApiError, DocumentExpiredError
from chalkola_pipelines.amazon.ratelimit import InMemoryRateLimiter, RateLimiter, bucket_name
from chalkola_pipelines.amazon.usage_plans import usage_plan

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.credentials import LwaCredentials
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
    from chalkola_pipelines.marketplaces import Region

logger = logging.getLogger(__name__)

Api = Literal["sp", "ads"]
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REQUEST_ID_HEADERS = ("x-amzn-RequestId", "x-amz-request-id", "x-amzn-request-id")
RATE_LIMIT_HEADER = "x-amzn-RateLimit-Limit"
USER_AGENT = "chalkola-pipelines/0.1 (Language=Python; +https://github.com/chalkola/chalkola-pipelines)"
_DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)


# --------------------------------------------------------------------------------------------------------
# helpers


def redact_url(url: str | httpx.URL) -> str:
    """scheme://host/path without query string or fragment (presigned URLs carry credentials there)."""
    parts = urlsplit(str(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def parse_json(content: bytes | str) -> Any:
    """JSON with exact numbers: integers stay ``int`` (ids > 2**53 survive), decimals become ``Decimal``."""
    return json.loads(content, parse_float=Decimal)


def request_id_of(headers: httpx.Headers | Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def parse_retry_after(
    value: str | None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date); None if absent or unparseable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def _error_details(content: bytes) -> tuple[str | None, str]:
    """(code, message) from an SP-API ``{"errors":[...]}``, an Ads ``{code, detail}`` or an LWA body."""
    text = content[:2000].decode("utf-8", "replace")
    try:
        body = parse_json(content)
    except (ValueError, UnicodeDecodeError):
        return None, text[:500].strip() or "(empty body)"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            message = str(first.get("message") or "")
            if first.get("details"):
                message = f"{message} ({first['details']})" if message else str(first["details"])
            return (str(first["code"]) if first.get("code") is not None else None), message or text[:500]
        if "detail" in body or "details" in body or "code" in body:
            return (str(body.get("code")) if body.get("code") is not None else None), str(
                body.get("detail") or body.get("details") or body.get("message") or text[:500]
            )
        if "error" in body:
            return str(body.get("error")), str(body.get("error_description") or body.get("error"))
    return None, text[:500]


class _RedactQueryFilter(logging.Filter):
    """Strips query strings from URLs in httpx's own INFO lines ("HTTP Request: GET https://...?X-Amz-...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(a) if isinstance(a, httpx.URL) or (isinstance(a, str) and "://" in a) else a
                for a in record.args
            )
        return True


def _install_httpx_log_filter() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactQueryFilter) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactQueryFilter())


_install_httpx_log_filter()


# --------------------------------------------------------------------------------------------------------
# retries


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: exponential backoff with full jitter; ``Retry-After`` wins when Amazon sends one."""

    max_attempts: int = 8
    max_total_seconds: float = 900.0
    initial_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 600.0


class _RetryableResponse(Exception):
    """A 429/5xx answer worth another attempt (internal to the retry loop)."""

    def __init__(self, response: httpx.Response, retry_after: float | None, min_wait: float = 0.0) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after
        self.min_wait = min_wait


class _AuthRefresh(Exception):
    """401/403 on an authenticated call: refresh the access token once and retry at once."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def call_with_retries(
    attempt: Callable[[], httpx.Response],
    *,
    operation: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rng: random.Random | None = None,
) -> httpx.Response:
    """Run ``attempt`` until it returns, retrying ``_RetryableResponse``/``_AuthRefresh``/transport errors.

    ``attempt`` raises ``_RetryableResponse`` for a 429/5xx answer it wants retried. When retries are
    exhausted the last failure becomes an ``AmazonApiError``.
    """
    rand = rng or random.Random()
    backoff = policy.initial_backoff_seconds

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _AuthRefresh):
            return 0.0
        cap = min(policy.max_backoff_seconds, backoff * (2 ** (state.attempt_number - 1)))
        jittered = rand.uniform(0.0, cap)  # full jitter
        if isinstance(exc, _RetryableResponse):
            if exc.retry_after is not None:
                base = min(exc.retry_after, policy.max_retry_after_seconds)
                return base + rand.uniform(0.0, min(1.0, 0.1 * base))
            return max(jittered, exc.min_wait)
        return jittered

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.upcoming_sleep
        logger.warning(
            "amazon %s: attempt %d failed (%s); retrying in %.2fs",
            operation,
            state.attempt_number,
            _describe(exc),
            delay,
        )

    auth_refreshed = {"done": False}

    def retry_predicate(exc: BaseException) -> bool:
        if isinstance(exc, _AuthRefresh):
            if auth_refreshed["done"]:
                return False
            auth_refreshed["done"] = True
            return True
        return isinstance(exc, (_RetryableResponse, httpx.TransportError))

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts)
        | tenacity.stop_before_delay(policy.max_total_seconds),
        wait=wait,
        retry=tenacity.retry_if_exception(retry_predicate),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except (_RetryableResponse, _AuthRefresh) as exc:
        response = exc.response
        code, message = _error_details(response.content)
        hint = ""
        if response.status_code == 429:
            hint = " Amazon kept throttling after all retries; the run can be retried later (quota refills)."
        elif response.status_code in (401, 403):
            hint = " Access denied even with a fresh access token: check the app's roles and the seller's authorization."
        raise AmazonApiError(
            operation,
            response.status_code,
            code,
            f"{message}.{hint}".strip(),
            request_id_of(response.headers),
        ) from None
    except httpx.TransportError as exc:
        raise AmazonApiError(
            operation,
            None,
            type(exc).__name__,
            f"network error after {policy.max_attempts} attempts or {policy.max_total_seconds:.0f}s: {exc}. "
            "Check connectivity to Amazon and re-run.",
        ) from None


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, _RetryableResponse):
        ra = f", Retry-After {exc.retry_after:g}s" if exc.retry_after is not None else ""
        return f"HTTP {exc.response.status_code}{ra}, request id {request_id_of(exc.response.headers)}"
    if isinstance(exc, _AuthRefresh):
        return f"HTTP {exc.response.status_code}: refreshing the access token"
    return f"{type(exc).__name__}: {exc}" if exc else "unknown"


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


@dataclass
class DownloadResult:
    """A document downloaded to ``path`` exactly as served (e.g. gzip bytes)."""

    path: Path
    size: int
    content_encoding: str | None
    content_type: str | None
    request_ids: list[str] = field(default_factory=list)


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
        timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
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
    ) -> AmazonResponse:
        """Call ``method base_url+path`` as ``operation``; return on an ok or passthrough status.

        Any other status raises ``AmazonApiError`` (after retries for 429/5xx and one token refresh for
        401/403).
        """
        ok = frozenset(ok_statuses)
        passthrough = frozenset(passthrough_statuses)
        url = f"{self.base_url}{path}"
        bucket = self.bucket(operation)
        plan = usage_plan(self.api, operation)
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body, default=_json_default, separators=(",", ":")).encode()
        attempts = {"n": 0}

        def attempt() -> httpx.Response:
            attempts["n"] += 1
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
            self._observe(bucket, response)
            status = response.status_code
            if status in ok or status in passthrough:
                return response
            if status in RETRYABLE_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                min_wait = 0.0
                if status == 429 and retry_after is None:
                    rate = self._observed_rates.get(bucket, plan.rate)
                    min_wait = 1.0 / rate if rate > 0 else 0.0
                raise _RetryableResponse(response, retry_after, min_wait)
            if status in (401, 403):
                self.tokens.invalidate()
                raise _AuthRefresh(response)
            code, message = _error_details(response.content)
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

    def _observe(self, bucket: str, response: httpx.Response) -> None:
        raw = response.headers.get(RATE_LIMIT_HEADER)
        if not raw:
            return
        try:
            rate = float(raw)
        except ValueError:
            return
        if rate > 0 and self._observed_rates.get(bucket) != rate:
            self._observed_rates[bucket] = rate
            self.rate_limiter.observe_limit(bucket, rate)

    # -- presigned document URLs
    def download(self, operation: str, url: str, dest: Path) -> DownloadResult:
        """Stream ``url`` to ``dest`` byte for byte (no decompression), atomically (``.part`` then rename).

        No Amazon auth header is sent. A 403 (expired presigned URL) raises ``DocumentExpiredError`` at
        once so the caller can fetch a fresh URL; 429/5xx and transport errors are retried.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own per download: two runs may fetch the same document (a region's order report)
        part = dest.with_name(f"{dest.name}.{os.getpid()}-{random.getrandbits(32):08x}.part")
        safe_url = redact_url(url)
        holder: dict[str, Any] = {}

        def attempt() -> httpx.Response:
            started = self.clock()
            size = 0
            try:
                with self._client.stream("GET", url, headers={"User-Agent": USER_AGENT}) as response:
                    if response.status_code == 403:
                        response.read()
                        raise DocumentExpiredError(
                            f"{operation}: the presigned URL {safe_url} was refused (HTTP 403, expired)"
                        )
                    if response.status_code in RETRYABLE_STATUSES:
                        response.read()
                        raise _RetryableResponse(
                            response, parse_retry_after(response.headers.get("Retry-After"))
                        )
                    if response.status_code != 200:
                        response.read()
                        code, message = _error_details(response.content)
                        raise AmazonApiError(
                            operation,
                            response.status_code,
                            code,
                            f"{message} (GET {safe_url})",
                            request_id_of(response.headers),
                        )
                    with open(part, "wb") as fh:
                        for chunk in response.iter_raw(chunk_size=1 << 16):
                            fh.write(chunk)
                            size += len(chunk)
                        fh.flush()
                        os.fsync(fh.fileno())
                    expected = response.headers.get("Content-Length")
                    if expected is not None and expected.isdigit() and int(expected) != size:
                        raise httpx.RemoteProtocolError(
                            f"incomplete body: {size} of {expected} bytes", request=response.request
                        )
                    holder.update(
                        size=size,
                        encoding=response.headers.get("Content-Encoding"),
                        content_type=response.headers.get("Content-Type"),
                        request_id=request_id_of(response.headers),
                    )
                    logger.info(
                        "amazon %s %s %s GET %s -> %d, %d bytes in %.0f ms",
                        self.api,
                        self.region,
                        operation,
                        safe_url,
                        response.status_code,
                        size,
                        (self.clock() - started) * 1000.0,
                    )
                    return response
            except BaseException:
                part.unlink(missing_ok=True)
                raise

        call_with_retries(
            attempt,
            operation=f"{self.api}:{self.region}:{operation}",
            policy=self.retry,
            sleep=self.sleep,
            rng=self._rng,
        )
        os.replace(part, dest)
        rid = holder.get("request_id")
        return DownloadResult(
            path=dest,
            size=int(holder["size"]),
            content_encoding=holder.get("encoding"),
            content_type=holder.get("content_type"),
            request_ids=[rid] if rid else [],
        )

    def download_bytes(self, operation: str, url: str, *, max_bytes: int = 1 << 20) -> bytes:
        """A small document (e.g. a FATAL report's error document) read into memory, at most ``max_bytes``."""
        safe_url = redact_url(url)
        holder: dict[str, bytes] = {}

        def attempt() -> httpx.Response:
            with self._client.stream("GET", url, headers={"User-Agent": USER_AGENT}) as response:
                if response.status_code == 403:
                    response.read()
                    raise DocumentExpiredError(
                        f"{operation}: the presigned URL {safe_url} was refused (HTTP 403)"
                    )
                if response.status_code in RETRYABLE_STATUSES:
                    response.read()
                    raise _RetryableResponse(response, parse_retry_after(response.headers.get("Retry-After")))
                chunks: list[bytes] = []
                total = 0
                for chunk in response.iter_raw(chunk_size=1 << 16):
                    chunks.append(chunk)
                    total += len(chunk)
                    if total >= max_bytes:
                        break
                data = b"".join(chunks)[:max_bytes]
                logger.info(
                    "amazon %s %s %s GET %s -> %d, %d bytes",
                    self.api,
                    self.region,
                    operation,
                    safe_url,
                    response.status_code,
                    len(data),
                )
                if response.status_code != 200:
                    code, message = _error_details(data)
                    raise AmazonApiError(operation, response.status_code, code, f"{message} (GET {safe_url})")
                holder["data"] = data
                return response

        call_with_retries(
            attempt,
            operation=f"{self.api}:{self.region}:{operation}",
            policy=self.retry,
            sleep=self.sleep,
            rng=self._rng,
        )
        return holder["data"]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --------------------------------------------------------------------------------------------------------
# factories


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
    """An SP-API client for ``region`` (LWA at the SP-API token host, shared token cache)."""
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints

    ep = endpoints or AmazonEndpoints.from_env()
    return _http_client(
        "sp", region, credentials, token_url=ep.sp_lwa_token_url, base_url=ep.sp_api_base_urls[region],
        label=f"SP-API {region.upper()} refresh token",
        env_hint=f"SP_REFRESH_TOKEN_{region.upper()}, SP_LWA_CLIENT_ID, SP_LWA_CLIENT_SECRET",
        rate_limiter=rate_limiter, retry=retry, client=client, sleep=sleep,
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
    """An Ads API client for ``region`` (LWA at the region's token host)."""
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints

    ep = endpoints or AmazonEndpoints.from_env()
    return _http_client(
        "ads", region, credentials, token_url=ep.ads_lwa_token_urls[region], base_url=ep.ads_api_base_urls[region],
        label=f"Ads API {region.upper()} refresh token",
        env_hint=f"ADS_REFRESH_TOKEN_{region.upper()}, ADS_CLIENT_ID, ADS_CLIENT_SECRET",
        rate_limiter=rate_limiter, retry=retry, client=client, sleep=sleep,
    )  # fmt: skip


def _http_client(
    api: str,
    region: Region,
    credentials: LwaCredentials,
    *,
    token_url: str,
    base_url: str,
    label: str,
    env_hint: str,
    rate_limiter: RateLimiter | None,
    retry: RetryPolicy | None,
    client: httpx.Client | None,
    sleep: Callable[[float], None],
) -> AmazonHttpClient:
    from chalkola_pipelines.amazon.lwa import LwaTokenProvider

    http = client or httpx.Client(timeout=_DEFAULT_TIMEOUT)
    tokens = LwaTokenProvider(
        credentials, token_url, label=label, env_hint=env_hint, client=http, sleep=sleep
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
    )
    out._owns_client = client is None
    return out
