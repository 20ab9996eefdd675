"""``run_failure_alert_sensor``: one alert (Slack webhook and/or email, chalkola_pipelines/alerts.py) per failed run.

Dagster's run_failure_sensor sees each run failure once (its cursor is the event id). A failed run that Dagster
will retry automatically (tag ``dagster/will_retry=true``, set when run retries are enabled) is not alerted: the
last attempt is, naming its attempt number. Successful runs are never seen. The sensor is part of the
definitions only when a channel is configured (``SLACK_WEBHOOK_URL``, ``ALERT_SMTP_HOST`` + ``ALERT_SMTP_TO``),
and then runs by default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from chalkola_pipelines.alerts import RunFailure, configured_channels, send_alert
from chalkola_pipelines.defs.partitions import RANGE_END_TAG, RANGE_START_TAG

SENSOR_NAME = "run_failure_alert_sensor"
WILL_RETRY_TAG = "dagster/will_retry"
RETRY_NUMBER_TAG = "dagster/retry_number"
PARTITION_TAG = "dagster/partition"
_MAX_ERRORS = 3
_MAX_ERROR_CHARS = 400


def _error_line(error: object) -> str:
    """The user's error inside Dagster's wrappers, first line, shortened."""
    while getattr(error, "cause", None) is not None and getattr(error, "cls_name", "").startswith("Dagster"):
        error = error.cause  # type: ignore[attr-defined]
    message = (getattr(error, "message", "") or str(error)).strip()
    line = message.splitlines()[0] if message else getattr(error, "cls_name", "error")
    return line if len(line) <= _MAX_ERROR_CHARS else line[: _MAX_ERROR_CHARS - 1] + "…"


def _partitions(tags: Mapping[str, str]) -> str:
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    first, last = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if first and last:
        return first if first == last else f"{first} … {last}"
    return ""


def run_failure_of(context: dg.RunFailureSensorContext) -> RunFailure:
    """The facts of the failed run: assets it was to materialise, partitions, step errors, attempt."""
    run = context.dagster_run
    planned = context.instance.get_records_for_run(
        run_id=run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    keys = {r.event_log_entry.dagster_event.asset_key for r in planned if r.event_log_entry.dagster_event}
    keys |= set(run.asset_selection or ())
    assets = sorted(key.to_user_string() for key in keys if key is not None)
    errors = [
        f"{event.step_key}: {_error_line(event.event_specific_data.error)}"
        for event in context.get_step_failure_events()
        if event.event_specific_data is not None and getattr(event.event_specific_data, "error", None)
    ]
    if len(errors) > _MAX_ERRORS:
        errors = [*errors[:_MAX_ERRORS], f"… and {len(errors) - _MAX_ERRORS} more failed steps"]
    if not errors:
        errors = [_error_line(context.failure_event.message or "run failed")]
    retry = run.tags.get(RETRY_NUMBER_TAG, "0")
    return RunFailure(
        run_id=run.run_id,
        job_name=run.job_name,
        assets=assets,
        partitions=_partitions(run.tags),
        errors=errors,
        attempt=int(retry) + 1 if retry.isdigit() else 1,
        tags=dict(run.tags),
    )


def build_run_failure_alert_sensor(
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds: int = 30,
) -> dg.SensorDefinition:
    """The sensor; channels and their settings are read from the environment on every alert."""

    @dg.run_failure_sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="Posts one alert per failed run (not per automatic retry) to Slack and/or email.",
    )
    def run_failure_alert_sensor(context: dg.RunFailureSensorContext):
        if context.dagster_run.tags.get(WILL_RETRY_TAG) == "true":
            # None, not a SkipReason: a returned value would end the tick before the other failed runs
            context.log.info(f"run {context.dagster_run.run_id} will be retried: no alert for this attempt")
            return None
        failure = run_failure_of(context)
        channels = send_alert(failure)
        context.log.info(f"alert for run {failure.run_id} sent to {', '.join(channels) or 'no channel'}")
        return None

    return run_failure_alert_sensor


def alert_sensors(environ: Mapping[str, str] = os.environ) -> list[dg.SensorDefinition]:
    """``[run_failure_alert_sensor]`` when an alert channel is configured, else ``[]``."""
    return [build_run_failure_alert_sensor()] if configured_channels(environ) else []
