"""Every launch path gets the run-queue tags: TaggingRunCoordinator derives amazon/region and amazon/api from a run's
partitions and assets when it is queued (a UI backfill or Materialize, `dagster job launch` without tags)."""

from __future__ import annotations

import dagster as dg
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from chalkola_pipelines.run_coordinator import TaggingRunCoordinator, derived_run_tags

ST = dg.AssetKey("sp_sales_traffic")
ADS = dg.AssetKey("ads_sp_advertised_product")


def test_tags_from_partitions_and_assets() -> None:
    assert derived_run_tags({"dagster/partition": "2026-11-20|DE"}, [ST]) == {
        "amazon/region": "eu",
        "amazon/api": "sales_traffic",
    }
    rng = {
        "dagster/asset_partition_range_start": "2026-11-01|US",
        "dagster/asset_partition_range_end": "2026-11-29|MX",
    }
    assert derived_run_tags(rng, [ADS]) == {"amazon/region": "na", "amazon/api": "ads_reporting"}
    assert derived_run_tags({"dagster/partition/marketplace": "JP"}, None) == {"amazon/region": "fe"}
    # never overrides, never guesses: two regions, two APIs, unknown codes or no partition → no tag
    assert derived_run_tags({**rng, "amazon/region": "x", "amazon/api": "y"}, [ST]) == {}
    spans = {
        "dagster/asset_partition_range_start": "2026-11-01|US",
        "dagster/asset_partition_range_end": "2026-11-02|JP",
    }
    assert derived_run_tags(spans, [ST, ADS]) == {}
    assert derived_run_tags({"dagster/partition": "2026-11-20|XX"}, [dg.AssetKey("stg_orders")]) == {}
    assert derived_run_tags({}, None) == {}


def test_a_run_queued_without_tags_gets_them_and_the_queue_keeps_its_limits() -> None:
    parts = dg.MultiPartitionsDefinition(
        {
            "date": dg.DailyPartitionsDefinition(start_date="2026-11-01"),
            "marketplace": dg.StaticPartitionsDefinition(["US", "DE"]),
        }
    )

    @dg.asset(name="sp_sales_traffic", partitions_def=parts)
    def st() -> None: ...

    overrides = {
        "run_coordinator": {"module": "chalkola_pipelines.run_coordinator", "class": "TaggingRunCoordinator"},
        "concurrency": {
            "runs": {
                "max_concurrent_runs": 8,
                "tag_concurrency_limits": [
                    {"key": "amazon/region", "value": {"applyLimitPerUniqueValue": True}, "limit": 3}
                ],
            }
        },
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        # resolved inside the instance context: Dagster's definitions-state storage refers to the current instance
        job = dg.Definitions(assets=[st]).resolve_implicit_global_asset_job_def()
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, TaggingRunCoordinator)
        origin = RemoteJobOrigin(
            RemoteRepositoryOrigin(
                InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__)), "__repository__"
            ),
            job.name,
        )
        run = instance.create_run_for_job(
            job_def=job,
            remote_job_origin=origin,
            tags={"dagster/partition": "2026-11-20|DE"},
            asset_selection=frozenset({ST}),
        )  # what the UI's Materialize of one partition creates: no amazon/* tags
        queued = coordinator.submit_run(SubmitRunContext(run, workspace=None))  # type: ignore[arg-type]
        assert queued.status == dg.DagsterRunStatus.QUEUED
        stored = instance.get_run_by_id(run.run_id)
        assert stored is not None
        assert stored.tags["amazon/region"] == "eu" and stored.tags["amazon/api"] == "sales_traffic"
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert limits and limits[0]["key"] == "amazon/region"
