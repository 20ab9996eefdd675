"""Bad configuration inside Dagster, against the simulator over real HTTP and a real Postgres:

- a wrong LWA client secret / refresh token fails the partitions of every step that needs it with ONE line
  naming the variable and region (a ``ConfigurationFailure``: no cause chain in the event log, never retried),
  the secret's value nowhere in the events, the steps that do not need it unaffected;
- a run tagged with a partition outside the partition set fails each raw step with one line, and
  ``dagster job execute`` (the real CLI) stops before creating the run: exit 2, one line, no orphan run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

pytestmark = [pytest.mark.integration]

WRONG = "Atzr|wrong-refresh-token-s3cr3t"


@pytest.fixture
def pipeline_env(simulator_env, pg_url: str, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("CHALKOLA_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("CHALKOLA_MARKETPLACES", "US,DE")
    monkeypatch.setenv("CHALKOLA_RATE_LIMIT_NAMESPACE", f"cfg-{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("CHALKOLA_SP_REPORT_POLL_SECONDS", "0.05")
    monkeypatch.setenv("CHALKOLA_ADS_REPORT_POLL_SECONDS", "0.05")
    monkeypatch.setenv("CHALKOLA_DATA_KIOSK_POLL_SECONDS", "0.05")
    from chalkola_pipelines.amazon.lwa import clear_token_cache
    from chalkola_pipelines.defs.dbt import ensure_dbt_manifest

    ensure_dbt_manifest()
    clear_token_cache()  # a token cached by an earlier test must not hide the wrong credential
    yield simulator_env
    clear_token_cache()


def _day() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=5)


def _failures(result: dg.ExecuteInProcessResult) -> dict[str, dg.DagsterEvent]:
    return {e.step_key: e for e in result.all_events if e.event_type_value == "STEP_FAILURE"}


def _all_text(instance: dg.DagsterInstance, run_id: str) -> str:
    parts = []
    for entry in instance.all_logs(run_id):
        parts.append(entry.message or "")
        data = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if getattr(data, "error", None) is not None:
            parts.append(data.error.to_string())
        if getattr(data, "user_failure_data", None) is not None:
            parts.append(data.user_failure_data.description or "")
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SP_LWA_CLIENT_SECRET", "amzn1.oa2-cs.v1.wrong-s3cr3t",
         "Login With Amazon refused SP_LWA_CLIENT_ID / SP_LWA_CLIENT_SECRET (the app's LWA client id and client "
         "secret, used with the SP-API NA refresh token; HTTP 401 invalid_client: Client authentication failed)"),
        ("SP_REFRESH_TOKEN_NA", WRONG,
         "Login With Amazon refused SP_REFRESH_TOKEN_NA, the SP-API NA refresh token (HTTP 400 invalid_grant"),
    ],
)  # fmt: skip
def test_wrong_sp_credential_fails_the_partition_with_one_line(
    pipeline_env, monkeypatch, variable, value, expected
):
    from chalkola_pipelines.defs.jobs import run_tags_for

    monkeypatch.setenv(variable, value)
    from chalkola_pipelines.definitions import build_definitions

    defs = build_definitions()
    day = _day()
    key = f"{day.isoformat()}|US"
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("raw_amazon_job").execute_in_process(
            instance=instance, tags=run_tags_for("US", day, day), raise_on_error=False
        )
        assert not result.success
        failures = _failures(result)
        assert {"sp_orders", "sp_sales_traffic"} <= set(failures), sorted(failures)
        for step in ("sp_orders", "sp_sales_traffic"):
            data = failures[step].step_failure_data
            description = data.user_failure_data.description
            assert description.startswith(f"{step} partition {key}")
            assert expected in description and "then re-run." in description
            assert "\n" not in description
            assert data.error.cause is None  # no second traceback of the Amazon error under the Failure
        assert "ads_sp_advertised_product" not in failures  # the Ads credentials are fine: Ads loaded
        types = {e.event_type_value for e in result.all_events}
        assert "STEP_UP_FOR_RETRY" not in types and "STEP_RESTARTED" not in types
        assert value not in _all_text(instance, result.run_id)
        status = instance.get_status_by_partition(
            dg.AssetKey("sp_orders"), [key], defs.resolve_assets_def("sp_orders").partitions_def
        )
        assert status[key] == dg.AssetPartitionStatus.FAILED


def test_run_tagged_before_the_partitions_start_fails_each_step_with_one_line(pipeline_env) -> None:
    from chalkola_pipelines.definitions import build_definitions
    from chalkola_pipelines.defs.partitions import history_start_date

    defs = build_definitions()
    start = history_start_date()
    old = start - dt.timedelta(days=40)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("sp_orders_job").execute_in_process(
            instance=instance, tags={"dagster/partition": f"{old}|US"}, raise_on_error=False
        )
        assert not result.success
        data = _failures(result)["sp_orders"].step_failure_data
        assert data.user_failure_data.description == (
            f"partition {old}|US starts on {old}, before the partitions' start {start} (CHALKOLA_START_DATE, at "
            f"most 24 months back: what Amazon keeps): start on {start} or later."
        )
        assert "CheckError" not in _all_text(instance, result.run_id)


@pytest.mark.parametrize("tags", ["range", "single"])
def test_dagster_job_execute_outside_the_partitions_creates_no_run(
    pipeline_env, tmp_path: Path, tags
) -> None:
    """The real `dagster job execute`: one line of ours on stderr, exit 2, and no run in the instance."""
    from chalkola_pipelines.defs.partitions import history_start_date

    old = history_start_date() - dt.timedelta(days=400)
    keys = (
        {"dagster/asset_partition_range_start": f"{old}|US", "dagster/asset_partition_range_end": f"{old}|US"}
        if tags == "range"
        else {"dagster/partition": f"{old}|US"}
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "job", "execute", "-m", "chalkola_pipelines.definitions",
         "-j", "raw_amazon_job", "--tags", json.dumps({**keys, "amazon/region": "na"})],
        env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    ours = [line for line in result.stderr.splitlines() if line.startswith("dagster job execute: ")]
    assert len(ours) == 1 and ours[0] == result.stderr.splitlines()[-1], result.stderr[-3000:]
    assert f"starts on {old}, before the partitions' start" in ours[0] and "No run was created." in ours[0]
    assert "Traceback" not in result.stderr and "CheckError" not in result.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs_count() == 0  # no orphan NOT_STARTED run
