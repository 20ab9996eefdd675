"""The deployment files are valid: docker-compose.yml (when docker-compose is installed), the Dagster
instance config in deploy/dagster.yaml (loaded for real on the test Postgres) and .env.example."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose binary not installed")
def test_docker_compose_config_is_valid(tmp_path: Path) -> None:
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copy(REPO / ".env.example", tmp_path / ".env")  # what the README tells operators to do
    result = subprocess.run(
        ["docker-compose", "--profile", "demo", "config", "-q"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        ["docker-compose", "--profile", "demo", "config", "--services"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert set(services) == {
        "postgres", "chalkola_setup", "chalkola_user_code", "dagster_webserver", "dagster_daemon", "simulator",
    }  # fmt: skip


def test_compose_follows_the_deploy_docker_layout() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["chalkola_user_code"]["command"][:3] == ["dagster", "code-server", "start"]
    command = services["chalkola_user_code"]["command"]
    # a host stall must not kill the location for good
    assert int(command[command.index("--heartbeat-ttl") + 1]) >= 300
    assert "dagster-webserver" in services["dagster_webserver"]["command"]
    assert services["dagster_daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert services["simulator"]["profiles"] == ["demo"]
    workspace = yaml.safe_load((REPO / "deploy" / "workspace.docker.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["host"] == "chalkola_user_code"


def test_instance_config_loads_with_run_queue_limits(pg_url: str, tmp_path: Path, monkeypatch) -> None:
    import dagster as dg

    from chalkola_pipelines.warehouse.postgres import sqlalchemy_url

    shutil.copy(REPO / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_PG_URL", sqlalchemy_url(pg_url))
    with dg.DagsterInstance.get() as instance:
        settings = instance.get_concurrency_config()
        limits = {
            (lim["key"], str(lim.get("value"))) for lim in settings.run_queue_config.tag_concurrency_limits
        }
        assert ("amazon/region", "{'applyLimitPerUniqueValue': True}") in limits
        assert ("amazon/api", "{'applyLimitPerUniqueValue': True}") in limits
        assert ("dagster/backfill", "None") in limits
        assert settings.run_queue_config.max_concurrent_runs == 8
        assert settings.pool_config.default_pool_limit == 6
        assert type(instance.run_coordinator).__name__ == "TaggingRunCoordinator"
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"


def test_env_example_lists_every_setting_the_code_reads() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    source = "\n".join(p.read_text() for p in (REPO / "chalkola_pipelines").rglob("*.py"))
    read = set(re.findall(r"""environ(?:\.get)?\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))
    read |= set(re.findall(r"""EnvVar\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))
    read |= set(re.findall(r"""_env_var_if_set\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))
    internal = {"DAGSTER_IS_DEV_CLI", "PATH", "DAGSTER_HOME"}
    missing = sorted(read - documented - internal)
    assert not missing, f".env.example does not document: {missing}"
    assert os.environ.get("SP_LWA_CLIENT_SECRET", "") not in (
        REPO / ".env.example"
    ).read_text() or not os.environ.get("SP_LWA_CLIENT_SECRET")
