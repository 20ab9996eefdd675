"""CancelledPolicy against real Postgres rows and a real ledger: when a CANCELLED report is kept as "no data",
and when its partitions fail and are asked again (nothing silent, also on a fresh backfill)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import psycopg
import pytest

from chalkola_pipelines.defs.cancelled_reports import CancelledPolicy
from chalkola_pipelines.defs.partitions import MarketplaceDays
from chalkola_pipelines.defs.report_workflow import ReportOutcome
from chalkola_pipelines.defs.sales_traffic import sales_traffic_unit
from chalkola_pipelines.marketplaces import get_marketplace
from chalkola_pipelines.warehouse.ledger import ReportLedger
from chalkola_pipelines.warehouse.partition_queries import (
    order_item_rows_per_day,
    sales_traffic_by_asin_rows_per_day,
)

pytestmark = pytest.mark.integration

SG = get_marketplace("SG")
DAY = dt.date(2003, 6, 15)  # a marketplace-day no other test uses
TODAY = DAY + dt.timedelta(days=10)


@pytest.fixture
def conn(pg_url: str):
    with psycopg.connect(pg_url, autocommit=True) as c:
        _clean(c)
        yield c
        _clean(c)


def _clean(c: psycopg.Connection) -> None:
    c.execute(
        "delete from raw_amazon.sp_sales_traffic_by_asin where marketplace = 'SG' and report_date between %s and %s",
        (DAY - dt.timedelta(days=60), DAY + dt.timedelta(days=60)),
    )
    c.execute(
        "delete from raw_amazon.report_requests where marketplace = 'SG' and window_start between %s and %s",
        (DAY - dt.timedelta(days=60), DAY + dt.timedelta(days=60)),
    )


def _asin_row(c: psycopg.Connection, day: dt.date) -> None:
    c.execute(
        "insert into raw_amazon.sp_sales_traffic_by_asin (marketplace, marketplace_id, report_date, parent_asin, "
        "child_asin, currency_code, ordered_product_sales, units_ordered, total_order_items, sessions, page_views,"
        " report_id) values ('SG', %s, %s, 'P', 'B001', 'SGD', %s, 1, 1, 10, 20, 'r1')",
        (SG.marketplace_id, day, Decimal("9.99")),
    )


def _cancelled(ledger: ReportLedger, day: dt.date) -> str:
    """A CANCELLED S&T report for ``day`` in the ledger (what _finish records); its id."""
    unit = sales_traffic_unit(MarketplaceDays(SG, (day,)), day, TODAY)
    report_id = f"cancelled-{uuid.uuid4().hex[:10]}"
    request = unit.request
    ledger.record(
        marketplace=request.marketplace, profile_id=None, report_id=report_id, status="CANCELLED",
        scope=request.scope, **request.ident(),
    )  # fmt: skip
    return report_id


def _reason(
    conn: psycopg.Connection, ledger: ReportLedger, day: dt.date, today: dt.date = TODAY
) -> str | None:
    report_id = _cancelled(ledger, day)
    unit = sales_traffic_unit(MarketplaceDays(SG, (day,)), day, today)
    policy = CancelledPolicy(
        conn, today, sales_traffic_by_asin_rows_per_day, ("order rows", order_item_rows_per_day)
    )
    return policy.reask_reason(unit, ReportOutcome("CANCELLED", report_id, unit.window), ledger)


def test_fresh_backfill_asks_again_once_then_keeps_the_answer(conn, pg_url: str) -> None:
    ledger = ReportLedger.from_url(pg_url)
    reason = _reason(conn, ledger, DAY)
    assert reason is not None and "nothing is known about SG" in reason
    # the next run's new report is CANCELLED too: asked twice, the answer stands
    assert _reason(conn, ledger, DAY) is None
    # its neighbours' CANCELLED answers are kept at once (one extra report per neighbourhood, not per day)
    assert _reason(conn, ledger, DAY - dt.timedelta(days=1)) is None


def test_a_day_next_to_rows_is_asked_again_and_old_or_young_days_are_kept(conn, pg_url: str) -> None:
    ledger = ReportLedger.from_url(pg_url)
    _asin_row(conn, DAY + dt.timedelta(days=1))
    assert _reason(conn, ledger, DAY) == "the neighbouring days have 1 rows"
    # older than two years: Amazon has nothing to give
    assert _reason(conn, ledger, DAY - dt.timedelta(days=2), today=DAY + dt.timedelta(days=800)) is None
    # recent: kept, the WARN check says so and the nightly refresh asks again
    assert _reason(conn, ledger, DAY + dt.timedelta(days=2), today=DAY + dt.timedelta(days=3)) is None


def test_rows_nearby_mean_an_empty_day_is_plausible(conn, pg_url: str) -> None:
    ledger = ReportLedger.from_url(pg_url)
    _asin_row(conn, DAY + dt.timedelta(days=20))  # the marketplace is known around, not next to the day
    assert _reason(conn, ledger, DAY) is None
