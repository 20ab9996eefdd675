"""Probes of benchmarks/load.py: what the run queue allows and what was observed (runs in progress per limited
tag value, pool slots, webserver latency), deadlocks and run failures. Importable without side effects."""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg

IN_PROGRESS = ("STARTING", "STARTED", "CANCELING")
RUNS_QUERY = """
query Runs($ids: [String!]) {
  runsOrError(filter: {runIds: $ids}) {
    __typename
    ... on Runs { results { runId status tags { key value } } }
    ... on PythonError { message }
  }
}"""
PG_DEADLOCK = re.compile(r"deadlock detected", re.IGNORECASE)

# --------------------------------------------------------------------------------------------------
# what the run queue allows (deploy/dagster.yaml) and what was observed


def run_limits(config: Mapping[str, Any]) -> dict[str, Any]:
    """max_concurrent_runs and the tag limits of an instance config (``concurrency: runs:``)."""
    runs = config.get("concurrency", {}).get("runs", {})
    limits = []
    for entry in runs.get("tag_concurrency_limits", []):
        value = entry.get("value")
        per_value = isinstance(value, Mapping) and bool(value.get("applyLimitPerUniqueValue"))
        limits.append({"key": entry["key"], "value": None if per_value else value, "per_value": per_value,
                       "limit": int(entry["limit"])})  # fmt: skip
    return {"max_concurrent_runs": int(runs.get("max_concurrent_runs", 10)), "tags": limits}


def concurrency_by_tag(
    tag_sets: Iterable[Mapping[str, str]], limits: Mapping[str, Any]
) -> tuple[int, dict[str, int]]:
    """(runs, {"key=value": runs}) for one instant: the counts the run queue's tag limits apply to."""
    tag_sets = list(tag_sets)
    counts: dict[str, int] = {}
    for limit in limits["tags"]:
        for tags in tag_sets:
            if limit["key"] not in tags:
                continue
            value = tags[limit["key"]]
            if limit["per_value"]:
                name = f"{limit['key']}={value}"
            elif limit["value"] is None or limit["value"] == value:
                name = limit["key"] if limit["value"] is None else f"{limit['key']}={limit['value']}"
            else:
                continue
            counts[name] = counts.get(name, 0) + 1
    return len(tag_sets), counts


def limit_of(name: str, limits: Mapping[str, Any]) -> int:
    key = name.split("=", 1)[0]
    for limit in limits["tags"]:
        if limit["key"] == key and (limit["per_value"] or limit["value"] in (None, name.partition("=")[2])):
            return limit["limit"]
    raise KeyError(name)


def max_overlap(
    intervals: Sequence[tuple[float, float, Mapping[str, str]]], limits: Mapping[str, Any]
) -> dict:
    """The most runs in progress at once (dequeue → end), in total and per limited tag value."""
    points = sorted({start for start, _, _ in intervals})
    best_total = 0
    best: dict[str, int] = {}
    for t in points:
        live = [tags for start, end, tags in intervals if start <= t < end]
        total, counts = concurrency_by_tag(live, limits)
        best_total = max(best_total, total)
        for name, n in counts.items():
            best[name] = max(best.get(name, 0), n)
    return {"total": best_total, "by_tag": best}


class QueueSampler:
    """Samples the instance every ``interval`` s: runs in progress (total, per limited tag value) and claimed
    pool slots; keeps the maxima."""

    def __init__(
        self, instance: Any, limits: Mapping[str, Any], pools: Sequence[str], interval: float = 0.25
    ) -> None:
        self.instance, self.limits, self.pools = instance, limits, list(pools)
        self.interval = interval
        self.max_total = 0
        self.max_by_tag: dict[str, int] = {}
        self.max_slots: dict[str, int] = {}
        self.max_pending_steps: dict[str, int] = {}
        self.samples = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import dagster as dg

        statuses = [dg.DagsterRunStatus(s) for s in IN_PROGRESS]
        while not self._stop.wait(self.interval):
            try:
                runs = self.instance.get_runs(
                    dg.RunsFilter(statuses=statuses)
                )  # all runs: the limits count all
                total, counts = concurrency_by_tag((r.tags for r in runs), self.limits)
                self.max_total = max(self.max_total, total)
                for name, n in counts.items():
                    self.max_by_tag[name] = max(self.max_by_tag.get(name, 0), n)
                storage = self.instance.event_log_storage
                for pool in self.pools:
                    info = storage.get_concurrency_info(pool)
                    self.max_slots[pool] = max(self.max_slots.get(pool, 0), info.active_slot_count)
                    self.max_pending_steps[pool] = max(
                        self.max_pending_steps.get(pool, 0), info.pending_step_count
                    )
                self.samples += 1
            except Exception as exc:  # noqa: BLE001 - a sampling error is reported, never fatal
                if len(self.errors) < 5:
                    self.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


class UiPoller:
    """Asks the webserver's GraphQL for the runs every ``interval`` s (an open Runs page); latencies, errors."""

    def __init__(self, url: str, run_ids: Sequence[str], interval: float = 1.0) -> None:
        self.url, self.run_ids, self.interval = url, list(run_ids), interval
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        with httpx.Client(timeout=60.0) as client:
            while not self._stop.wait(self.interval):
                started = time.monotonic()
                try:
                    answer = client.post(
                        self.url, json={"query": RUNS_QUERY, "variables": {"ids": self.run_ids}}
                    )
                    body = answer.json()
                    kind = body.get("data", {}).get("runsOrError", {}).get("__typename")
                    if answer.status_code != 200 or kind != "Runs":
                        self.errors.append(f"HTTP {answer.status_code} {kind or body.get('errors')}"[:300])
                except (httpx.HTTPError, ValueError) as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                self.latencies.append(time.monotonic() - started)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(70)
        lat = sorted(self.latencies)
        return {
            "requests": len(lat),
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "latency_ms": {
                "p50": round(1000 * statistics.median(lat)) if lat else None,
                "p95": round(1000 * lat[int(0.95 * (len(lat) - 1))]) if lat else None,
                "max": round(1000 * lat[-1]) if lat else None,
            },
        }


# --------------------------------------------------------------------------------------------------
# deadlocks and errors


def deadlock_counters(server_url: str, names: Sequence[str]) -> dict[str, int]:
    """``pg_stat_database.deadlocks`` of the named databases (the server counts every deadlock it broke)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        rows = conn.execute(
            "select datname, deadlocks from pg_stat_database where datname = any(%s)", (list(names),)
        ).fetchall()
    return {name: int(n or 0) for name, n in rows}


def embedded_log(server_url: str) -> Path | None:
    """The embedded server's log file when ``server_url`` is the embedded server (else None)."""
    from chalkola_pipelines.settings import chalkola_home
    from chalkola_pipelines.warehouse.postgres import recorded_port

    port = recorded_port(chalkola_home())
    path = chalkola_home() / "pgdata" / "log"
    found = port is not None and f":{port}/" in server_url and path.exists() and os.access(path, os.R_OK)
    return path if found else None


def count_in_file(path: Path, offset: int, pattern: re.Pattern[str]) -> tuple[int, list[str]]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        lines = [
            line.decode("utf-8", "replace").strip()
            for line in fh
            if pattern.search(line.decode("utf-8", "replace"))
        ]
    return len(lines), lines[:5]


def traceback_endings(path: Path) -> list[str]:
    """The exception line that ends each Python traceback in a log file (at most 5, with the line before it)."""
    out: list[str] = []
    in_tb = False
    previous = ""
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8", "replace").rstrip()
            if line.startswith("Traceback"):
                in_tb = True
            elif (
                in_tb and line and not line.startswith((" ", "\t")) and not line.startswith("During handling")
            ):
                if not line.startswith(("The above exception", "Traceback")):
                    out.append(f"{line[:300]}  [after: {previous.strip()[:200]}]")
                    in_tb = False
            if line.strip():
                previous = line
    return out[:5]


def run_failures(instance: Any, records: Sequence[Any]) -> list[str]:
    """The first line of each failed run's step / run failure message."""
    import dagster as dg

    out = []
    for r in records:
        if r.dagster_run.status.value == "SUCCESS":
            continue
        events = instance.get_records_for_run(
            r.dagster_run.run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        ).records
        messages = []
        for e in events:
            data = e.event_log_entry.dagster_event.event_specific_data
            error = getattr(data, "error", None)
            user = getattr(data, "user_failure_data", None)
            text = (user.description if user and user.description else None) or (
                error.message if error else ""
            )
            messages.append(
                text.strip().splitlines()[0][:300] if text.strip() else e.event_log_entry.message[:300]
            )
        out.append(f"{r.dagster_run.run_id[:8]} {r.dagster_run.status.value}: " + " | ".join(messages[:2]))
    return out


def event_deadlocks(instance: Any, run_ids: Sequence[str]) -> int:
    """Run events (any level) that mention a Postgres deadlock."""
    n = 0
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            text = entry.message or ""
            data = entry.dagster_event.event_specific_data if entry.dagster_event else None
            error = getattr(data, "error", None)
            if error is not None:
                text += error.to_string()
            n += bool(PG_DEADLOCK.search(text))
    return n
