"""Login with Amazon: the refresh-token grant of ``/lwa/{region}/auth/o2/token``."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.responses import Response

from chalkola_pipelines.simulator.api_pipeline import ApiError, Ctx, json_response
from chalkola_pipelines.simulator.credentials import DEMO_CLIENTS, DEMO_REFRESH_TOKENS


async def lwa_token(ctx: Ctx) -> Response:
    # application/x-www-form-urlencoded, parsed here (Starlette's form() needs python-multipart)
    form = {k: v[0] for k, v in parse_qs((await ctx.request.body()).decode("utf-8", "replace")).items()}
    grant_type = str(form.get("grant_type", ""))
    client_id = str(form.get("client_id", ""))
    client_secret = str(form.get("client_secret", ""))
    refresh_token = str(form.get("refresh_token", ""))
    client = DEMO_CLIENTS.get(client_id)
    if client is None or client[0] != client_secret:
        raise ApiError(401, "invalid_client", "Client authentication failed")
    if grant_type != "refresh_token":
        raise ApiError(
            400, "unsupported_grant_type", f"The grant type {grant_type!r} is not supported by this server"
        )
    api = client[1]
    region = next((r for r, t in DEMO_REFRESH_TOKENS[api].items() if t == refresh_token), None)
    if region is None:
        raise ApiError(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
    access_token = ctx.state.issue_access_token(api, region, client_id)
    body = {
        "access_token": access_token,
        "refresh_token": refresh_token,
        "token_type": "bearer",
        "expires_in": 3600,
    }
    return json_response(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
