"""The daily landing-store retention job: expired archived documents are deleted (``warehouse.landing_retention``).

Order documents are kept ``CHALKOLA_LANDING_RETENTION_DAYS_ORDERS`` days (default 30, Amazon's Data Protection
Policy), the others ``CHALKOLA_LANDING_RETENTION_DAYS_DEFAULT`` (default 90). Deleted files are cleared from the
ledger (``document_path``), so a later run of those partitions asks Amazon again. Same as ``chalkola landing
prune``.
"""

import dagster as dg

from chalkola_pipelines.defs.resources import WarehouseResource

LANDING_RETENTION_JOB = "landing_retention"
LANDING_RETENTION_CRON = "30 4 * * *"  # 04:30 UTC, after the nightly loads of every region


@dg.op(description=__doc__)
def prune_landing_store(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> dg.Output[int]:
    from chalkola_pipelines.warehouse.landing_retention import Retention, prune_landing

    retention = Retention.from_env()
    ledger = warehouse.ledger()
    report = prune_landing(warehouse.landing(), retention=retention, forget_documents=ledger.forget_documents)
    context.log.info(f"landing retention ({retention.describe()}): {report.summary()}")
    return dg.Output(
        len(report.deleted),
        metadata={
            "retention": retention.describe(),
            "deleted": len(report.deleted),
            "bytes_freed": report.bytes_freed,
            "stale_part_files_removed": len(report.stale_parts),
            "kept": report.kept,
            "ledger_entries_cleared": report.ledger_entries_cleared,
        },
    )


@dg.job(name=LANDING_RETENTION_JOB, description="Delete landing-store documents past their retention.")
def landing_retention_job() -> None:
    prune_landing_store()


landing_retention_schedule = dg.ScheduleDefinition(
    name="landing_retention_daily",
    job=landing_retention_job,
    cron_schedule=LANDING_RETENTION_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily: delete expired landing-store documents (order documents after 30 days by default).",
)
