"""Report, query and document ids stay unique across simulator restarts (the ledger refuses a reused id)."""

from __future__ import annotations

import datetime as dt

from chalkola_pipelines.simulator.clock import SimulatedClock
from chalkola_pipelines.simulator.reports import ReportStore


def _store() -> ReportStore:
    return ReportStore(clock=SimulatedClock(time_scale=60.0), seed=7)


def _create(store: ReportStore) -> tuple[str, str | None]:
    report = store.create_sp_report(
        region="na", report_type="GET_SALES_AND_TRAFFIC_REPORT", marketplace_ids=["ATVPDKIKX0DER"],
        data_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), data_end=dt.datetime(2026, 1, 1, 23, tzinfo=dt.UTC),
        options={}, outcome="DONE",
    )  # fmt: skip
    return report.report_id, report.document_id


def test_a_restarted_simulator_never_repeats_an_id() -> None:
    first, second = _store(), _store()  # same seed: same data, different ids
    a = [_create(first) for _ in range(5)]
    b = [_create(second) for _ in range(5)]
    assert len({r for r, _ in a + b}) == 10 and len({d for _, d in a + b}) == 10
    assert all(r.isdigit() for r, _ in a + b)
    assert int(b[0][0]) > int(a[-1][0])  # later starts hand out larger ids
    assert [int(r) for r, _ in a] == sorted(int(r) for r, _ in a)
