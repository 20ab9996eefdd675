"""Trends ingest benchmark: parse + load of a large Data Kiosk Trends document against raw COPY.

One ``salesAndTrafficTrends(CHILD, DAY)`` JSONL document of every child ASIN of the US seller (built with the
pipeline's own query text, projected by the simulator's wire format) is loaded the way
``defs/sales_traffic_kiosk.py`` loads it, and the same rows, pre-rendered as CSV, are loaded by Postgres's own
COPY. The document is generated in this process; both loads are timed in a fresh worker process that has
imported the project's ``Definitions`` first, as a Dagster run worker has (the generator's simulator state
would otherwise sit in the heap the parser's garbage collections walk). Part of ``benchmarks/nightly.py``;
on its own it prints one JSON line::

    .venv/bin/python benchmarks/trends_ingest.py [--days 30] [--scale 4.3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import multiprocessing
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from ingest import ThrowawayDatabase, raw_copy, timed, truncate, write_csv  # noqa: E402

TRENDS_TARGET_RATIO = 0.5  # Trends parse + load ≥ 0.5 × raw COPY


def log(message: str) -> None:
    print(f"[trends-bench {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def write_trends_document(path: Path, seed: int, scale: float, n_days: int) -> tuple[int, int, list[dt.date]]:
    """One salesAndTrafficTrends(CHILD, DAY) JSONL document of every child ASIN of the US seller over
    ``n_days`` days, as the simulator serves it (the pipeline's query text, projected by the simulator)."""
    from chalkola_pipelines.amazon.data_kiosk_queries import sales_traffic_trends_queries
    from chalkola_pipelines.marketplaces import get_marketplace
    from chalkola_pipelines.simulator import wire_data_kiosk
    from chalkola_pipelines.simulator.dk_schema import parse_query
    from chalkola_pipelines.simulator.document_encoding import dumps_json
    from chalkola_pipelines.simulator.seller import SyntheticSeller

    mkt = get_marketplace("US")
    seller = SyntheticSeller(seed=seed, marketplaces=["US"], scale=scale)
    last = dt.date.today() - dt.timedelta(days=3)
    first = last - dt.timedelta(days=n_days - 1)
    asins = {
        e["childAsin"]
        for e in seller.sales_and_traffic_document(
            mkt.marketplace_id, first, last, date_granularity="DAY", asin_granularity="CHILD"
        )["salesAndTrafficByAsin"]
    }
    queries = sales_traffic_trends_queries(first, last, {mkt.marketplace_id: sorted(asins)})
    parsed = [parse_query(q.text) for q in queries]
    # one document with every ASIN (the queries' projection is the same): as if one query had them all;
    # one filter, so that the simulator reads each day's data once
    every = sorted({a for p in parsed for f in p.args["filters"] for a in f["asins"]})
    merged = dataclasses.replace(
        parsed[0], args={**parsed[0].args, "filters": [{"marketplaceId": mkt.marketplace_id, "asins": every}]}
    )
    now = dt.datetime.now(dt.UTC)
    n = 0
    with open(path, "wb") as fh:
        for record in wire_data_kiosk.projected_records(seller, merged, "na", now):
            fh.write(dumps_json(record) + b"\n")
            n += 1
    days = [first + dt.timedelta(days=i) for i in range(n_days)]
    return n, len(asins), days


def measure(url: str, path: Path, rows: int, days: list[dt.date], repeats: int) -> dict[str, Any]:
    """Parse-only, ours and raw COPY timings of the document at ``path`` (runs in the worker process)."""
    import chalkola_pipelines.definitions  # noqa: F401  (a run worker's heap: dagster, dbt, the definitions)
    from chalkola_pipelines.amazon.documents import open_document
    from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import (
        iter_data_kiosk_sales_traffic,
        sales_traffic_documents,
    )
    from chalkola_pipelines.marketplaces import get_marketplace
    from chalkola_pipelines.warehouse.postgres import connect as wh_connect
    from chalkola_pipelines.warehouse.sales_traffic_tables import (
        ST_BY_ASIN_COLUMNS,
        ST_BY_ASIN_TABLE,
        ST_BY_DATE_TABLE,
        replace_sales_traffic_days,
    )

    mkt = get_marketplace("US")

    def parse_only() -> int:
        with open_document(path) as stream:
            return sum(len(b.rows) for b in iter_data_kiosk_sales_traffic(stream, "trends").row_batches())

    parse_runs = [timed(parse_only) for _ in range(repeats)]
    if any(parsed != rows for parsed, _ in parse_runs):
        raise RuntimeError(f"trends: the parser gave {parse_runs[0][0]} rows, the document has {rows}")
    parse_s = statistics.median(seconds for _, seconds in parse_runs)
    with open_document(path) as stream:  # the raw COPY's CSV, from the record parser (not timed)
        documents = sales_traffic_documents(iter_data_kiosk_sales_traffic(stream, "trends"))
    csv_path = path.with_suffix(".csv")
    write_csv(
        csv_path,
        (
            [mkt.code, mkt.marketplace_id, day, r["parent_asin"], r["child_asin"] or "", r["sku"] or "",
             r["currency_code"], *(r[c] for c in ST_BY_ASIN_COLUMNS[7:-2]), "raw", "data_kiosk"]
            for (_, day), doc in sorted(documents.items())
            for r in doc.by_asin
        ),
    )  # fmt: skip
    del documents

    def raw() -> float:
        truncate(url, ST_BY_DATE_TABLE, ST_BY_ASIN_TABLE)
        return raw_copy(url, ST_BY_ASIN_TABLE, ST_BY_ASIN_COLUMNS, csv_path)

    def ours() -> int:
        # what defs/sales_traffic_kiosk.py does with a Trends document (no ByDate rows here)
        with wh_connect(url, autocommit=True) as conn, open_document(path) as stream:
            batches = iter_data_kiosk_sales_traffic(stream, "trends").row_batches()
            loaded = replace_sales_traffic_days(
                conn,
                marketplace=mkt,
                days=days,
                by_date={},
                by_asin=[("bench-trends", batches)],
                report_id="bench-trends",
                source="data_kiosk",
            )
        return sum(n_date + n_asin for n_date, n_asin in loaded.values())

    def ours_timed() -> float:
        truncate(url, ST_BY_DATE_TABLE, ST_BY_ASIN_TABLE)
        loaded, seconds = timed(ours)
        if loaded != rows:
            raise RuntimeError(f"trends: our path loaded {loaded} rows, the document has {rows}")
        return seconds

    ours_timed()  # warm-up (imports, the server's caches), not counted
    # alternated (raw, ours, raw, ours, ...): on this shared machine the load drifts within minutes
    pairs = [(raw(), ours_timed()) for _ in range(repeats)]
    csv_path.unlink()
    raw_s = statistics.median(r for r, _ in pairs)
    ours_s = statistics.median(o for _, o in pairs)
    return {
        "parse_only_rows_per_s": round(rows / parse_s),
        "ours_seconds": round(ours_s, 3),
        "raw_copy_seconds": round(raw_s, 3),
        "ours_rows_per_s": round(rows / ours_s),
        "raw_copy_rows_per_s": round(rows / raw_s),
        "ratio": round(raw_s / ours_s, 3),
        "pair_ratios": [round(r / o, 3) for r, o in pairs],
        "repeats": repeats,
    }


def bench_trends(url: str, work: Path, seed: int, scale: float, n_days: int, repeats: int) -> dict[str, Any]:
    """Generate the document here, time both loads in a fresh worker process (see the module docstring)."""
    path = work / "trends.jsonl"
    log(f"generating a {n_days}-day Trends document (seller scale {scale:g})")
    rows, n_asins, days = write_trends_document(path, seed, scale, n_days)
    log(
        f"{rows} records, {n_asins} child ASINs, {path.stat().st_size / 1e6:.1f} MB; timing in a worker process"
    )
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            timings = pool.apply(measure, (url, path, rows, days, repeats))
    finally:
        path.unlink()
    return {"rows": rows, "days": n_days, "child_asins": n_asins, "seller_scale": scale, **timings}


def main(argv: list[str] | None = None) -> int:
    from chalkola_pipelines.warehouse.postgres import database_url

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30, help="days of the Trends document")
    parser.add_argument("--scale", type=float, default=4.3, help="seller scale (4.3: ~3,500 ASINs a day)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="server for the throwaway database")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="chalkola-trends-") as tmp,
        ThrowawayDatabase(args.database_url or database_url()) as db,
    ):
        result = bench_trends(db.url, Path(tmp), args.seed, args.scale, args.days, args.repeats)
    result = {"benchmark": "trends_ingest", **result, "target_ratio_min": TRENDS_TARGET_RATIO}
    result["meets_target"] = result["ratio"] >= TRENDS_TARGET_RATIO
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
