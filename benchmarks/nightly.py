"""Nightly benchmark: one nightly sales & traffic cycle through Dagster against the simulator, two ways.

For the configured marketplaces (default: the eleven) the S&T runs of one nightly cycle — the run requests
of the three ticks of ``sp_sales_traffic_nightly`` (``defs/schedules.nightly_run_requests``: one D-5..D-2
range run per marketplace) — are submitted through GraphQL ``launchRun`` (what the UI does) to a
Postgres-backed Dagster instance configured by ``deploy/dagster.yaml`` (QueuedRunCoordinator, run-queue tag
limits, pools), started by a real ``dagster-daemon``, and waited for. Twice, side by side, each variant on
its own fresh simulator (in this process, real HTTP), throwaway warehouse database, Dagster storage database
and DAGSTER_HOME:

- ``data_kiosk``: ``CHALKOLA_SALES_TRAFFIC_SOURCE=auto``, the app has the Brand Analytics role;
- ``reports``: ``CHALKOLA_SALES_TRAFFIC_SOURCE=reports`` (single-day S&T reports under the per-seller meter).

Durations are in simulated seconds (``state.clock.elapsed()`` of the variant's simulator) and compared with
the quota bound of the same work; API calls and 429s are counted by the simulator; rows are compared with the
simulator's ground truth. A third part times parse + load of a large Trends document against raw COPY.
One JSON line goes to stdout; progress goes to stderr. See benchmarks/README.md.

    .venv/bin/python benchmarks/nightly.py                    # 11 marketplaces (a few minutes)
    .venv/bin/python benchmarks/nightly.py --tiny             # US + CA, high time scales (smoke test)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import psycopg
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from ingest import ThrowawayDatabase, connect  # noqa: E402
from trends_ingest import TRENDS_TARGET_RATIO, bench_trends  # noqa: E402

VENV_BIN = Path(sys.executable).parent
LOCATION = "chalkola_pipelines"  # workspace.yaml
REPOSITORY = "__repository__"  # the one Definitions of the location
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
DK_TARGET_RATIO = 1.10  # Data Kiosk nightly within 1.10 × its bound
ST_METER = ("createReport", "GET_SALES_AND_TRAFFIC_REPORT")
# the client's first poll intervals in production (resources.py defaults), in simulated seconds
DK_POLL_SECONDS = 10.0
SP_REPORT_POLL_SECONDS = 1.0

LAUNCH = """
mutation Launch({params}) {{
{fields}
}}"""
LAUNCH_FIELD = """  r{i}: launchRun(executionParams: $p{i}) {{
    __typename
    ... on LaunchRunSuccess {{ run {{ runId }} }}
    ... on Error {{ message }}
  }}"""


def log(message: str) -> None:
    print(f"[nightly-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# the cycle: the schedule's own run requests


def cycle_ticks(now: dt.datetime) -> list[dt.datetime]:
    """The three most recent ticks of the S&T schedule (02:00, 10:00, 18:00 UTC): every marketplace is due at
    exactly one of them (defs/schedules)."""
    from chalkola_pipelines.defs.schedules import SALES_TRAFFIC_WINDOW, TICK_HOURS_UTC

    ticks = [
        dt.datetime.combine(
            now.date() - dt.timedelta(days=back), dt.time(hour, SALES_TRAFFIC_WINDOW.minute), dt.UTC
        )
        for back in (2, 1, 0)
        for hour in TICK_HOURS_UTC
    ]
    return [t for t in ticks if t <= now][-3:]


def cycle_requests(marketplaces: Sequence[Any], now: dt.datetime) -> list[tuple[dt.datetime, Any]]:
    """(tick, RunRequest) of one nightly cycle, in tick order, built by the schedule's functions."""
    from chalkola_pipelines.defs.partitions import (
        daily_marketplace_partitions,
        date_bounds,
        history_start_date,
    )
    from chalkola_pipelines.defs.schedules import SALES_TRAFFIC_WINDOW, nightly_run_requests

    partitions = daily_marketplace_partitions(marketplaces, history_start_date({}))
    out = []
    for tick in cycle_ticks(now):
        earliest, latest = date_bounds(partitions, tick)
        for request in nightly_run_requests(
            SALES_TRAFFIC_WINDOW, marketplaces, tick, earliest=earliest, latest=latest
        ):
            out.append((tick, request))
    return out


def request_days(request: Any, codes: Sequence[str]) -> dict[str, list[dt.date]]:
    """Marketplace → local days a run request covers (one partition key, a range of one marketplace, or a
    region run's days × the marketplaces from start to end in the partitions' order ``codes``)."""
    from chalkola_pipelines.defs.partitions import RANGE_END_TAG, RANGE_START_TAG

    if request.partition_key:
        day, code = str(request.partition_key).split("|")
        return {code: [dt.date.fromisoformat(day)]}
    first, first_code = request.tags[RANGE_START_TAG].split("|")
    last, last_code = request.tags[RANGE_END_TAG].split("|")
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    days = [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]
    return {c: list(days) for c in codes[codes.index(first_code) : codes.index(last_code) + 1]}


def execution_params(
    request: Any, job_name: str, schedule_name: str | None, run_config: dict[str, Any] | None = None
) -> dict[str, Any]:
    """GraphQL ExecutionParams of a RunRequest: its job, its tags (+ the schedule's, as the daemon adds)."""
    tags = dict(request.tags)
    if request.partition_key:
        tags["dagster/partition"] = str(request.partition_key)
    if schedule_name:
        tags["dagster/schedule_name"] = schedule_name
    tags["chalkola/run_key"] = request.run_key or ""
    return {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job_name},
        "runConfigData": run_config or {},  # the schedule's run requests carry no run config
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]},
    }


def launch_document(n: int) -> str:
    """One GraphQL document of ``n`` launchRun mutations with variables $p0..$p{n-1}."""
    return LAUNCH.format(
        params=", ".join(f"$p{i}: ExecutionParams!" for i in range(n)),
        fields="\n".join(LAUNCH_FIELD.format(i=i) for i in range(n)),
    )


def start_daemon(
    env: dict[str, str],
    instance: Any,
    log_path: Path,
    *,
    timeout: float = 180,
    workspace: Path | None = None,
    wait_for_code: bool = False,
) -> tuple[subprocess.Popen, Any]:
    """A real ``dagster-daemon run`` on ``workspace`` (default workspace.yaml; own process group), once its run
    queue beats (and, with ``wait_for_code``, once its code location has loaded: its sensor daemon checks a
    sensor — a long-running daemon at a schedule's tick); returns the process and its open log file."""
    log_file = open(log_path, "wb")  # noqa: SIM115 - returned to the caller
    daemon = subprocess.Popen(
        [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace or REPO / "workspace.yaml")],
        cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while "QUEUED_RUN_COORDINATOR" not in instance.get_daemon_heartbeats():
        if daemon.poll() is not None or time.monotonic() > deadline:
            with _suppress():
                os.killpg(daemon.pid, signal.SIGKILL)
            log_file.close()
            raise RuntimeError(f"dagster-daemon did not start; see {log_path}")
        time.sleep(0.5)
    while wait_for_code and b"Checking for new runs for sensor" not in log_path.read_bytes():
        if daemon.poll() is not None or time.monotonic() > deadline + 300:
            with _suppress():
                os.killpg(daemon.pid, signal.SIGKILL)
            log_file.close()
            raise RuntimeError(f"dagster-daemon did not load the code location; see {log_path}")
        time.sleep(0.5)
    return daemon, log_file


# --------------------------------------------------------------------------------------------------
# processes and their CPU


def wait_rusage(proc: subprocess.Popen, timeout: float) -> float:
    """Wait for a child and return its CPU seconds (user + system, with the descendants it waited for)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            deadline = time.monotonic() + 30
        time.sleep(0.05)


class TreeSampler:
    """Samples the CPU times of a process tree (the daemon, its code server, the run workers) by role."""

    def __init__(self, root_pid: int, interval: float = 0.5) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.seen: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def role(self, pid: int, cmdline: list[str]) -> str:
        if pid == self.root_pid:
            return "daemon"
        if "grpc" in " ".join(cmdline):
            return "code_server"
        return "run_workers"  # run workers and their step processes

    def sample(self) -> None:
        try:
            root = psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        for p in procs:
            try:
                role = self.role(
                    p.pid, p.cmdline()
                )  # again each time: a forked child shows its parent's line first
                t = p.cpu_times()
                self.seen[p.pid] = (role, max(self.seen.get(p.pid, ("", 0.0))[1], t.user + t.system))
            except psutil.Error:
                continue

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> dict[str, Any]:
        self.sample()
        self._stop.set()
        self._thread.join(5)
        by_role: dict[str, float] = {}
        counts: dict[str, int] = {}
        for role, cpu in self.seen.values():
            by_role[role] = by_role.get(role, 0.0) + cpu
            counts[role] = counts.get(role, 0) + 1
        return {"cpu_seconds": by_role, "processes": counts}


def thread_cpu(native_id: int | None) -> float:
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    return 0.0


# --------------------------------------------------------------------------------------------------
# one variant


def _empty_database(server_url: str, name: str) -> str:
    from ingest import _with_database

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    return _with_database(server_url, name)


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(f'drop database if exists "{name}"')


def pipeline_env(
    sim_url: str, time_scale: float, *, home: Path, warehouse_url: str, marketplaces: Sequence[str],
    landing: Path, namespace: str, **settings: str,
) -> dict[str, str]:  # fmt: skip
    """The environment of a benchmark's daemon and runs: the simulator's endpoints and demo credentials (its
    time scale), the venv on PATH, the instance at ``home``, the warehouse, the marketplaces, the landing
    store, a fresh rate-limit namespace, and ``settings`` (further variables, e.g. CHALKOLA_START_DATE)."""
    from chalkola_pipelines.simulator.credentials import simulator_environment

    env = {
        **os.environ,
        **simulator_environment(sim_url, time_scale),
        "PATH": str(VENV_BIN) + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DAGSTER_HOME": str(home),
        "DATABASE_URL": warehouse_url,
        "CHALKOLA_MARKETPLACES": ",".join(marketplaces),
        "CHALKOLA_LANDING_DIR": str(landing),
        "CHALKOLA_RATE_LIMIT_NAMESPACE": f"{namespace}-{uuid.uuid4().hex[:6]}",
        **settings,
    }
    env.pop("DAGSTER_PG_URL", None)  # the instance's storage URL is written in its dagster.yaml
    return env


def write_instance_config(home: Path, storage_url: str) -> None:
    """deploy/dagster.yaml as is, with the storage URL written in (each variant has its own)."""
    from chalkola_pipelines.warehouse.postgres import sqlalchemy_url

    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    config["storage"]["postgres"]["postgres_url"] = sqlalchemy_url(storage_url)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def critical_path_seconds(ready: float, latencies: Sequence[float], plan: Any) -> float:
    """The least time to finish queries of these processing ``latencies`` that cannot be created before
    ``ready`` (the discovery they need), one createQuery each from a full bucket (``plan``: burst, then one
    per 1/rate s): whatever the orchestration, slot k (0-based) is at ``ready + max(0, k − burst + 1) / rate``,
    and giving the longest queries the first slots is the best order (a lower bound: any other order, or
    the other queries' creates, can only end later)."""
    ordered = sorted(latencies, reverse=True)
    return ready + max(
        (max(0, k - plan.burst + 1) / plan.rate + lat for k, lat in enumerate(ordered)), default=0.0
    )


def download_bound_seconds(releases: Sequence[float], plan: Any) -> float:
    """The least time to download documents that cannot be ready before ``releases`` (each query's own
    processing after the earliest moment it could be created), one getDocument each from a full bucket
    (``plan``). Earliest-ready first is the best order for equal jobs; the createQuery contention is left out,
    so this is a lower bound."""
    tokens, clock, end = float(plan.burst), 0.0, 0.0
    for release in sorted(releases):
        now = max(release, clock)
        tokens = min(float(plan.burst), tokens + (now - clock) * plan.rate)
        clock = now
        if tokens < 1.0:
            clock += (1.0 - tokens) / plan.rate
            tokens = 1.0
        tokens -= 1.0
        end = clock
    return end


def quota_bound(name: str, stats: Any, state: Any, regions: Sequence[str]) -> dict[str, Any]:
    """The least simulated time the API allows for the work the variant did."""
    from chalkola_pipelines.amazon.usage_plans import seller_quota, usage_plan

    if name == "reports":
        quota = seller_quota(*ST_METER)
        n = stats.count("createReport", status=202)
        seconds = max(0, n - quota.burst) * quota.refill_seconds
        return {
            "kind": "S&T createReport per-seller meter (burst 4, one per 900 s, 96 a day)",
            "create_report_accepted": n,
            "quota_seconds": seconds,
            "bound_seconds": seconds,
        }
    per_region = {}
    for region in regions:
        quota_s = 0.0
        for op in ("createQuery", "getDocument"):
            plan = usage_plan("sp", op)
            n = stats.count(op, status=202 if op == "createQuery" else 200, region=region)
            quota_s = max(quota_s, max(0, n - plan.burst) / plan.rate)
        queries = [q for q in state.data_kiosk.queries.values() if q.region == region]
        discovery = [q for q in queries if q.parsed.field == "salesAndTrafficByAsin"]
        others = [q for q in queries if q.parsed.field != "salesAndTrafficByAsin"]

        def latency(q: Any) -> float:
            return q.queue_seconds + q.processing_seconds

        # discovery, then Trends + ByDate (they need its ASINs): Amazon's own processing time of the chain
        floor = max((latency(q) for q in discovery), default=0.0) + max(
            (latency(q) for q in others), default=0.0
        )
        critical = critical_path_seconds(
            min((latency(q) for q in discovery), default=0.0),
            [latency(q) for q in others if q.parsed.field == "salesAndTrafficTrends"],
            usage_plan("sp", "createQuery"),
        )
        ready = min((latency(q) for q in discovery), default=0.0)
        downloads = download_bound_seconds(
            [(ready if q.parsed.field == "salesAndTrafficTrends" else 0.0) + latency(q) for q in queries],
            usage_plan("sp", "getDocument"),
        )
        per_region[region] = {
            "create_query": stats.count("createQuery", status=202, region=region),
            "get_document": stats.count("getDocument", status=200, region=region),
            "quota_seconds": round(quota_s, 1),
            "query_latency_seconds": round(floor, 1),
            "critical_path_seconds": round(critical, 1),
            "download_bound_seconds": round(downloads, 1),
            "bound_seconds": round(max(quota_s, floor, critical, downloads), 1),
        }
    return {
        "kind": "Data Kiosk createQuery / getDocument plans (burst 15, 1/min) per region, the simulator's "
        "query processing time of discovery → Trends + ByDate, their critical path (discovery, then the "
        "Trends creates at the bucket's pace, longest first, each followed by its processing) and the "
        "getDocument bucket's (each document once its query can be done); regions in parallel",
        "regions": per_region,
        "quota_seconds": max((r["quota_seconds"] for r in per_region.values()), default=0.0),
        "bound_seconds": max((r["bound_seconds"] for r in per_region.values()), default=0.0),
    }


def sales_traffic_day(conn: Any, state: Any, code: str, day: dt.date) -> tuple[dict, dict]:
    """(loaded, truth) byAsin rows of one marketplace-day: child ASIN → (units, sales, sessions, page views)."""
    rows = conn.execute(
        "select child_asin, units_ordered, ordered_product_sales, sessions, page_views "
        "from raw_amazon.sp_sales_traffic_by_asin where marketplace = %s and report_date = %s",
        (code, day),
    ).fetchall()
    got = {r[0]: tuple(r[1:]) for r in rows}
    want = {
        t.child_asin: (t.units_ordered, t.ordered_sales, t.sessions, t.page_views)
        for t in state.truth.asin_days(code, day)
    }
    return got, want


def check_truth(url: str, state: Any, days_by_marketplace: dict[str, list[dt.date]]) -> dict[str, Any]:
    """Loaded byAsin rows vs the simulator's ground truth per marketplace-day (units, sales, sessions, views)."""
    mismatches = []
    checked = 0
    with connect(url) as conn:
        for code, days in sorted(days_by_marketplace.items()):
            for day in days:
                got, want = sales_traffic_day(conn, state, code, day)
                checked += 1
                if got != want:
                    mismatches.append(f"{day}|{code}: {len(got)} rows loaded, {len(want)} in the truth")
    return {"marketplace_days": checked, "equal": not mismatches, "mismatches": mismatches[:10]}


def table_rows(url: str) -> dict[str, int]:
    with connect(url) as conn:
        return {
            table: conn.execute(f"select count(*) from raw_amazon.{table}").fetchone()[0]
            for table in ("sp_sales_traffic_by_date", "sp_sales_traffic_by_asin")
        }


def run_variant(
    name: str, *, server_url: str, work: Path, marketplaces: Sequence[Any], time_scale: float, seed: int,
    timeout: float,
) -> dict[str, Any]:  # fmt: skip
    import dagster as dg

    from chalkola_pipelines.defs.jobs import ensure_pool_limits
    from chalkola_pipelines.defs.schedules import SALES_TRAFFIC_WINDOW
    from chalkola_pipelines.simulator.server import run_in_thread

    started_wall = time.monotonic()
    cpu_thread0 = time.thread_time()
    source = "auto" if name == "data_kiosk" else "reports"
    sim = run_in_thread(seed=seed, time_scale=time_scale, brand_analytics=True)
    base_dir = work / name
    storage_name = f"chalkola_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}_dagster"
    daemon = None
    try:
        with ThrowawayDatabase(server_url) as wh:
            storage_url = _empty_database(server_url, storage_name)
            home = base_dir / "dagster_home"
            write_instance_config(home, storage_url)
            env = pipeline_env(
                sim.base_url, time_scale, home=home, warehouse_url=wh.url,
                marketplaces=[m.code for m in marketplaces], landing=base_dir / "landing",
                namespace=f"bench-nightly-{name}",
                CHALKOLA_SALES_TRAFFIC_SOURCE=source,
                # production's first poll intervals, in simulated time
                CHALKOLA_DATA_KIOSK_POLL_SECONDS=repr(DK_POLL_SECONDS / time_scale),
                CHALKOLA_SP_REPORT_POLL_SECONDS=repr(SP_REPORT_POLL_SECONDS / time_scale),
            )  # fmt: skip
            instance = dg.DagsterInstance.from_config(str(home))
            ensure_pool_limits(instance)
            log(f"{name}: simulator {sim.base_url} (time scale {time_scale:g}); starting dagster-daemon")
            daemon, daemon_log = start_daemon(env, instance, base_dir / "daemon.log", wait_for_code=True)
            sampler = TreeSampler(daemon.pid)

            requests = cycle_requests(marketplaces, dt.datetime.now(dt.UTC))
            params = {
                f"p{i}": execution_params(
                    r, SALES_TRAFFIC_WINDOW.job_name, SALES_TRAFFIC_WINDOW.schedule_name
                )
                for i, (_, r) in enumerate(requests)
            }
            text = launch_document(len(requests))
            sim0 = sim.state.clock.elapsed()
            log(f"{name}: submitting {len(requests)} runs through GraphQL launchRun (the run queue)")
            submit = subprocess.Popen(
                [str(VENV_BIN / "dagster-graphql"), "-w", str(REPO / "workspace.yaml"), "-t", text,
                 "-v", json.dumps(params)],
                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            out, err = _communicate(submit)
            submit_cpu = wait_rusage(submit, 300)
            try:  # the CLI's log lines share stdout with the answer
                answer = json.loads(next(x for x in out.decode().splitlines() if x.startswith('{"data"')))
                run_ids = [answer["data"][f"r{i}"]["run"]["runId"] for i in range(len(requests))]
            except (ValueError, KeyError, TypeError, IndexError):
                raise RuntimeError(f"{name}: launchRun failed: {out[-2000:]!r} {err[-2000:]!r}") from None
            submitted_sim = sim.state.clock.elapsed() - sim0
            log(f"{name}: {len(run_ids)} runs queued; waiting for them")
            records: list[Any] = []
            deadline = time.monotonic() + timeout
            last_report = 0.0
            while True:
                records = instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
                done = [r for r in records if r.dagster_run.status.value in TERMINAL]
                if len(done) == len(run_ids):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: runs not finished after {timeout:.0f} s")
                if time.monotonic() - last_report > 30:
                    last_report = time.monotonic()
                    log(f"{name}: {len(done)}/{len(run_ids)} runs finished, "
                        f"{(sim.state.clock.elapsed() - sim0) / 3600:.2f} simulated h")  # fmt: skip
                time.sleep(0.5)
            polled_sim = sim.state.clock.elapsed() - sim0
            # from the moment the runs are in the queue (the daemon's tick would have created them; the CLI's
            # own start-up is not the pipeline's) to the end of the last run, on the simulator's clock
            created = min(r.create_timestamp.timestamp() for r in records)
            end_wall = max(r.end_time or time.time() for r in records)
            simulated = (end_wall - created) * time_scale
            phases = run_phases(instance, records)
            statuses = [r.dagster_run.status.value for r in records]

            codes = [m.code for m in marketplaces]
            requested = {str(k) for _, r in requests for k in _keys(r, codes)}
            materialized = set(instance.get_materialized_partitions(dg.AssetKey("sp_sales_traffic")))
            failed_partitions = sorted(requested - materialized)
            days_by_mkt: dict[str, list[dt.date]] = {}
            for _, r in requests:
                for code, days in request_days(r, codes).items():
                    days_by_mkt.setdefault(code, []).extend(days)

            stats = sim.state.request_stats
            snapshot = stats.snapshot()
            bound = quota_bound(name, stats, sim.state, sorted({m.region for m in marketplaces}))
            rows = table_rows(wh.url)
            truth = check_truth(wh.url, sim.state, days_by_mkt)
            run_wall = time.monotonic() - started_wall
            # stop the daemon (and with it its code server); its CPU and that of the processes it waited for
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon_cpu = wait_rusage(daemon, 60)
            daemon_log.close()
            sampled = sampler.stop()
            daemon = None
            sim_cpu = thread_cpu(sim._thread.native_id)
            orchestration_cpu = time.thread_time() - cpu_thread0
            instance.dispose()
    finally:
        if daemon is not None:
            with _suppress():
                os.killpg(daemon.pid, signal.SIGKILL)
        sim.stop()
        with _suppress():
            _drop_database(server_url, storage_name)

    sampled_tree = sum(sampled["cpu_seconds"].values())
    tree_cpu = max(
        daemon_cpu, sampled_tree
    )  # rusage misses descendants nobody waited for; sampling their tail
    cpu_total = tree_cpu + submit_cpu + sim_cpu + orchestration_cpu
    ops = snapshot["byOperation"]
    ratio = simulated / bound["bound_seconds"] if bound["bound_seconds"] else None
    return {
        "source": source,
        "brand_analytics": True,
        "time_scale": time_scale,
        "runs_submitted": len(run_ids),
        "runs_succeeded": statuses.count("SUCCESS"),
        "runs_failed": len(statuses) - statuses.count("SUCCESS"),
        "partitions_requested": len(requested),
        "partitions_failed": len(failed_partitions),
        "failed_partition_keys": failed_partitions[:20],
        "simulated_wall_seconds": round(simulated, 1),
        "simulated_wall_hours": round(simulated / 3600, 3),
        "simulated_wall_seconds_polled": round(polled_sim, 1),
        "submit_simulated_seconds": round(submitted_sim, 1),
        "real_wall_seconds": round(end_wall - created, 2),
        "run_phases_real_seconds": phases,
        "quota_bound": bound,
        "bound_seconds": bound["bound_seconds"],
        "ratio_to_bound": round(ratio, 3) if ratio is not None else None,
        "api_calls": {op: e["statuses"] for op, e in ops.items()},
        "api_calls_total": snapshot["total"],
        "http_429": {op: e["statuses"].get("429", 0) for op, e in ops.items() if e["statuses"].get("429")},
        "rows_loaded": rows,
        "ground_truth": truth,
        "cpu": {
            "daemon_tree_rusage_seconds": round(daemon_cpu, 2),
            "daemon_tree_sampled_seconds": {k: round(v, 2) for k, v in sampled["cpu_seconds"].items()},
            "daemon_tree_processes": sampled["processes"],
            "graphql_submit_seconds": round(submit_cpu, 2),
            "simulator_thread_seconds": round(sim_cpu, 2),
            "benchmark_thread_seconds": round(orchestration_cpu, 2),
            "total_seconds": round(cpu_total, 2),
            "variant_real_seconds": round(run_wall, 2),
            "share_of_wall": round(cpu_total / run_wall, 3),
        },
    }


def run_phases(instance: Any, records: Sequence[Any]) -> dict[str, Any]:
    """Real seconds per run: in the queue (created → started), worker start-up (started → the asset's step
    starts) and the step itself (→ run end); mean and max."""
    import dagster as dg

    queued, startup, step = [], [], []
    for r in records:
        created, start, end = r.create_timestamp.timestamp(), r.start_time, r.end_time
        if start is None or end is None:
            continue
        queued.append(start - created)
        events = instance.get_records_for_run(
            r.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_START
        ).records
        first_step = min((e.timestamp for e in events), default=end)
        startup.append(first_step - start)
        step.append(end - first_step)

    def summary(values: list[float]) -> dict[str, float]:
        return {"mean": round(statistics.fmean(values), 2), "max": round(max(values), 2)} if values else {}

    return {"queued": summary(queued), "worker_startup": summary(startup), "step": summary(step)}


def _communicate(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    """Read both pipes to the end (threads: neither can fill up and block the child)."""
    chunks: dict[str, bytes] = {}

    def read(name: str, pipe: Any) -> None:
        chunks[name] = pipe.read()

    readers = [
        threading.Thread(target=read, args=(n, p)) for n, p in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    return chunks["out"], chunks["err"]


def _keys(request: Any, codes: Sequence[str]) -> list[str]:
    return [f"{d.isoformat()}|{code}" for code, days in request_days(request, codes).items() for d in days]


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


# --------------------------------------------------------------------------------------------------
# entry point


def run(args: argparse.Namespace) -> dict[str, Any]:
    from chalkola_pipelines.marketplaces import parse_marketplace_codes
    from chalkola_pipelines.warehouse.postgres import database_url

    started = time.perf_counter()
    load_start = round(os.getloadavg()[0], 2)
    cpu0 = psutil.Process().cpu_times()
    marketplaces = parse_marketplace_codes(args.marketplaces or ("US,CA" if args.tiny else None))
    server = args.database_url or database_url()
    scales = {"data_kiosk": args.dk_time_scale, "reports": args.reports_time_scale}
    variants = [v for v in ("data_kiosk", "reports") if v in args.variants.split(",")]
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="chalkola-nightly-") as tmp:
        work = Path(tmp)

        def one(name: str) -> None:
            try:
                results[name] = run_variant(
                    name, server_url=server, work=work, marketplaces=marketplaces, time_scale=scales[name],
                    seed=args.seed, timeout=args.timeout,
                )  # fmt: skip
                r = results[name]
                log(f"{name}: {r['simulated_wall_hours']} simulated h, bound {r['bound_seconds']} s, "
                    f"{r['runs_failed']} failed runs")  # fmt: skip
            except Exception as exc:  # reported in the JSON line, the other variant still runs
                errors[name] = f"{type(exc).__name__}: {exc}"
                log(f"{name}: FAILED {errors[name]}")

        threads = [threading.Thread(target=one, args=(v,)) for v in variants]
        for i, t in enumerate(threads):
            t.start()
            if args.sequential:
                t.join()
            elif i + 1 < len(threads):
                time.sleep(2)  # the two daemons do not start in the same second
        for t in threads:
            t.join()
        with ThrowawayDatabase(server) as db:
            with connect(db.url) as conn:
                pg_version = conn.execute("show server_version").fetchone()[0]
            trends = None
            if args.trends_days > 0:
                trends = bench_trends(
                    db.url, work, args.seed, args.trends_scale, args.trends_days, 1 if args.tiny else 5
                )
    cpu1 = psutil.Process().cpu_times()
    dk, rep = results.get("data_kiosk"), results.get("reports")
    meets = {
        "data_kiosk_within_1_10_of_bound": bool(
            dk and dk["ratio_to_bound"] is not None and dk["ratio_to_bound"] <= DK_TARGET_RATIO
        ),
        "data_kiosk_no_failed_partitions": bool(
            dk and dk["partitions_failed"] == 0 and dk["runs_failed"] == 0
        ),
        "reports_completes_without_failing": bool(
            rep and rep["runs_failed"] == 0 and rep["partitions_failed"] == 0
        ),
        "rows_equal_ground_truth": all(r["ground_truth"]["equal"] for r in results.values())
        and bool(results),
        "trends_ingest_ratio": bool(trends and trends["ratio"] >= TRENDS_TARGET_RATIO),
    }
    return {
        "benchmark": "nightly",
        "mode": "tiny" if args.tiny else "full",
        "seed": args.seed,
        "marketplaces": [m.code for m in marketplaces],
        "ticks": [t.isoformat() for t in cycle_ticks(dt.datetime.now(dt.UTC))],
        "side_by_side": not args.sequential,
        "postgres": pg_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_start": load_start,
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "data_kiosk": dk,
        "reports": rep,
        "errors": errors,
        "trends_ingest": trends,
        "benchmark_process_cpu_seconds": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 2),
        "targets": {
            "data_kiosk_ratio_max": DK_TARGET_RATIO,
            "data_kiosk_failed_partitions": 0,
            "trends_ratio_min": TRENDS_TARGET_RATIO,
        },
        "meets_targets": meets,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tiny", action="store_true", help="US + CA, high time scales, small Trends document"
    )
    parser.add_argument("--marketplaces", default=None, help="comma-separated codes (default: the eleven)")
    parser.add_argument(
        "--dk-time-scale", type=float, default=None, help="Data Kiosk variant (default 1: Amazon's own speed)"
    )
    parser.add_argument("--reports-time-scale", type=float, default=None, help="reports variant (default 60)")
    parser.add_argument("--variants", default="data_kiosk,reports")
    parser.add_argument("--sequential", action="store_true", help="one variant after the other")
    parser.add_argument("--trends-days", type=int, default=None, help="days of the Trends document (30)")
    parser.add_argument("--trends-scale", type=float, default=None, help="seller scale (4.3: ~3,500 ASINs)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="real seconds to wait for the runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="server for the throwaway databases")
    args = parser.parse_args(argv)
    if args.dk_time_scale is None:
        args.dk_time_scale = 600.0 if args.tiny else 1.0
    if args.reports_time_scale is None:
        args.reports_time_scale = 3600.0 if args.tiny else 60.0
    if args.trends_days is None:
        args.trends_days = 2 if args.tiny else 30
    if args.trends_scale is None:
        args.trends_scale = 1.0 if args.tiny else 4.3
    print(json.dumps(run(args), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
