"""``killed_run_notes_sensor``: a run that died without finishing its steps gets one line naming its partitions.

When a run worker is killed (kill -9, the OOM killer, a lost node or container), Dagster's run monitoring (or
the code server) marks the run FAILED with its own words — "was terminated by signal 9", "marked as failed
from outside the execution context" — which name neither the partitions nor what to do. This sensor (default
RUNNING, launches nothing, needs no alert channel) writes one engine event into such a run's event log: the
partitions, the steps that never finished, what Dagster said, and the next step. It notes runs that started
and either have a step that never finished or no step failure at all (a run whose steps all ended, some
failed, already says what happened, one line per step).
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from chalkola_pipelines.defs.partitions import RANGE_END_TAG, RANGE_START_TAG

SENSOR_NAME = "killed_run_notes_sensor"
NOTE_PREFIX = "chalkola: run"
PARTITION_TAG = "dagster/partition"
_ENDED = (
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_SKIPPED,
)


def run_partitions(tags: Mapping[str, str]) -> str:
    """'2026-11-20|US', '2026-11-20|US … 2026-11-26|US' or '' (unpartitioned) from the run's tags."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    first, last = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if first and last:
        return first if first == last else f"{first} … {last}"
    return ""


def killed_run_note(
    instance: dg.DagsterInstance, run: dg.DagsterRun, failure_message: str = ""
) -> str | None:
    """The line for a FAILED run whose worker died (a step never finished, or no step failed), or None."""
    started: list[str] = []
    ended: set[str] = set()
    materialised = 0
    run_started = step_failed = False
    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.RUN_START:
            run_started = True
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            step_failed = True
            if event.step_key:
                ended.add(event.step_key)
        elif kind == dg.DagsterEventType.STEP_START and event.step_key:
            started.append(event.step_key)
        elif kind in _ENDED and event.step_key:
            ended.add(event.step_key)
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialised += 1
        elif kind == dg.DagsterEventType.ENGINE_EVENT and (entry.message or "").startswith(NOTE_PREFIX):
            return None  # already noted
    if not run_started:
        return None  # never started: the orphan-run sweeper or the launcher says why
    unfinished = [key for key in dict.fromkeys(started) if key not in ended]
    if step_failed and not unfinished:
        return None  # its steps failed and said what happened; nothing died mid-step
    unfinished = unfinished or ["(none started yet)"]
    partitions = run_partitions(run.tags) or "(unpartitioned)"
    words = failure_message.strip().splitlines()[0][:300].rstrip(".") if failure_message.strip() else ""
    said = f' Dagster: "{words}".' if words else ""
    kept = (
        f" The {materialised} partition materialisation(s) it committed before that are kept;"
        if materialised
        else " Nothing of its unfinished steps was committed (one transaction per partition);"
    )
    return (
        f"{NOTE_PREFIX} {run.run_id[:8]} ({run.job_name}) of partitions {partitions} ended without finishing "
        f"step(s) {', '.join(unfinished)}: its worker process died (killed, out of memory, or its machine or "
        f"container was lost) and Dagster marked it failed.{said}{kept} re-execute the run (or launch these "
        "partitions again): the reports it had requested are resumed from the ledger (no new Amazon quota)."
    )


def note_killed_run(
    instance: dg.DagsterInstance, run: dg.DagsterRun, failure_message: str = ""
) -> str | None:
    """Write the line into the run's event log (the UI shows it with the run); the line, or None."""
    note = killed_run_note(instance, run, failure_message)
    if note is not None:
        instance.report_engine_event(note, run)
    return note


def build_killed_run_notes_sensor(
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds: int = 30,
) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="Names the partitions of a run whose worker died (kill -9, OOM, lost node) in its event log.",
    )
    def killed_run_notes_sensor(context: dg.RunFailureSensorContext):
        note = note_killed_run(context.instance, context.dagster_run, context.failure_event.message or "")
        if note is not None:
            context.log.warning(note)
        # None, not a SkipReason: a returned value would end the tick before the other failed runs
        return None

    return killed_run_notes_sensor
