"""Dagster assets, checks, jobs, schedules and sensors of chalkola-pipelines (see definitions.py)."""

from chalkola_pipelines.dagster_warnings import quiet_dagster_lifecycle_warnings

quiet_dagster_lifecycle_warnings()
