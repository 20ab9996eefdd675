"""A tiny code location for the alert test through the real daemon: a job that fails (its error carries the
LWA client secret of the environment), one that succeeds, and chalkola's run_failure_alert_sensor."""

import os

import dagster as dg

from chalkola_pipelines.defs.alert_sensor import build_run_failure_alert_sensor


@dg.asset
def sp_orders() -> None:
    raise RuntimeError(f"Amazon refused the grant: client_secret={os.environ.get('SP_LWA_CLIENT_SECRET')}")


@dg.asset
def ads_profiles() -> None:
    return None


defs = dg.Definitions(
    assets=[sp_orders, ads_profiles],
    jobs=[
        dg.define_asset_job("failing_job", selection=[sp_orders]),
        dg.define_asset_job("ok_job", selection=[ads_profiles]),
    ],
    sensors=[build_run_failure_alert_sensor(minimum_interval_seconds=1)],
)
