"""``orphan_runs_sensor``: a run Dagster stored but can never start is marked FAILED with one line saying why.

Dagster 1.13 stores a run before it resolves its partition range: a range that starts before the partitions'
start (``CHALKOLA_START_DATE`` or 24 months back, what Amazon keeps), ends after today or names a marketplace
not in ``CHALKOLA_MARKETPLACES``, sent to GraphQL ``launchRun`` (a script; the UI's partition picker cannot
produce one) or any other launcher, fails in ``create_run`` and leaves the run ``NOT_STARTED`` for ever.
``dagster job execute`` is stopped earlier (``launch_guard``). This sensor (default RUNNING, every minute,
launches nothing) marks such runs FAILED once they are ``grace`` old, with the line of
``partitions.partition_tags_problem`` in their event log; runs whose tags are fine are never touched.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

ORPHAN_SENSOR = "orphan_runs_sensor"
DEFAULT_GRACE = dt.timedelta(minutes=2)


def fail_orphan_runs(
    instance: dg.DagsterInstance,
    partitions_def: dg.MultiPartitionsDefinition,
    *,
    grace: dt.timedelta = DEFAULT_GRACE,
    now: dt.datetime | None = None,
) -> list[str]:
    """Mark FAILED every NOT_STARTED run older than ``grace`` whose partition tags lie outside
    ``partitions_def``; the messages written."""
    from chalkola_pipelines.defs.partitions import partition_tags_problem

    now = now or dt.datetime.now(dt.UTC)
    records = instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.NOT_STARTED], created_before=now - grace)
    )
    messages = []
    for record in records:
        run = record.dagster_run
        problem = partition_tags_problem(run.tags, partitions_def, now)
        if problem is None:
            continue
        message = (
            f"run {run.run_id[:8]} ({run.job_name}) was stored but can never start: {problem} Marked failed by "
            f"{ORPHAN_SENSOR}; launch the partitions again within the partition set."
        )
        instance.report_run_failed(run, message=message)
        messages.append(message)
    return messages


def build_orphan_runs_sensor(
    partitions_def: dg.MultiPartitionsDefinition,
    *,
    grace: dt.timedelta = DEFAULT_GRACE,
    minimum_interval_seconds: int = 60,
) -> dg.SensorDefinition:
    """The orphan-run sweeper (default RUNNING; it launches nothing)."""

    @dg.sensor(
        name=ORPHAN_SENSOR,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks FAILED the runs that were stored but can never start (partitions outside the set).",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        messages = fail_orphan_runs(context.instance, partitions_def, grace=grace)
        for message in messages:
            context.log.warning(message)
        return dg.SkipReason("; ".join(messages) if messages else "no orphan run")

    return _sensor
