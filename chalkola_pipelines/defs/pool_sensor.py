"""``pool_slots_sensor``: say who is waiting on a concurrency pool and who holds it; free what dead runs hold.

Dagster logs a step that waits for a pool slot at DEBUG only. This sensor (default RUNNING, every minute) writes
one WARNING per waiting step into the tick log and, once per run and pool, into the waiting run's own event log:

    step sp_orders of run 1a2b3c4d has waited 5 min for pool amazon_sp_reports (limit 2), held by runs
    9f8e7d6c (sp_orders_job, STARTED 2 h), 5a4b3c2d (sp_sales_traffic_job, FAILURE): …

It also frees the slots of runs that ended more than ``free_after`` ago but still hold some — what run
monitoring's ``free_slots_after_run_end_seconds`` does when it is enabled; this is the safety net for an instance
configured without it (marking a run failed does not free its slots in Dagster 1.13).
Cursor: ``{"warned": ["<run_id>:<pool>", ...]}`` (runs already told, bounded).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

POOL_SENSOR = "pool_slots_sensor"
DEFAULT_WAIT_WARNING = dt.timedelta(minutes=2)
DEFAULT_FREE_AFTER = dt.timedelta(minutes=2)
MAX_WARNED_IN_CURSOR = 500


@dataclass(frozen=True)
class PoolReport:
    """What one evaluation found: warnings for waiting steps, slots freed from ended runs."""

    warnings: list[tuple[str, str, str]]  # (run id, pool, message)
    freed: list[str]  # messages


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def inspect_pools(
    instance: dg.DagsterInstance,
    *,
    wait_warning: dt.timedelta = DEFAULT_WAIT_WARNING,
    free_after: dt.timedelta = DEFAULT_FREE_AFTER,
    now: float | None = None,
) -> PoolReport:
    """Free the slots of ended runs (ended before ``now - free_after``) and describe steps waiting longer than
    ``wait_warning`` on a pool, naming the pool, its limit and the runs holding it."""
    storage = instance.event_log_storage
    report = PoolReport([], [])
    if not storage.supports_global_concurrency_limits:
        return report
    now = time.time() if now is None else now
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        holders = sorted({slot.run_id for slot in info.claimed_slots})
        records = {
            r.dagster_run.run_id: r for r in instance.get_run_records(dg.RunsFilter(run_ids=holders))
        } if holders else {}  # fmt: skip
        live: list[str] = []
        for run_id in holders:
            record = records.get(run_id)
            ended = record is not None and record.dagster_run.is_finished
            if record is None or (ended and (record.end_time or 0) <= now - free_after.total_seconds()):
                storage.free_concurrency_slots_for_run(run_id)
                status = record.dagster_run.status.value if record else "deleted"
                report.freed.append(f"freed the {pool} slots of run {run_id[:8]} ({status})")
                continue
            run = record.dagster_run
            since = (record.start_time or record.create_timestamp.timestamp()) if record else now
            live.append(f"{run_id[:8]} ({run.job_name}, {run.status.value} {_age(now - since)})")
        waiting = [s for s in info.pending_steps if s.assigned_timestamp is None]
        for step in waiting:
            enqueued = step.enqueued_timestamp
            if enqueued.tzinfo is None:  # Dagster stores naive UTC
                enqueued = enqueued.replace(tzinfo=dt.UTC)
            waited = now - enqueued.timestamp()
            if waited < wait_warning.total_seconds():
                continue
            held = ", ".join(live) if live else "no run (a slot should free up at the next claim)"
            report.warnings.append(
                (
                    step.run_id,
                    pool,
                    f"step {step.step_key} of run {step.run_id[:8]} has waited {_age(waited)} for pool {pool} "
                    f"(limit {info.slot_count}), held by runs {held}: if a holder is dead, mark it failed in the "
                    "UI (its slots are freed within minutes) or raise the limit with "
                    f"`dagster instance concurrency set {pool} N`",
                )
            )
    return report


def build_pool_slots_sensor(
    *,
    wait_warning: dt.timedelta = DEFAULT_WAIT_WARNING,
    free_after: dt.timedelta = DEFAULT_FREE_AFTER,
    minimum_interval_seconds: int = 60,
) -> dg.SensorDefinition:
    """The pool watcher (default RUNNING; it launches nothing)."""

    @dg.sensor(
        name=POOL_SENSOR,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Warns when a step waits on a concurrency pool (naming the runs holding it) and frees the slots of "
            "runs that ended but still hold some."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        report = inspect_pools(context.instance, wait_warning=wait_warning, free_after=free_after)
        warned: Sequence[str] = json.loads(context.cursor or "{}").get("warned", [])
        already = set(warned)
        for line in report.freed:
            context.log.warning(line)
        new_keys: list[str] = []
        for run_id, pool, message in report.warnings:
            context.log.warning(message)
            key = f"{run_id}:{pool}"
            if key in already:
                continue
            run = context.instance.get_run_by_id(run_id)
            if run is not None:
                context.instance.report_engine_event(f"WARNING: {message}", run)
            new_keys.append(key)
        if new_keys:
            kept = [*warned, *new_keys][-MAX_WARNED_IN_CURSOR:]
            context.update_cursor(json.dumps({"warned": kept}))
        lines = [m for _, _, m in report.warnings] + report.freed
        return dg.SkipReason("; ".join(lines) if lines else "no step waits on a pool")

    return _sensor
