"""Load benchmark: concurrent raw runs through the daemon's run queue while the webserver serves the UI.

One simulator (in this process, real HTTP), a throwaway warehouse database, a Dagster storage database and a
DAGSTER_HOME configured by ``deploy/dagster.yaml`` (QueuedRunCoordinator with its run and tag limits, pools,
run monitoring, MonitoredRunLauncher). A real ``dagster-daemon`` and a real ``dagster-webserver`` run as
subprocesses. One ``raw_amazon_job`` range run per marketplace (orders, S&T, Ads, Ads profiles; default: eight
marketplaces over the three regions, plus two more that the region and run limits must hold back) is submitted
through the webserver's own ``/graphql`` endpoint (``launchRun``, what the UI's launchpad does), while a
poller asks the webserver for the runs list every second, as an open Runs page does.

Measured: runs ok / failed (with each failure's first line); the most in-progress runs observed at once, in
total and per tag value of every ``tag_concurrency_limits`` entry, against its limit — from the run storage
sampled every 0.25 s and from the runs' own dequeue → end intervals; the most claimed slots per pool against
its limit; 429s (and every status) from the simulator's ``/_simulator/stats``; deadlocks (the server's
``pg_stat_database.deadlocks`` of both databases, ``deadlock detected`` in the embedded server's log, in the
run events and in the daemon / webserver logs); tracebacks in the daemon / webserver logs; webserver
latency; S&T rows against the simulator's ground truth; wall time and CPU (by process role, and the
machine's share). One JSON line on stdout; progress on stderr. See benchmarks/README.md.

    .venv/bin/python benchmarks/load.py            # 8 + 2 runs, 3 days each (a few minutes on 2 cores)
    .venv/bin/python benchmarks/load.py --tiny     # US + DE, 1 day (smoke test)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from ingest import ThrowawayDatabase, connect  # noqa: E402
from load_probes import (  # noqa: E402
    PG_DEADLOCK,
    QueueSampler,
    UiPoller,
    count_in_file,
    deadlock_counters,
    embedded_log,
    event_deadlocks,
    limit_of,
    max_overlap,
    run_failures,
    run_limits,
    traceback_endings,
)
from nightly import (  # noqa: E402
    LAUNCH,
    LAUNCH_FIELD,
    TERMINAL,
    TreeSampler,
    _drop_database,
    _empty_database,
    _suppress,
    check_truth,
    execution_params,
    pipeline_env,
    run_phases,
    thread_cpu,
    wait_rusage,
    write_instance_config,
)

VENV_BIN = Path(sys.executable).parent
MARKETPLACES = "US,CA,MX,UK,DE,FR,JP,AU"  # 3 NA + 3 EU + 2 FE: all eight fit the limits at once
EXTRA = "IT,ES"  # two more EU runs: the region limit (3) and max_concurrent_runs (8) must hold them back
LAUNCHED_BY = "load_benchmark"


def log(message: str) -> None:
    print(f"[load-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------------
# the benchmark


def _busy_seconds(t: Any) -> float:
    """Busy CPU seconds of ``psutil.cpu_times()`` (all CPUs)."""
    return sum(getattr(t, name, 0.0) for name in ("user", "system", "nice", "irq", "softirq"))


def run_requests(codes: Sequence[str], days: int, now: dt.datetime) -> list[Any]:
    """One raw_amazon_job range run request per marketplace: its last ``days`` local days ending D-3 (past
    S&T's ~34 h availability in every time zone)."""
    from chalkola_pipelines.defs.jobs import LAUNCHED_BY_TAG, RAW_AMAZON_JOB, marketplace_run_request

    last = now.date() - dt.timedelta(days=3)
    first = last - dt.timedelta(days=days - 1)
    return [
        marketplace_run_request(
            code, first, last, job_name=RAW_AMAZON_JOB, tags={LAUNCHED_BY_TAG: LAUNCHED_BY}
        )
        for code in codes
    ]


def launch_params(request: Any) -> dict[str, Any]:
    """nightly.execution_params without the schedule tag (these runs are launched by hand, as in the UI)."""
    params = execution_params(request, request.job_name, "")
    params["executionMetadata"]["tags"] = [
        t
        for t in params["executionMetadata"]["tags"]
        if t["key"] not in ("dagster/schedule_name", "chalkola/run_key")
    ]
    return params


def start_process(args: list[str], env: Mapping[str, str], log_path: Path) -> tuple[subprocess.Popen, Any]:
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed by the caller
    proc = subprocess.Popen(args, cwd=REPO, env=dict(env), stdout=log_file, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    return proc, log_file


def stop_process(proc: subprocess.Popen) -> float:
    """SIGTERM to its process group; its CPU seconds (with the descendants it waited for)."""
    with _suppress():
        os.killpg(proc.pid, signal.SIGTERM)
    return wait_rusage(proc, 60)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import dagster as dg

    from chalkola_pipelines.defs.jobs import POOLS, ensure_pool_limits
    from chalkola_pipelines.demo import DAGSTER_PROCESS_ENV
    from chalkola_pipelines.simulator.server import run_in_thread
    from chalkola_pipelines.warehouse.postgres import database_url

    codes = [c for c in (args.marketplaces or ("US,DE" if args.tiny else MARKETPLACES)).split(",") if c]
    extra = [
        c for c in (args.extra if args.extra is not None else ("" if args.tiny else EXTRA)).split(",") if c
    ]
    days = args.days or (1 if args.tiny else 3)
    server_url = args.database_url or database_url()
    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    limits = run_limits(config)
    pool_limit = int(config.get("concurrency", {}).get("pools", {}).get("default_limit", 0)) or None
    started_wall = time.monotonic()
    load_start = os.getloadavg()[0]
    machine0 = psutil.cpu_times()
    thread0 = time.thread_time()
    sim = run_in_thread(seed=args.seed, time_scale=args.time_scale, brand_analytics=True)
    storage_name = f"chalkola_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}_dagster"
    procs: dict[str, tuple[subprocess.Popen, Any]] = {}
    pg_log = embedded_log(server_url)
    pg_log_offset = pg_log.stat().st_size if pg_log else 0
    try:
        with tempfile.TemporaryDirectory(prefix="chalkola-load-") as tmp, ThrowawayDatabase(server_url) as wh:
            work = Path(tmp)
            storage_url = _empty_database(server_url, storage_name)
            home = work / "dagster_home"
            write_instance_config(home, storage_url)
            env = pipeline_env(
                sim.base_url, args.time_scale, home=home, warehouse_url=wh.url, marketplaces=[*codes, *extra],
                landing=work / "landing", namespace="bench-load",
                # production's first poll intervals, in simulated time (as benchmarks/nightly.py)
                CHALKOLA_DATA_KIOSK_POLL_SECONDS=repr(10.0 / args.time_scale),
                CHALKOLA_SP_REPORT_POLL_SECONDS=repr(1.0 / args.time_scale),
                CHALKOLA_ADS_REPORT_POLL_SECONDS=repr(5.0 / args.time_scale),
                # as deployments do
                **{k: os.environ.get(k) or v for k, v in DAGSTER_PROCESS_ENV.items()},
            )  # fmt: skip
            instance = dg.DagsterInstance.from_config(str(home))
            ensure_pool_limits(instance)
            port = _free_port()
            graphql = f"http://127.0.0.1:{port}/graphql"
            log(
                f"simulator {sim.base_url} (time scale {args.time_scale:g}); starting dagster-daemon and webserver"
            )
            workspace = str(REPO / "workspace.yaml")
            procs["daemon"] = start_process([str(VENV_BIN / "dagster-daemon"), "run", "-w", workspace], env,
                                            work / "daemon.log")  # fmt: skip
            procs["webserver"] = start_process(
                [str(VENV_BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
                env, work / "webserver.log",
            )  # fmt: skip
            samplers = {name: TreeSampler(p.pid) for name, (p, _) in procs.items()}
            deadline = time.monotonic() + 240
            while True:
                ready_daemon = "QUEUED_RUN_COORDINATOR" in instance.get_daemon_heartbeats()
                try:
                    ready_web = (
                        httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200
                    )
                except httpx.HTTPError:
                    ready_web = False
                if ready_daemon and ready_web:
                    break
                for name, (p, _) in procs.items():
                    if p.poll() is not None:
                        raise RuntimeError(f"{name} exited with {p.returncode}; see its log")
                if time.monotonic() > deadline:
                    raise RuntimeError("dagster-daemon / dagster-webserver not ready after 240 s")
                time.sleep(0.5)
            ready_seconds = time.monotonic() - started_wall
            counters0 = deadlock_counters(server_url, [wh.name, storage_name])

            requests = run_requests([*codes, *extra], days, dt.datetime.now(dt.UTC))
            params = {f"p{i}": launch_params(r) for i, r in enumerate(requests)}
            text = LAUNCH.format(
                params=", ".join(f"$p{i}: ExecutionParams!" for i in range(len(requests))),
                fields="\n".join(LAUNCH_FIELD.format(i=i) for i in range(len(requests))),
            )
            log(f"launching {len(requests)} raw_amazon_job runs through the webserver ({graphql})")
            launched = time.monotonic()
            answer = httpx.post(graphql, json={"query": text, "variables": params}, timeout=300).json()
            try:
                run_ids = [answer["data"][f"r{i}"]["run"]["runId"] for i in range(len(requests))]
            except (KeyError, TypeError):
                raise RuntimeError(f"launchRun failed: {json.dumps(answer)[:2000]}") from None
            launch_seconds = time.monotonic() - launched
            sampler = QueueSampler(instance, limits, POOLS)
            poller = UiPoller(graphql, run_ids)
            log(f"{len(run_ids)} runs queued in {launch_seconds:.1f} s; waiting for them")
            deadline = time.monotonic() + args.timeout
            last_report = 0.0
            while True:  # ours, then any run a sensor launched meanwhile (the dbt build after the raw loads)
                every = instance.get_run_records()
                records = [r for r in every if r.dagster_run.run_id in run_ids]
                done = [r for r in records if r.dagster_run.status.value in TERMINAL]
                if len(done) == len(run_ids) and all(r.dagster_run.status.value in TERMINAL for r in every):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"runs not finished after {args.timeout:.0f} s: "
                                       f"{sorted(r.dagster_run.status.value for r in records)}")  # fmt: skip
                if time.monotonic() - last_report > 30:
                    last_report = time.monotonic()
                    log(
                        f"{len(done)}/{len(run_ids)} runs finished; most in progress so far {sampler.max_total}"
                    )
                time.sleep(0.5)
            runs_wall = time.monotonic() - launched
            sampler.stop()
            ui = poller.stop()
            others = [r for r in every if r.dagster_run.run_id not in run_ids]
            intervals = []
            for r in every:
                dequeued = instance.get_records_for_run(
                    r.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_DEQUEUED
                ).records
                start = min((e.timestamp for e in dequeued), default=r.start_time or 0.0)
                intervals.append((start, r.end_time or time.time(), r.dagster_run.tags))
            observed = max_overlap(intervals, limits)
            statuses = [r.dagster_run.status.value for r in records]
            failures = run_failures(instance, records)
            other_runs = {
                "count": len(others),
                "jobs": sorted({r.dagster_run.job_name for r in others}),
                "failed": len([r for r in others if r.dagster_run.status.value != "SUCCESS"]),
                "failures": run_failures(instance, others),
            }
            phases = run_phases(instance, records)
            counters1 = deadlock_counters(server_url, [wh.name, storage_name])
            deadlocks_in_events = event_deadlocks(instance, [r.dagster_run.run_id for r in every])
            stats = httpx.get(f"{sim.base_url}/_simulator/stats", timeout=30).json()
            days_by_mkt = {}
            for r in requests:
                code = r.tags.get("dagster/asset_partition_range_start", str(r.partition_key)).split("|")[1]
                first = dt.date.fromisoformat(
                    r.tags.get("dagster/asset_partition_range_start", str(r.partition_key))[:10]
                )
                days_by_mkt[code] = [first + dt.timedelta(days=i) for i in range(days)]
            truth = check_truth(wh.url, sim.state, days_by_mkt)
            with connect(wh.url) as conn:
                rows = {
                    t: conn.execute(f"select count(*) from raw_amazon.{t}").fetchone()[0]
                    for t in (
                        "sp_sales_traffic_by_asin",
                        "sp_order_items",
                        "ads_sp_advertised_product",
                        "ads_profiles",
                    )
                }
            cpu_rusage = {name: stop_process(p) for name, (p, _) in procs.items()}
            cpu_sampled = {name: s.stop() for name, s in samplers.items()}
            logs = {}
            for name, (_, fh) in procs.items():
                fh.close()
                path = work / f"{name}.log"
                tracebacks, _ = count_in_file(path, 0, re.compile(r"^Traceback"))
                dl, _ = count_in_file(path, 0, PG_DEADLOCK)
                errors, err_samples = count_in_file(path, 0, re.compile(r" - ERROR - |\bERROR\b"))
                logs[name] = {"tracebacks": tracebacks, "traceback_endings": traceback_endings(path),
                              "deadlock_lines": dl, "error_lines": errors,
                              "error_samples": err_samples[:3]}  # fmt: skip
            procs.clear()
            instance.dispose()
    finally:
        for p, fh in procs.values():
            with _suppress():
                os.killpg(p.pid, signal.SIGKILL)
            fh.close()
        sim_cpu = thread_cpu(sim._thread.native_id)
        sim.stop()
        with _suppress():
            _drop_database(server_url, storage_name)
    wall = time.monotonic() - started_wall
    machine1 = psutil.cpu_times()
    pg_deadlock_lines, pg_samples = (
        count_in_file(pg_log, pg_log_offset, PG_DEADLOCK) if pg_log else (None, [])
    )
    deadlocks_pg = sum(counters1.values()) - sum(counters0.values())
    by_status = {}
    for entry in stats["byOperation"].values():
        for status, n in entry["statuses"].items():
            by_status[status] = by_status.get(status, 0) + n
    http_429 = {
        op: e["statuses"]["429"] for op, e in stats["byOperation"].items() if e["statuses"].get("429")
    }
    tag_report = {
        name: {"max_observed_sampled": sampler.max_by_tag.get(name, 0), "max_observed_intervals": n,
               "limit": limit_of(name, limits)}
        for name, n in sorted(observed["by_tag"].items())
    }  # fmt: skip
    bypassed = [
        n
        for n, v in tag_report.items()
        if max(v["max_observed_sampled"], v["max_observed_intervals"]) > v["limit"]
    ]
    if max(sampler.max_total, observed["total"]) > limits["max_concurrent_runs"]:
        bypassed.append("max_concurrent_runs")
    pools = {p: {"max_claimed": sampler.max_slots.get(p, 0), "max_pending_steps": sampler.max_pending_steps.get(p, 0),
                 "limit": pool_limit} for p in POOLS}  # fmt: skip
    bypassed += [f"pool {p}" for p, v in pools.items() if pool_limit and v["max_claimed"] > pool_limit]
    machine_busy = _busy_seconds(machine1) - _busy_seconds(machine0)
    ours = sum(max(cpu_rusage[n], sum(cpu_sampled[n]["cpu_seconds"].values())) for n in cpu_rusage)
    ours += sim_cpu + (time.thread_time() - thread0)
    deadlocks_total = (
        deadlocks_pg
        + deadlocks_in_events
        + sum(v["deadlock_lines"] for v in logs.values())
        + (pg_deadlock_lines or 0)
    )
    result = {
        "benchmark": "load",
        "mode": "tiny" if args.tiny else "full",
        "marketplaces": codes,
        "extra_marketplaces": extra,
        "days_per_run": days,
        "time_scale": args.time_scale,
        "runs": {
            "submitted": len(run_ids),
            "ok": statuses.count("SUCCESS"),
            "failed": len(statuses) - statuses.count("SUCCESS"),
            "failures": failures,
        },  # fmt: skip
        "concurrency": {
            "max_concurrent_runs": {
                "max_observed_sampled": sampler.max_total,
                "max_observed_intervals": observed["total"],
                "limit": limits["max_concurrent_runs"],
            },  # fmt: skip
            "tags": tag_report,
            "pools": pools,
            "samples": sampler.samples,
            "sampler_errors": sampler.errors,
            "limits_bypassed": bypassed,
        },
        "runs_launched_by_sensors": other_runs,
        "http_429": http_429,
        "http_429_total": sum(http_429.values()),
        "api_calls_by_status": by_status,
        "api_calls_total": stats["total"],
        "deadlocks": {
            "total": deadlocks_total,
            "pg_stat_database": deadlocks_pg,
            "pg_log_lines": pg_deadlock_lines,
            "pg_log_samples": pg_samples,
            "run_events": deadlocks_in_events,
            "process_logs": {n: v["deadlock_lines"] for n, v in logs.items()},
        },
        "process_logs": logs,
        "webserver_ui": ui,
        "rows_loaded": rows,
        "ground_truth_sales_traffic": truth,
        "wall_seconds": {
            "total": round(wall, 1),
            "ready": round(ready_seconds, 1),
            "launch_request": round(launch_seconds, 2),
            "runs": round(runs_wall, 1),
        },  # fmt: skip
        "run_phases_real_seconds": phases,
        "cpu": {
            "rusage_seconds": {n: round(v, 1) for n, v in cpu_rusage.items()},
            "sampled_seconds": {
                n: {k: round(x, 1) for k, x in v["cpu_seconds"].items()} for n, v in cpu_sampled.items()
            },
            "processes": {n: v["processes"] for n, v in cpu_sampled.items()},
            "simulator_thread_seconds": round(sim_cpu, 1),
            "ours_seconds": round(ours, 1),
            "ours_share_of_machine": round(ours / (wall * (os.cpu_count() or 1)), 3),
            "machine_busy_share": round(machine_busy / (wall * (os.cpu_count() or 1)), 3),
        },
        "cpus": os.cpu_count(),
        "load_average_at_start": round(load_start, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }
    result["ok"] = bool(
        result["runs"]["failed"] == 0 and other_runs["failed"] == 0 and not bypassed and result["http_429_total"] == 0 and deadlocks_total == 0
        and sum(v["tracebacks"] for v in logs.values()) == 0 and ui["errors"] == 0 and truth["equal"]
    )  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="US + DE, one day, no extra runs (smoke test)")
    parser.add_argument("--marketplaces", default=None, help=f"one run each (default {MARKETPLACES})")
    parser.add_argument(
        "--extra", default=None, help=f"more runs the limits must hold back (default {EXTRA})"
    )
    parser.add_argument("--days", type=int, default=None, help="local days per run (default 3)")
    parser.add_argument("--time-scale", type=float, default=120.0, help="simulator time scale (default 120)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="real seconds to wait for the runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="server for the throwaway databases")
    args = parser.parse_args(argv)
    # a SIGTERM (timeout, Ctrl-C from a supervisor) still stops the daemon and webserver, drops the databases
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(json.dumps(run(args), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
