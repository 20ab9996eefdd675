"""Login with Amazon, ``/lwa/{region}/auth/o2/token``: the refresh-token grant (every API call's access token) and
the authorization-code grant (``chalkola auth exchange``: the code from the seller's consent → a refresh token).

authorization_code: ``code`` must be one of ``DEMO_AUTHORIZATION_CODES`` of the client's API, not used before,
and ``redirect_uri`` the app's registered one (``DEMO_REDIRECT_URI``); the answer carries the region's demo
refresh token. Errors as Amazon's: ``invalid_client`` (401), ``invalid_grant`` (400: unknown, used or mismatched
code), ``invalid_request`` (400: a parameter missing), ``unsupported_grant_type`` (400)."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.responses import Response

from chalkola_pipelines.simulator.api_pipeline import ApiError, Ctx, json_response
from chalkola_pipelines.simulator.credentials import (
    DEMO_AUTHORIZATION_CODES,
    DEMO_CLIENTS,
    DEMO_REDIRECT_URI,
    DEMO_REFRESH_TOKENS,
)


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
    api = client[1]
    if grant_type == "authorization_code":
        return _authorization_code_grant(ctx, form, api, client_id)
    if grant_type != "refresh_token":
        raise ApiError(
            400, "unsupported_grant_type", f"The grant type {grant_type!r} is not supported by this server"
        )
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


def _authorization_code_grant(ctx: Ctx, form: dict[str, str], api: str, client_id: str) -> Response:
    code = str(form.get("code", ""))
    redirect_uri = str(form.get("redirect_uri", ""))
    if not code or not redirect_uri:
        raise ApiError(
            400, "invalid_request", "The request is missing a required parameter : code / redirect_uri"
        )
    region = next((r for r, c in DEMO_AUTHORIZATION_CODES[api].items() if c == code), None)
    if region is None or redirect_uri != DEMO_REDIRECT_URI or not ctx.state.redeem_authorization_code(code):
        raise ApiError(400, "invalid_grant", "The request has an invalid grant parameter : code")
    body = {
        "access_token": ctx.state.issue_access_token(api, region, client_id),
        "refresh_token": DEMO_REFRESH_TOKENS[api][region],
        "token_type": "bearer",
        "expires_in": 3600,
    }
    return json_response(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
