"""orphan_runs_sensor: the NOT_STARTED run Dagster 1.13 leaves behind when a partition range outside the
partition set is submitted (create_run stores the run, then its CheckError) is marked FAILED with one line; a
NOT_STARTED run whose tags are fine is left alone. Real DagsterInstance, the real create_run path."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from chalkola_pipelines.defs.dbt import ensure_dbt_manifest
from chalkola_pipelines.defs.orphan_runs import ORPHAN_SENSOR, build_orphan_runs_sensor

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    ensure_dbt_manifest()
    from chalkola_pipelines.definitions import build_definitions

    return build_definitions({"CHALKOLA_MARKETPLACES": "US,JP", "CHALKOLA_START_DATE": "2025-01-01"})


def test_orphan_run_is_marked_failed_with_one_line_and_good_runs_are_left_alone(defs: dg.Definitions) -> None:
    job = defs.resolve_job_def("sp_orders_job")
    partitions = defs.resolve_assets_def("sp_orders").partitions_def
    assert ORPHAN_SENSOR in {s.name for s in defs.get_repository_def().sensor_defs}
    with dg.instance_for_test() as instance:
        with pytest.raises(Exception, match="before the partitions definition start"):
            instance.create_run_for_job(
                job_def=job, tags=dict(zip(RANGE, ("2024-12-01|US", "2024-12-03|US"), strict=True))
            )
        [orphan] = instance.get_runs()
        assert orphan.status == dg.DagsterRunStatus.NOT_STARTED  # what Dagster leaves behind
        good = instance.create_run_for_job(
            job_def=job, tags=dict(zip(RANGE, ("2025-01-01|US", "2025-01-03|US"), strict=True))
        )

        sensor = build_orphan_runs_sensor(partitions, grace=dt.timedelta(0))
        result = sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason)
        expected = (
            f"run {orphan.run_id[:8]} (sp_orders_job) was stored but can never start: the range "
            "2024-12-01|US..2024-12-03|US starts on 2024-12-01, before the partitions' start 2025-01-01 "
            "(CHALKOLA_START_DATE, at most 24 months back: what Amazon keeps): start on 2025-01-01 or later. "
            "Marked failed by orphan_runs_sensor; launch the partitions again within the partition set."
        )
        assert result.skip_message == expected
        assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(good.run_id).status == dg.DagsterRunStatus.NOT_STARTED
        failure = instance.all_logs(orphan.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert [e.message for e in failure] == [expected]
        # the next tick has nothing to do
        assert sensor(dg.build_sensor_context(instance=instance)).skip_message == "no orphan run"


def test_a_young_orphan_waits_for_the_grace_period(defs: dg.Definitions) -> None:
    from chalkola_pipelines.defs.orphan_runs import fail_orphan_runs

    job = defs.resolve_job_def("sp_orders_job")
    partitions = defs.resolve_assets_def("sp_orders").partitions_def
    with dg.instance_for_test() as instance:
        with pytest.raises(Exception, match="before the partitions definition start"):
            instance.create_run_for_job(
                job_def=job, tags=dict(zip(RANGE, ("2024-12-01|JP", "2024-12-01|JP"), strict=True))
            )
        assert fail_orphan_runs(instance, partitions) == []  # younger than the 2 minutes' grace
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)
        assert len(fail_orphan_runs(instance, partitions, now=later)) == 1
