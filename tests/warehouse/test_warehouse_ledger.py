"""ReportLedger against a real PostgreSQL: request keys, record/update, resume rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from chalkola_pipelines.warehouse.ledger import (
    ADS_REPORTING,
    SP_REPORTS,
    LedgerError,
    ReportLedger,
    ledger_scope,
    request_key,
)

UTC = dt.UTC
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
END = dt.datetime(2025, 3, 2, 7, 59, 59, tzinfo=UTC)
ST = "GET_SALES_AND_TRAFFIC_REPORT"
OPTIONS = {"dateGranularity": "DAY", "asinGranularity": "CHILD"}


@pytest.fixture
def ledger_url(make_database) -> str:
    return make_database(migrate=True)


@pytest.fixture
def ledger(ledger_url: str) -> ReportLedger:
    return ReportLedger.from_url(ledger_url)


def sp(ledger: ReportLedger, report_id: str, status: str = "IN_QUEUE", **kw):
    args = dict(
        source=SP_REPORTS, report_type=ST, region="na", marketplace="US", profile_id=None,
        window_start=START, window_end=END, options=OPTIONS, report_id=report_id, status=status,
    )  # fmt: skip
    args.update(kw)
    return ledger.record(**args)


def find_sp(ledger: ReportLedger, **kw):
    args = dict(source=SP_REPORTS, report_type=ST, region="na", scope="US", window_start=START, window_end=END,
                options=OPTIONS)  # fmt: skip
    args.update(kw)
    return ledger.find_resumable(**args)


def test_request_key_is_canonical() -> None:
    base = dict(
        source=SP_REPORTS, report_type=ST, region="na", scope="US", window_start=START, window_end=END
    )
    a = request_key(**base, options={"a": "1", "b": "2"})
    assert a == request_key(**base, options={"b": "2", "a": "1"})
    assert len(a) == 64
    # the same instant in another zone is the same window
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert a == request_key(**{**base, "window_start": START.astimezone(tokyo)}, options={"a": "1", "b": "2"})
    assert a != request_key(
        **{**base, "window_end": END + dt.timedelta(seconds=1)}, options={"a": "1", "b": "2"}
    )
    assert a != request_key(**{**base, "scope": "UK"}, options={"a": "1", "b": "2"})
    assert a != request_key(**base, options={"a": "1"})
    with pytest.raises(ValueError, match="timezone-aware"):
        request_key(**{**base, "window_start": START.replace(tzinfo=None)}, options={})
    assert ledger_scope("US", None) == "US" and ledger_scope("US", 2**60) == str(2**60)


def test_record_find_update_and_resume(ledger: ReportLedger) -> None:
    assert find_sp(ledger) is None
    entry = sp(ledger, "50001", request_ids=["req-a"])
    assert entry.status == "IN_QUEUE" and entry.completed_at is None and entry.request_ids == ["req-a"]
    found = find_sp(ledger)
    assert found is not None and found.report_id == "50001" and found.options == OPTIONS
    # a different window or options is a different request
    assert find_sp(ledger, window_end=END + dt.timedelta(days=1)) is None
    assert find_sp(ledger, options={**OPTIONS, "asinGranularity": "PARENT"}) is None
    # record() again for the same report id upserts: status changes, request ids append without duplicates
    again = sp(ledger, "50001", status="IN_PROGRESS", request_ids=["req-a", "req-b"])
    assert again.id == entry.id and again.status == "IN_PROGRESS" and again.request_ids == ["req-a", "req-b"]
    ledger.update(SP_REPORTS, "50001", status="DONE", document_id="doc-1", document_path="/x/50001.gz",
                  row_count=12, request_ids=["req-b", "req-c"])  # fmt: skip
    done = ledger.get(SP_REPORTS, "50001")
    assert done is not None
    assert (done.status, done.document_id, done.document_path, done.row_count) == (
        "DONE",
        "doc-1",
        "/x/50001.gz",
        12,
    )
    assert done.request_ids == ["req-a", "req-b", "req-c"] and done.completed_at is not None
    # DONE SP reports are resumable (the document can be fetched again for 90 days)
    assert find_sp(ledger).report_id == "50001"
    with pytest.raises(LedgerError, match="No ledger entry for sp_reports report nope"):
        ledger.update(SP_REPORTS, "nope", status="DONE")


@pytest.mark.parametrize("status", ["FATAL", "CANCELLED"])
def test_failed_entries_are_not_resumed_and_newest_wins(ledger: ReportLedger, status: str) -> None:
    sp(ledger, "old", status="DONE")
    sp(ledger, "new", status="IN_QUEUE")
    assert find_sp(ledger).report_id == "new"
    ledger.update(SP_REPORTS, "new", status=status, error="Amazon said no")
    assert find_sp(ledger).report_id == "old"
    ledger.update(SP_REPORTS, "old", status=status)
    assert find_sp(ledger) is None


def test_age_limits(ledger: ReportLedger, ledger_url: str) -> None:
    sp(ledger, "r-old", status="DONE")
    with psycopg.connect(ledger_url) as conn:
        conn.execute("update raw_amazon.report_requests set created_at = now() - interval '91 days'")
    assert find_sp(ledger) is None
    sp(ledger, "r-2d", status="DONE")
    with psycopg.connect(ledger_url) as conn:
        conn.execute(
            "update raw_amazon.report_requests set created_at = now() - interval '2 days' where report_id = 'r-2d'"
        )
    assert find_sp(ledger).report_id == "r-2d"
    # a nightly refresh of restated data asks for a fresher report
    assert find_sp(ledger, max_age=dt.timedelta(hours=20)) is None


def test_ads_resume_rules(ledger: ReportLedger, ledger_url: str, tmp_path: Path) -> None:
    profile = 2**53 + 5
    window = dict(window_start=dt.date(2025, 3, 1), window_end=dt.date(2025, 3, 31))
    opts = {"reportTypeId": "spAdvertisedProduct", "timeUnit": "DAILY"}

    def record(report_id: str, status: str):
        return ledger.record(source=ADS_REPORTING, report_type="spAdvertisedProduct", region="na", marketplace="US",
                             profile_id=profile, options=opts, report_id=report_id, status=status, **window)  # fmt: skip

    def find():
        return ledger.find_resumable(source=ADS_REPORTING, report_type="spAdvertisedProduct", region="na",
                                     scope=ledger_scope("US", profile), options=opts, **window)  # fmt: skip

    def age(report_id: str, interval: str) -> None:
        with psycopg.connect(ledger_url) as conn:
            conn.execute(
                "update raw_amazon.report_requests set created_at = now() - %s::interval where report_id = %s",
                (interval, report_id),
            )

    record("ads-1", "PENDING")
    assert find().report_id == "ads-1"
    assert find().window_start == dt.datetime(2025, 3, 1, tzinfo=UTC)
    age("ads-1", "30 hours")  # in flight for too long: do not trust it any more
    assert find() is None
    record("ads-2", "COMPLETED")
    assert find().report_id == "ads-2"
    age("ads-2", "3 days")  # completed, URL long expired and no document on disk
    assert find() is None
    document = tmp_path / "ads-2.json.gz"
    ledger.update(ADS_REPORTING, "ads-2", status="LOADED", document_path=document)
    assert find() is None  # the path is recorded but the file is gone
    document.write_bytes(b"\x1f\x8b")
    assert find().report_id == "ads-2"  # re-parse from the landing store without calling Amazon
    ledger.update(ADS_REPORTING, "ads-2", status="FAILED")
    assert find() is None


def test_same_report_id_in_two_regions_are_two_entries(ledger: ReportLedger) -> None:
    """Amazon report ids are unique per seller account only; NA and FE can both return 50007000034."""
    common = dict(
        source="sp_reports",
        profile_id=None,
        window_start=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        window_end=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
        options={},
        report_id="50007000034",
        status="IN_QUEUE",
    )
    us = ledger.record(report_type="GET_SALES_AND_TRAFFIC_REPORT", region="na", marketplace="US", **common)
    jp = ledger.record(
        report_type="GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        region="fe",
        marketplace="JP",
        **common,
    )
    assert us.id != jp.id
    ledger.update("sp_reports", "50007000034", region="fe", status="DONE", document_path="/landing/jp.gz")
    assert ledger.get("sp_reports", "50007000034", region="na").document_path is None
    assert ledger.get("sp_reports", "50007000034", region="fe").document_path == "/landing/jp.gz"
    with pytest.raises(LedgerError, match="several regions"):
        ledger.update("sp_reports", "50007000034", status="DONE")
    with pytest.raises(LedgerError, match="several regions"):
        ledger.get("sp_reports", "50007000034")


def test_a_report_id_of_another_request_is_an_error_naming_both(ledger: ReportLedger) -> None:
    """`make demo` then `make ui` once merged a new order report into the S&T entry with the same id."""
    first = sp(ledger, "50007000051", status="DONE")
    ledger.update(SP_REPORTS, "50007000051", region="na", document_path="/landing/st.gz")
    orders = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
    with pytest.raises(LedgerError) as info:
        sp(ledger, "50007000051", report_type=orders, marketplace="US,CA,MX", options={})
    message = str(info.value)
    assert f"ledger entry {first.id} = {ST} scope US 2025-03-01T08:00:00Z..2025-03-02T07:59:59Z" in message
    assert f"now returned for {orders} scope US,CA,MX" in message and "status DONE" in message
    after = ledger.get(SP_REPORTS, "50007000051", region="na")
    assert (after.report_type, after.status, after.document_path) == (ST, "DONE", "/landing/st.gz")
    # a different window or options of the same type is another request too
    with pytest.raises(LedgerError, match="already recorded for another request"):
        sp(ledger, "50007000051", window_end=END + dt.timedelta(days=1))
    # the same request again is an upsert, as before
    again = sp(ledger, "50007000051", status="DONE", request_ids=["r-2"])
    assert again.id == first.id and again.request_ids == ["r-2"]


def test_forget_documents_clears_only_those_paths(ledger: ReportLedger) -> None:
    sp(ledger, "50007000068", status="DONE")
    sp(ledger, "50007000085", status="DONE", window_start=START + dt.timedelta(days=1))
    ledger.update(SP_REPORTS, "50007000068", region="na", document_path="/landing/a.gz")
    ledger.update(SP_REPORTS, "50007000085", region="na", document_path="/landing/b.gz")
    assert ledger.forget_documents(["/landing/a.gz", "/landing/none.gz"]) == 1
    assert ledger.get(SP_REPORTS, "50007000068", region="na").document_path is None
    assert ledger.get(SP_REPORTS, "50007000085", region="na").document_path == "/landing/b.gz"
    assert ledger.forget_documents([]) == 0
