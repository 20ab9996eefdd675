"""The parsers read the simulator's documents (as served: JSON/TSV bytes) and give back the seller's ground
truth exactly: S&T sales and units, order-report rows, Ads spend and 7-day sales, in USD and JPY."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from chalkola_pipelines.amazon.parsers import (
    iter_order_report_rows,
    iter_sp_advertised_product_rows,
    parse_sales_and_traffic,
)
from chalkola_pipelines.amazon.report_columns import (
    ORDER_REPORT_OFFICIAL_HEADER,
    SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS,
)
from chalkola_pipelines.marketplaces import get_marketplace, local_days_window_utc
from chalkola_pipelines.simulator.document_encoding import dumps_json, tsv_bytes
from chalkola_pipelines.simulator.seller import SyntheticSeller

DAY = dt.date.today() - dt.timedelta(days=5)


@pytest.fixture(scope="module")
def seller() -> SyntheticSeller:
    return SyntheticSeller(seed=7, marketplaces=["US", "JP"])


@pytest.mark.parametrize("code", ["US", "JP"])
def test_sales_and_traffic_document_matches_ground_truth(seller: SyntheticSeller, code: str) -> None:
    mkt = get_marketplace(code)
    body = dumps_json(
        seller.sales_and_traffic_document(
            mkt.marketplace_id, DAY, DAY, date_granularity="DAY", asin_granularity="CHILD"
        )
    )
    doc = parse_sales_and_traffic(io.BytesIO(body))
    assert doc.unknown_fields == set()
    assert [r["report_date"] for r in doc.by_date] == [DAY]
    assert {r["currency_code"] for r in doc.by_asin + doc.by_date} == {mkt.currency}
    assert all(r["child_asin"] for r in doc.by_asin)
    assert sum(r["ordered_product_sales"] for r in doc.by_asin) == seller.truth.ordered_sales(code, DAY)
    assert sum(r["units_ordered"] for r in doc.by_asin) == seller.truth.units_ordered(code, DAY)


@pytest.mark.parametrize("code", ["US", "JP"])
def test_order_report_rows_are_typed(seller: SyntheticSeller, code: str) -> None:
    mkt = get_marketplace(code)
    start, end = local_days_window_utc(mkt, DAY, DAY)
    raw = seller.order_report_rows(mkt.marketplace_id, start, end)
    rows = list(iter_order_report_rows(io.BytesIO(tsv_bytes(ORDER_REPORT_OFFICIAL_HEADER, raw))))
    assert len(rows) == len(raw) > 0
    assert {mkt.local_date_of(r["purchase_date"]) for r in rows} == {DAY}
    assert all(r["currency"] in (mkt.currency, None) for r in rows)
    assert all(isinstance(r["quantity"], int) for r in rows)
    priced = [r for r in rows if r["item_price"] is not None]
    assert priced and all(isinstance(r["item_price"], Decimal) for r in priced)
    assert all(r["extra_columns"] == {} for r in rows)
    assert not any("ship_city" in r or "ship_postal_code" in r for r in rows)


@pytest.mark.parametrize("code", ["US", "JP"])
def test_ads_document_matches_ground_truth(seller: SyntheticSeller, code: str) -> None:
    profile_id = seller.truth.profile_id(code)
    raw = list(
        seller.sp_advertised_product_rows(profile_id, DAY, DAY, SP_ADVERTISED_PRODUCT_DAILY_REQUEST_COLUMNS)
    )
    rows = iter_sp_advertised_product_rows(io.BytesIO(dumps_json(raw)))
    parsed = list(rows)
    assert len(parsed) == len(raw) > 0
    assert rows.unknown_keys == {}
    assert {r["report_date"] for r in parsed} == {DAY}
    assert [r["campaign_id"] for r in parsed] == [r["campaignId"] for r in raw]  # ids exact, some > 2**53
    assert sum(r["spend"] for r in parsed) == seller.truth.ad_spend(code, DAY)
    assert sum(r["sales_7d"] for r in parsed) == seller.truth.ad_sales_7d(code, DAY)
