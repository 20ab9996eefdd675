"""dbt_env_for: the warehouse URL → the CHALKOLA_PG_* variables dbt_project/profiles.yml reads."""

from __future__ import annotations

import pytest

from chalkola_pipelines.dbt_env import DBT_PROJECT_DIR, DbtEnvError, dbt_env_for


def test_tcp_url_with_credentials() -> None:
    assert dbt_env_for("postgresql://chalkola:s3cret@db.example.com:6543/warehouse") == {
        "CHALKOLA_PG_HOST": "db.example.com",
        "CHALKOLA_PG_PORT": "6543",
        "CHALKOLA_PG_USER": "chalkola",
        "CHALKOLA_PG_PASSWORD": "s3cret",
        "CHALKOLA_PG_DBNAME": "warehouse",
    }


def test_embedded_server_url_defaults_port_and_empty_password() -> None:
    env = dbt_env_for("postgresql://postgres@127.0.0.1:55147/chalkola")
    assert env["CHALKOLA_PG_HOST"] == "127.0.0.1"
    assert env["CHALKOLA_PG_PORT"] == "55147"
    assert env["CHALKOLA_PG_USER"] == "postgres"
    assert env["CHALKOLA_PG_PASSWORD"] == ""
    assert dbt_env_for("postgres://u@localhost/db")["CHALKOLA_PG_PORT"] == "5432"


def test_percent_encoded_credentials_are_decoded() -> None:
    env = dbt_env_for(
        "postgresql://postgres.abcd%40x:p%40ss%3Aw%2Frd@aws-0-eu.pooler.supabase.com:6543/postgres"
    )
    assert env["CHALKOLA_PG_USER"] == "postgres.abcd@x"
    assert env["CHALKOLA_PG_PASSWORD"] == "p@ss:w/rd"


def test_socket_host_port_and_sslmode_from_query() -> None:
    env = dbt_env_for("postgresql://postgres:@/chalkola?host=/tmp/pgdata&port=5433&sslmode=require")
    assert env["CHALKOLA_PG_HOST"] == "/tmp/pgdata"
    assert env["CHALKOLA_PG_PORT"] == "5433"
    assert env["CHALKOLA_PG_SSLMODE"] == "require"
    assert "CHALKOLA_PG_SSLMODE" not in dbt_env_for("postgresql://u@h/db")


@pytest.mark.parametrize("url", ["postgresql+psycopg2://u:p@h:1/db", "postgresql+psycopg://u:p@h:1/db"])
def test_driver_qualified_schemes(url: str) -> None:
    assert dbt_env_for(url)["CHALKOLA_PG_DBNAME"] == "db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@h/db", "postgresql://"),
        ("sqlite:///tmp/x.db", "postgresql://"),
        ("postgresql://u:p@h:5432", "names no database"),
        ("postgresql://u:p@h:notaport/db", "invalid port"),
    ],
)
def test_bad_urls_raise_clear_errors_without_the_password(url: str, message: str) -> None:
    with pytest.raises(DbtEnvError, match=message) as excinfo:
        dbt_env_for(url)
    assert ":p@" not in str(excinfo.value)


def test_project_dir_is_the_repo_dbt_project() -> None:
    assert (DBT_PROJECT_DIR / "dbt_project.yml").is_file()
    assert (DBT_PROJECT_DIR / "profiles.yml").is_file()
