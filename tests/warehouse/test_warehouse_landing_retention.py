"""Landing retention: expired documents are deleted and their ledger paths cleared (real Postgres)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from chalkola_pipelines.warehouse.landing import LandingStore
from chalkola_pipelines.warehouse.landing_retention import (
    Retention,
    RetentionConfigError,
    prune_landing,
)
from chalkola_pipelines.warehouse.ledger import SP_REPORTS, ReportLedger

NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
ST = "GET_SALES_AND_TRAFFIC_REPORT"


def _landed(store: LandingStore, report_type: str, report_id: str, age_days: float, suffix: str = "") -> Path:
    path = store.path_for(SP_REPORTS, report_type, "NA", report_id)
    path = path.with_name(path.name + suffix)
    path.write_bytes(b"\x1f\x8b" + b"0" * 100)
    stamp = (NOW - dt.timedelta(days=age_days)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_retention_settings() -> None:
    assert Retention.from_env({}) == Retention(30, 90)
    env = {"CHALKOLA_LANDING_RETENTION_DAYS_ORDERS": "7", "CHALKOLA_LANDING_RETENTION_DAYS_DEFAULT": "0"}
    retention = Retention.from_env(env)
    assert retention.days_for(ORDERS) == 7 and retention.days_for(ST) == 0
    assert retention.days_for("GET_AMAZON_FULFILLED_SHIPMENTS_DATA_GENERAL") == 7
    assert retention.describe() == "order documents 7 days, other documents forever"
    with pytest.raises(RetentionConfigError, match="CHALKOLA_LANDING_RETENTION_DAYS_ORDERS='30d'"):
        Retention.from_env({"CHALKOLA_LANDING_RETENTION_DAYS_ORDERS": "30d"})


def test_prune_deletes_expired_files_and_clears_the_ledger(make_database, tmp_path: Path) -> None:
    ledger = ReportLedger.from_url(make_database(migrate=True))
    store = LandingStore(tmp_path / "landing")
    old_orders = _landed(store, ORDERS, "1001", 31)
    new_orders = _landed(store, ORDERS, "1002", 29)
    old_st = _landed(store, ST, "2001", 31)  # other documents: 90 days
    older_st = _landed(store, ST, "2002", 91)
    stale_part = _landed(store, ORDERS, "1003", 2, ".gz.1234-abcd.part")
    fresh_part = _landed(store, ORDERS, "1004", 0.01, ".gz.1234-abcd.part")
    window = dict(window_start=NOW - dt.timedelta(days=40), window_end=NOW - dt.timedelta(days=35))
    for report_type, report_id, path in (
        (ORDERS, "1001", old_orders),
        (ST, "2002", older_st),
        (ST, "2001", old_st),
    ):
        ledger.record(
            source=SP_REPORTS, report_type=report_type, region="na", marketplace="US", profile_id=None,
            options={"id": report_id}, report_id=report_id, status="DONE", **window,
        )  # fmt: skip
        ledger.update(SP_REPORTS, report_id, region="na", status="LOADED", document_path=path)

    dry = prune_landing(
        store, retention=Retention(), forget_documents=ledger.forget_documents, now=NOW, dry_run=True
    )
    assert sorted(dry.deleted) == sorted([old_orders, older_st]) and old_orders.exists()

    report = prune_landing(store, retention=Retention(), forget_documents=ledger.forget_documents, now=NOW)
    assert sorted(report.deleted) == sorted([old_orders, older_st])
    assert report.stale_parts == [stale_part] and report.kept == 2 and report.ledger_entries_cleared == 2
    assert not old_orders.exists() and not older_st.exists() and not stale_part.exists()
    assert new_orders.exists() and old_st.exists() and fresh_part.exists()
    assert ledger.get(SP_REPORTS, "1001", region="na").document_path is None
    assert ledger.get(SP_REPORTS, "2002", region="na").document_path is None
    assert ledger.get(SP_REPORTS, "2001", region="na").document_path == str(old_st)
    # the entry is still there (its report id can be resumed), but nothing is re-parsed from a missing file
    resumable = ledger.find_resumable(
        source=SP_REPORTS, report_type=ORDERS, region="na", scope="US", options={"id": "1001"}, **window
    )
    assert resumable is not None and resumable.document_path is None
    assert prune_landing(store, retention=Retention(), now=NOW).deleted == []
