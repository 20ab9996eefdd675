"""The ``/_simulator`` control routes: faults, health, clock, Data Kiosk role, per-seller quotas, request stats."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from chalkola_pipelines.amazon.usage_plans import SP_API_SELLER_QUOTAS
from chalkola_pipelines.simulator.api_pipeline import json_response
from chalkola_pipelines.simulator.faults import FaultError
from chalkola_pipelines.simulator.state import SimulatorState


async def faults_route(request: Request) -> Response:
    state: SimulatorState = request.app.state.simulator
    if request.method == "DELETE":
        state.faults.clear()
        return json_response(200, {"faults": []})
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"null")
            items = body if isinstance(body, list) else [body]
            for item in items:
                if not isinstance(item, dict):
                    raise FaultError("each fault must be an object with operation and kind")
                state.faults.add_from_json(item)
        except (ValueError, TypeError, FaultError) as exc:
            return json_response(400, {"error": str(exc)})
    return json_response(200, {"faults": state.faults.pending()})


async def health_route(request: Request) -> Response:
    state: SimulatorState = request.app.state.simulator
    body = {
        "status": "ok",
        "seed": state.seed,
        "timeScale": state.time_scale,
        "sellerId": state.seller.seller_id,
    }
    return json_response(200, body)


async def advance_route(request: Request) -> Response:
    """POST {"seconds": N}: move the simulated clock forward (demo and manual testing)."""
    state: SimulatorState = request.app.state.simulator
    try:
        seconds = float(json.loads(await request.body() or b"{}").get("seconds", 0))
        state.clock.advance(seconds)
    except (ValueError, TypeError, AttributeError) as exc:
        return json_response(400, {"error": str(exc)})
    return json_response(200, {"elapsed": state.clock.elapsed()})


async def data_kiosk_route(request: Request) -> Response:
    """GET: {"brandAnalytics": bool}; POST {"brandAnalytics": false}: Data Kiosk answers 403 as for an app
    without the Brand Analytics role (true restores it)."""
    state: SimulatorState = request.app.state.simulator
    if request.method == "POST":
        try:
            value = json.loads(await request.body() or b"{}").get("brandAnalytics")
        except (ValueError, AttributeError) as exc:
            return json_response(400, {"error": str(exc)})
        if not isinstance(value, bool):
            return json_response(400, {"error": "brandAnalytics must be true or false"})
        state.brand_analytics = value
    return json_response(200, {"brandAnalytics": state.brand_analytics})


async def quotas_route(request: Request) -> Response:
    """The per-seller meters (GET_SALES_AND_TRAFFIC_REPORT createReport): GET their state; POST
    {"salesAndTrafficTokens": n} (or null for a full bucket) restarts them with that bucket and nothing used
    today; DELETE restarts them as at the simulator's start."""
    state: SimulatorState = request.app.state.simulator
    if request.method == "DELETE":
        state.meters.reset(state.st_initial_tokens)
    elif request.method == "POST":
        try:
            tokens = json.loads(await request.body() or b"{}").get("salesAndTrafficTokens")
            state.meters.reset(None if tokens is None else float(tokens))
        except (ValueError, TypeError, AttributeError) as exc:
            return json_response(400, {"error": str(exc)})
    quota = SP_API_SELLER_QUOTAS[("createReport", "GET_SALES_AND_TRAFFIC_REPORT")]
    key = (state.seller.seller_id, "createReport", "GET_SALES_AND_TRAFFIC_REPORT")
    body = {
        "salesAndTraffic": {
            **state.meters.status(key, quota),
            "burst": quota.burst,
            "refillSeconds": quota.refill_seconds,
            "dailyCap": quota.daily_cap,
        }
    }
    return json_response(200, body)


async def stats_route(request: Request) -> Response:
    """GET: API calls answered so far by operation (status codes, regions) and the simulated clock;
    DELETE: start counting again."""
    state: SimulatorState = request.app.state.simulator
    if request.method == "DELETE":
        state.request_stats.reset()
    return json_response(
        200, {**state.request_stats.snapshot(), "elapsedSimulatedSeconds": state.clock.elapsed()}
    )
