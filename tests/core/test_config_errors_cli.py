"""Bad configuration: the real `chalkola` commands as subprocesses end with ONE line on stderr naming the setting
and the fix, exit code 2, no traceback, no password, and nothing launched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHALKOLA = str(Path(sys.executable).with_name("chalkola"))
SECRET = "s3cr3t-pw"
CLEAN = {
    k: v for k, v in os.environ.items() if not k.startswith(("SP_", "ADS_", "CHALKOLA_", "DATABASE_URL"))
}


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    full = {**CLEAN, "CHALKOLA_HOME": str(tmp_path / "home"), **env}
    return subprocess.run(
        [CHALKOLA, *args], env=full, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


CASES = [
    (["demo", "--days", "1"], {"CHALKOLA_MARKETPLACES": "US,XX"}, ["CHALKOLA_MARKETPLACES", "'XX'", "Known codes"]),
    (["setup"], {"CHALKOLA_MARKETPLACES": "US,XX"}, ["CHALKOLA_MARKETPLACES='US,XX' is invalid", "'XX'"]),
    (
        ["setup"],
        {"CHALKOLA_MARKETPLACES": "US,JP", "SP_LWA_CLIENT_ID": "id", "SP_LWA_CLIENT_SECRET": "x",
         "SP_REFRESH_TOKEN_NA": "t"},
        ["Marketplace JP is in region FE but SP_REFRESH_TOKEN_FE is not set"],
    ),
    (["setup"], {"CHALKOLA_MARKETPLACES": "US"}, ["SP_LWA_CLIENT_ID and SP_LWA_CLIENT_SECRET not set"]),
    (["setup"], {"CHALKOLA_START_DATE": "2020-01-01"}, ["CHALKOLA_START_DATE=2020-01-01 is older than Amazon keeps"]),
    (["setup"], {"CHALKOLA_START_DATE": "March"}, ["CHALKOLA_START_DATE='March' is not a date"]),
    (["demo", "--days", "900", "--marketplaces", "US"], {}, ["--days 900 (US) starts on", "before the partitions' start"]),
    (["db", "migrate"], {"DATABASE_URL": f"mysql://u:{SECRET}@h/db"}, ["DATABASE_URL must be a postgresql:// URL"]),
    (
        ["db", "migrate"],
        {"DATABASE_URL": f"postgresql://u:{SECRET}@127.0.0.1:1/db"},
        ["cannot connect to DATABASE_URL=postgresql://u:***@127.0.0.1:1/db", "Connection refused"],
    ),
    (
        ["setup"],
        {"DATABASE_URL": f"postgresql://u:{SECRET}@127.0.0.1:1/db", "CHALKOLA_AMAZON_SIMULATOR": "http://127.0.0.1:9"},
        ["cannot connect to DATABASE_URL=postgresql://u:***@127.0.0.1:1/db"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "env", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_bad_setting_is_one_line_and_exit_2(args, env, expected, tmp_path: Path) -> None:
    result = _run(args, env, tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith(f"chalkola {args[0]}: ")
    for fragment in expected:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr and SECRET not in result.stderr + result.stdout
    assert "raw_amazon_job" not in result.stdout  # nothing was launched
    assert not (tmp_path / "home" / "dagster").exists()  # no Dagster instance, so no orphan run


WRONG = "wrong-value-s3cr3t"
LWA_CASES = [
    # (marketplaces, variable set to a wrong value, fragments of the one line)
    ("US", "SP_LWA_CLIENT_SECRET",
     ["Login With Amazon refused SP_LWA_CLIENT_ID / SP_LWA_CLIENT_SECRET", "SP-API NA refresh token",
      "invalid_client", "set both to the app's current LWA credentials"]),
    ("US", "SP_LWA_CLIENT_ID", ["Login With Amazon refused SP_LWA_CLIENT_ID / SP_LWA_CLIENT_SECRET"]),
    ("US,DE", "SP_REFRESH_TOKEN_EU",
     ["Login With Amazon refused SP_REFRESH_TOKEN_EU, the SP-API EU refresh token", "invalid_grant",
      "re-authorize the app for this region"]),
    ("JP", "ADS_REFRESH_TOKEN_FE", ["Login With Amazon refused ADS_REFRESH_TOKEN_FE, the Ads API FE refresh token"]),
    ("UK", "ADS_CLIENT_SECRET", ["Login With Amazon refused ADS_CLIENT_ID / ADS_CLIENT_SECRET", "Ads API EU"]),
]  # fmt: skip


@pytest.mark.integration
@pytest.mark.parametrize(("marketplaces", "wrong", "expected"), LWA_CASES, ids=lambda v: str(v)[:30])
def test_wrong_lwa_credential_is_named_by_setup(
    marketplaces, wrong, expected, simulator, tmp_path: Path
) -> None:
    """`chalkola setup` asks the simulator's Login With Amazon (real HTTP) for a token with each credential set
    the marketplaces need: the refused one is named, with its region, never its value; nothing is set up."""
    from chalkola_pipelines.simulator.credentials import simulator_environment

    env = {**simulator_environment(simulator.base_url), "CHALKOLA_MARKETPLACES": marketplaces, wrong: WRONG}
    result = _run(["setup"], env, tmp_path)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("chalkola setup: ")
    for fragment in expected:
        assert fragment in lines[0]
    assert wrong in lines[0] or wrong.replace("_SECRET", "_ID") in lines[0]
    assert "Traceback" not in result.stderr and WRONG not in result.stderr + result.stdout
    assert "amzn1.oa2-cs" not in result.stderr and "Atzr|" not in result.stderr  # no other secret either
    assert not (tmp_path / "home" / "dagster").exists()  # nothing was set up


@pytest.mark.integration
def test_setup_checks_every_credential_set_and_passes_when_they_are_right(simulator, tmp_path: Path) -> None:
    """The same check accepts the right credentials (so the failures above are about the wrong value)."""
    from chalkola_pipelines.config_errors import check_lwa_credentials
    from chalkola_pipelines.marketplaces import parse_marketplace_codes
    from chalkola_pipelines.simulator.credentials import simulator_environment

    before = simulator.state.request_stats.count("lwaToken", status=200)
    env = simulator_environment(simulator.base_url)
    assert check_lwa_credentials(parse_marketplace_codes("US,DE,JP"), env) == []
    # SP-API and Ads API in each of the three regions (the token cache may serve some: at most six calls)
    assert 0 < simulator.state.request_stats.count("lwaToken", status=200) - before <= 6
