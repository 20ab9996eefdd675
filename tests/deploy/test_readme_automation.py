"""The README names the schedules and sensors that exist, with the default states the code gives them."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from chalkola_pipelines.definitions import build_definitions

README = Path(__file__).resolve().parents[2] / "README.md"
ALERTS = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"}  # so the alert sensor exists


def _states() -> dict[str, str]:
    repo = build_definitions({"CHALKOLA_MARKETPLACES": "US,DE", **ALERTS}).get_repository_def()
    out = {}
    for schedule in repo.schedule_defs:
        out[schedule.name] = "on" if schedule.default_status == dg.DefaultScheduleStatus.RUNNING else "off"
    for sensor in repo.sensor_defs:
        out[sensor.name] = "on" if sensor.default_status == dg.DefaultSensorStatus.RUNNING else "off"
    return out


def test_the_readme_table_lists_every_schedule_and_sensor_with_its_default_state() -> None:
    text = README.read_text()
    table = dict(re.findall(r"^\s*\| `(\w+)` \| (on|off) \|", text, flags=re.M))
    assert table == _states()


def test_every_schedule_or_sensor_name_in_the_readme_exists() -> None:
    names = set(re.findall(r"`(\w+_(?:sensor|nightly|daily))`", README.read_text()))
    names = {n for n in names if not n.startswith(("fct_", "dim_"))}  # the marts' names end in _daily too
    assert names and names <= set(_states()), names - set(_states())
