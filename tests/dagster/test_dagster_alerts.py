"""run_failure_alert_sensor on a real Postgres-backed instance with run retries on: real Dagster runs fail (and
succeed), the sensor's ticks post to a local HTTP receiver (the Slack webhook) and a local SMTP server (aiosmtpd)
— one alert per failed run, none for success or for an attempt that will be retried, never a secret. The last test
does it through a real dagster-daemon (run queue + sensor daemon) with runs launched as the UI does."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
import yaml

from chalkola_pipelines.alerts import redact
from chalkola_pipelines.defs.alert_sensor import SENSOR_NAME, alert_sensors, build_run_failure_alert_sensor
from chalkola_pipelines.defs.partitions import daily_marketplace_partitions, partition_key
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse.postgres import scratch_database, sqlalchemy_url

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LWA_SECRET = "amzn1.oa2-cs.v1.0123456789abcdef0123456789abcdef"
REFRESH_TOKEN = "Atzr|IwEBIHsecretRefreshToken0123456789"
SMTP_PASSWORD = "smtp-pa55word-xyz"
HOOK_PATH = "/services/T000/B000/hooksecret123456"
PARTITIONS = daily_marketplace_partitions([get_marketplace("US")], dt.date(2026, 1, 1))
KEY = str(partition_key(dt.date(2026, 1, 5), "US"))


@dg.asset(partitions_def=PARTITIONS, name="sp_sales_traffic")
def failing_sp_sales_traffic() -> None:
    # what a careless error could carry: a token, the app's secret (as in the environment), a URL password
    raise RuntimeError(
        f"LWA refused the grant: refresh_token={REFRESH_TOKEN} client {LWA_SECRET} "
        "db postgresql://chalkola:dbpa55@db:5432/chalkola"
    )


@dg.asset(partitions_def=PARTITIONS, name="sp_orders")
def good_sp_orders() -> None:
    return None


def failing_job() -> dg.JobDefinition:
    """The job a real retry re-executes (reconstructable: module-level)."""
    defs = dg.Definitions(
        assets=[failing_sp_sales_traffic],
        jobs=[
            dg.define_asset_job("raw_amazon_job", selection=["sp_sales_traffic"], partitions_def=PARTITIONS)
        ],
    )
    return defs.resolve_job_def("raw_amazon_job")


IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


class Receiver(ThreadingHTTPServer):
    status = 200
    posts: list[dict]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        server: Receiver = self.server  # type: ignore[assignment]
        payload = self.rfile.read(int(self.headers["Content-Length"]))
        server.posts.append({"path": self.path, "json": json.loads(payload)})
        self.send_response(server.status)
        self.end_headers()
        self.wfile.write(b"ok" if server.status == 200 else b"invalid_token")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.posts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp() -> Iterator[tuple[int, list]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    received: list = []
    logins: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            received.append(envelope)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append(auth_data.login)
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode())

    with socket.socket() as probe:  # aiosmtpd's readiness check connects to the port it was given
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    yield port, received
    controller.stop()
    assert logins in ([], [b"alerts@example.com"] * len(logins))


@pytest.fixture
def instance(pg_server_url: str, tmp_path: Path, monkeypatch) -> Iterator[dg.DagsterInstance]:
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    for section in ("run_monitoring", "run_launcher"):
        config.pop(section)
    config["run_retries"] = {"enabled": True, "max_retries": 1}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with scratch_database(pg_server_url, "dagster_alerts", migrate=False) as url:
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
        monkeypatch.setenv("DAGSTER_PG_URL", sqlalchemy_url(url))
        with dg.DagsterInstance.get() as inst:
            yield inst
    shutil.rmtree(tmp_path / "storage", ignore_errors=True)


@pytest.fixture
def alert_env(monkeypatch, receiver: Receiver, smtp: tuple[int, list]) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"http://127.0.0.1:{receiver.server_address[1]}{HOOK_PATH}")
    monkeypatch.setenv("ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ALERT_SMTP_PORT", str(smtp[0]))
    monkeypatch.setenv("ALERT_SMTP_SECURITY", "none")
    monkeypatch.setenv("ALERT_SMTP_USER", "alerts@example.com")
    monkeypatch.setenv("ALERT_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("ALERT_SMTP_TO", "founder@example.com, ops@example.com")
    monkeypatch.setenv("CHALKOLA_UI_BASE_URL", "http://dagster.example:3000/")
    monkeypatch.setenv("SP_LWA_CLIENT_SECRET", LWA_SECRET)


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    return data.cursor, data


def run(instance: dg.DagsterInstance, asset: dg.AssetsDefinition, tags: dict[str, str] | None = None):
    return dg.materialize(
        [asset], instance=instance, partition_key=KEY, tags=tags or {}, raise_on_error=False
    ).dagster_run


def test_one_alert_per_failed_run_none_for_success_or_a_retried_attempt(instance, alert_env, receiver, smtp):
    sensor = build_run_failure_alert_sensor()
    cursor, _ = tick(sensor, instance, None)  # the first tick only sets the cursor

    ok = run(instance, good_sp_orders)
    assert ok.status == dg.DagsterRunStatus.SUCCESS
    cursor, _ = tick(sensor, instance, cursor)
    assert receiver.posts == [] and smtp[1] == []

    first = dg.execute_job(
        dg.reconstructable(failing_job),
        instance,
        run_config=IN_PROCESS,
        tags={"dagster/partition": KEY},
        raise_on_error=False,
    ).dagster_run
    assert first.status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(first.run_id).tags.get("dagster/will_retry") == "true"
    cursor, _ = tick(sensor, instance, cursor)
    assert receiver.posts == [] and smtp[1] == [], "an attempt Dagster retries is not alerted"

    # the retry as Dagster's auto re-execution launches it: from failure, in the first run's group (the tags
    # create_reexecuted_run sets; execute_job sets only the run's fields)
    group = {"dagster/parent_run_id": first.run_id, "dagster/root_run_id": first.run_id}
    retry = dg.execute_job(
        dg.reconstructable(failing_job), instance, run_config=IN_PROCESS, raise_on_error=False,
        tags={**group, "dagster/retry_number": "1", "dagster/partition": KEY},
        reexecution_options=dg.ReexecutionOptions.from_failure(first.run_id, instance),
    )  # fmt: skip
    last = retry.dagster_run
    assert last.root_run_id == first.run_id and last.status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(last.run_id).tags.get("dagster/will_retry") == "false"
    cursor, _ = tick(sensor, instance, cursor)
    cursor, _ = tick(sensor, instance, cursor)  # seen once only
    assert len(receiver.posts) == 1 and len(smtp[1]) == 1

    post = receiver.posts[0]
    assert post["path"] == HOOK_PATH
    text = post["json"]["text"]
    assert text.splitlines()[0] == f"chalkola: run failed: sp_sales_traffic [{KEY}]"
    assert f"run {last.run_id}  (attempt 2, the last automatic retry)" in text
    assert f"Partitions: {KEY}" in text
    assert "sp_sales_traffic: RuntimeError: LWA refused the grant: refresh_token=***" in text
    assert f"Run in the Dagster UI: http://dagster.example:3000/runs/{last.run_id}" in text

    envelope = smtp[1][0]
    assert envelope.rcpt_tos == ["founder@example.com", "ops@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == f"chalkola: run failed: sp_sales_traffic [{KEY}]"
    mail = message.get_body().get_content()
    assert mail.replace("\r\n", "\n").strip() == text.strip()
    assert f"/runs/{last.run_id}" in mail
    for secret in (REFRESH_TOKEN, "IwEBIHsecret", LWA_SECRET, "dbpa55", SMTP_PASSWORD, "hooksecret123456"):
        assert secret not in text and secret not in mail


def test_a_refusing_webhook_is_named_without_its_url_and_email_still_goes(
    instance, alert_env, receiver, smtp
) -> None:
    receiver.status = 404
    sensor = build_run_failure_alert_sensor()
    cursor, _ = tick(sensor, instance, None)
    failed = run(instance, failing_sp_sales_traffic, {"dagster/max_retries": "0"})  # not retried
    cursor, data = tick(sensor, instance, cursor)
    assert len(receiver.posts) == 1 and len(smtp[1]) == 1
    (reaction,) = data.dagster_run_reactions
    assert reaction.dagster_run.run_id == failed.run_id
    error = reaction.error.to_string()
    assert "Slack webhook on 127.0.0.1 answered HTTP 404 'invalid_token'; check SLACK_WEBHOOK_URL" in error
    assert "(sent to email)" in error
    assert "hooksecret" not in error
    _, again = tick(sensor, instance, cursor)
    assert len(receiver.posts) == 1, "a failed delivery is reported on the tick, not retried forever"
    assert again.dagster_run_reactions == []


def test_the_sensor_exists_only_when_a_channel_is_configured() -> None:
    assert alert_sensors({}) == []
    assert alert_sensors({"ALERT_SMTP_HOST": "smtp.example.com"}) == [], "email needs ALERT_SMTP_TO too"
    (sensor,) = alert_sensors({"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"})
    assert sensor.name == SENSOR_NAME and sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert [s.name for s in alert_sensors({"ALERT_SMTP_HOST": "h", "ALERT_SMTP_TO": "a@b.c"})] == [
        SENSOR_NAME
    ]


def test_redact_hides_what_looks_like_a_secret() -> None:
    env = {
        "ADS_CLIENT_SECRET": "s3cr3t-value",
        "SHORT_TOKEN": "abc",
        "DATABASE_URL": "postgresql://u:pw99@h/db",
    }
    text = (
        "ads said s3cr3t-value; Authorization: Bearer eyJhbGciOi.J9abc; password=hunter2 & token: 'abcdefgh' "
        "Atza|IwEBIabc and https://hooks.slack.com/services/T/B/X at postgresql://u:pw99@h/db, pw99 abc"
    )
    out = redact(text, env)
    for secret in ("s3cr3t-value", "eyJhbGciOi", "hunter2", "abcdefgh", "Atza|", "services/T", "pw99"):
        assert secret not in out, secret
    assert out.endswith("postgresql://u:***@h/db, *** abc")  # a 3-character value is not a secret
    assert "password=***" in out and "Authorization: ***" in out
    assert redact("Bearer eyJhbGciOiJIUzI1NiJ9", {}) == "Bearer ***"


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.e2e
def test_through_the_daemon_an_induced_failure_gives_exactly_one_alert(
    pg_server_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """dagster-daemon (run queue + sensor daemon) on a Postgres instance, runs launched as the UI does."""
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    for section in ("run_monitoring", "run_launcher"):
        config.pop(section)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    workspace = tmp_path / "workspace.yaml"
    location = REPO / "tests" / "dagster" / "code" / "alerting_location.py"
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_file": str(location)}]}))
    bin_dir = Path(sys.executable).parent
    with scratch_database(pg_server_url, "dagster_alert_daemon", migrate=False) as url:
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DAGSTER_PG_URL": sqlalchemy_url(url),
               "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{receiver.server_address[1]}{HOOK_PATH}",
               "SP_LWA_CLIENT_SECRET": LWA_SECRET, "CHALKOLA_UI_BASE_URL": "http://127.0.0.1:3999",
               "DAGSTER_GRPC_TIMEOUT_SECONDS": "300"}  # a loaded CI machine: a slow start_run is no failure  # fmt: skip
        with open(tmp_path / "daemon.log", "wb") as log:
            daemon = subprocess.Popen(
                [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
                env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            os.environ.update(DAGSTER_HOME=env["DAGSTER_HOME"], DAGSTER_PG_URL=env["DAGSTER_PG_URL"])
            with dg.DagsterInstance.get() as instance:

                def sensor_ticked() -> bool:
                    states = [s for s in instance.all_instigator_state() if s.name == SENSOR_NAME]
                    return any(
                        instance.get_ticks(s.instigator_origin_id, s.selector_id, limit=1) for s in states
                    )

                # the first tick sets the sensor's cursor: failures before it are not this sensor's
                _wait(sensor_ticked, 240, "the sensor's first tick (see daemon.log)")

                def launch(job: str) -> dg.DagsterRun:
                    subprocess.run(
                        [str(bin_dir / "dagster"), "job", "launch", "-w", str(workspace), "-j", job],
                        env=env, check=True, capture_output=True, timeout=180,
                    )  # fmt: skip
                    (run,) = instance.get_runs(dg.RunsFilter(job_name=job), limit=1)
                    return _wait(
                        lambda: (r := instance.get_run_by_id(run.run_id)).is_finished and r,
                        240,
                        f"{job} to end",
                    )

                assert launch("ok_job").status == dg.DagsterRunStatus.SUCCESS
                failed = launch("failing_job")
                assert failed.status == dg.DagsterRunStatus.FAILURE
                _wait(lambda: receiver.posts, 120, "the alert at the local receiver")
                time.sleep(8)  # several more sensor ticks: still one alert
        finally:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(10)
    assert len(receiver.posts) == 1, receiver.posts
    text = receiver.posts[0]["json"]["text"]
    assert text.startswith("chalkola: run failed: sp_orders\n")
    assert "sp_orders: RuntimeError: Amazon refused the grant: client_secret=***" in text
    assert f"Run in the Dagster UI: http://127.0.0.1:3999/runs/{failed.run_id}" in text
    assert LWA_SECRET not in text
