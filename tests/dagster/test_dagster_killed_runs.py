"""killed_run_notes_sensor: a run whose worker died (no step failure of its own) gets one line naming its
partitions in its event log; runs whose steps failed, and runs that never started, are left alone."""

from __future__ import annotations

import dagster as dg

from chalkola_pipelines.defs.killed_runs import (
    NOTE_PREFIX,
    SENSOR_NAME,
    build_killed_run_notes_sensor,
    killed_run_note,
)

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
KILLED = "This run has been marked as failed from outside the execution context."


@dg.op
def load_orders() -> None:
    pass


@dg.job
def orders_job() -> None:
    load_orders()


def _event(
    instance: dg.DagsterInstance, run: dg.DagsterRun, kind: dg.DagsterEventType, step: str | None = None
):
    instance.report_dagster_event(
        dg.DagsterEvent(event_type_value=kind.value, job_name=run.job_name, step_key=step), run_id=run.run_id
    )


def _started_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    run = instance.create_run_for_job(
        job_def=orders_job, tags=dict(zip(RANGE, ("2026-11-24|US", "2026-11-26|US"), strict=True))
    )
    _event(instance, run, dg.DagsterEventType.RUN_START)
    _event(instance, run, dg.DagsterEventType.STEP_START, "load_orders")
    return run


def _failure_context(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.RunFailureSensorContext:
    instance.report_run_failed(run, message=KILLED)
    (record,) = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    return dg.build_run_status_sensor_context(
        sensor_name=SENSOR_NAME,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run.run_id),
        dagster_event=record.event_log_entry.dagster_event,
    ).for_run_failure()


def _notes(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        e.message
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        if e.message.startswith(NOTE_PREFIX)
    ]


def test_a_killed_run_gets_one_line_naming_its_partitions_and_the_next_step() -> None:
    sensor = build_killed_run_notes_sensor()
    with dg.instance_for_test() as instance:
        run = _started_run(instance)
        context = _failure_context(instance, run)
        assert sensor(context) is None
        (note,) = _notes(instance, run.run_id)
        assert note == (
            f"chalkola: run {run.run_id[:8]} (orders_job) of partitions 2026-11-24|US … 2026-11-26|US ended "
            "without finishing step(s) load_orders: its worker process died (killed, out of memory, or its machine "
            f'or container was lost) and Dagster marked it failed. Dagster: "{KILLED[:-1]}". Nothing of its unfinished '
            "steps was committed (one transaction per partition); re-execute the run (or launch these partitions "
            "again): the reports it had requested are resumed from the ledger (no new Amazon quota)."
        )
        assert "\n" not in note
        # seen twice (e.g. a sensor cursor reset): still one line
        assert killed_run_note(instance, instance.get_run_by_id(run.run_id), KILLED) is None
        sensor(context)
        assert len(_notes(instance, run.run_id)) == 1


@dg.op
def broken() -> None:
    raise dg.Failure(description="sp_orders 2026-11-24|US: a clear message of its own")


@dg.job
def broken_job() -> None:
    broken()


def test_a_run_whose_step_failed_is_left_alone() -> None:
    with dg.instance_for_test() as instance:
        result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        (record,) = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        context = dg.build_run_status_sensor_context(
            sensor_name=SENSOR_NAME, dagster_instance=instance, dagster_run=run,
            dagster_event=record.event_log_entry.dagster_event,
        ).for_run_failure()  # fmt: skip
        build_killed_run_notes_sensor()(context)
        assert _notes(instance, run.run_id) == []


def test_a_run_killed_after_one_of_its_steps_failed_is_noted() -> None:
    """The worker died in the second step after the first had failed (the mixed faults scenario)."""
    with dg.instance_for_test() as instance:
        result = broken_job.execute_in_process(instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        _event(instance, run, dg.DagsterEventType.STEP_START, "sp_orders")  # never ended: the kill
        note = killed_run_note(instance, run, KILLED)
        assert note is not None and "without finishing step(s) sp_orders:" in note


def test_a_run_that_never_started_is_left_alone() -> None:
    with dg.instance_for_test() as instance:
        run = instance.create_run_for_job(job_def=orders_job)
        build_killed_run_notes_sensor()(_failure_context(instance, run))
        assert _notes(instance, run.run_id) == []


def test_the_sensor_is_part_of_the_definitions() -> None:
    from chalkola_pipelines.defs.dbt import ensure_dbt_manifest

    ensure_dbt_manifest()
    from chalkola_pipelines.definitions import build_definitions

    defs = build_definitions({"CHALKOLA_MARKETPLACES": "US", "CHALKOLA_START_DATE": "2025-01-01"})
    sensor = next(s for s in defs.get_repository_def().sensor_defs if s.name == SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
