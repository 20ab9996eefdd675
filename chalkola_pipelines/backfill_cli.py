"""``chalkola backfill status``: where the history backfill stands, per source and marketplace.

Reads the Dagster instance (``DAGSTER_HOME``, default ``.chalkola/dagster``) and the warehouse (known child
ASINs, for the Data Kiosk query count): partitions done / in flight / failed / missing / unavailable at
source, the plan of what is left (runs, calls per quota meter) with its quota-bound ETA, and the observed
rate of the history sensor's runs. ``--watch N`` redraws every N seconds with a progress bar; ``--json``
prints one JSON object instead of the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from typing import Any

from chalkola_pipelines.defs.backfill_status import BackfillProgress


def register(sub: argparse._SubParsersAction) -> None:
    backfill = sub.add_parser("backfill", help="the 24-month history backfill")
    commands = backfill.add_subparsers(dest="backfill_command", required=True)
    status = commands.add_parser(
        "status", help="partitions done / missing / failed per source and marketplace, and the ETA"
    )
    status.add_argument("--watch", type=float, default=0.0, metavar="SECONDS", help="redraw every SECONDS")
    status.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    status.add_argument("--round", type=int, default=None, help="history round (default: the sensor's)")
    status.set_defaults(func=_status)


def _read(round_no: int | None) -> BackfillProgress:
    import dagster as dg

    from chalkola_pipelines.defs.backfill_status import HISTORY_SENSOR, backfill_progress
    from chalkola_pipelines.defs.partitions import (
        configured_marketplaces,
        daily_marketplace_partitions,
        history_start_date,
    )
    from chalkola_pipelines.warehouse.partition_queries import known_child_asins
    from chalkola_pipelines.warehouse.postgres import connect, database_url

    marketplaces = configured_marketplaces()
    partitions = daily_marketplace_partitions(marketplaces, history_start_date())
    with connect(database_url()) as conn:
        asins = {
            code: len(found)
            for code, found in known_child_asins(conn, [m.code for m in marketplaces]).items()
        }
    with dg.DagsterInstance.get() as instance:
        if round_no is None:
            round_no = _sensor_round(instance, HISTORY_SENSOR)
        return backfill_progress(
            instance,
            marketplaces,
            partitions,
            round_no=round_no,
            asins_per_marketplace={code: n for code, n in asins.items() if n},
        )


def _sensor_round(instance: Any, sensor_name: str) -> int:
    """The history sensor's current round, from its cursor (1 if it never ran)."""
    for state in instance.all_instigator_state():
        if state.name == sensor_name and state.instigator_data is not None:
            cursor = getattr(state.instigator_data, "cursor", None)
            try:
                return int(json.loads(cursor or "{}").get("round", 1))
            except (ValueError, AttributeError):
                return 1
    return 1


def progress_json(progress: BackfillProgress) -> dict[str, Any]:
    totals = progress.totals()
    return {
        "round": progress.round_no,
        "totals": {**vars(totals), "missing": totals.missing},
        "by_source": {
            f"{source}:{code}": {**vars(p), "missing": p.missing}
            for (source, code), p in progress.by_source.items()
        },
        "runs_left": len(progress.plan.runs),
        "calls_left": progress.plan.calls(),
        "quota_bound_seconds": {k: round(v, 1) for k, v in progress.plan.bound_by_meter().items()},
        "binding_meter": progress.plan.binding_meter(),
        "quota_bound_not_done_seconds": round(progress.not_done_plan.bound_seconds(), 1),
        "eta_seconds": {
            k: (round(v, 1) if v is not None else None) for k, v in progress.eta_seconds().items()
        },
        "partitions_per_hour": progress.partitions_per_hour,
        "summary": progress.summary_line(),
    }


def render(progress: BackfillProgress) -> Any:
    """A rich renderable: the table and the plan's quota meters."""
    from rich.console import Group
    from rich.table import Table

    table = Table(title=f"History backfill, round {progress.round_no}", show_lines=False)
    for column in ("source", "marketplace", "done", "in flight", "failed", "missing", "unavailable", "%"):
        table.add_column(column, justify="left" if column in ("source", "marketplace") else "right")
    for (source, code), p in sorted(progress.by_source.items()):
        pct = f"{100 * p.done / p.wanted:.0f}" if p.wanted else "-"
        failed = f"[red]{p.failed}[/red]" if p.failed else "0"
        table.add_row(
            source, code, str(p.done), str(p.in_flight), failed, str(p.missing), str(p.unavailable), pct
        )
    t = progress.totals()
    table.add_row("all", "", str(t.done), str(t.in_flight), str(t.failed), str(t.missing), str(t.unavailable),
                  f"{100 * t.done / t.wanted:.0f}" if t.wanted else "-", style="bold")  # fmt: skip
    meters = Table(title="Work not done (runs in flight counted from scratch), by quota meter")
    for column in ("meter", "calls", "quota bound"):
        meters.add_column(column, justify="left" if column == "meter" else "right")
    bounds = progress.not_done_plan.bound_by_meter()
    for name, calls in sorted(progress.not_done_plan.calls().items()):
        meters.add_row(name, str(calls), _duration(bounds.get(name, 0.0)))
    return Group(table, meters, progress.summary_line())


def _duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))


def _status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from chalkola_pipelines.demo import prepare_environment

    prepare_environment()  # DAGSTER_HOME, DAGSTER_PG_URL and the warehouse, as `chalkola ui` sets them
    console = Console(width=max(Console().width, 120))
    progress = _read(args.round)
    if args.json:
        print(json.dumps(progress_json(progress), default=str))
        return 0
    if args.watch <= 0:
        console.print(render(progress))
        return 0
    bar = Progress(TextColumn("partitions"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeRemainingColumn())  # fmt: skip
    task = bar.add_task("backfill", total=progress.totals().wanted, completed=progress.totals().done)
    from rich.console import Group

    with Live(Group(render(progress), bar), console=console, refresh_per_second=1) as live:
        try:
            while True:
                time.sleep(args.watch)
                progress = _read(args.round)
                bar.update(task, total=progress.totals().wanted, completed=progress.totals().done)
                live.update(Group(render(progress), bar))
        except KeyboardInterrupt:
            pass
    return 0
