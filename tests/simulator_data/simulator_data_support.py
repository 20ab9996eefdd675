"""Shared helpers for the synthetic-seller tests: a fixed clock, official schemas, JSON round trips."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema

from chalkola_pipelines.simulator.seller import SyntheticSeller

MODELS = Path(__file__).resolve().parents[1] / "amazon_models"  # vendored official models
ST_SCHEMA_PATH = MODELS / "schemas/reports/sellerSalesAndTrafficReport.json"
ORDERS_MODEL_PATH = MODELS / "models/orders-api-model/ordersV0.json"
SELLERS_MODEL_PATH = MODELS / "models/sellers-api-model/sellers.json"

#: The instant every test's data is "as of" (independent of the real date).
FIXED_NOW = dt.datetime(2026, 4, 20, 12, 0, tzinfo=dt.UTC)


def seller(seed: int = 7, now: dt.datetime = FIXED_NOW, **kwargs: Any) -> SyntheticSeller:
    return SyntheticSeller(seed=seed, now=lambda: now, **kwargs)


def to_json(obj: Any) -> Any:
    """Round trip through JSON text with Decimals written as numbers (as the simulator serves them)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(type(value).__name__)

    return json.loads(json.dumps(obj, default=default))


def st_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(ST_SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def swagger_validator(model_path: Path, definition: str) -> jsonschema.protocols.Validator:
    """A validator for one definition of an official Swagger 2.0 model (``$ref`` resolved inside it)."""
    model = json.loads(model_path.read_text())
    schema = {"$ref": f"#/definitions/{definition}", "definitions": model["definitions"]}
    return jsonschema.Draft4Validator(schema)


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def strict(schema: Any) -> Any:
    """A copy of a JSON schema where every object with ``properties`` forbids other properties."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and schema.get("type") == "object":
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def strict_st_validator() -> jsonschema.protocols.Validator:
    schema = strict(json.loads(ST_SCHEMA_PATH.read_text()))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)
