"""Fault benchmark: a small backfill of US, DE and JP through Dagster while the simulator injects faults.

Per scenario (one fault family at a time, then all mixed): a fresh simulator (same port, seed 7, high time
scale), the warehouse emptied, the faults planned, one ``raw_amazon_job`` range run per marketplace (3 days
each: sales & traffic through Data Kiosk, the region's order report, Ads spAdvertisedProduct) launched through
the webserver's GraphQL ``launchRun`` into the run queue of a Postgres-backed instance configured by
``deploy/dagster.yaml`` and started by a real ``dagster-daemon``. Then the faults are cleared and the normal
retry path runs: every run that failed, or whose asset checks failed (a CANCELLED day), is launched again.
Loaded rows are compared with the simulator's ground truth per (asset, marketplace, day).
One JSON line per scenario on stdout (then a summary line); progress on stderr. See benchmarks/README.md.

    .venv/bin/python benchmarks/faults.py                  # every scenario (~15-25 min on 2 busy cores)
    .venv/bin/python benchmarks/faults.py --quick          # 3 scenarios (the test under tests/benchmarks/)
    .venv/bin/python benchmarks/faults.py --scenarios 429_retry_after,kill9_mid_poll
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from fault_outcomes import (  # noqa: E402
    MARKETPLACES,
    RunOutcome,
    claimed_slots,
    compare,
    duplicate_keys,
    killed_run_note,
    run_outcome,
    run_worker_pid,
    wait_runs,
)
from fault_scenarios import (  # noqa: E402
    MIXED,
    QUICK,
    READ_TIMEOUT_SECONDS,
    SCENARIOS,
    Scenario,
    planned_faults,
)
from fault_stack import CodeServer, Warehouse, Webserver, free_port  # noqa: E402
from ingest import connect  # noqa: E402
from nightly import (  # noqa: E402
    LOCATION,
    REPOSITORY,
    TERMINAL,
    VENV_BIN,
    _drop_database,
    _empty_database,
    _suppress,
    execution_params,
    start_daemon,
    write_instance_config,
)

DAYS = 3
FIRST_DAY_BACK = 8  # the backfill covers UTC today-8 .. today-6 (settled orders, inside every retention)
TIME_SCALE = 600.0
MONITOR_POLL_SECONDS = (
    2  # run_monitoring poll / slot-freeing delay, shortened from deploy/dagster.yaml's 30 / 60
)
NOTE_TIMEOUT_SECONDS = 90  # killed_run_notes_sensor ticks every 30 s
QUOTA_OPERATIONS = ("createReport", "createQuery", "createAsyncReport")
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}  # as `chalkola demo`: steps in the run's process
POLLS = ("getReport", "getQuery", "getAsyncReport")


def log(message: str) -> None:
    print(f"[faults-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------------------
# runs and their outcome


def backfill_days(today: dt.date | None = None) -> list[dt.date]:
    today = today or dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=FIRST_DAY_BACK)
    return [first + dt.timedelta(days=i) for i in range(DAYS)]


def range_params(code: str, days: Sequence[dt.date], scenario: str, round_no: int) -> dict[str, Any]:
    from chalkola_pipelines.defs.jobs import RAW_AMAZON_JOB, marketplace_run_request

    request = marketplace_run_request(
        code, days[0], days[-1], job_name=RAW_AMAZON_JOB,
        tags={"chalkola/launched_by": "faults-bench", "chalkola/scenario": scenario, "chalkola/round": str(round_no)},
    )  # fmt: skip
    return execution_params(request, RAW_AMAZON_JOB, None, IN_PROCESS)


def kill9_when_polling(instance: Any, sim: Any, run_ids: Sequence[str], timeout: float) -> dict[str, Any]:
    """SIGKILL the worker (and its children) of the first run seen polling Amazon (a slow getQuery keeps it
    there): what an OOM kill or a node loss does mid-poll."""
    import dagster as dg

    sim.state.faults.add("getQuery", "slow", count=6, delay=1.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sim.state.request_stats.count("getQuery") > 0:
            for record in instance.get_run_records(dg.RunsFilter(run_ids=list(run_ids))):
                run = record.dagster_run
                if run.status != dg.DagsterRunStatus.STARTED:
                    continue
                pid = run_worker_pid(instance, run.run_id)
                if pid is None:
                    continue
                try:
                    worker = psutil.Process(pid)
                    victims = [worker, *worker.children(recursive=True)]
                except psutil.Error:
                    continue
                for proc in victims:
                    with _suppress():
                        proc.send_signal(signal.SIGKILL)
                psutil.wait_procs(victims, timeout=10)
                log(f"  kill -9 of run {run.run_id[:8]} (worker pid {pid}, {len(victims)} processes)")
                return {"killed_run": run.run_id, "killed_at": time.monotonic()}
        time.sleep(0.2)
    return {"killed_run": None, "error": "no run was seen polling"}


def pg_restart_when_polling(warehouse: Warehouse, sim: Any, timeout: float) -> dict[str, Any]:
    """Stop and start the warehouse Postgres while the runs poll (every API call goes through the Postgres
    token buckets, the ledger and the loads use it too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(sim.state.request_stats.count(op) for op in POLLS) >= 2:
            seconds = warehouse.restart(down_seconds=2.0)
            log(f"  warehouse Postgres restarted ({seconds:.1f} s down)")
            return {"restart_seconds": round(seconds, 2)}
        time.sleep(0.1)
    return {"error": "no run was seen polling"}


# --------------------------------------------------------------------------------------------------
# one scenario


@dataclass
class Bench:
    instance: Any
    web: Webserver
    warehouse: Warehouse
    landing: Path
    sim_port: int
    time_scale: float
    run_timeout: float
    seed: int
    baseline_quota: dict[str, int] | None = None

    def fresh_simulator(self) -> Any:
        from chalkola_pipelines.simulator.server import run_in_thread

        return run_in_thread(
            seed=self.seed, time_scale=self.time_scale, port=self.sim_port, brand_analytics=True
        )

    def round(self, scenario: Scenario, round_no: int, codes: Sequence[str], days: Sequence[dt.date],
              action: Callable[[list[str]], dict[str, Any]] | None = None) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
        run_ids = self.web.launch([range_params(c, days, scenario.name, round_no) for c in codes])
        done: dict[str, Any] = {}
        if action is not None:
            done = action(run_ids)
        return wait_runs(self.instance, run_ids, self.run_timeout), done


def run_scenario(bench: Bench, scenario: Scenario) -> dict[str, Any]:
    faults, unknown = planned_faults(scenario)
    if unknown and not faults and scenario.action is None:
        return {"scenario": scenario.name, "skipped": True, "note": scenario.note,
                "reason": f"simulator fault kind(s) {', '.join(unknown)} not implemented yet"}  # fmt: skip
    started = time.monotonic()
    days = backfill_days()
    bench.warehouse.empty()
    shutil.rmtree(bench.landing, ignore_errors=True)
    sim = bench.fresh_simulator()
    try:
        for fault in faults:
            sim.state.faults.add_from_json(fault)
        action: Callable[[list[str]], dict[str, Any]] | None = None
        if scenario.action == "kill9":
            action = lambda ids: kill9_when_polling(bench.instance, sim, ids, bench.run_timeout)  # noqa: E731
        elif scenario.action == "pg_restart":
            action = lambda ids: pg_restart_when_polling(bench.warehouse, sim, bench.run_timeout)  # noqa: E731
        records, acted = bench.round(scenario, 1, MARKETPLACES, days, action)
        first = [run_outcome(bench.instance, r) for r in records]
        stuck = [r.dagster_run.run_id for r in records if r.dagster_run.status.value not in TERMINAL]
        after_first = compare(bench.warehouse.url, sim.state, days)
        if acted.get("killed_run"):
            killed = next((o for o in first if o.run_id == acted["killed_run"]), None)
            acted["killed_run_status"] = killed.status if killed else None
            acted["killed_run_error"] = (killed.errors or [""])[0][:300] if killed else None
            acted["killed_run_note"] = killed_run_note(
                bench.instance, acted["killed_run"], NOTE_TIMEOUT_SECONDS
            )
        leftover = sim.state.faults.pending()
        sim.state.faults.clear()

        # the normal retry path: every run that failed, or flagged a day (failed check), runs again
        retry = sorted({o.marketplace for o in first if o.status != "SUCCESS" or o.failed_checks})
        second: list[RunOutcome] = []
        if retry:
            log(f"  retrying {', '.join(retry)}")
            records2, _ = bench.round(scenario, 2, retry, days)
            second = [run_outcome(bench.instance, r) for r in records2]
            stuck += [r.dagster_run.run_id for r in records2 if r.dagster_run.status.value not in TERMINAL]
        final = compare(bench.warehouse.url, sim.state, days)
        with connect(bench.warehouse.url) as conn:
            duplicates = duplicate_keys(conn)
        deadline = time.monotonic() + 3 * MONITOR_POLL_SECONDS + 20
        while (slots := claimed_slots(bench.instance)) and time.monotonic() < deadline:
            time.sleep(0.5)
        stats = sim.state.request_stats
        quota = {op: stats.count(op, status=202) + stats.count(op, status=200) for op in QUOTA_OPERATIONS}
        calls = stats.snapshot()
    finally:
        sim.stop()

    def green(outcomes: Sequence[RunOutcome]) -> set[tuple[str, str]]:
        """Partitions a run materialised with no failed check on their asset: what the UI shows as good."""
        return {(a, p) for o in outcomes for (a, p) in o.materialized if a not in o.failed_checks}

    def bad(result: dict[str, int]) -> bool:
        return bool(result["lost"] or result["duplicated"] or result["unknown"])

    def flagged(o: RunOutcome) -> set[tuple[str, str]]:
        """Partitions of a run that failed, or whose check failed: not shown as good."""
        if o.status == "SUCCESS" and not o.failed_checks:
            return set()
        return {
            (a, p) for (a, p) in after_first if p.endswith(f"|{o.marketplace}") and (a, p) not in green([o])
        }

    wrong = {k for k in green(first) if bad(after_first[k])} | {k for k in green(second) if bad(final[k])}
    correct = [k for k, v in final.items() if not bad(v)]
    quota_vs = (
        {op: quota[op] - bench.baseline_quota.get(op, 0) for op in QUOTA_OPERATIONS}
        if bench.baseline_quota is not None else None
    )  # fmt: skip
    if scenario.name == "baseline":
        bench.baseline_quota = quota
    errors = [e for o in (*first, *second) for e in o.errors]
    return {
        "scenario": scenario.name,
        "note": scenario.note,
        "fault_kinds_not_implemented": unknown,
        "partitions": len(final),
        "partitions_correct": len(correct),
        "partitions_failed_clear": sum(len(flagged(o)) for o in first if o.clear),
        "partitions_failed_unclear": sum(len(flagged(o)) for o in first if not o.clear),
        "partitions_wrong": len(wrong),
        "wrong_partition_keys": sorted(f"{a}:{p}" for a, p in wrong)[:10],
        "duplicate_rows": duplicates + sum(v["duplicated"] for v in final.values()),
        "rows_lost": sum(v["lost"] for v in final.values()),
        "rows_not_in_truth": sum(v["unknown"] for v in final.values()),
        "rows_loaded": sum(v["loaded"] for v in final.values()),
        "rows_truth": sum(v["truth"] for v in final.values()),
        "runs_first_round": Counter(o.status for o in first),
        "runs_retried": len(second),
        "runs_retry_round": Counter(o.status for o in second),
        "runs_stuck": len(stuck),
        "slots_leaked": len(slots),
        "quota_spent": quota,
        "quota_vs_fault_free": quota_vs,
        "http_faulted": {
            op: {s: n for s, n in e["statuses"].items() if s not in ("200", "202", "204")}
            for op, e in calls["byOperation"].items()
            if any(s not in ("200", "202", "204") for s in e["statuses"])
        },
        "faults_not_consumed": leftover,
        "errors": sorted(set(errors))[:8],
        "unclear_errors": sorted({e for o in first if not o.clear for e in o.errors})[:6],
        "action": {k: v for k, v in acted.items() if k != "killed_at"},
        "real_seconds": round(time.monotonic() - started, 1),
    }


# --------------------------------------------------------------------------------------------------
# entry point


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import dagster as dg

    from chalkola_pipelines.defs.jobs import ADS_PROFILES_JOB, ensure_pool_limits
    from chalkola_pipelines.defs.killed_runs import SENSOR_NAME as KILLED_RUN_NOTES
    from chalkola_pipelines.defs.pool_sensor import POOL_SENSOR
    from chalkola_pipelines.simulator.credentials import simulator_environment
    from chalkola_pipelines.warehouse.postgres import database_url

    by_name = {s.name: s for s in (*SCENARIOS, MIXED)}
    names = args.scenarios.split(",") if args.scenarios else (QUICK if args.quick else list(by_name))
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(by_name)}")
    if "baseline" in names:  # the quota reference runs first
        names = ["baseline", *[n for n in names if n != "baseline"]]
    server_url = args.database_url or database_url()
    storage_name = f"chalkola_faults_{os.getpid()}_{uuid.uuid4().hex[:6]}_dagster"
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chalkola-faults-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # the embedded server's system user must reach its data directory
        daemon = web = warehouse = sim = code = None
        daemon_log = None
        try:
            log("starting the warehouse's own embedded PostgreSQL")
            warehouse = Warehouse(work / "warehouse")
            storage_url = _empty_database(server_url, storage_name)
            home = work / "dagster_home"
            write_instance_config(home, storage_url)
            config = yaml.safe_load((home / "dagster.yaml").read_text())
            config["run_monitoring"].update(
                poll_interval_seconds=MONITOR_POLL_SECONDS,
                free_slots_after_run_end_seconds=MONITOR_POLL_SECONDS,
            )
            # a saturated machine: the code server may not answer a dequeue in time (deploy: 10 × 60 s)
            config["run_coordinator"]["config"].update(
                max_user_code_failure_retries=20, user_code_failure_retry_delay=10
            )
            (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            sim_port = free_port()
            env = {
                **os.environ,
                **simulator_environment(f"http://127.0.0.1:{sim_port}", args.time_scale),
                "PATH": str(VENV_BIN) + os.pathsep + os.environ.get("PATH", ""),
                "PYTHONPATH": str(REPO),
                "DAGSTER_HOME": str(home),
                "DATABASE_URL": warehouse.url,
                "CHALKOLA_MARKETPLACES": ",".join(MARKETPLACES),
                "CHALKOLA_SALES_TRAFFIC_SOURCE": "auto",
                "CHALKOLA_LANDING_DIR": str(work / "landing"),
                "CHALKOLA_RATE_LIMIT_NAMESPACE": f"bench-faults-{uuid.uuid4().hex[:6]}",
                "CHALKOLA_HTTP_READ_TIMEOUT_SECONDS": repr(READ_TIMEOUT_SECONDS),
                "CHALKOLA_DATA_KIOSK_POLL_SECONDS": repr(10.0 / args.time_scale),
                "CHALKOLA_SP_REPORT_POLL_SECONDS": repr(1.0 / args.time_scale),
                "CHALKOLA_ADS_REPORT_POLL_SECONDS": repr(5.0 / args.time_scale),
            }
            env.pop("DAGSTER_PG_URL", None)
            instance = dg.DagsterInstance.from_config(str(home))
            ensure_pool_limits(instance)
            log("starting the code server, dagster-daemon and dagster-webserver")
            code = CodeServer(env, work)
            daemon, daemon_log = start_daemon(env, instance, work / "daemon.log", workspace=code.workspace)
            web = Webserver(env, work / "webserver.log", code.workspace)
            stopped = web.stop_automation(keep=(POOL_SENSOR, KILLED_RUN_NOTES))
            log(f"stopped {', '.join(stopped) or 'nothing'} (schedules, sensors)")
            bench = Bench(instance, web, warehouse, work / "landing", sim_port, args.time_scale, args.run_timeout,
                          args.seed)  # fmt: skip
            sim = bench.fresh_simulator()
            params = {
                "selector": {
                    "repositoryLocationName": LOCATION,
                    "repositoryName": REPOSITORY,
                    "jobName": ADS_PROFILES_JOB,
                },
                "runConfigData": IN_PROCESS,
                "executionMetadata": {"tags": [{"key": "chalkola/launched_by", "value": "faults-bench"}]},
            }
            (profiles,) = wait_runs(instance, web.launch([params]), args.run_timeout)
            sim.stop()
            sim = None
            if profiles.dagster_run.status.value != "SUCCESS":
                raise RuntimeError(f"ads_profiles_job ended {profiles.dagster_run.status.value}")
            for name in names:
                log(f"scenario {name}")
                result = run_scenario(bench, by_name[name])
                results.append(result)
                print(json.dumps(result, default=str), flush=True)
                if not result.get("skipped"):
                    log(f"  {result['partitions_correct']}/{result['partitions']} correct, "
                        f"{result['partitions_wrong']} wrong, {result['rows_lost']} lost, "
                        f"{result['duplicate_rows']} dup, {result['runs_stuck']} stuck, "
                        f"{result['slots_leaked']} leaked ({result['real_seconds']} s)")  # fmt: skip
            instance.dispose()
        finally:
            if sim is not None:
                sim.stop()
            if web is not None:
                web.stop()
            if daemon is not None:
                with _suppress():
                    os.killpg(daemon.pid, signal.SIGTERM)
                    daemon.wait(30)
                with _suppress():
                    os.killpg(daemon.pid, signal.SIGKILL)
            if daemon_log is not None:
                daemon_log.close()
            if code is not None:
                code.stop()
            if warehouse is not None:
                warehouse.stop()
            with _suppress():
                _drop_database(server_url, storage_name)
            if args.keep_logs:
                for name in ("daemon.log", "webserver.log", "code_server.log"):
                    with _suppress():
                        shutil.copy(work / name, Path(args.keep_logs) / name)
    return results


def summary(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ran = [r for r in results if not r.get("skipped")]
    keys = ("partitions_wrong", "duplicate_rows", "rows_lost", "runs_stuck", "slots_leaked")
    totals = {k: sum(r[k] for r in ran) for k in keys}
    return {
        "summary": True,
        "scenarios_run": len(ran),
        "scenarios_skipped": [r["scenario"] for r in results if r.get("skipped")],
        **totals,
        "ok": bool(ran) and not any(totals.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--scenarios", default=None, help="comma-separated scenario names")
    parser.add_argument("--time-scale", type=float, default=TIME_SCALE)
    parser.add_argument("--run-timeout", type=float, default=900.0, help="real seconds to wait for a round")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="server for the Dagster storage database")
    parser.add_argument("--keep-logs", default=None, help="copy daemon.log / webserver.log to this directory")
    args = parser.parse_args(argv)
    results = run(args)
    final = summary(results)
    print(json.dumps(final), flush=True)
    return 0 if final["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
