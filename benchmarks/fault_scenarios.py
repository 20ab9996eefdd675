"""The scenarios of benchmarks/faults.py: simulator faults (``/_simulator/faults`` bodies) and actions.

Each scenario plans faults on the simulator before its backfill starts (``operation:kind`` for the next
``count`` calls of that operation, whichever marketplace makes them) and/or does one action while the runs
poll: ``pg_restart`` (the warehouse Postgres stopped and started) or ``kill9`` (one run worker killed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READ_TIMEOUT_SECONDS = 4.0  # CHALKOLA_HTTP_READ_TIMEOUT_SECONDS of the runs (production: 60)
SLOW_SECONDS = 6.0  # the "slow" fault: longer than the read timeout
DOWNLOADS = ("downloadReportDocument", "downloadDataKioskDocument", "downloadAsyncReport")


def _f(operation: str, kind: str, count: int = 1, **params: Any) -> dict[str, Any]:
    return {"operation": operation, "kind": kind, "count": count, **params}


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: tuple[dict[str, Any], ...] = ()
    action: str | None = None  # "pg_restart" | "kill9": done while the runs poll
    note: str = ""


POLLS = ("getReport", "getQuery", "getAsyncReport")
CREATES = ("createReport", "createQuery", "createAsyncReport")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("baseline", note="no fault: the quota reference"),
    Scenario(
        "429_retry_after",
        tuple(_f(op, "429", 4, retry_after=30) for op in (*CREATES, *POLLS)),
        note="4 × 429 with Retry-After 30 simulated s on every create and poll operation",
    ),
    Scenario(
        "429_no_retry_after",
        tuple(_f(op, "429", 4, retry_after="none") for op in (*CREATES, *POLLS)),
        note="4 × 429 without Retry-After on every create and poll operation",
    ),
    Scenario(
        "5xx_burst",
        tuple(
            _f(op, kind, 2)
            for op in (*POLLS, "getReportDocument", "getDocument", *DOWNLOADS)
            for kind in ("500", "503")
        ),
        note="2 × 500 then 2 × 503 on polls, document lookups and downloads",
    ),  # fmt: skip
    Scenario(
        "connection_reset",
        tuple(_f(op, "reset", 2) for op in ("createReport", "getQuery", "getAsyncReport", *DOWNLOADS)),
        note="connection closed without a response, 2 × per operation",
    ),
    Scenario(
        "slow_read_timeout",
        tuple(
            _f(op, "slow", 1, delay=SLOW_SECONDS) for op in ("getReport", "getQuery", "downloadAsyncReport")
        ),
        note=f"one response {SLOW_SECONDS:g} s late per operation, read timeout {READ_TIMEOUT_SECONDS:g} s",
    ),
    Scenario(
        "fatal",
        (_f("createReport", "fatal"), _f("createQuery", "fatal"), _f("createAsyncReport", "failed")),
        note="one FATAL order report, one FATAL Data Kiosk query, one FAILED Ads report",
    ),
    Scenario(
        "cancelled",
        (_f("createReport", "cancelled"), _f("createQuery", "cancelled")),
        note="one CANCELLED order report and one CANCELLED Data Kiosk query for days that have data",
    ),
    Scenario(
        "expired_url",
        tuple(_f(op, "expired_url") for op in DOWNLOADS),
        note="one expired URL per download kind",
    ),
    Scenario("corrupt_gzip", tuple(_f(op, "corrupt_gzip") for op in DOWNLOADS), note="one per download kind"),
    Scenario("truncated_json", (_f("downloadAsyncReport", "truncated_json"),), note="Ads JSON cut at 60 %"),
    Scenario(
        "truncated_jsonl",
        (_f("downloadDataKioskDocument", "truncated_json"),),
        note="Data Kiosk JSONL cut at 60 %",
    ),
    Scenario(
        "truncated_tsv", (_f("downloadReportDocument", "truncated_json"),), note="order flat file cut at 60 %"
    ),
    Scenario(
        "extra_field", tuple(_f(op, "extra_field") for op in DOWNLOADS), note="schema drift in every format"
    ),
    Scenario(
        "missing_required_field",
        tuple(_f(op, "missing_field") for op in DOWNLOADS),
        note="a required field missing in every format (Ads column, order key column, Data Kiosk field)",
    ),
    Scenario("postgres_restart", action="pg_restart", note="warehouse Postgres stopped and started mid-poll"),
    Scenario("kill9_mid_poll", action="kill9", note="kill -9 of one run worker while it polls"),
)
MIXED = Scenario(
    "mixed",
    tuple(f for s in SCENARIOS for f in s.faults),
    action="kill9",
    note="every fault above at once, plus kill -9 of one run worker",
)
QUICK = ("baseline", "5xx_burst", "kill9_mid_poll")


def known_kinds() -> frozenset[str]:
    from chalkola_pipelines.simulator.faults import KINDS

    return KINDS


def planned_faults(scenario: Scenario) -> tuple[list[dict[str, Any]], list[str]]:
    """The scenario's faults whose kind the simulator knows, and the unknown kinds (not injected)."""
    kinds = known_kinds()
    return [f for f in scenario.faults if f["kind"] in kinds], sorted(
        {f["kind"] for f in scenario.faults} - kinds
    )
