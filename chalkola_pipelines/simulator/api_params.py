"""Request parsing shared by the API handlers: date-times, csv lists, page tokens, bodies, marketplaces."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from chalkola_pipelines.marketplaces import UnknownMarketplaceError, get_marketplace_by_id
from chalkola_pipelines.simulator.api_pipeline import ApiError, Ctx
from chalkola_pipelines.simulator.state import SimulatorState


def parse_datetime(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "InvalidInput", f"{name} must be an ISO 8601 date-time string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "InvalidInput", f"{name} {value!r} is not a valid ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def csv_param(request: Request, name: str) -> list[str]:
    """Swagger ``collectionFormat: csv`` (also accepts the parameter repeated)."""
    values: list[str] = []
    for raw in request.query_params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def csv_list(request: Request, name: str, *, at_most: int, missing: str | None = None) -> list[str]:
    """A csv parameter of at most ``at_most`` values; ``missing``: the error text when it is required."""
    values = csv_param(request, name)
    if missing is not None and not values:
        raise ApiError(400, "InvalidInput", missing)
    if len(values) > at_most:
        raise ApiError(400, "InvalidInput", f"{name} accepts at most {at_most} values")
    return values


def page_size(request: Request, name: str, default: int, *, not_int: str, out_of_range: str) -> int:
    """A page-size parameter from 1 to 100 (each API words its two errors its own way)."""
    try:
        size = int(request.query_params.get(name, str(default)))
    except ValueError:
        raise ApiError(400, "InvalidInput", not_int) from None
    if not 1 <= size <= 100:
        raise ApiError(400, "InvalidInput", out_of_range)
    return size


def encode_token(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, name: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidInput", f"Invalid {name}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidInput", f"Invalid {name}")
    return data


def _seller_marketplace_ids(state: SimulatorState) -> set[str]:
    return {m.marketplace_id for m in state.seller.marketplaces}


def check_marketplaces(ctx: Ctx, marketplace_ids: list[str]) -> None:
    participating = _seller_marketplace_ids(ctx.state)
    for marketplace_id in marketplace_ids:
        try:
            marketplace = get_marketplace_by_id(marketplace_id)
        except UnknownMarketplaceError:
            raise ApiError(400, "InvalidInput", f"Invalid marketplace id {marketplace_id!r}") from None
        if marketplace.region != ctx.region:
            raise ApiError(
                400,
                "InvalidInput",
                f"Marketplace {marketplace_id} ({marketplace.code}) belongs to the {marketplace.region.upper()} "
                f"endpoint, not {ctx.region.upper()}",
            )
        if marketplace_id not in participating:
            raise ApiError(
                400, "InvalidInput", f"The seller does not participate in marketplace {marketplace_id}"
            )


async def json_body(ctx: Ctx) -> Any:
    raw = await ctx.request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError:
        code = "400" if ctx.api == "ads" else "InvalidInput"
        raise ApiError(400, code, "The request body is not valid JSON") from None
