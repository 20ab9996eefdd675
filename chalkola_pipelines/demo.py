"""`chalkola demo` and `chalkola ui`: the whole pipeline on one machine, no credentials.

demo: embedded PostgreSQL → local Amazon simulator (subprocess, real HTTP on 127.0.0.1) → Dagster runs
(`dagster job execute`, recorded in the instance under .chalkola/dagster) that materialise the last N complete
days for every configured marketplace → `dbt build` through Dagster → a summary read back from the marts.

ui (chalkola_pipelines/ui.py): `dagster dev` on the same instance and database, with the simulator running, so
the operator sees the loaded partitions and can launch backfills.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

from chalkola_pipelines.marketplaces import Marketplace, parse_marketplace_codes
from chalkola_pipelines.process_groups import start_group, stop_group, stop_signals_raise
from chalkola_pipelines.settings import chalkola_home

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFINITIONS_MODULE = "chalkola_pipelines.definitions"
RAW_JOB = "raw_amazon_job"
PROFILES_JOB = "ads_profiles_job"
DBT_JOB = "dbt_marts_job"


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo", help="run the whole pipeline against the local simulator and print a summary"
    )
    demo.add_argument("--days", type=int, default=7, help="complete days to load per marketplace (default 7)")
    demo.add_argument(
        "--marketplaces", default=None, help="comma-separated codes (default CHALKOLA_MARKETPLACES)"
    )
    demo.add_argument("--time-scale", type=float, default=120.0, help="simulator time scale (default 120)")
    demo.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    demo.add_argument("--parallel", type=int, default=3, help="Dagster runs at once (default 3)")
    demo.set_defaults(func=run_demo)

    setup = sub.add_parser(
        "setup", help="apply the warehouse migrations and create the Dagster pool rows (run once per deploy)"
    )
    setup.set_defaults(func=run_setup)

    ui = sub.add_parser("ui", help="start `dagster dev` on the demo's instance and database")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument(
        "--no-simulator", action="store_true", help="use real Amazon credentials from the environment"
    )
    ui.add_argument("--time-scale", type=float, default=60.0)
    ui.set_defaults(func=_run_ui)


# --------------------------------------------------------------------------------------------------
# environment shared by demo and ui


#: Environment of the Dagster processes we start (dagster dev / daemon / webserver): a code server starved of CPU
#: can take longer than Dagster's 60 s gRPC deadline to start a run; the daemon then re-queues the run while the
#: server still starts its worker (measured by benchmarks/load.py on 2 starved cores: start_run DEADLINE_EXCEEDED,
#: "Ignoring a run worker that started after the run had already finished"). docker-compose.yml sets the same.
DAGSTER_PROCESS_ENV = {"DAGSTER_GRPC_TIMEOUT_SECONDS": "300"}


def _run_ui(args: argparse.Namespace) -> int:
    from chalkola_pipelines.ui import run_ui

    return run_ui(args)


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or chalkola_home() / "dagster").resolve()


def prepare_environment() -> dict[str, str]:
    """Warehouse + Dagster instance settings, applied to os.environ and returned for subprocesses."""
    from chalkola_pipelines.warehouse.migrations import apply_migrations
    from chalkola_pipelines.warehouse.postgres import connect, database_url, sqlalchemy_url

    url = database_url()
    with connect(url) as conn:
        apply_migrations(conn)
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    source = REPO_ROOT / "deploy" / "dagster.yaml"
    target = home / "dagster.yaml"
    # Keep the local instance's config in step with the repo; never overwrite a deployment's own config.
    if source.exists() and (not target.exists() or home.is_relative_to(chalkola_home())):
        shutil.copyfile(source, target)
    venv_bin = str(Path(sys.executable).parent)
    env = {
        # dagster-dbt looks for `dbt` on PATH: the virtualenv's, even when it is not activated
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "DATABASE_URL": url,
        "DAGSTER_PG_URL": os.environ.get("DAGSTER_PG_URL") or sqlalchemy_url(url),
        "DAGSTER_HOME": str(home),
        "CHALKOLA_HOME": str(chalkola_home()),
        **{k: os.environ.get(k) or v for k, v in DAGSTER_PROCESS_ENV.items()},
    }
    os.environ.update(env)
    _ensure_pool_rows()
    return env


def _ensure_pool_rows() -> None:
    # Dagster creates a pool's slot row lazily; parallel runs racing to create it fail on Postgres.
    import dagster as dg

    from chalkola_pipelines.defs.jobs import ensure_pool_limits

    with dg.DagsterInstance.get() as instance:
        ensure_pool_limits(instance)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_simulator(seed: int, time_scale: float) -> Iterator[str]:
    """`chalkola simulator serve` as a subprocess on a free port; yields its base URL."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = chalkola_home() / "simulator.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        # its own process group: stopped (with anything it started) by stop_group, never left behind
        proc = start_group(
            [sys.executable, "-m", "chalkola_pipelines.cli", "simulator", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--seed", str(seed), "--time-scale", str(time_scale)],
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"The simulator exited with code {proc.returncode}; see {log_path}")
                try:
                    httpx.get(f"{base}/_simulator/health", timeout=1.0)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"The simulator did not start within 60 s; see {log_path}"
                        ) from None
                    time.sleep(0.2)
            yield base
        finally:
            stop_group(proc, first=signal.SIGTERM, grace=10.0)


# --------------------------------------------------------------------------------------------------
# demo


@dataclass(frozen=True)
class RangeRun:
    marketplace: Marketplace
    first: dt.date
    last: dt.date

    @property
    def tags(self) -> dict[str, str]:
        from chalkola_pipelines.defs.jobs import run_tags_for

        return {**run_tags_for(self.marketplace, self.first, self.last), "chalkola/launched_by": "demo"}


def last_complete_days(
    mkt: Marketplace, days: int, now: dt.datetime | None = None
) -> tuple[dt.date, dt.date]:
    """The last ``days`` complete local days of a marketplace, capped at the last complete UTC day
    (the partition set's newest key)."""
    now = now or dt.datetime.now(dt.UTC)
    local_yesterday = now.astimezone(mkt.tz).date() - dt.timedelta(days=1)
    utc_yesterday = now.date() - dt.timedelta(days=1)
    last = min(local_yesterday, utc_yesterday)
    return last - dt.timedelta(days=days - 1), last


def _dagster_job(
    job: str, tags: dict[str, str], env: dict[str, str], log_name: str
) -> tuple[bool, float, Path]:
    log_dir = chalkola_home() / "demo-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{log_name}.log"
    # Steps run in the run's own process: a subprocess per step would re-import the code location each time.
    run_config = log_dir / "in_process.yaml"
    run_config.write_text("execution:\n  config:\n    in_process: {}\n")
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", DEFINITIONS_MODULE,
             "-j", job, "--tags", json.dumps(tags), "-c", str(run_config)],
            stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=REPO_ROOT, check=False,
        )  # fmt: skip
    return result.returncode == 0, time.monotonic() - started, log_path


def run_demo(args: argparse.Namespace) -> int:
    with stop_signals_raise():  # SIGTERM / SIGHUP stop the simulator too, as Ctrl-C does
        return _run_demo(args)


def _run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    demo_started = dt.datetime.now(dt.UTC)
    marketplaces = parse_marketplace_codes(args.marketplaces or os.environ.get("CHALKOLA_MARKETPLACES"))
    _check_demo_window(marketplaces, args.days)
    print(
        f"chalkola demo: {len(marketplaces)} marketplaces × {args.days} days, simulator time scale {args.time_scale}"
    )
    env = prepare_environment()
    print(f"  warehouse: {_redacted(env['DATABASE_URL'])}   dagster home: {env['DAGSTER_HOME']}")

    from chalkola_pipelines.simulator.credentials import simulator_environment

    with running_simulator(args.seed, args.time_scale) as base:
        env.update(simulator_environment(base, args.time_scale))
        env["CHALKOLA_MARKETPLACES"] = ",".join(m.code for m in marketplaces)
        os.environ.update(env)
        print(f"  simulator: {base}")

        ok, secs, log = _dagster_job(PROFILES_JOB, {"chalkola/launched_by": "demo"}, env, "ads_profiles")
        print(f"  [{'ok' if ok else 'FAILED'}] {PROFILES_JOB} ({secs:.0f} s)")
        if not ok:
            print(f"  see {log}")
            return 1

        runs = [RangeRun(m, *last_complete_days(m, args.days)) for m in marketplaces]
        failures: list[tuple[RangeRun, Path]] = []

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # a progress bar on a terminal (rich prints the run lines above it; plain lines when piped)
        with Progress(
            TextColumn("  raw runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
        ) as progress:
            task = progress.add_task("raw", total=len(runs))

            def launch(run: RangeRun) -> None:
                ok, secs, log = _dagster_job(RAW_JOB, run.tags, env, f"raw_{run.marketplace.code}")
                progress.console.print(
                    f"  [{'ok' if ok else 'FAILED'}] {RAW_JOB} {run.marketplace.code} {run.first}..{run.last} "
                    f"({secs:.0f} s)", markup=False, highlight=False,
                )  # fmt: skip
                progress.advance(task)
                if not ok:
                    failures.append((run, log))

            with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
                list(pool.map(launch, runs))
        if failures:
            for run, log in failures:
                print(f"  {run.marketplace.code} failed: see {log}")
            return 1

        ok, secs, log = _dagster_job(
            DBT_JOB, {"chalkola/launched_by": "demo", "amazon/api": "dbt"}, env, "dbt"
        )
        print(f"  [{'ok' if ok else 'FAILED'}] {DBT_JOB} dbt build ({secs:.0f} s)")
        if not ok:
            print(f"  see {log}")
            return 1

    print()
    print_summary(env["DATABASE_URL"], runs, demo_started)
    print(
        f"\nDone in {time.monotonic() - started:.0f} s. Explore: `make ui` (Dagster UI), `chalkola db url` (psql / BI)."
    )
    return 0


def _check_demo_window(marketplaces: Sequence[Marketplace], days: int) -> None:
    """Before anything starts: the demo's days lie inside the partitions (no run is launched for nothing)."""
    from chalkola_pipelines.config_errors import ConfigurationError, check_history_window
    from chalkola_pipelines.defs.partitions import history_start_date

    if days < 1:
        raise ConfigurationError(f"--days {days}: load at least one day, e.g. --days 7.")
    start = history_start_date()
    for mkt in marketplaces:
        check_history_window(last_complete_days(mkt, days)[0], start, f"--days {days} ({mkt.code})")


def _check_deploy_settings() -> None:
    """What `chalkola setup` can check before a run would trip on it: the marketplaces, the history start,
    against real Amazon that every marketplace's region has credentials, and that Login With Amazon accepts
    every credential set that is configured (a refused one: one line naming its variable)."""
    from chalkola_pipelines.config_errors import check_amazon_settings, check_lwa_credentials
    from chalkola_pipelines.defs.partitions import configured_marketplaces, history_start_date

    marketplaces = configured_marketplaces()
    history_start_date()
    if not (os.environ.get("CHALKOLA_AMAZON_SIMULATOR") or "").strip():
        check_amazon_settings(marketplaces)
    for warning in check_lwa_credentials(marketplaces):
        print(f"chalkola setup: warning: {warning}", file=sys.stderr)


def _redacted(url: str) -> str:
    from chalkola_pipelines.warehouse.postgres import mask_url_password

    return mask_url_password(url)


def _ratio(numerator: Decimal | None, denominator: Decimal | None) -> str:
    if numerator is None or not denominator:
        return "—"
    return f"{numerator / denominator:.2f}"


def _pct(numerator: Decimal | None, denominator: Decimal | None) -> str:
    if numerator is None or not denominator:
        return "—"
    return f"{100 * numerator / denominator:.1f}%"


def print_summary(url: str, runs: Sequence[RangeRun], since: dt.datetime | None = None) -> None:
    """Per marketplace: rows loaded, ordered sales, ad spend, ACOS, ROAS, TACOS; top 5 campaigns by spend.

    Ratios are re-derived from the additive columns of the marts (never averaged).
    """
    from chalkola_pipelines.warehouse.postgres import connect

    header = (f"{'mkt':<4} {'window':<23} {'S&T rows':>9} {'order items':>11} {'ad rows':>8} {'cur':<4}"
              f"{'ordered sales':>15} {'ad spend':>12} {'ad sales 7d':>12} {'ACOS':>7} {'ROAS':>6} {'TACOS':>7}")  # fmt: skip
    print(header)
    print("-" * len(header))
    top_lines: list[str] = []
    with connect(url) as conn:
        for run in runs:
            code, first, last = run.marketplace.code, run.first, run.last
            params = {"m": code, "a": first, "b": last}
            st_rows = conn.execute(
                "select count(*) from raw_amazon.sp_sales_traffic_by_asin where marketplace=%(m)s "
                "and report_date between %(a)s and %(b)s", params).fetchone()[0]  # fmt: skip
            order_rows = conn.execute(
                "select count(*) from raw_amazon.sp_order_items where marketplace=%(m)s "
                "and order_date between %(a)s and %(b)s", params).fetchone()[0]  # fmt: skip
            ad_rows = conn.execute(
                "select count(*) from raw_amazon.ads_sp_advertised_product where marketplace=%(m)s "
                "and report_date between %(a)s and %(b)s", params).fetchone()[0]  # fmt: skip
            ordered, spend_asin = conn.execute(
                "select coalesce(sum(ordered_sales),0), coalesce(sum(ad_spend),0) from marts.fct_asin_daily "
                "where marketplace=%(m)s and date between %(a)s and %(b)s", params).fetchone()  # fmt: skip
            spend, sales7 = conn.execute(
                "select coalesce(sum(spend),0), coalesce(sum(sales_7d),0) from marts.fct_ads_campaign_daily "
                "where marketplace=%(m)s and date between %(a)s and %(b)s", params).fetchone()  # fmt: skip
            print(f"{code:<4} {first}..{last} {st_rows:>9} {order_rows:>11} {ad_rows:>8} {run.marketplace.currency:<4}"
                  f"{ordered:>15,.2f} {spend:>12,.2f} {sales7:>12,.2f} {_pct(spend, sales7):>7} {_ratio(sales7, spend):>6}"
                  f" {_pct(spend, ordered):>7}")  # fmt: skip
            top = conn.execute(
                "select campaign_name, sum(spend) s, sum(sales_7d) r from marts.fct_ads_campaign_daily "
                "where marketplace=%(m)s and date between %(a)s and %(b)s group by campaign_id, campaign_name "
                "order by s desc limit 5", params).fetchall()  # fmt: skip
            top_lines.append(f"{code} ({run.marketplace.currency})")
            for i, (name, s, r) in enumerate(top, 1):
                top_lines.append(f"   {i}. {name[:48]:<48} spend {s:>11,.2f}  sales {r:>12,.2f}  ACOS {_pct(s, r):>6}  ROAS {_ratio(r, s):>5}")  # fmt: skip
    print("\nTop 5 campaigns by spend per marketplace:")
    print("\n".join(top_lines))
    print_reports_requested(url, since)


def print_reports_requested(url: str, since: dt.datetime | None = None) -> None:
    """Reports requested per source, report type and region (the ledger), with what they cost: the order
    report is one per region and window (it holds every marketplace of the region), not one per marketplace."""
    from chalkola_pipelines.warehouse.postgres import connect

    with connect(url) as conn:
        rows = conn.execute(
            "select source, report_type, region, count(*), count(distinct (window_start, window_end)),"
            " string_agg(distinct marketplace, ' | ')"
            " from raw_amazon.report_requests where created_at >= %s"
            " group by 1, 2, 3 order by 1, 2, 3",
            (since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),),
        ).fetchall()
    print("\nReports requested per source (raw_amazon.report_requests):")
    print(f"  {'source':<14} {'report type':<52} {'region':<6} {'reports':>7} {'windows':>7}  marketplaces")
    for source, report_type, region, n, windows, mkts in rows:
        print(f"  {source:<14} {report_type:<52} {region:<6} {n:>7} {windows:>7}  {mkts or '-'}")


def run_setup(args: argparse.Namespace) -> int:
    """For deployments (docker-compose's one-shot service): check the settings, DDL, and the pool rows parallel
    runs need."""
    from chalkola_pipelines.defs.jobs import POOLS

    _check_deploy_settings()
    env = prepare_environment()  # migrations + pool rows (+ the local instance config when not deployed)
    print(f"warehouse {_redacted(env['DATABASE_URL'])}: migrations applied")
    print(f"dagster instance {env['DAGSTER_HOME']}: pools {', '.join(POOLS)} ready")
    return 0
