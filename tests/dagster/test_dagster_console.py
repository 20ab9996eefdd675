"""A console an operator can read: loading the code location prints none of Dagster's lifecycle-warning floods
(BetaWarning / PreviewWarning / SupersessionWarning) and no "varying BackfillPolicies" warning; other warnings
still show. Each check runs in a fresh interpreter, as a code server or run worker does."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

LOAD = """
import warnings
from chalkola_pipelines.definitions import defs
for job in defs.get_repository_def().get_all_jobs():
    job.name
defs.resolve_implicit_global_asset_job_def()
warnings.warn("probe: other warnings still show", UserWarning)
"""

BARE = """
import dagster as dg
@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["x"]), backfill_policy=dg.BackfillPolicy.multi_run(3))
def a() -> None: ...
"""


def _stderr(code: str) -> str:
    env = {**os.environ, "CHALKOLA_MARKETPLACES": "US,CA,DE"}
    env.pop("PYTHONWARNINGS", None)
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", textwrap.dedent(code)],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return result.stderr


def test_loading_the_definitions_prints_no_lifecycle_or_backfill_policy_warnings() -> None:
    err = _stderr(LOAD)
    for noise in ("BetaWarning", "PreviewWarning", "SupersessionWarning", "varying BackfillPolicies"):
        assert noise not in err, err
    assert "probe: other warnings still show" in err


def test_without_our_filter_dagster_does_warn() -> None:
    """The check above can fail: the same decorator outside our package warns."""
    assert "BetaWarning" in _stderr(BARE)
