"""Report windows built from marketplace-local days, and the small pure helpers of the raw assets."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from chalkola_pipelines.amazon.errors import AmazonApiError, ReportFatalError
from chalkola_pipelines.defs.ads import ads_today, ads_units, contiguous_runs
from chalkola_pipelines.defs.orders import FuturePartitionError, orders_spec, orders_window
from chalkola_pipelines.defs.partitions import MarketplaceDays
from chalkola_pipelines.defs.report_errors import is_partition_specific
from chalkola_pipelines.defs.report_workflow import REFRESH_REUSE_MAX_AGE, reuse_max_age
from chalkola_pipelines.defs.sales_traffic import sales_traffic_spec
from chalkola_pipelines.marketplaces import get_marketplace, iso_z

D = dt.date
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_sales_traffic_asks_the_local_date_with_z_times() -> None:
    spec = sales_traffic_spec(get_marketplace("JP"), D(2026, 11, 20))
    body = spec.create_body()
    assert body["dataStartTime"] == "2026-11-20T00:00:00Z" and body["dataEndTime"] == "2026-11-20T23:59:59Z"
    assert body["reportOptions"] == {"dateGranularity": "DAY", "asinGranularity": "CHILD"}
    assert body["marketplaceIds"] == ["A1VC38T7YXB528"]


@pytest.mark.parametrize(
    ("code", "start", "end"),
    [
        ("JP", "2026-10-31T15:00:00Z", "2026-11-07T14:59:59Z"),  # UTC+9
        ("US", "2026-11-01T07:00:00Z", "2026-11-08T07:59:59Z"),  # PDT → PST on 2026-11-01
        ("DE", "2026-10-31T23:00:00Z", "2026-11-07T22:59:59Z"),
    ],
)
def test_order_report_window_covers_exactly_the_local_days(code: str, start: str, end: str) -> None:
    spec = orders_spec(get_marketplace(code), D(2026, 11, 1), D(2026, 11, 7), now=NOW)
    assert (iso_z(spec.data_start_time), iso_z(spec.data_end_time)) == (start, end)
    assert spec.report_type == "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"


def test_order_report_window_never_ends_in_the_future() -> None:
    start, end = orders_window(get_marketplace("JP"), D(2026, 11, 23), D(2026, 11, 23), now=NOW)
    assert iso_z(start) == "2026-11-22T15:00:00Z" and end == NOW - dt.timedelta(minutes=2)
    with pytest.raises(FuturePartitionError, match="has not started yet"):
        orders_window(get_marketplace("US"), D(2026, 11, 24), D(2026, 11, 24), now=NOW)


def test_reports_of_restated_windows_are_reused_only_when_recent() -> None:
    assert reuse_max_age(D(2026, 11, 20), D(2026, 11, 23)) == REFRESH_REUSE_MAX_AGE
    assert reuse_max_age(D(2026, 1, 20), D(2026, 11, 23)) is None


def test_ads_helpers() -> None:
    late = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)  # JP is already on the 24th, US still on the 23rd
    assert ads_today(get_marketplace("JP"), late) == D(2026, 11, 24)
    assert ads_today(get_marketplace("US"), late) == D(2026, 11, 23)
    assert ads_today(get_marketplace("US"), dt.datetime(2026, 11, 24, 3, tzinfo=dt.UTC)) == D(2026, 11, 24)
    days = [D(2026, 1, 1) + dt.timedelta(days=i) for i in range(36)] + [D(2026, 3, 1), D(2026, 3, 2)]
    assert contiguous_runs(days) == [(D(2026, 1, 1), D(2026, 2, 5)), (D(2026, 3, 1), D(2026, 3, 2))]
    units = ads_units(MarketplaceDays(get_marketplace("US"), tuple(days)), 42, D(2026, 3, 10))
    assert [(u.job.start, u.job.end) for u in units] == [
        (D(2026, 1, 1), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 5)),
        (D(2026, 3, 1), D(2026, 3, 2)),
    ]  # one report per ≤ 31 consecutive days, none for the gap
    assert [len(u.days.days) for u in units] == [31, 5, 2]


def test_only_report_specific_failures_let_a_range_run_continue() -> None:
    def failure(cause: Exception) -> dg.Failure:
        try:
            raise dg.Failure("x") from cause
        except dg.Failure as f:
            return f

    assert is_partition_specific(failure(ReportFatalError("r1", "T", "w", "no")))
    assert not is_partition_specific(
        failure(AmazonApiError("createReport", 429, "QuotaExceeded", "slow down"))
    )
