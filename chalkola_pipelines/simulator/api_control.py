"""The ``/_simulator`` control routes: faults, health, clock."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

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
