"""GraphQL queries of Data Kiosk ``analytics_salesAndTraffic_2024_04_24``, built and validated with graphql-core.

Three queries, each selecting every field the raw S&T tables hold (the report's catalogue in
``report_columns``: ``ST_BY_DATE_FIELDS`` / ``ST_BY_ASIN_FIELDS``):

* ``salesAndTrafficTrends(asinAggregation: CHILD, dateAggregation: DAY, startDate, endDate,
  filters: [{marketplaceId, asins ≤ 30}])``: one record per child ASIN, marketplace and day. The filters
  are packed greedily into as few queries as fit :data:`MAX_QUERY_CHARS` (measured on the compact text
  that is sent), several marketplaces per query.
* ``salesAndTrafficByDate(aggregateBy: DAY, marketplaceIds)``: daily totals of several marketplaces.
* ``salesAndTrafficByAsin(aggregateBy: CHILD, marketplaceIds)``: one record per child ASIN over the
  window, the input (ASIN discovery) for Trends filters.

Field mapping: report section → SDL type: ``salesByDate`` → ``ByDateSales`` (``sales``), ``trafficByDate``
→ ``ByDateTraffic`` (``traffic``), ``salesByAsin`` → ``ByAsinSales``, ``trafficByAsin`` → ``ByAsinTraffic``;
field names are the same in both, with the same kind (Long = int, Float = num, Amount = money) and the same
nullability (B2B fields nullable): tests/amazon_clients checks each against the vendored SDL. The SDL lacks
no field the tables hold. Report row keys: ``date`` → ``startDate``/``endDate`` (equal for DAY),
``parentAsin``/``childAsin``/``sku`` → the same names; ``marketplaceId`` is new (the report is one
marketplace per document). SDL fields the tables do not hold are not selected (shorter queries):
ByDateSales ``claimsAmountB2B claimsGrantedB2B ordersShippedB2B refundRateB2B shippedProductSalesB2B
unitsRefundedB2B unitsShippedB2B``; ByDateTraffic ``feedbackReceivedB2B negativeFeedbackReceivedB2B
receivedNegativeFeedbackRateB2B``; ByAsinSales ``ordersShipped refundRate shippedProductSales unitsRefunded
unitsShipped`` (+ B2B twins) — the report's byAsin has no such fields.

Output is deterministic (marketplaces and ASINs sorted and de-duplicated, one fixed field order, compact
text from ``strip_ignored_characters``) so an identical request yields an identical text and the client can
reuse an identical query Amazon already has (getQueries matches on the text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Literal

from graphql import (
    ArgumentNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    GraphQLSchema,
    ListValueNode,
    NameNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    build_schema,
    parse,
    print_ast,
    validate,
)
from graphql.utilities import strip_ignored_characters

from chalkola_pipelines.amazon.report_columns import ST_BY_ASIN_FIELDS, ST_BY_DATE_FIELDS, ReportField

SCHEMA_FILE = "analytics_salesAndTraffic_2024_04_24.graphql"
DOMAIN = "analytics_salesAndTraffic_2024_04_24"
#: createQuery: "A query must be at most 8000 characters after unnecessary whitespace is removed."
MAX_QUERY_CHARS = 8000
#: the longest date window of one set of Trends queries: a Trends query of ~450 marketplace-ASIN
#: pairs over 92 days is ~41k records, one document page (more pages mean a createQuery each); a longer range
#: is cut into windows (:func:`query_windows`) that are all in flight together
MAX_WINDOW_DAYS = 92
#: MarketplaceAsinFilter.asins: "Maximum size of the list is 30."
MAX_ASINS_PER_FILTER = 30

QueryKind = Literal["trends", "by_date", "by_asin"]
ROOT_FIELDS: dict[QueryKind, str] = {
    "trends": "salesAndTrafficTrends",
    "by_date": "salesAndTrafficByDate",
    "by_asin": "salesAndTrafficByAsin",
}
#: named operations (not the anonymous "{…}" shorthand): Amazon's examples name theirs, and a name shows
#: which queries in getQueries are the pipeline's
OPERATION_NAMES: dict[QueryKind, str] = {
    "trends": "ChalkolaSalesAndTrafficTrends",
    "by_date": "ChalkolaSalesAndTrafficByDate",
    "by_asin": "ChalkolaSalesAndTrafficByAsin",
}
_ASIN = re.compile(r"^[A-Z0-9]{10}$")
_MARKETPLACE_ID = re.compile(r"^[A-Z0-9]{5,20}$")


@dataclass(frozen=True)
class DataKioskQuery:
    """One createQuery request: the compact GraphQL ``text`` plus what it asks for (for messages/routing).

    ``pagination_token`` is set for the second and later pages of a query's results (same text).
    """

    kind: QueryKind
    text: str
    start_date: date
    end_date: date
    marketplace_ids: tuple[str, ...]
    asin_count: int = 0  # marketplace-ASIN pairs in the filters (trends)
    pagination_token: str | None = None

    @property
    def window(self) -> str:
        """``2026-01-01..2026-01-07 [ATVPDKIKX0DER,A2EUQ1WTGCTBG2]`` (+ pairs for trends)."""
        pairs = f", {self.asin_count} ASIN filters" if self.kind == "trends" else ""
        return (
            f"{self.start_date.isoformat()}..{self.end_date.isoformat()} "
            f"[{','.join(self.marketplace_ids)}]{pairs}"
        )

    @property
    def max_records(self) -> int:
        """At most this many Trends records: one per marketplace-ASIN pair and day (0 for other kinds)."""
        return ((self.end_date - self.start_date).days + 1) * self.asin_count

    def next_page(self, token: str) -> DataKioskQuery:
        """The same query for the page after this one (``pagination.nextToken``)."""
        return DataKioskQuery(
            self.kind, self.text, self.start_date, self.end_date, self.marketplace_ids, self.asin_count, token
        )


# ------------------------------------------------------------------------------------------------------
# schema


@cache
def schema_sdl() -> str:
    """The vendored SDL (chalkola_pipelines/amazon/schemas, provenance in its README)."""
    return resources.files("chalkola_pipelines.amazon").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")


@cache
def schema() -> GraphQLSchema:
    return build_schema(schema_sdl())


def validation_errors(text: str) -> list[str]:
    """graphql-core ``validate`` of ``text`` against the official SDL (empty list = valid)."""
    try:
        document = parse(text)
    except Exception as exc:  # graphql.GraphQLError (syntax)
        return [str(exc)]
    return [error.message for error in validate(schema(), document)]


def check_query(text: str) -> None:
    """Raise ``ValueError`` naming every problem if ``text`` is not a valid query of the SDL."""
    errors = validation_errors(text)
    if errors:
        raise ValueError("Data Kiosk query does not validate against the SDL: " + "; ".join(errors))


# ------------------------------------------------------------------------------------------------------
# selections


def _name(value: str) -> NameNode:
    return NameNode(value=value)


def _field(
    name: str, children: Iterable[FieldNode] = (), arguments: Iterable[ArgumentNode] = ()
) -> FieldNode:
    kids = tuple(children)
    return FieldNode(
        name=_name(name),
        arguments=tuple(arguments),
        directives=(),
        selection_set=SelectionSetNode(selections=kids) if kids else None,
    )


def _section(name: str, fields: Iterable[ReportField], section: str) -> FieldNode:
    amount = (_field("amount"), _field("currencyCode"))
    return _field(
        name, [_field(f.name, amount if f.kind == "money" else ()) for f in fields if f.section == section]
    )


def _record_selection(kind: QueryKind) -> tuple[FieldNode, ...]:
    if kind == "by_date":
        heads = ("startDate", "endDate", "marketplaceId")
        sections = (("sales", "salesByDate"), ("traffic", "trafficByDate"))
        fields = ST_BY_DATE_FIELDS
    else:
        heads = ("startDate", "endDate", "marketplaceId", "parentAsin", "childAsin", "sku")
        sections = (("sales", "salesByAsin"), ("traffic", "trafficByAsin"))
        fields = ST_BY_ASIN_FIELDS
    return (*(_field(h) for h in heads), *(_section(n, fields, s) for n, s in sections))


def _arg(name: str, value: ValueNode) -> ArgumentNode:
    return ArgumentNode(name=_name(name), value=value)


def _string(value: str) -> StringValueNode:
    return StringValueNode(value=value)


def _strings(values: Iterable[str]) -> ListValueNode:
    return ListValueNode(values=tuple(_string(v) for v in values))


def _render(kind: QueryKind, arguments: list[ArgumentNode]) -> str:
    root = _field(ROOT_FIELDS[kind], _record_selection(kind), arguments)
    document = DocumentNode(
        definitions=(
            OperationDefinitionNode(
                operation=OperationType.QUERY,
                name=_name(OPERATION_NAMES[kind]),
                variable_definitions=(),
                directives=(),
                selection_set=SelectionSetNode(selections=(_field(DOMAIN, (root,)),)),
            ),
        )
    )
    return strip_ignored_characters(print_ast(document))


def _window_arguments(start: date, end: date) -> list[ArgumentNode]:
    if end < start:
        raise ValueError(f"Data Kiosk query: end date {end} is before start date {start}")
    return [_arg("startDate", _string(start.isoformat())), _arg("endDate", _string(end.isoformat()))]


def _marketplaces(marketplace_ids: Iterable[str]) -> tuple[str, ...]:
    ids = tuple(sorted({str(m).strip() for m in marketplace_ids}))
    if not ids:
        raise ValueError("Data Kiosk query: no marketplace id given")
    for m in ids:
        if not _MARKETPLACE_ID.match(m):
            raise ValueError(f"Data Kiosk query: {m!r} is not a marketplace id (e.g. ATVPDKIKX0DER)")
    return ids


def _asins(marketplace_id: str, asins: Iterable[str]) -> list[str]:
    out = sorted({str(a).strip().upper() for a in asins})
    for asin in out:
        if not _ASIN.match(asin):
            raise ValueError(f"Data Kiosk query: {asin!r} ({marketplace_id}) is not a 10-character ASIN")
    return out


# ------------------------------------------------------------------------------------------------------
# builders


def _finish(query: DataKioskQuery, max_chars: int) -> DataKioskQuery:
    if len(query.text) > max_chars:
        raise ValueError(
            f"Data Kiosk {query.kind} query for {query.window} is {len(query.text)} characters, over {max_chars}"
        )
    check_query(query.text)
    return query


def sales_traffic_by_date_query(
    start: date, end: date, marketplace_ids: Iterable[str], *, max_chars: int = MAX_QUERY_CHARS
) -> DataKioskQuery:
    """salesAndTrafficByDate(aggregateBy: DAY) for every marketplace given (one record per marketplace-day)."""
    ids = _marketplaces(marketplace_ids)
    arguments = [
        _arg("aggregateBy", EnumValueNode(value="DAY")),
        *_window_arguments(start, end),
        _arg("marketplaceIds", _strings(ids)),
    ]
    return _finish(DataKioskQuery("by_date", _render("by_date", arguments), start, end, ids), max_chars)


def sales_traffic_by_asin_query(
    start: date, end: date, marketplace_ids: Iterable[str], *, max_chars: int = MAX_QUERY_CHARS
) -> DataKioskQuery:
    """salesAndTrafficByAsin(aggregateBy: CHILD): every child ASIN with activity over the whole window."""
    ids = _marketplaces(marketplace_ids)
    arguments = [
        _arg("aggregateBy", EnumValueNode(value="CHILD")),
        *_window_arguments(start, end),
        _arg("marketplaceIds", _strings(ids)),
    ]
    return _finish(DataKioskQuery("by_asin", _render("by_asin", arguments), start, end, ids), max_chars)


def _filter(marketplace_id: str, asins: list[str]) -> ObjectValueNode:
    return ObjectValueNode(
        fields=(
            ObjectFieldNode(name=_name("marketplaceId"), value=_string(marketplace_id)),
            ObjectFieldNode(name=_name("asins"), value=_strings(asins)),
        )
    )


def _trends_text(start: date, end: date, filters: list[ObjectValueNode]) -> str:
    arguments = [
        _arg("asinAggregation", EnumValueNode(value="CHILD")),
        _arg("dateAggregation", EnumValueNode(value="DAY")),
        *_window_arguments(start, end),
        _arg("filters", ListValueNode(values=tuple(filters))),
    ]
    return _render("trends", arguments)


def trends_filters(asins_by_marketplace: Mapping[str, Iterable[str]]) -> list[tuple[str, tuple[str, ...]]]:
    """(marketplace id, ≤ 30 ASINs) filters in a fixed order: marketplaces sorted, ASINs sorted and unique."""
    filters: list[tuple[str, tuple[str, ...]]] = []
    for marketplace_id in _marketplaces(asins_by_marketplace):
        wanted = [v for k, v in asins_by_marketplace.items() if str(k).strip() == marketplace_id]
        asins = _asins(marketplace_id, (a for group in wanted for a in group))
        for i in range(0, len(asins), MAX_ASINS_PER_FILTER):
            filters.append((marketplace_id, tuple(asins[i : i + MAX_ASINS_PER_FILTER])))
    return filters


def sales_traffic_trends_queries(
    start: date,
    end: date,
    asins_by_marketplace: Mapping[str, Iterable[str]],
    *,
    max_chars: int = MAX_QUERY_CHARS,
) -> list[DataKioskQuery]:
    """salesAndTrafficTrends(CHILD, DAY) for every (marketplace, child ASIN) pair given, in as few queries as fit.

    ASINs are split into filters of ≤ 30 per marketplace; filters are packed in order into a query until
    the next one would take the compact text over ``max_chars``. A marketplace without ASINs is skipped.
    """
    non_empty = {m: list(a) for m, a in asins_by_marketplace.items() if list(a)}
    if not non_empty:
        return []
    empty_length = len(_trends_text(start, end, []))
    # Compact text concatenates filter objects without a separator ("[{…}{…}]"), so a query's length is
    # the empty query's plus each filter's own (measured once); _finish measures the real text again.
    entries = []
    for marketplace_id, asins in trends_filters(non_empty):
        node = _filter(marketplace_id, list(asins))
        size = len(strip_ignored_characters(print_ast(node)))
        if empty_length + size > max_chars:
            raise ValueError(
                f"Data Kiosk trends query: one filter ({marketplace_id}, {len(asins)} ASINs) does not fit "
                f"{max_chars} characters (the query without filters is {empty_length})"
            )
        entries.append((marketplace_id, asins, node, size))
    batches: list[list[tuple[str, tuple[str, ...], ObjectValueNode, int]]] = [[]]
    length = empty_length
    for entry in entries:
        if batches[-1] and length + entry[3] > max_chars:
            batches.append([])
            length = empty_length
        batches[-1].append(entry)
        length += entry[3]
    return [_trends_query(start, end, batch, max_chars) for batch in batches]


def _trends_query(
    start: date, end: date, batch: list[tuple[str, tuple[str, ...], ObjectValueNode, int]], max_chars: int
) -> DataKioskQuery:
    text = _trends_text(start, end, [node for _, _, node, _ in batch])
    predicted = len(_trends_text(start, end, [])) + sum(size for _, _, _, size in batch)
    if len(text) != predicted:  # the packing arithmetic above would be wrong: never send a guess
        raise AssertionError(
            f"Data Kiosk trends query is {len(text)} characters, packing predicted {predicted}"
        )
    marketplaces = tuple(sorted({m for m, _, _, _ in batch}))
    pairs = sum(len(asins) for _, asins, _, _ in batch)
    return _finish(DataKioskQuery("trends", text, start, end, marketplaces, pairs), max_chars)


def query_windows(start: date, end: date, max_days: int = MAX_WINDOW_DAYS) -> list[tuple[date, date]]:
    """``start..end`` cut into windows of at most ``max_days`` days, newest first, cut from ``end`` back (so a
    range that grows at its old end keeps its newer windows, and their queries, unchanged)."""
    if end < start or max_days < 1:
        raise ValueError(f"no window in {start}..{end} (max_days {max_days})")
    windows = []
    last = end
    while last >= start:
        first = max(start, last - timedelta(days=max_days - 1))
        windows.append((first, last))
        last = first - timedelta(days=1)
    return windows
