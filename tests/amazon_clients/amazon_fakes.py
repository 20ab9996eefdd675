"""Helpers for the unit tests of chalkola_pipelines.amazon: a routed httpx.MockTransport and fakes."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from chalkola_pipelines.amazon.retries import RetryPolicy
from chalkola_pipelines.amazon.token_buckets import NoRateLimiter
from chalkola_pipelines.amazon.transport import AmazonHttpClient

ACCESS_TOKEN = "Atza|UNIT-TEST-ACCESS-TOKEN-never-log-me"
SP_BASE = "https://sellingpartnerapi-eu.amazon.com"
ADS_BASE = "https://advertising-api-eu.amazon.com"
S3_BASE = "https://tortuga-prod-eu.s3-eu-west-1.amazonaws.com"

Responder = Callable[[httpx.Request], httpx.Response]


def json_response(
    status: int, body: Any, *, request_id: str = "rid-1", headers: dict[str, str] | None = None
) -> httpx.Response:
    h = {"x-amzn-RequestId": request_id, "content-type": "application/json"}
    h.update(headers or {})
    return httpx.Response(status, content=json.dumps(body).encode(), headers=h)


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    responders: list[Responder | httpx.Response]
    repeat_last: bool = True
    hits: int = 0


@dataclass
class FakeAmazon:
    """Routes requests by method + URL regex to queued responses; records every request."""

    routes: list[Route] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, method: str, url_regex: str, *responders: Responder | httpx.Response) -> Route:
        route = Route(method, re.compile(url_regex), list(responders))
        self.routes.append(route)
        return route

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            for route in self.routes:
                if route.method == request.method and route.pattern.search(str(request.url)):
                    index = min(route.hits, len(route.responders) - 1)
                    route.hits += 1
                    responder = route.responders[index]
                    break
            else:
                return json_response(
                    404, {"errors": [{"code": "NotFound", "message": f"no route {request.url}"}]}
                )
        if isinstance(responder, httpx.Response):
            # a fresh copy each time (a Response can be read once)
            return httpx.Response(
                responder.status_code, stream=httpx.ByteStream(responder.content), headers=responder.headers
            )
        return responder(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def calls(self, method: str, url_regex: str) -> list[httpx.Request]:
        pattern = re.compile(url_regex)
        return [r for r in self.requests if r.method == method and pattern.search(str(r.url))]


class FakeTokens:
    def __init__(self) -> None:
        self.invalidated = 0
        self.issued = 0

    def access_token(self) -> str:
        self.issued += 1
        return ACCESS_TOKEN

    def invalidate(self) -> None:
        self.invalidated += 1


class SleepRecorder:
    """An injectable sleep that records durations and advances a fake clock."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make_http(
    fake: FakeAmazon,
    *,
    api: str = "sp",
    sleep: SleepRecorder | None = None,
    limiter: Any = None,
    retry: RetryPolicy | None = None,
    tokens: FakeTokens | None = None,
) -> AmazonHttpClient:
    sleep = sleep or SleepRecorder()
    return AmazonHttpClient(
        api=api,  # type: ignore[arg-type]
        region="eu",
        base_url=SP_BASE if api == "sp" else ADS_BASE,
        tokens=tokens or FakeTokens(),
        ads_client_id="amzn1.application-oa2-client.unit" if api == "ads" else None,
        rate_limiter=limiter if limiter is not None else NoRateLimiter(),
        retry=retry or RetryPolicy(max_attempts=5, max_total_seconds=600),
        client=httpx.Client(transport=fake.transport()),
        sleep=sleep,
        clock=sleep.clock,
    )
