"""Sensors: the historical backfill (default stopped) and ``dbt build`` once raw loads settle.

``history_backfill_sensor`` fills the missing partitions of the last 24 months (``CHALKOLA_START_DATE``)
with the runs ``defs/backfill_plan`` chooses (one Data Kiosk region run for the history of sales & traffic, its
≤ 92-day query windows in flight together; ≤ 29 order days = one report per region window, ≤ 31 Ads days = one
report; newest first), keeping at most
``max_in_flight_per_region`` of its runs queued or running per Amazon region (the run queue's
``amazon/region`` tag limit decides how many run at once). Ads history is limited to the Ads API's 95-day
retention (older days are *unavailable at source*). Each tick logs where the backfill stands
(``defs/backfill_status``: done / missing / failed, the quota-bound ETA, the observed rate). Each pass over the history is a *round*: the sensor never relaunches a range that already
has a run in the current round (run_key dedupe + exclusion of that round's unsuccessful runs); when nothing
is left to launch and nothing is in flight, the next round retries what failed, up to ``MAX_ROUNDS``.
Cursor: ``{"round": n}``.

``dbt_after_raw_loads_sensor`` launches ``dbt_marts_job`` once per batch: when raw materialisations newer
than the last build exist and no raw run is queued or running (or the oldest unbuilt load is older than
``DBT_MAX_WAIT``). One build after the nightly fan-out of 11 marketplaces × 3 sources, not 33; the same
sensor covers UI backfills and the history sensor. Cursor: ``{"storage_id": n}`` of the newest raw
materialisation handed to dbt; loads recorded before the start of the latest successful full ``dbt_marts_job``
run (`make demo`'s dbt build, one launched by hand) count as built too, so the sensor does not rebuild the marts
the demo has just built.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import dagster as dg

from chalkola_pipelines.defs.backfill_plan import PlannedRun, choose_runs, plan_backfill
from chalkola_pipelines.defs.backfill_status import (
    HISTORY_ROUND_TAG,
    HISTORY_SENSOR,
    IN_FLIGHT_STATUSES,
    backfill_progress,
    sales_traffic_path,
)
from chalkola_pipelines.defs.jobs import (
    DBT_MARTS_JOB,
    JOB_OF_ASSET,
    LAUNCHED_BY_TAG,
    RAW_ASSET_NAMES,
    region_run_request,
)
from chalkola_pipelines.marketplaces import Marketplace

MAX_ROUNDS = 3
#: history runs queued or running per region: twice the run queue's per-region limit (deploy/dagster.yaml:
#: 3), so the queue always holds the next run when one finishes between two ticks; the queue's tag limits
#: decide how many run at once
DEFAULT_MAX_IN_FLIGHT_PER_REGION = 6

DBT_SENSOR = "dbt_after_raw_loads_sensor"
DBT_MAX_WAIT = dt.timedelta(hours=6)


# --------------------------------------------------------------------------------------------------
# history backfill


def history_run_request(run: PlannedRun, round_no: int) -> dg.RunRequest:
    """The Dagster run of one planned run (a region run when it covers several marketplaces)."""
    return region_run_request(
        list(run.marketplaces),
        run.first,
        run.last,
        job_name=JOB_OF_ASSET[run.source],
        run_key=f"history:r{round_no}:{run.label}",
        tags={LAUNCHED_BY_TAG: HISTORY_SENSOR, HISTORY_ROUND_TAG: str(round_no)},
    )


def _parse_cursor(cursor: str | None) -> dict:
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def build_history_backfill_sensor(
    marketplaces: Sequence[Marketplace],
    partitions_def: dg.MultiPartitionsDefinition,
    jobs: Sequence[dg.UnresolvedAssetJobDefinition],
    *,
    max_in_flight_per_region: int = DEFAULT_MAX_IN_FLIGHT_PER_REGION,
    minimum_interval_seconds: int = 30,
) -> dg.SensorDefinition:
    """The historical backfill sensor (default STOPPED: start it in the UI once credentials work)."""

    @dg.sensor(
        name=HISTORY_SENSOR,
        jobs=list(jobs),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=(
            "Fills missing S&T/orders partitions of the whole history (and Ads within 95 days), newest first, "
            f"as planned runs (defs/backfill_plan), at most {max_in_flight_per_region} queued or running per "
            "Amazon region; each tick logs progress and the quota-bound ETA (also: chalkola backfill status)."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        cursor = _parse_cursor(context.cursor)
        round_no = int(cursor.get("round", 1))
        progress = backfill_progress(context.instance, marketplaces, partitions_def, round_no=round_no)
        context.log.info(progress.summary_line())
        plan = plan_backfill(progress.missing_days, marketplaces, sales_traffic_path=sales_traffic_path())
        chosen = choose_runs(plan, progress.in_flight_runs, max_in_flight_per_region)
        if chosen:
            return dg.SensorResult(
                run_requests=[history_run_request(r, round_no) for r in chosen],
                cursor=json.dumps({"round": round_no}),
            )
        total_in_flight = sum(progress.in_flight_runs.values())
        failed_left = progress.totals().failed
        if plan.runs or total_in_flight:
            return dg.SkipReason(
                f"round {round_no}: {total_in_flight} history runs in flight; waiting for a free slot"
            )
        if failed_left and round_no < MAX_ROUNDS:
            context.update_cursor(json.dumps({"round": round_no + 1}))
            return dg.SkipReason(
                f"round {round_no} done with {failed_left} partitions still missing; retrying them in round "
                f"{round_no + 1}"
            )
        if failed_left:
            return dg.SkipReason(
                f"history complete except {failed_left} partitions that failed in {MAX_ROUNDS} rounds: see the "
                "failed runs tagged chalkola/launched_by=history_backfill_sensor"
            )
        return dg.SkipReason("history complete: every partition in the window is materialised")

    return _sensor


# --------------------------------------------------------------------------------------------------
# dbt after raw loads


def build_dbt_after_raw_loads_sensor(
    dbt_job: dg.UnresolvedAssetJobDefinition,
    *,
    raw_asset_names: Sequence[str] = RAW_ASSET_NAMES,
    max_wait: dt.timedelta = DBT_MAX_WAIT,
    minimum_interval_seconds: int = 120,
) -> dg.SensorDefinition:
    """``dbt build`` after each batch of raw loads (default RUNNING)."""

    @dg.sensor(
        name=DBT_SENSOR,
        job=dbt_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Launches dbt_marts_job once raw_amazon has new loads and no raw run is queued or running "
            f"(or the oldest unbuilt load is older than {max_wait})."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        instance = context.instance
        seen = int(_parse_cursor(context.cursor).get("storage_id", 0))
        built = built_by_last_full_dbt_build(instance, raw_asset_names, context.repository_def)
        if built is not None and built[0] > seen:
            seen = built[0]  # e.g. `make demo` built the marts: not again when the UI starts
        newest, oldest_ts = seen, None
        changed: list[dg.AssetKey] = []
        for name in raw_asset_names:
            key = dg.AssetKey(name)
            latest = instance.fetch_materializations(key, limit=1).records
            if latest and latest[0].storage_id > newest:
                newest = latest[0].storage_id
            first_new = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=seen), limit=1, ascending=True
            ).records
            if first_new:
                changed.append(key)
                ts = first_new[0].timestamp
                oldest_ts = ts if oldest_ts is None else min(oldest_ts, ts)
        if newest <= seen or oldest_ts is None:
            if built is not None and built[0] == seen:
                return dg.SkipReason(
                    f"no raw load since the last full dbt build (run {built[1]}): the marts are up to date"
                )
            return dg.SkipReason("no raw load since the last dbt build")
        in_flight = instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT_STATUSES))
        if any(run.job_name == DBT_MARTS_JOB for run in in_flight):
            return dg.SkipReason("a dbt build is already queued or running")
        raw_in_flight = [run for run in in_flight if run.job_name != DBT_MARTS_JOB]
        waited = dt.datetime.now(dt.UTC) - dt.datetime.fromtimestamp(oldest_ts, dt.UTC)
        if raw_in_flight and waited < max_wait:
            return dg.SkipReason(
                f"waiting for {len(raw_in_flight)} queued/running runs before building the marts"
            )
        selection = affected_dbt_assets(context.repository_def, changed)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"dbt:{newest}",
                    asset_selection=selection,
                    tags={
                        LAUNCHED_BY_TAG: DBT_SENSOR,
                        "chalkola/raw_assets": ",".join(k.path[-1] for k in changed),
                    },
                )
            ],
            cursor=json.dumps({"storage_id": newest}),
        )

    return _sensor


def built_by_last_full_dbt_build(
    instance: dg.DagsterInstance,
    raw_asset_names: Sequence[str] = RAW_ASSET_NAMES,
    repository_def: dg.RepositoryDefinition | None = None,
) -> tuple[int, str] | None:
    """(storage id of the newest raw materialisation recorded before the latest successful *full*
    ``dbt_marts_job`` run started, that run's id), or None.

    Such a build — `chalkola demo`'s, or one launched from the UI or the CLI — read every raw load before it, so
    the sensor need not rebuild them: its cursor starts after them. Only full builds count (no or an empty asset
    selection, or all of the job's assets): a partial build of the sensor's own may have missed a load that landed between
    the sensor's tick and the run's start."""
    records = instance.get_run_records(
        dg.RunsFilter(job_name=DBT_MARTS_JOB, statuses=[dg.DagsterRunStatus.SUCCESS]), limit=20
    )
    in_job: set[dg.AssetKey] | None = None
    if repository_def is not None:
        in_job = set(repository_def.get_job(DBT_MARTS_JOB).asset_layer.selected_asset_keys)
    for record in records:  # newest first
        run = record.dagster_run
        full = not run.asset_selection or (in_job is not None and in_job <= set(run.asset_selection))
        if not full or record.start_time is None:
            continue
        newest = 0
        for name in raw_asset_names:
            before = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(name), before_timestamp=record.start_time),
                limit=1,
            ).records
            if before:
                newest = max(newest, before[0].storage_id)
        return newest, run.run_id
    return None


def affected_dbt_assets(
    repository_def: dg.RepositoryDefinition | None, changed: Sequence[dg.AssetKey]
) -> list[dg.AssetKey] | None:
    """The dbt assets to build after loads of ``changed``: everything downstream of them, every dbt asset those
    read from (upstream, within the dbt job), plus the dbt assets that depend on no raw asset (seeds such as
    dim_marketplace, which the marts join). None = the whole job (when the sensor is evaluated without its
    repository).

    The upstream closure matters on a fresh warehouse: ``fct_asin_daily`` (downstream of S&T) also reads the
    Ads and order staging views, which do not exist until something builds them; a build of only the
    downstream of S&T fails there. Staging views cost nothing to (re)create."""
    if repository_def is None or not changed:
        return None
    graph = repository_def.asset_graph
    in_job = set(repository_def.get_job(DBT_MARTS_JOB).asset_layer.selected_asset_keys)
    raw = {dg.AssetKey(name) for name in RAW_ASSET_NAMES}
    downstream = dg.AssetSelection.assets(*changed).downstream().resolve(graph) & in_job
    upstream = dg.AssetSelection.assets(*downstream).upstream().resolve(graph) if downstream else set()
    depends_on_raw = dg.AssetSelection.assets(*raw).downstream().resolve(graph)
    keys = downstream | (upstream & in_job) | (in_job - depends_on_raw)
    return sorted(keys, key=lambda k: k.to_user_string())
