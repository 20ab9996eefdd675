"""When and how long to retry an Amazon call, and what an Amazon answer says (request id, error, Retry-After).

``call_with_retries`` runs one attempt function under tenacity: exponential backoff with full jitter,
``Retry-After`` honoured (capped), one immediate retry after an access-token refresh, bounded in attempts
and in total time; when retries run out the last failure becomes an ``AmazonApiError``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import tenacity

from chalkola_pipelines.amazon.errors import AmazonApiError

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
REQUEST_ID_HEADERS = ("x-amzn-RequestId", "x-amz-request-id", "x-amzn-request-id")


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


def error_details(content: bytes) -> tuple[str | None, str]:
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


class RetryableResponse(Exception):
    """A 429/5xx answer worth another attempt (internal to the retry loop)."""

    def __init__(self, response: httpx.Response, retry_after: float | None, min_wait: float = 0.0) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after
        self.min_wait = min_wait


class AuthRefresh(Exception):
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
    """Run ``attempt`` until it returns, retrying ``RetryableResponse``/``AuthRefresh``/transport errors.

    ``attempt`` raises ``RetryableResponse`` for a 429/5xx answer it wants retried. When retries are
    exhausted the last failure becomes an ``AmazonApiError``.
    """
    rand = rng or random.Random()
    backoff = policy.initial_backoff_seconds

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, AuthRefresh):
            return 0.0
        cap = min(policy.max_backoff_seconds, backoff * (2 ** (state.attempt_number - 1)))
        jittered = rand.uniform(0.0, cap)  # full jitter
        if isinstance(exc, RetryableResponse):
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
        if isinstance(exc, AuthRefresh):
            if auth_refreshed["done"]:
                return False
            auth_refreshed["done"] = True
            return True
        return isinstance(exc, (RetryableResponse, httpx.TransportError))

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
    except (RetryableResponse, AuthRefresh) as exc:
        response = exc.response
        code, message = error_details(response.content)
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
    if isinstance(exc, RetryableResponse):
        ra = f", Retry-After {exc.retry_after:g}s" if exc.retry_after is not None else ""
        return f"HTTP {exc.response.status_code}{ra}, request id {request_id_of(exc.response.headers)}"
    if isinstance(exc, AuthRefresh):
        return f"HTTP {exc.response.status_code}: refreshing the access token"
    return f"{type(exc).__name__}: {exc}" if exc else "unknown"
