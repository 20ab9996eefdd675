"""The one Dagster ``Definitions`` of chalkola-pipelines (``dagster dev -m chalkola_pipelines.definitions``).

Read when the definitions load (documented, stable per deployment): ``CHALKOLA_MARKETPLACES``,
``CHALKOLA_START_DATE`` and which credential and Amazon endpoint variables are set (``CHALKOLA_AMAZON_SIMULATOR``,
per-host overrides; their values are read by Dagster when a run starts, never here), and whether an alert channel
is set (``SLACK_WEBHOOK_URL``, ``ALERT_SMTP_HOST`` + ``ALERT_SMTP_TO``). Everything else (URLs, secrets) is
resolved at run time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from chalkola_pipelines.defs.ads import ads_profiles, build_ads_sp_advertised_product
from chalkola_pipelines.defs.alert_sensor import alert_sensors
from chalkola_pipelines.defs.dbt import build_dbt_assets, build_dbt_resource
from chalkola_pipelines.defs.jobs import DBT_MARTS_JOB, JOB_OF_ASSET, build_jobs
from chalkola_pipelines.defs.killed_runs import build_killed_run_notes_sensor
from chalkola_pipelines.defs.landing_retention import landing_retention_job, landing_retention_schedule
from chalkola_pipelines.defs.orders import build_sp_orders
from chalkola_pipelines.defs.orphan_runs import build_orphan_runs_sensor
from chalkola_pipelines.defs.partitions import (
    configured_marketplaces,
    daily_marketplace_partitions,
    history_start_date,
)
from chalkola_pipelines.defs.pool_sensor import build_pool_slots_sensor
from chalkola_pipelines.defs.resources import build_amazon_resource, build_warehouse_resource
from chalkola_pipelines.defs.sales_traffic import build_sp_sales_traffic
from chalkola_pipelines.defs.schedules import build_schedules
from chalkola_pipelines.defs.sensors import build_dbt_after_raw_loads_sensor, build_history_backfill_sensor


def build_definitions(environ: Mapping[str, str] = os.environ) -> dg.Definitions:
    """Assets, checks, jobs, schedules, sensors and resources for the configured marketplaces."""
    marketplaces = configured_marketplaces(environ)
    partitions = daily_marketplace_partitions(marketplaces, history_start_date(environ))
    jobs = build_jobs()
    by_name = {job.name: job for job in jobs}
    return dg.Definitions(
        assets=[
            build_sp_sales_traffic(partitions),
            build_sp_orders(partitions),
            ads_profiles,
            build_ads_sp_advertised_product(partitions),
            build_dbt_assets(),
        ],
        jobs=[*jobs, landing_retention_job],
        schedules=[*build_schedules(marketplaces, partitions), landing_retention_schedule],
        sensors=[
            build_history_backfill_sensor(
                marketplaces, partitions, [by_name[name] for name in JOB_OF_ASSET.values()]
            ),
            build_dbt_after_raw_loads_sensor(by_name[DBT_MARTS_JOB]),
            build_pool_slots_sensor(),
            build_orphan_runs_sensor(partitions),
            build_killed_run_notes_sensor(),
            *alert_sensors(environ),
        ],
        resources={
            "amazon": build_amazon_resource(environ),
            "warehouse": build_warehouse_resource(environ),
            "dbt": build_dbt_resource(),
        },
    )


def _load() -> dg.Definitions:
    from chalkola_pipelines.defs.launch_guard import check_cli_launch

    marketplaces = configured_marketplaces()
    check_cli_launch(daily_marketplace_partitions(marketplaces, history_start_date()))
    return build_definitions()


defs = _load()
