"""Validation of simulator responses against Amazon's official models in ../shared/amazon-models."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema

MODELS = Path(__file__).resolve().parents[1] / "amazon_models"  # vendored official models
SWAGGER = {
    "reports": MODELS / "models/reports-api-model/reports_2021-06-30.json",
    "orders": MODELS / "models/orders-api-model/ordersV0.json",
    "sellers": MODELS / "models/sellers-api-model/sellers.json",
    "dataKiosk": MODELS / "models/data-kiosk-api-model/dataKiosk_2023-11-15.json",
}
DATA_KIOSK_SDL = MODELS / "schemas/data-kiosk/analytics_salesAndTraffic_2024_04_24.graphql"
ADS_SPEC = MODELS / "ads-api/reporting-v3.json"
SALES_TRAFFIC_SCHEMA = MODELS / "schemas/reports/sellerSalesAndTrafficReport.json"


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _swagger_operation(model: str, operation_id: str) -> dict[str, Any]:
    for item in _load(SWAGGER[model])["paths"].values():
        for method, op in item.items():
            if method != "parameters" and op.get("operationId") == operation_id:
                return op
    raise KeyError(f"{operation_id} not in {SWAGGER[model].name}")


def assert_sp_response(model: str, operation_id: str, response: httpx.Response) -> Any:
    """Body validates against the model's schema for that status; x-amzn headers exactly as declared."""
    op = _swagger_operation(model, operation_id)
    declared = op["responses"].get(str(response.status_code))
    assert declared is not None, f"{operation_id} does not declare status {response.status_code}"
    for header in ("x-amzn-RateLimit-Limit", "x-amzn-RequestId"):
        present = header.lower() in {h.lower() for h in response.headers}
        expected = header in declared.get("headers", {})
        assert present == expected, f"{operation_id} {response.status_code}: {header} present={present}"
    body = None
    if "schema" in declared:
        body = response.json()
        doc = _load(SWAGGER[model])
        schema = {**declared["schema"], "definitions": doc["definitions"]}
        jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)
    return body


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3 ``nullable: true`` → JSON Schema ``type: [T, "null"]``."""
    if isinstance(node, dict):
        node = {k: _nullable_to_jsonschema(v) for k, v in node.items()}
        if node.pop("nullable", False):
            if "type" in node:
                node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
            if "$ref" in node:
                node = {"anyOf": [{"$ref": node.pop("$ref")}, {"type": "null"}], **node}
        return node
    if isinstance(node, list):
        return [_nullable_to_jsonschema(v) for v in node]
    return node


def assert_ads_response(operation_id: str, response: httpx.Response) -> Any:
    """Body validates against reporting-v3.json for that status and media type."""
    spec = _load(ADS_SPEC)
    op = next(
        op for item in spec["paths"].values() for op in item.values() if op.get("operationId") == operation_id
    )
    declared = op["responses"].get(str(response.status_code))
    assert declared is not None, f"{operation_id} does not declare status {response.status_code}"
    media_type = response.headers["content-type"].split(";")[0].strip()
    content = declared.get("content", {})
    assert media_type in content, (
        f"{operation_id} {response.status_code}: media type {media_type} not in {list(content)}"
    )
    body = response.json()
    schema = _nullable_to_jsonschema(copy.deepcopy(content[media_type]["schema"]))
    root = {**schema, "components": _nullable_to_jsonschema(copy.deepcopy(spec["components"]))}
    jsonschema.Draft7Validator(root).validate(body)
    return body


def assert_sales_traffic_document(document: Any) -> None:
    schema = _load(SALES_TRAFFIC_SCHEMA)
    jsonschema.validators.validator_for(schema)(schema).validate(document)


# From the Ads docs (guides/account-management/authorization/profiles.md); no machine-readable model exists.
PROFILES_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["profileId", "countryCode", "currencyCode", "timezone", "accountInfo"],
        "properties": {
            "profileId": {"type": "integer"},
            "countryCode": {"type": "string"},
            "currencyCode": {"type": "string"},
            "dailyBudget": {"type": "number"},
            "timezone": {"type": "string"},
            "accountInfo": {
                "type": "object",
                "required": ["marketplaceStringId", "id", "type"],
                "properties": {
                    "marketplaceStringId": {"type": "string"},
                    "id": {"type": "string"},
                    "type": {"enum": ["seller", "vendor", "agency"]},
                    "name": {"type": "string"},
                    "validPaymentMethod": {"type": "boolean"},
                },
            },
        },
    },
}
