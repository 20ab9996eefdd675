"""The run coordinator of chalkola-pipelines: Dagster's ``QueuedRunCoordinator`` that tags every run with the
Amazon region and API it will call, whatever launched it, so the run-queue limits of deploy/dagster.yaml
(``amazon/region``, ``amazon/api``) hold for every launch path.

Our schedules and sensors set those tags themselves; a backfill or a "Materialize" launched from the UI, or a
``dagster job launch`` without ``--tags``, does not, and the queue would then only apply the global limits. The
tags are derived when the run is submitted to the queue, before the daemon dequeues it:

- ``amazon/region`` from the run's partitions (``dagster/partition``, its ``dagster/partition/marketplace``
  tag, or the range tags): the marketplace's region; a run whose partitions span regions is left untagged;
- ``amazon/api`` from the job's own tag or, for the UI's implicit asset job, from the selected raw assets when
  they all use one API.

Tags the run already has are never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dagster import AssetKey
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun

from chalkola_pipelines.defs.jobs import API_OF_ASSET, API_TAG, REGION_TAG
from chalkola_pipelines.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from chalkola_pipelines.marketplaces import UnknownMarketplaceError, get_marketplace

PARTITION_TAG = "dagster/partition"
MARKETPLACE_PARTITION_TAG = "dagster/partition/marketplace"


def derived_run_tags(tags: Mapping[str, str], asset_selection: Iterable[AssetKey] | None) -> dict[str, str]:
    """The ``amazon/region`` / ``amazon/api`` tags a run lacks, from its partition tags and assets."""
    out: dict[str, str] = {}
    if REGION_TAG not in tags:
        codes = {
            key.rpartition("|")[2]
            for key in (tags.get(PARTITION_TAG), tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG))
            if key and "|" in key
        }
        if tags.get(MARKETPLACE_PARTITION_TAG):
            codes.add(tags[MARKETPLACE_PARTITION_TAG])
        regions = {_region(code) for code in codes}
        if len(regions) == 1 and None not in regions:
            out[REGION_TAG] = str(regions.pop())
    if API_TAG not in tags and asset_selection:
        apis = {API_OF_ASSET.get(key.to_user_string()) for key in asset_selection}
        if len(apis) == 1 and None not in apis:
            out[API_TAG] = str(apis.pop())
    return out


def _region(code: str) -> str | None:
    try:
        return get_marketplace(code).region
    except UnknownMarketplaceError:
        return None


class TaggingRunCoordinator(QueuedRunCoordinator):
    """``QueuedRunCoordinator`` that adds ``derived_run_tags`` to a run before queueing it."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        missing = derived_run_tags(run.tags, run.asset_selection)
        if missing:
            self._instance.add_run_tags(run.run_id, missing)
            reloaded: Any = self._instance.get_run_by_id(run.run_id)
            context = SubmitRunContext(reloaded or run, context.workspace)
        return super().submit_run(context)
