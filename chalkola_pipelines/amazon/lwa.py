"""Login With Amazon: refresh token → access token, cached in memory, thread-safe, never shown.

The cache is process-wide and keyed by (token URL, client id, hash of the refresh token), so every client
built for the same credential set (one per Dagster run step, say) shares one access token until it is
60 seconds from expiry. Access tokens never leave memory.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from chalkola_pipelines.amazon.credentials import REDACTED, LwaCredentials
from chalkola_pipelines.amazon.errors import AmazonApiError, AmazonAuthError
from chalkola_pipelines.amazon.retries import (
    RETRYABLE_STATUSES,
    RetryableResponse,
    RetryPolicy,
    call_with_retries,
    error_details,
    parse_json,
    parse_retry_after,
    request_id_of,
)
from chalkola_pipelines.amazon.transport import USER_AGENT, strip_url_query

logger = logging.getLogger(__name__)

EXPIRY_MARGIN_SECONDS = 60.0
DEFAULT_EXPIRES_IN = 1800.0  # Amazon's sample client assumes this when expires_in is absent


@dataclass
class _CachedToken:
    value: str
    expires_at: float  # clock() time after which the token must not be used

    def __repr__(self) -> str:
        return f"_CachedToken(value='{REDACTED}', expires_at={self.expires_at:.0f})"


_CACHE: dict[tuple[str, str, str], _CachedToken] = {}
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}


def clear_token_cache() -> None:
    """Forget every cached access token (tests; after rotating credentials)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _key_lock(key: tuple[str, str, str]) -> threading.Lock:
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.get(key)
        if lock is None:
            lock = _KEY_LOCKS[key] = threading.Lock()
        return lock


class LwaTokenProvider:
    """Access tokens for one credential set at one LWA token URL.

    ``label`` names the credential set in errors, e.g. "SP-API EU refresh token"; ``token_env`` and
    ``client_env`` name the environment variables of the refresh token and of the app's client id / secret, so
    that a refusal names the one(s) to fix (names only, never values).
    """

    def __init__(
        self,
        credentials: LwaCredentials,
        token_url: str,
        *,
        label: str = "LWA refresh token",
        token_env: str | None = None,
        client_env: tuple[str, str] | None = None,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.token_url = token_url
        self.label = label
        self.token_env = token_env
        self.client_env = client_env
        self._client = client or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
        self._retry = retry or RetryPolicy(max_attempts=5, max_total_seconds=120.0)
        self._sleep = sleep
        self._clock = clock
        refresh_hash = hashlib.sha256(credentials.refresh_token.encode()).hexdigest()
        self._key = (token_url, credentials.client_id, refresh_hash)

    def __repr__(self) -> str:
        return f"LwaTokenProvider(label={self.label!r}, token_url={strip_url_query(self.token_url)!r}, credentials={self.credentials!r})"

    def access_token(self) -> str:
        """A valid access token: from the cache, or fetched (one fetch at a time per credential set)."""
        cached = self._cached()
        if cached is not None:
            return cached
        with _key_lock(self._key):
            cached = self._cached()  # another thread may have refreshed while we waited
            if cached is not None:
                return cached
            value, expires_in = self._fetch()
            with _CACHE_LOCK:
                _CACHE[self._key] = _CachedToken(
                    value, self._clock() + max(0.0, expires_in - EXPIRY_MARGIN_SECONDS)
                )
            return value

    def invalidate(self) -> None:
        """Drop the cached token (Amazon refused it: revoked or expired early)."""
        with _CACHE_LOCK:
            _CACHE.pop(self._key, None)

    def _cached(self) -> str | None:
        with _CACHE_LOCK:
            token = _CACHE.get(self._key)
            if token is not None and self._clock() < token.expires_at:
                return token.value
        return None

    def _redact(self, text: str) -> str:
        for secret in self.credentials.secrets():
            text = text.replace(secret, REDACTED)
        return text

    def _fetch(self) -> tuple[str, float]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.credentials.refresh_token,
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
        }
        safe_url = strip_url_query(self.token_url)

        def attempt() -> httpx.Response:
            started = self._clock()
            response = self._client.post(
                self.token_url,
                data=form,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )
            logger.info(
                "lwa token for %s at %s -> %d in %.0f ms (x-amzn-RequestId %s)",
                self.label,
                safe_url,
                response.status_code,
                (self._clock() - started) * 1000.0,
                request_id_of(response.headers),
            )
            if response.status_code in RETRYABLE_STATUSES:
                raise RetryableResponse(response, parse_retry_after(response.headers.get("Retry-After")))
            return response

        try:
            response = call_with_retries(attempt, operation="lwaToken", policy=self._retry, sleep=self._sleep)
        except AmazonApiError as exc:
            raise AmazonAuthError(
                self._redact(
                    f"Could not obtain an access token for the {self.label} from {safe_url}: {exc}. "
                    "Login With Amazon is unavailable; re-run later."
                )
            ) from None
        if response.status_code != 200:
            raise self._refusal(response)
        try:
            body = parse_json(response.content)
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise AmazonAuthError(
                f"Login With Amazon at {safe_url} answered 200 without an access_token for the {self.label}."
            ) from None
        try:
            expires_in = float(body.get("expires_in", DEFAULT_EXPIRES_IN))
        except (TypeError, ValueError):
            expires_in = DEFAULT_EXPIRES_IN
        return token, expires_in

    def _refusal(self, response: httpx.Response) -> AmazonAuthError:
        """One line naming the variable(s) Amazon refused, for which credential set, and what to do."""
        code, description = error_details(response.content)
        token = self.token_env or f"the {self.label}"
        client = " / ".join(self.client_env) if self.client_env else "the LWA client id / client secret"
        of_token = f", the {self.label}" if self.token_env else ""
        why = f"HTTP {response.status_code} {code or 'no error code'}: {description}"
        if code == "invalid_client":
            names = self.client_env or ()
            text = (
                f"Login With Amazon refused {client} (the app's LWA client id and client secret, used with the "
                f"{self.label}; {why}): set both to the app's current LWA credentials (Developer Central → the "
                "app → LWA credentials; they may have been rotated), then re-run."
            )
        elif code == "invalid_grant":
            names = (self.token_env,) if self.token_env else ()
            text = (
                f"Login With Amazon refused {token}{of_token} ({why}): it is invalid, revoked or was issued to "
                f"another app. Have the seller re-authorize the app for this region and put the new refresh "
                f"token in {token}, then re-run."
            )
        else:
            names = tuple(n for n in (self.token_env, *(self.client_env or ())) if n)
            fix = (
                "the app is not authorized for this grant: check the app's registration and roles"
                if code == "unauthorized_client"
                else "check the credentials"
            )
            text = (
                f"Login With Amazon refused the {self.label} ({why}): {fix} "
                f"({', '.join(names) or 'the LWA credentials'}), then re-run."
            )
        return AmazonAuthError(self._redact(" ".join(text.split())), code=code or str(response.status_code),
                               variables=names)  # fmt: skip
