"""A tiny code location for the run-monitoring test: one asset that takes an ``amazon_sp_reports`` slot and
sleeps for ``seconds`` (run config)."""

import os
import time

import dagster as dg


class SleepConfig(dg.Config):
    seconds: float = 0.1


@dg.asset(pool="amazon_sp_reports")
def pool_sleeper(context: dg.AssetExecutionContext, config: SleepConfig) -> None:
    context.log.info(f"holding an amazon_sp_reports slot for {config.seconds} s (pid {os.getpid()})")
    time.sleep(config.seconds)


defs = dg.Definitions(
    assets=[pool_sleeper],
    jobs=[dg.define_asset_job("pool_sleeper_job", selection=[pool_sleeper])],
)
