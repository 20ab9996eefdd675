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
