"""Ingest benchmark: parse + load throughput of the pipeline's path vs Postgres's own COPY, and peak memory.

For each report kind (Ads spAdvertisedProduct, sales & traffic, order report) the same synthetic documents
(``SyntheticSeller``) are loaded twice into a throwaway database on the warehouse server:

- ours: ``open_document`` (gzip) → parser → ``warehouse.<family>_tables.replace_*`` (delete + COPY, one transaction)
- raw:  ``COPY <table> FROM STDIN`` of exactly the same rows, pre-rendered as CSV in the warehouse's one
        COPY encoding (``warehouse.partition_copy``): the physical limit of this machine (no Python per row).

The large Ads document (~300 MB of JSON, gzip on disk) is loaded by a child process that reports its peak
RSS (``getrusage``), so the figure is the memory of our path alone. One JSON line goes to stdout; progress
goes to stderr. See benchmarks/README.md.

    .venv/bin/python benchmarks/ingest.py            # full: ~300 MB Ads document
    .venv/bin/python benchmarks/ingest.py --quick    # ~20 MB, for smoke tests
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from chalkola_pipelines.amazon.documents import open_document
from chalkola_pipelines.amazon.parsers import (
    iter_order_report_rows,
    iter_sp_advertised_product_rows,
    parse_sales_and_traffic,
)
from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_OFFICIAL_HEADER,
    SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS,
)
from chalkola_pipelines.marketplaces import get_marketplace

TARGET_RATIO = 0.5  # ours ≥ 0.5 × raw COPY rows/s
TARGET_PEAK_RSS_MB = 250.0  # while loading the large Ads document
MARKETPLACE = "US"
ADS_DAYS_PER_REPORT = 31  # an Ads v3 report covers at most 31 days
COPY_CHUNK = 1 << 20
REPEATS = 3  # S&T and orders: each contender runs 3 times (table truncated before each), median taken


def log(message: str) -> None:
    print(f"[ingest-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# database


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class ThrowawayDatabase:
    """A fresh, migrated database on the warehouse server, dropped on exit."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.name = f"chalkola_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.url = _with_database(server_url, self.name)

    def __enter__(self) -> ThrowawayDatabase:
        from chalkola_pipelines.warehouse.migrations import apply_migrations

        with psycopg.connect(self.server_url, autocommit=True) as admin:
            admin.execute(f'create database "{self.name}"')
        with psycopg.connect(self.url) as conn:
            apply_migrations(conn)
            conn.commit()
        return self

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as admin:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                (self.name,),
            )
            admin.execute(f'drop database if exists "{self.name}"')


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, prepare_threshold=None)


def truncate(url: str, *tables: str) -> None:
    with connect(url) as conn:
        conn.execute(f"truncate {', '.join(tables)}")
        conn.execute("checkpoint")  # both contenders start from the same, clean state
        conn.commit()


def raw_copy(url: str, table: str, columns: Sequence[str], csv_path: Path) -> float:
    """Seconds for Postgres's own COPY FROM STDIN of a prepared CSV file, in one transaction."""
    from chalkola_pipelines.warehouse.partition_copy import copy_statement

    with connect(url) as conn:
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(copy_statement(table, columns)) as copy:
            with open(csv_path, "rb") as fh:
                while chunk := fh.read(COPY_CHUNK):
                    copy.write(chunk)
        conn.commit()
        return time.perf_counter() - start


def count_rows(url: str, table: str) -> int:
    with connect(url) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


# --------------------------------------------------------------------------------------------------
# CSV rendering for the raw COPY (outside any timing)


def write_csv(path: Path, rows: Iterable[Sequence[Any]]) -> int:
    """Rows as CSV in the warehouse's COPY encoding (the same encoder as the loaders)."""
    from chalkola_pipelines.warehouse.partition_copy import encode_csv_rows

    n = 0
    block: list[Sequence[Any]] = []
    with open(path, "wb") as fh:
        for values in rows:
            block.append(values)
            if len(block) == 1000:
                fh.write(encode_csv_rows(block))
                n += len(block)
                block = []
        fh.write(encode_csv_rows(block))
        n += len(block)
    return n


# --------------------------------------------------------------------------------------------------
# synthetic documents


def make_seller(seed: int, scale: float) -> Any:
    from chalkola_pipelines.simulator.seller import SyntheticSeller

    return SyntheticSeller(seed=seed, marketplaces=[MARKETPLACE], scale=scale)


def _dumps_json(obj: Any) -> bytes:
    from chalkola_pipelines.simulator.document_encoding import dumps_json

    return dumps_json(obj)


def _profile_id(seller: Any, code: str) -> int:
    return int(seller.truth.profile_id(code))


def _report_days(end: dt.date, n: int) -> list[dt.date]:
    return [end - dt.timedelta(days=n - 1 - i) for i in range(n)]


def write_ads_document(
    path: Path, seed: int, target_bytes: int, *, scale: float | None = None
) -> tuple[int, list[dt.date], int, int, float]:
    """Write one spAdvertisedProduct document (JSON array, gzip) of about ``target_bytes`` uncompressed.

    The seller's scale is calibrated so that ~31 days (one Ads report) reach the target. Returns
    (profile id, days, uncompressed bytes, rows, scale).
    """
    columns = list(SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS)
    last_day = dt.date.today() - dt.timedelta(days=3)
    if scale is None:
        probe = make_seller(seed, 1.0)
        pid = _profile_id(probe, MARKETPLACE)
        sample = list(probe.sp_advertised_product_rows(pid, last_day, last_day, columns, time_unit="DAILY"))
        per_day = sum(len(_dumps_json(r)) + 1 for r in sample) or 1
        scale = max(0.05, round(1.05 * target_bytes / (ADS_DAYS_PER_REPORT * per_day), 2))
        log(f"ads: {len(sample)} rows/day ({per_day / 1e6:.2f} MB) at scale 1 → scale {scale}")
    seller = make_seller(seed, scale)
    profile_id = _profile_id(seller, MARKETPLACE)
    written = rows = 0
    days: list[dt.date] = []
    with gzip.open(path, "wb", compresslevel=6) as gz:
        gz.write(b"[")
        day = last_day - dt.timedelta(days=ADS_DAYS_PER_REPORT - 1)
        while written < target_bytes and len(days) < ADS_DAYS_PER_REPORT:
            for row in seller.sp_advertised_product_rows(profile_id, day, day, columns, time_unit="DAILY"):
                data = (b",\n" if rows else b"\n") + _dumps_json(row)
                gz.write(data)
                written += len(data)
                rows += 1
            days.append(day)
            day += dt.timedelta(days=1)
        gz.write(b"\n]\n")
    return profile_id, days, written + 4, rows, scale


def write_sales_traffic_documents(
    directory: Path, seed: int, scale: float, n_days: int
) -> list[tuple[dt.date, Path]]:
    seller = make_seller(seed, scale)
    mkt = get_marketplace(MARKETPLACE)
    out = []
    for day in _report_days(dt.date.today() - dt.timedelta(days=3), n_days):
        doc = seller.sales_and_traffic_document(
            mkt.marketplace_id, day, day, date_granularity="DAY", asin_granularity="CHILD"
        )
        path = directory / f"st_{day.isoformat()}.json.gz"
        path.write_bytes(gzip.compress(_dumps_json(doc)))
        out.append((day, path))
    return out


def write_order_document(path: Path, seed: int, scale: float, n_days: int) -> list[dt.date]:
    from chalkola_pipelines.marketplaces import local_days_window_utc
    from chalkola_pipelines.simulator.document_encoding import tsv_bytes

    seller = make_seller(seed, scale)
    mkt = get_marketplace(MARKETPLACE)
    days = _report_days(dt.date.today() - dt.timedelta(days=3), n_days)
    start, end = local_days_window_utc(mkt, days[0], days[-1])
    rows = list(seller.order_report_rows(mkt.marketplace_id, start, end))
    rows.sort(key=lambda r: (r.get("purchase-date", ""), r.get("amazon-order-id", "")))
    path.write_bytes(gzip.compress(tsv_bytes(list(ORDER_REPORT_OFFICIAL_HEADER), rows)))
    return days


# --------------------------------------------------------------------------------------------------
# the contenders


def _rss_mb() -> float:
    """Peak resident memory of this process image, MB.

    Linux ``VmHWM`` (reset by exec: ``ru_maxrss`` of an exec'd child would still include the peak of the
    parent it was forked from); ``getrusage`` elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def child_load_ads(
    url: str, path: Path, profile_id: int, days: list[dt.date], *, wrapped: bool = False
) -> dict[str, Any]:
    """Runs in a child process: our path for one Ads document; returns rows, seconds, peak RSS.

    ``wrapped``: the parser's rows go through a plain generator first, so the loader cannot use the
    parser's CSV batches and takes its generic per-row path (what a caller that wraps the iterator gets).
    """
    from chalkola_pipelines.warehouse.ads_tables import replace_ads_advertised_product

    mkt = get_marketplace(MARKETPLACE)
    with connect(url) as conn:
        conn.execute("select 1")
        baseline = _rss_mb()
        start = time.perf_counter()
        with open_document(path) as stream:
            rows = iter_sp_advertised_product_rows(stream)
            if wrapped:
                rows = (row for row in rows)
            counts = replace_ads_advertised_product(
                conn, marketplace=mkt, profile_id=profile_id, days=days, rows=rows, report_id="bench-ads"
            )
        conn.commit()
        seconds = time.perf_counter() - start
    return {
        "rows": sum(counts.values()),
        "seconds": seconds,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _rss_mb(),
    }


def run_child(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def timed(fn: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    n = fn()
    return n, time.perf_counter() - start


def median_of(n: int, run: Callable[[], float]) -> float:
    """Median seconds of ``n`` runs (S&T and orders take well under a second: one run is mostly noise here)."""
    return statistics.median(run() for _ in range(n))


def _rates(rows: int, ours_s: float, raw_s: float) -> dict[str, Any]:
    ours = rows / ours_s if ours_s else 0.0
    raw = rows / raw_s if raw_s else 0.0
    return {
        "rows": rows,
        "ours_seconds": round(ours_s, 3),
        "raw_copy_seconds": round(raw_s, 3),
        "ours_rows_per_s": round(ours),
        "raw_copy_rows_per_s": round(raw),
        "ratio": round(ours / raw, 3) if raw else None,
    }


def bench_ads(url: str, work: Path, seed: int, target_mb: float) -> dict[str, Any]:
    from chalkola_pipelines.warehouse.ads_tables import (
        ADS_SP_ADVERTISED_PRODUCT_COLUMNS,
        ADS_SP_ADVERTISED_PRODUCT_TABLE,
    )
    from chalkola_pipelines.warehouse.partition_copy import encode_csv_rows

    path = work / "ads_sp_advertised_product.json.gz"
    log(f"ads: generating a ~{target_mb:g} MB spAdvertisedProduct document")
    profile_id, days, size, rows, scale = write_ads_document(path, seed, int(target_mb * 1e6))
    log(
        f"ads: {rows} rows over {len(days)} days, {size / 1e6:.1f} MB JSON, {path.stat().st_size / 1e6:.1f} MB gzip"
    )

    def parse_only() -> int:
        with open_document(path) as stream:
            return sum(1 for _ in iter_sp_advertised_product_rows(stream))

    parsed, parse_s = timed(parse_only)

    def parse_to_csv() -> int:  # what the loader does before COPY: literal tuples → CSV
        with open_document(path) as stream:
            n = 0
            for days, rows in iter_sp_advertised_product_rows(stream).literal_batches():
                encode_csv_rows(rows)
                n += len(days)
            return n

    parsed_csv, parse_csv_s = timed(parse_to_csv)
    if parsed_csv != parsed:
        raise RuntimeError(f"ads: {parsed_csv} rows as CSV batches, {parsed} as dicts")

    csv_path = work / "ads.csv"
    mkt = get_marketplace(MARKETPLACE)
    field_columns = ADS_SP_ADVERTISED_PRODUCT_COLUMNS[
        2:-1
    ]  # the loader's order, minus marketplace/profile/report
    with open_document(path) as stream:
        write_csv(
            csv_path,
            (
                [mkt.code, profile_id, *(r[c] for c in field_columns), "bench-raw"]
                for r in iter_sp_advertised_product_rows(stream)
            ),
        )
    truncate(url, ADS_SP_ADVERTISED_PRODUCT_TABLE)
    log("ads: raw COPY")
    raw_s = raw_copy(url, ADS_SP_ADVERTISED_PRODUCT_TABLE, ADS_SP_ADVERTISED_PRODUCT_COLUMNS, csv_path)
    if count_rows(url, ADS_SP_ADVERTISED_PRODUCT_TABLE) != rows:
        raise RuntimeError("raw COPY did not load every row of the document")
    csv_path.unlink()
    truncate(url, ADS_SP_ADVERTISED_PRODUCT_TABLE)
    log("ads: our path (child process)")
    child = run_child(
        [
            "--child-ads",
            str(path),
            "--url",
            url,
            "--profile-id",
            str(profile_id),
            "--days",
            ",".join(map(str, days)),
        ]
    )
    if child["rows"] != rows or count_rows(url, ADS_SP_ADVERTISED_PRODUCT_TABLE) != rows:
        raise RuntimeError(f"our path loaded {child['rows']} rows, the document has {rows}")
    truncate(url, ADS_SP_ADVERTISED_PRODUCT_TABLE)
    log("ads: our path, iterator wrapped in a generator (child process)")
    wrapped = run_child(
        [
            "--child-ads",
            str(path),
            "--url",
            url,
            "--profile-id",
            str(profile_id),
            "--days",
            ",".join(map(str, days)),
            "--wrapped",
        ]
    )
    if wrapped["rows"] != rows or count_rows(url, ADS_SP_ADVERTISED_PRODUCT_TABLE) != rows:
        raise RuntimeError(f"the wrapped path loaded {wrapped['rows']} rows, the document has {rows}")
    result = _rates(rows, child["seconds"], raw_s)
    parse_rate = parsed_csv / parse_csv_s
    result.update(
        {
            "days": len(days),
            "seller_scale": scale,
            "document_mb": round(size / 1e6, 1),
            "gzip_mb": round(path.stat().st_size / 1e6, 1),
            "parse_only_rows_per_s": round(parsed / parse_s),  # rows as typed dicts
            "parse_to_csv_rows_per_s": round(parse_rate),  # what the loader consumes
            # ours parses and sends on one thread: 1/ours = 1/parse + 1/(load, as seen by that thread)
            "load_only_rows_per_s_derived": round(1 / max(1e-9, child["seconds"] / rows - 1 / parse_rate)),
            "wrapped_rows_per_s": round(rows / wrapped["seconds"]),
            "wrapped_ratio": round(raw_s / wrapped["seconds"], 3),
            "wrapped_peak_rss_mb": round(wrapped["peak_rss_mb"], 1),
            "baseline_rss_mb": round(child["baseline_rss_mb"], 1),
            "peak_rss_mb": round(child["peak_rss_mb"], 1),
        }
    )
    path.unlink()
    return result


def bench_sales_traffic(url: str, work: Path, seed: int, scale: float, n_days: int) -> dict[str, Any]:
    from chalkola_pipelines.warehouse.sales_traffic_tables import (
        ST_BY_ASIN_COLUMNS,
        ST_BY_ASIN_TABLE,
        ST_BY_DATE_COLUMNS,
        ST_BY_DATE_TABLE,
        replace_sales_traffic_day,
    )

    log(f"sales & traffic: generating {n_days} single-day CHILD documents")
    docs = write_sales_traffic_documents(work, seed, scale, n_days)
    mkt = get_marketplace(MARKETPLACE)

    # raw: the same rows, one COPY per table
    date_csv, asin_csv = work / "st_date.csv", work / "st_asin.csv"
    date_rows: list[list[Any]] = []
    asin_rows: list[list[Any]] = []
    for day, path in docs:
        with open_document(path) as stream:
            doc = parse_sales_and_traffic(stream)
        for r in doc.by_date:
            date_rows.append(
                [
                    mkt.code,
                    mkt.marketplace_id,
                    *(r[c] for c in ST_BY_DATE_COLUMNS[2:-2]),
                    "raw",
                    "report",
                ]
            )
        for r in doc.by_asin:
            asin_rows.append(
                [
                    mkt.code,
                    mkt.marketplace_id,
                    day,
                    *(r[c] for c in ST_BY_ASIN_COLUMNS[3:-2]),
                    "raw",
                    "report",
                ]
            )
    write_csv(date_csv, date_rows)
    write_csv(asin_csv, asin_rows)
    rows = len(date_rows) + len(asin_rows)

    def raw() -> float:
        truncate(url, ST_BY_DATE_TABLE, ST_BY_ASIN_TABLE)
        return raw_copy(url, ST_BY_DATE_TABLE, ST_BY_DATE_COLUMNS, date_csv) + raw_copy(
            url, ST_BY_ASIN_TABLE, ST_BY_ASIN_COLUMNS, asin_csv
        )

    raw_s = median_of(REPEATS, raw)

    def ours() -> int:
        n = 0
        with connect(url) as conn:
            for day, path in docs:
                with open_document(path) as stream:
                    doc = parse_sales_and_traffic(stream)
                n_date, n_asin = replace_sales_traffic_day(
                    conn, marketplace=mkt, day=day, document=doc, report_id=f"bench-st-{day}"
                )
                conn.commit()
                n += n_date + n_asin
        return n

    def ours_timed() -> float:
        truncate(url, ST_BY_DATE_TABLE, ST_BY_ASIN_TABLE)
        loaded, seconds = timed(ours)
        if loaded != rows:
            raise RuntimeError(f"sales & traffic: our path loaded {loaded} rows, raw COPY {rows}")
        return seconds

    ours_s = median_of(REPEATS, ours_timed)
    result = _rates(rows, ours_s, raw_s)
    result.update({"documents": len(docs), "by_asin_rows": len(asin_rows)})
    return result


def bench_orders(url: str, work: Path, seed: int, scale: float, n_days: int) -> dict[str, Any]:
    from chalkola_pipelines.warehouse.order_lines import OrderItemPlacement
    from chalkola_pipelines.warehouse.order_tables import (
        ORDER_ITEM_COLUMNS,
        ORDER_ITEMS_TABLE,
        order_item_row,
        replace_order_items,
    )

    log(f"orders: generating a {n_days}-day order report")
    path = work / "orders.tsv.gz"
    days = write_order_document(path, seed, scale, n_days)
    mkt = get_marketplace(MARKETPLACE)
    wanted = set(days)

    def loader_rows(parsed: Iterable[dict[str, Any]]) -> Iterator[Sequence[Any]]:
        placement = OrderItemPlacement(mkt.local_date_of)  # the loaders' rule: line and local day
        for r in parsed:
            day, line = placement.place(r["amazon_order_id"], r["purchase_date"])
            if day in wanted:
                yield order_item_row(mkt.code, day, line, r, "raw")

    csv_path = work / "orders.csv"
    with open_document(path) as stream:
        rows = write_csv(csv_path, loader_rows(iter_order_report_rows(stream)))

    def raw() -> float:
        truncate(url, ORDER_ITEMS_TABLE)
        return raw_copy(url, ORDER_ITEMS_TABLE, ORDER_ITEM_COLUMNS, csv_path)

    raw_s = median_of(REPEATS, raw)

    # The first pyarrow.compute call of a process imports pandas (pyarrow's lazy pandas shim, ~0.2-0.3 s
    # once per process): an import cost, paid before timing as the other paths' imports are.
    import pyarrow as pa
    import pyarrow.compute as pc

    pc.utf8_trim_whitespace(pa.array([""]))

    from chalkola_pipelines.marketplaces import local_days_window_utc
    from chalkola_pipelines.warehouse.order_routing import OrderRouting

    # the pipeline's path: rows routed by sales-channel (this document holds US rows only)
    routing = OrderRouting.for_document(mkt, [mkt], local_days_window_utc(mkt, days[0], days[-1]))

    def ours() -> int:
        with connect(url) as conn, open_document(path) as stream:
            counts = replace_order_items(
                conn,
                marketplace=mkt,
                days=days,
                rows=iter_order_report_rows(stream),
                report_id="bench-orders",
                routing=routing,
            )
            conn.commit()
        return sum(counts.values())

    def wrapped() -> int:  # what a caller that wraps the iterator gets: typed dicts, generic loader path
        with connect(url) as conn, open_document(path) as stream:
            counts = replace_order_items(
                conn,
                marketplace=mkt,
                days=days,
                rows=(row for row in iter_order_report_rows(stream)),
                report_id="bench-orders-wrapped",
                routing=routing,
            )
            conn.commit()
        return sum(counts.values())

    def contender(load: Callable[[], int], name: str) -> Callable[[], float]:
        def run() -> float:
            truncate(url, ORDER_ITEMS_TABLE)
            loaded, seconds = timed(load)
            if loaded != rows:
                raise RuntimeError(f"orders: the {name} path loaded {loaded} rows, raw COPY {rows}")
            return seconds

        return run

    ours_s = median_of(REPEATS, contender(ours, "our"))
    wrapped_s = median_of(REPEATS, contender(wrapped, "wrapped"))
    result = _rates(rows, ours_s, raw_s)
    result.update(
        {
            "days": len(days),
            "wrapped_rows_per_s": round(rows / wrapped_s),
            "wrapped_ratio": round(raw_s / wrapped_s, 3),
        }
    )
    return result


def order_report_quota(today: dt.date | None = None) -> dict[str, Any]:
    """createReport calls the orders part needs for the default eleven marketplaces (createReport: 1/min
    per region after a burst of 15): one report per region and window, against one per marketplace before."""
    from chalkola_pipelines.defs.jobs import MAX_DAYS_PER_RUN, SP_ORDERS
    from chalkola_pipelines.defs.order_windows import reports_needed
    from chalkola_pipelines.marketplaces import parse_marketplace_codes

    eleven = parse_marketplace_codes(None)
    today = today or dt.date.today()
    nightly = [(today - dt.timedelta(days=7), today - dt.timedelta(days=1))]

    def runs(per_run: int) -> list[tuple[dt.date, dt.date]]:
        first, left, out = today - dt.timedelta(days=730), 730, []
        while left > 0:
            n = min(per_run, left)
            out.append((first, first + dt.timedelta(days=n - 1)))
            first, left = first + dt.timedelta(days=n), left - n
        return out

    return {
        "marketplaces": len(eleven),
        "regions": len({m.region for m in eleven}),
        "nightly_reports_per_marketplace_before": reports_needed(eleven, nightly, per_region=False),
        "nightly_reports_per_region_now": reports_needed(eleven, nightly),
        "backfill_24_months_reports_before": reports_needed(eleven, runs(30), per_region=False),
        "backfill_24_months_reports_now": reports_needed(eleven, runs(MAX_DAYS_PER_RUN[SP_ORDERS])),
    }


# --------------------------------------------------------------------------------------------------
# entry point


def run(args: argparse.Namespace) -> dict[str, Any]:
    from chalkola_pipelines.warehouse.postgres import database_url

    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)  # the machine is shared: a high load means noisy figures
    ads_mb = args.ads_mb if args.ads_mb is not None else (20.0 if args.quick else 300.0)
    st_days = 3 if args.quick else 14
    order_days = 3 if args.quick else 30
    server = args.database_url or database_url()
    with ThrowawayDatabase(server) as db, tempfile.TemporaryDirectory(prefix="chalkola-bench-") as tmp:
        work = Path(tmp)
        with connect(db.url) as conn:
            pg_version = conn.execute("show server_version").fetchone()[0]
        ads = bench_ads(db.url, work, args.seed, ads_mb)
        st = bench_sales_traffic(db.url, work, args.seed, args.scale, st_days)
        orders = bench_orders(db.url, work, args.seed, args.scale, order_days)
    return {
        "benchmark": "ingest",
        "mode": "quick" if args.quick else "full",
        "seed": args.seed,
        "postgres": pg_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "ads": ads,
        "sales_traffic": st,
        "orders": orders,
        "order_report_quota": order_report_quota(),
        "targets": {"ratio_min": TARGET_RATIO, "ads_peak_rss_mb_max": TARGET_PEAK_RSS_MB},
        "meets_targets": {
            "ads_ratio": (ads["ratio"] or 0) >= TARGET_RATIO,
            "sales_traffic_ratio": (st["ratio"] or 0) >= TARGET_RATIO,
            "orders_ratio": (orders["ratio"] or 0) >= TARGET_RATIO,
            "ads_peak_rss": max(ads["peak_rss_mb"], ads["wrapped_peak_rss_mb"]) <= TARGET_PEAK_RSS_MB,
        },
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small documents (~20 MB Ads): a smoke run")
    parser.add_argument("--ads-mb", type=float, default=None, help="uncompressed Ads document size (MB)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="seller scale for S&T and orders")
    parser.add_argument("--database-url", default=None, help="server to create the throwaway database on")
    # internal: the child process that loads the Ads document and reports its peak RSS
    parser.add_argument("--child-ads", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--profile-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--days", help=argparse.SUPPRESS)
    parser.add_argument("--wrapped", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_ads:
        days = [dt.date.fromisoformat(d) for d in args.days.split(",")]
        print(
            json.dumps(child_load_ads(args.url, args.child_ads, args.profile_id, days, wrapped=args.wrapped))
        )
        return 0
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
