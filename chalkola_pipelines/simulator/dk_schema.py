"""Data Kiosk queries parsed and validated with graphql-core against Amazon's own SDL file.

``amazon/schemas/analytics_salesAndTraffic_2024_04_24.graphql`` is Amazon's file verbatim (see its README):
it declares ``schema { query: Query }``, so ``build_schema`` takes it as it is. The custom scalar ``Date``
gets an RFC 3339 full-date parser, so that "2024-13-01" fails validation like a wrong enum value does.

:func:`parse_query` answers either a :class:`ParsedQuery` (what to compute and which fields to return) or a
:class:`DkQueryError` (the request is rejected outright: 400 InvalidInput). Limits that the schema cannot
express (30 ASINs per filter, two-year look-back) are checked later, while the query runs (FATAL).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    get_named_type,
    parse,
    strip_ignored_characters,
    validate,
)
from graphql.execution.collect_fields import collect_fields, collect_sub_fields
from graphql.execution.values import get_argument_values
from graphql.language import FragmentDefinitionNode, ValueNode, print_ast

#: the one shipped copy of Amazon's SDL (chalkola_pipelines/amazon/schemas, provenance in its README)
SCHEMA_FILE = (
    Path(__file__).resolve().parent.parent
    / "amazon"
    / "schemas"
    / "analytics_salesAndTraffic_2024_04_24.graphql"
)
ROOT_FIELD = "analytics_salesAndTraffic_2024_04_24"
QUERY_FIELDS = ("salesAndTrafficByDate", "salesAndTrafficByAsin", "salesAndTrafficTrends")
#: "A query must be at most 8000 characters after unnecessary whitespace is removed." (createQuery model)
MAX_QUERY_CHARS = 8000
TYPENAME = "__typename="


class DkQueryError(ValueError):
    """The query cannot be accepted (createQuery answers 400 with this message)."""


#: A selection: response key → (field name, sub-selection or None for a leaf).
Projection = dict[str, tuple[str, "Projection | None"]]


@dataclass(frozen=True)
class ParsedQuery:
    field: str  # one of QUERY_FIELDS
    args: dict[str, Any]  # coerced arguments (dates as dt.date, enums as names)
    projection: Projection  # the selection of each record
    minified: str  # the query with ignorable characters removed (its length is what the limit counts)


def _parse_date_value(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise GraphQLError(f"Date cannot represent a non-string value: {value!r}")
    parsed = None
    if len(value) == 10:
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise GraphQLError(f"Date must be an RFC 3339 full date (YYYY-MM-DD), got {value!r}")
    return parsed


def _parse_date_literal(node: ValueNode, _variables: Any = None) -> dt.date:
    from graphql.language import StringValueNode

    if not isinstance(node, StringValueNode):
        raise GraphQLError(f"Date cannot represent a non-string value: {print_ast(node)}")
    return _parse_date_value(node.value)


def _serialize_date(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@functools.cache
def schema() -> GraphQLSchema:
    """Amazon's schema, built once per process."""
    built = build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))
    date = built.type_map["Date"]
    assert isinstance(date, GraphQLScalarType)
    date.parse_value = _parse_date_value  # type: ignore[method-assign]
    date.parse_literal = _parse_date_literal  # type: ignore[method-assign]
    date.serialize = _serialize_date  # type: ignore[method-assign]
    return built


def minified_length(query: str) -> int:
    return len(strip_ignored_characters(query))


def _messages(errors: list[GraphQLError]) -> str:
    parts = []
    for error in errors[:5]:
        where = ""
        if error.locations:
            loc = error.locations[0]
            where = f" (line {loc.line}, column {loc.column})"
        parts.append(f"{error.message}{where}")
    return "; ".join(parts)


def parse_query(query: Any) -> ParsedQuery:
    """Parse, check the length limit, validate against the schema and extract the one data field."""
    if not isinstance(query, str) or not query.strip():
        raise DkQueryError("query is required and must be a non-empty string")
    try:
        document = parse(query)
    except GraphQLError as exc:
        raise DkQueryError(f"Invalid query: {_messages([exc])}") from None
    minified = strip_ignored_characters(query)
    if len(minified) > MAX_QUERY_CHARS:
        raise DkQueryError(
            f"The query is {len(minified)} characters long after unnecessary whitespace is removed; "
            f"the maximum is {MAX_QUERY_CHARS}"
        )
    sdl = schema()
    errors = validate(sdl, document)
    if errors:
        raise DkQueryError(f"Invalid query: {_messages(errors)}")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        raise DkQueryError("Invalid query: the document must contain exactly one operation")
    operation = operations[0]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    query_type = sdl.query_type
    assert query_type is not None
    try:
        roots = collect_fields(sdl, fragments, {}, query_type, operation.selection_set)
        data_fields: list[tuple[str, list[FieldNode]]] = []
        for nodes in roots.values():
            if nodes[0].name.value != ROOT_FIELD:
                continue  # __typename
            root_def = query_type.fields[ROOT_FIELD]
            root_type = get_named_type(root_def.type)
            assert isinstance(root_type, GraphQLObjectType)
            inner = collect_sub_fields(sdl, fragments, {}, root_type, nodes)
            data_fields.extend((k, v) for k, v in inner.items() if v[0].name.value in QUERY_FIELDS)
        if len(data_fields) != 1:
            found = ", ".join(v[0].name.value for _, v in data_fields) or "none"
            raise DkQueryError(
                f"Invalid query: select exactly one of {', '.join(QUERY_FIELDS)} under {ROOT_FIELD} "
                f"(found: {found})"
            )
        _, nodes = data_fields[0]
        name = nodes[0].name.value
        field_def = root_type.fields[name]
        args = get_argument_values(field_def, nodes[0], {})
        record_type = get_named_type(field_def.type)
        assert isinstance(record_type, GraphQLObjectType)
        projection = _projection(sdl, fragments, record_type, nodes)
    except GraphQLError as exc:  # e.g. a variable: createQuery has no way to pass values
        raise DkQueryError(f"Invalid query: {_messages([exc])}") from None
    return ParsedQuery(name, args, projection, minified)


def _projection(
    sdl: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    object_type: GraphQLObjectType,
    nodes: list[FieldNode],
) -> Projection:
    out: Projection = {}
    for key, sub_nodes in collect_sub_fields(sdl, fragments, {}, object_type, nodes).items():
        field_name = sub_nodes[0].name.value
        if field_name == "__typename":  # the type name travels in the field-name slot
            out[key] = (f"{TYPENAME}{object_type.name}", None)
            continue
        field_type = object_type.fields[field_name].type
        while isinstance(field_type, GraphQLNonNull | GraphQLList):
            field_type = field_type.of_type
        if isinstance(field_type, GraphQLObjectType):
            out[key] = (field_name, _projection(sdl, fragments, field_type, sub_nodes))
        else:
            out[key] = (field_name, None)
    return out
