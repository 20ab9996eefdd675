"""What a fault scenario left behind: run outcomes from the Dagster instance, rows against the ground truth.

Partitions are (asset, ``YYYY-MM-DD|XX``) of the three raw assets; rows are compared as multisets of the
columns that carry the numbers (S&T byAsin: units, sales, sessions, page views per child ASIN; orders:
order id, ASIN, quantity; Ads: ad id, impressions, clicks, spend).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest import connect
from nightly import TERMINAL, _suppress, sales_traffic_day

MARKETPLACES = ("US", "DE", "JP")  # one per region: na, eu, fe
ASSETS = ("sp_sales_traffic", "sp_orders", "ads_sp_advertised_product")
POOLS = ("amazon_sales_traffic", "amazon_sp_reports", "amazon_ads_reporting")  # the raw assets' pools


def wait_runs(instance: Any, run_ids: Sequence[str], timeout: float) -> list[Any]:
    """Records of the runs once all are terminal, or at the timeout (the rest are counted as stuck)."""
    import dagster as dg

    deadline = time.monotonic() + timeout
    while True:
        records = instance.get_run_records(dg.RunsFilter(run_ids=list(run_ids)))
        if len(records) == len(run_ids) and all(r.dagster_run.status.value in TERMINAL for r in records):
            return records
        if time.monotonic() > deadline:
            return records
        time.sleep(0.5)


@dataclass
class RunOutcome:
    run_id: str
    marketplace: str
    status: str
    materialized: set[tuple[str, str]] = field(default_factory=set)  # (asset, partition key)
    failed_checks: set[str] = field(default_factory=set)  # asset names with a failed check
    errors: list[str] = field(default_factory=list)
    clear: bool = True


def one_line(text: str) -> bool:
    """A message an operator can act on: non-empty, one line, no traceback."""
    text = (text or "").strip()
    return bool(text) and "\n" not in text and "Traceback" not in text


def run_outcome(instance: Any, record: Any) -> RunOutcome:
    import dagster as dg

    run = record.dagster_run
    code = run.tags.get("dagster/asset_partition_range_start", "|").split("|")[1]
    out = RunOutcome(run.run_id, code, run.status.value)
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.step_materialization_data.materialization
            if mat.asset_key.path[-1] in ASSETS:
                out.materialized.add((mat.asset_key.path[-1], str(mat.partition)))
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                out.failed_checks.add(evaluation.asset_key.path[-1])
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            user = data.user_failure_data
            if user is not None and user.description:
                message, clear = user.description, one_line(user.description)
            else:  # an exception the asset did not turn into one clear Failure: name its innermost cause
                message, clear = (data.error.message if data.error else "step failed"), False
                chain, cause = [], data.error.cause if data.error else None
                while cause is not None:
                    chain.append(cause)
                    cause = cause.cause or cause.context
                if chain:
                    names = " ← ".join(c.cls_name for c in chain)
                    ours = [f for c in (data.error, *chain) for f in c.stack if "chalkola_pipelines" in f]
                    where = " ".join(ours[-1].split()) if ours else "?"
                    message = (
                        f"{message.strip()} (causes: {names}: {chain[-1].message.strip()[:200]}; at {where})"
                    )
            out.errors.append(f"{event.step_key}: {message.strip()[:800]}")
            out.clear = out.clear and clear
        elif event.event_type == dg.DagsterEventType.RUN_FAILURE and not out.errors:
            message = entry.message or ""
            out.errors.append(f"run: {message.strip()[:400]}")
            out.clear = out.clear and one_line(message)
    return out


def run_worker_pid(instance: Any, run_id: str) -> int | None:
    import dagster as dg

    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        message = record.message or ""
        if message.startswith("Started process for run (pid: "):
            return int(message.split("pid: ")[1].split(")")[0])
    return None


def killed_run_note(instance: Any, run_id: str, timeout: float) -> str | None:
    """The line ``killed_run_notes_sensor`` writes into a run whose worker died (waits for the sensor's tick)."""
    import dagster as dg

    from chalkola_pipelines.defs.killed_runs import NOTE_PREFIX

    deadline = time.monotonic() + timeout
    while True:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            if (record.message or "").startswith(NOTE_PREFIX):
                return record.message
        if time.monotonic() > deadline:
            return None
        time.sleep(1.0)


def claimed_slots(instance: Any) -> list[str]:
    out = []
    for pool in POOLS:
        with _suppress():
            out += [s.run_id for s in instance.event_log_storage.get_concurrency_info(pool).claimed_slots]
    return out


# --------------------------------------------------------------------------------------------------
# ground truth per (asset, marketplace, day)


def partition_rows(conn: Any, state: Any, asset: str, code: str, day: dt.date) -> tuple[Counter, Counter]:
    """(loaded, truth) rows of one partition as multisets of comparable tuples."""
    truth = state.truth
    if asset == "sp_sales_traffic":
        got, want = sales_traffic_day(conn, state, code, day)
        return Counter(got.items()), Counter(want.items())
    if asset == "sp_orders":
        rows = conn.execute(
            "select amazon_order_id, asin, quantity from raw_amazon.sp_order_items "
            "where marketplace = %s and order_date = %s",
            (code, day),
        ).fetchall()
        return Counter(map(tuple, rows)), Counter(map(tuple, truth.order_items(code, day)))
    rows = conn.execute(
        "select ad_id, impressions, clicks, spend from raw_amazon.ads_sp_advertised_product "
        "where marketplace = %s and report_date = %s",
        (code, day),
    ).fetchall()
    want = [(a.ad_id, a.impressions, a.clicks, a.spend) for a in truth.ad_rows(code, day)]
    return Counter(map(tuple, rows)), Counter(want)


def duplicate_keys(conn: Any) -> int:
    """Rows beyond the first per natural key, in every raw table the backfill loads."""
    queries = (
        "select coalesce(sum(n - 1), 0) from (select count(*) n from raw_amazon.sp_sales_traffic_by_asin "
        "group by marketplace, report_date, child_asin having count(*) > 1) d",
        "select coalesce(sum(n - 1), 0) from (select count(*) n from raw_amazon.sp_sales_traffic_by_date "
        "group by marketplace, report_date having count(*) > 1) d",
        "select coalesce(sum(n - 1), 0) from (select count(*) n from raw_amazon.sp_order_items "
        "group by amazon_order_id, line_number, asin having count(*) > 1) d",
        "select coalesce(sum(n - 1), 0) from (select count(*) n from raw_amazon.ads_sp_advertised_product "
        "group by marketplace, report_date, ad_id having count(*) > 1) d",
    )
    return int(sum(conn.execute(q).fetchone()[0] for q in queries))


def compare(url: str, state: Any, days: Sequence[dt.date]) -> dict[tuple[str, str], dict[str, int]]:
    """(asset, partition key) → rows loaded / in the truth / lost / duplicated / not in the truth."""
    from chalkola_pipelines.defs.partitions import partition_key
    from chalkola_pipelines.marketplaces import get_marketplace

    out = {}
    with connect(url) as conn:
        for asset in ASSETS:
            for code in MARKETPLACES:
                for day in days:
                    got, want = partition_rows(conn, state, asset, code, day)
                    out[(asset, str(partition_key(day, get_marketplace(code))))] = {
                        "loaded": sum(got.values()),
                        "truth": sum(want.values()),
                        "lost": sum((want - got).values()),
                        "duplicated": sum(n - 1 for k, n in got.items() if n > 1 and k in want),
                        "unknown": sum(n for k, n in (got - want).items() if k not in want),
                    }
    return out
