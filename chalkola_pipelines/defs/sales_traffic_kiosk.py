"""``sp_sales_traffic`` from Data Kiosk: every marketplace of a region and all the run's days in a few queries.

For a run of one marketplace over local days first..last (amazon-facts §8.2):

1. discovery: one ``salesAndTrafficByAsin(CHILD)`` query over the run's days for the region's configured
   marketplaces lists every child ASIN with activity; the ASINs the warehouse already knows are added, so an
   ASIN that sold once is never missed. With it, one ``salesAndTrafficByDate(DAY)`` query gives the daily
   totals of every marketplace of the region over the run's days;
2. the days are cut into windows of ≤ ``MAX_WINDOW_DAYS`` (one document page per query; a history run of
   24 months has 8). Per window, ``salesAndTrafficTrends(CHILD, DAY)`` queries (≤ 30 ASINs per filter,
   filters packed under 8,000 characters) give one record per child ASIN per day. All of them are in flight
   together, created largest first (Amazon's processing grows with the records) as the createQuery bucket
   allows, while the finished ones are downloaded (``fetch_documents``);
3. the run's marketplace-days are loaded from those documents into the same tables as the report path
   (``source = data_kiosk``, ``report_id`` = the query id of each row), one transaction per window.

Every query is keyed in the ledger by region, window and query text: the other marketplaces' runs of the same
days find the same queries (landed documents are re-parsed, in-flight ones resumed; the region lock makes
simultaneous runs create each query once). A marketplace-day for which ByDate has no record (not yet
available at Amazon) is materialised empty with ``status: NO_DATA_YET``; earlier rows are kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import dagster as dg

from chalkola_pipelines.defs.partitions import MarketplaceDays, configured_marketplaces
from chalkola_pipelines.defs.report_errors import failures_named, is_partition_specific
from chalkola_pipelines.defs.report_workflow import (
    LazyClient,
    LedgerRequest,
    ReportOutcome,
    RunSummary,
    Unit,
    fetch_documents,
    kept_partition,
    mark_loaded,
    reuse_max_age,
)
from chalkola_pipelines.marketplaces import Marketplace

DK_SOURCE = "data_kiosk"
QUERY_NAMES = {
    "by_asin": "salesAndTrafficByAsin",
    "by_date": "salesAndTrafficByDate",
    "trends": "salesAndTrafficTrends",
}
NO_DATA_YET = "NO_DATA_YET"


def region_marketplaces(marketplace: Marketplace) -> list[Marketplace]:
    """The seller's configured marketplaces in ``marketplace``'s region (one Data Kiosk endpoint)."""
    found = [m for m in configured_marketplaces() if m.region == marketplace.region]
    return sorted(found or [marketplace], key=lambda m: m.code)


def query_unit(query: Any, md: MarketplaceDays, marketplaces: Sequence[Marketplace], today: dt.date) -> Unit:
    """A Data Kiosk query of a region as a workflow unit (ledger: region scope, keyed by the query text)."""
    region = md.marketplace.region
    digest = hashlib.sha256(query.text.encode()).hexdigest()[:32]
    request = LedgerRequest(
        source=DK_SOURCE,
        report_type=QUERY_NAMES[query.kind],
        region=region,
        window_start=query.start_date,
        window_end=query.end_date,
        options={"query_sha256": digest, "page": query.pagination_token or ""},
        marketplace=",".join(m.code for m in marketplaces),
        region_scope=region.upper(),
        landing_suffix=".jsonl",
    )
    label = f"sp_sales_traffic {md.describe()} (Data Kiosk {QUERY_NAMES[query.kind]} {region.upper()})"
    return Unit(query, request, md, label, query.window, reuse_max_age(query.end_date, today))


def load_from_data_kiosk(
    context: dg.AssetExecutionContext,
    *,
    md: MarketplaceDays,
    client: LazyClient,
    warehouse: Any,
    conn: Any,
    today: dt.date,
    summary: RunSummary,
    unknown_fields: Counter[str],
) -> Iterator[dg.AssetMaterialization]:
    """Discovery + ByDate → the Trends of every window → one transaction per window (module docstring)."""
    from chalkola_pipelines.amazon.data_kiosk_queries import (
        query_windows,
        sales_traffic_by_asin_query,
        sales_traffic_by_date_query,
        sales_traffic_trends_queries,
    )
    from chalkola_pipelines.warehouse.partition_queries import known_child_asins

    ledger, landing = warehouse.ledger(), warehouse.landing()
    marketplaces = region_marketplaces(md.marketplace)
    ids = [m.marketplace_id for m in marketplaces]
    first, last = md.first, md.last

    def fetch(queries: Sequence[Any]) -> list[tuple[Unit, ReportOutcome]]:
        units = [query_unit(q, md, marketplaces, today) for q in queries]
        outcomes = fetch_documents(context, units=units, client=client, ledger=ledger, landing=landing)
        return list(zip(units, outcomes, strict=True))

    # discovery and the daily totals first, together: both are small (done in minutes) and ByDate needs no
    # ASINs; one ByDate serves every window (days × marketplaces records, one page for years), so its
    # download does not wait behind the Trends documents for a getDocument token at the end
    discovery, (by_date_unit, by_date_outcome) = fetch(
        [sales_traffic_by_asin_query(first, last, ids), sales_traffic_by_date_query(first, last, ids)]
    )
    asins = known_child_asins(conn, [m.code for m in marketplaces])
    by_code = {m.marketplace_id: m.code for m in marketplaces}
    for record in _records(*discovery, ledger, unknown_fields):
        code = by_code.get(record["marketplace_id"])
        if code and record.get("child_asin"):
            asins[code].add(record["child_asin"])
    wanted = {m.marketplace_id: sorted(asins[m.code]) for m in marketplaces}
    windows = query_windows(first, last)
    trends = [sales_traffic_trends_queries(a, b, wanted) for a, b in windows]
    # largest first (days × marketplace-ASIN pairs: Amazon's processing grows with the records), so the longest
    # processing starts first and the smallest queries take the last createQuery slots
    fetched = fetch(sorted(chain.from_iterable(trends), key=lambda q: -q.max_records))
    fetched_by_text = {unit.job.text: (unit, outcome) for unit, outcome in fetched}
    context.log.info(
        f"sp_sales_traffic {md.describe()}: Data Kiosk {len(fetched) + 2} queries in {len(windows)} window(s) "
        f"for {len(marketplaces)} marketplace(s) of {md.marketplace.region.upper()} "
        f"({sum(len(a) for a in wanted.values())} marketplace-ASIN pairs; discovery {discovery[1].report_id})"
    )
    by_date_id = by_date_outcome.report_id
    by_date = _by_date_of(md.marketplace, by_date_unit, by_date_outcome, ledger, unknown_fields)
    per_day: dict[dt.date, tuple[str, str, tuple[int, int] | None, Any]] = {}
    for (a, b), window_trends in zip(windows, trends, strict=True):
        trend_units = [fetched_by_text[q.text] for q in window_trends]
        query_ids = ", ".join(o.report_id for _, o in [*trend_units, (by_date_unit, by_date_outcome)])
        days = [day for day in md.days if a <= day <= b and by_date.get(day)]
        loaded = _replace_days(
            md.marketplace, days, by_date, trend_units, by_date_id, conn, ledger, unknown_fields
        )
        documents = None
        if loaded is None:  # a database error: the day-by-day path names the day (and loads the others)
            context.log.warning(
                f"sp_sales_traffic {md.describe()}: loading the {len(days)} day(s) of {a}..{b} in one "
                "transaction failed (nothing was changed); loading day by day"
            )
            documents = _documents_of(md.marketplace, trend_units, by_date, ledger, unknown_fields)
        for day in days:
            per_day[day] = (by_date_id, query_ids, loaded[day] if loaded else None, documents)
    for day in md.days:
        base = {"marketplace": md.marketplace.code, "source": DK_SOURCE}
        if day not in per_day:
            summary.empty.append(day)
            yield kept_partition(
                context, md, day, status=NO_DATA_YET, kept_rows=_kept_rows(conn, md.marketplace, day),
                note="Data Kiosk has no daily totals for this day yet (Amazon completes a day ~34 h after it "
                "ends); the nightly refresh asks again", metadata=base,
            )  # fmt: skip
            continue
        by_date_id, query_ids, counts, documents = per_day[day]
        if counts is not None:
            n_date, n_asin = counts
        else:
            try:
                with failures_named(
                    f"sp_sales_traffic partition {md.key_for(day)}", ledger, DK_SOURCE, {}, None
                ):
                    n_date, n_asin = _replace_day(conn, md.marketplace, day, documents[day], by_date_id)
            except dg.Failure as failure:
                if len(md.days) == 1 or not is_partition_specific(failure):
                    raise
                context.log.error(failure.description or str(failure))
                summary.failures.append(failure.description or str(failure))
                continue
        summary.expected[day] = (n_date, n_asin)
        summary.loaded.append(day)
        yield dg.AssetMaterialization(
            asset_key=context.asset_key,
            partition=md.key_for(day),
            metadata={
                **base,
                "query_ids": query_ids,
                "date": day.isoformat(),
                "status": "DONE",
                "report_id": by_date_id,
                "rows": n_asin,
                "rows_by_date": n_date,
                "rows_by_asin": n_asin,
            },
        )
    summary.units += len(md.days)
    for unit, outcome in [discovery, (by_date_unit, by_date_outcome), *fetched]:
        if outcome.has_data:
            mark_loaded(ledger, unit, outcome, 0)


def _check_single_page(unit: Unit, outcome: ReportOutcome) -> None:
    if outcome.next_token:
        raise dg.Failure(
            description=f"{unit.label}: query {outcome.report_id} has more than one page of results, which this "
            "pipeline does not expect (windows of ≤ MAX_WINDOW_DAYS days are one page); report it."
        )


def _records(
    unit: Unit, outcome: ReportOutcome, ledger: Any, unknown_fields: Counter[str]
) -> Iterator[dict[str, Any]]:
    """The records of one query's document (none when Amazon had no data); drift counted."""
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import iter_data_kiosk_sales_traffic

    if not outcome.has_data:
        return
    assert outcome.path is not None
    _check_single_page(unit, outcome)
    source = f"query {outcome.report_id} ({outcome.path})"
    with (
        failures_named(unit.label, ledger, DK_SOURCE, {"report_id": outcome.report_id, "path": outcome.path}),
        open_document(outcome.path) as stream,
    ):
        rows = iter_data_kiosk_sales_traffic(stream, unit.job.kind, source=source)
        for record in rows:
            record["source_id"] = outcome.report_id
            yield record
        unknown_fields.update(rows.unknown_fields)


def _by_date_of(
    marketplace: Marketplace, unit: Unit, outcome: ReportOutcome, ledger: Any, unknown_fields: Counter[str]
) -> dict[dt.date, list[dict[str, Any]]]:
    """The marketplace's daily totals of the ByDate document, per day."""
    out: dict[dt.date, list[dict[str, Any]]] = {}
    for record in _records(unit, outcome, ledger, unknown_fields):
        if record["marketplace_id"] == marketplace.marketplace_id:
            out.setdefault(record["report_date"], []).append(record)
    return out


def _row_batches(
    unit: Unit, outcome: ReportOutcome, ledger: Any, unknown_fields: Counter[str]
) -> Iterator[Any]:
    """The value rows of one Trends document (``data_kiosk_rows``); errors named as :func:`_records` does."""
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import iter_data_kiosk_sales_traffic

    _check_single_page(unit, outcome)
    assert outcome.path is not None
    source = f"query {outcome.report_id} ({outcome.path})"
    with (
        failures_named(unit.label, ledger, DK_SOURCE, {"report_id": outcome.report_id, "path": outcome.path}),
        open_document(outcome.path) as stream,
    ):
        rows = iter_data_kiosk_sales_traffic(stream, unit.job.kind, source=source)
        yield from rows.row_batches()
        unknown_fields.update(rows.unknown_fields)


def _replace_days(
    marketplace: Marketplace,
    days: Sequence[dt.date],
    by_date: dict[dt.date, list[dict[str, Any]]],
    trend_units: Sequence[tuple[Unit, ReportOutcome]],
    by_date_id: str,
    conn: Any,
    ledger: Any,
    unknown_fields: Counter[str],
) -> dict[dt.date, tuple[int, int]] | None:
    """Every day with daily totals in ONE transaction, the Trends rows streamed into COPY while the documents
    are parsed; (byDate, byAsin) rows per day, or None after a database error (nothing changed)."""
    from chalkola_pipelines.warehouse.partition_copy import WarehouseLoadError
    from chalkola_pipelines.warehouse.sales_traffic_tables import replace_sales_traffic_days

    drift: Counter[str] = (
        Counter()
    )  # merged only if this attempt succeeds (the fallback reads the documents again)
    documents = [
        (outcome.report_id, _row_batches(unit, outcome, ledger, drift))
        for unit, outcome in trend_units
        if outcome.has_data
    ]
    try:
        loaded = replace_sales_traffic_days(
            conn,
            marketplace=marketplace,
            days=days,
            by_date=by_date,
            by_asin=documents,
            report_id=by_date_id,
            source=DK_SOURCE,
        )
    except WarehouseLoadError:
        return None
    unknown_fields.update(drift)
    return loaded


def _documents_of(
    marketplace: Marketplace,
    trend_units: Sequence[tuple[Unit, ReportOutcome]],
    by_date: dict[dt.date, list[dict[str, Any]]],
    ledger: Any,
    unknown_fields: Counter[str],
) -> dict[dt.date, Any]:
    """The marketplace's Trends records (record parser) and daily totals as one report-parser document per day."""
    from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import sales_traffic_documents

    mine = (
        record
        for unit, outcome in trend_units
        for record in _records(unit, outcome, ledger, unknown_fields)
        if record["marketplace_id"] == marketplace.marketplace_id
    )
    totals = (record for records in by_date.values() for record in records)
    return {day: document for (_, day), document in sales_traffic_documents(chain(mine, totals)).items()}


def _replace_day(
    conn: Any, marketplace: Marketplace, day: dt.date, document: Any, report_id: str
) -> tuple[int, int]:
    from chalkola_pipelines.warehouse.sales_traffic_tables import replace_sales_traffic_day

    return replace_sales_traffic_day(
        conn, marketplace=marketplace, day=day, document=document, report_id=report_id, source=DK_SOURCE
    )


def _kept_rows(conn: Any, marketplace: Marketplace, day: dt.date) -> int:
    from chalkola_pipelines.warehouse.partition_queries import sales_traffic_by_asin_rows_on_day

    return sales_traffic_by_asin_rows_on_day(conn, marketplace.code, day)
