"""Orders API and Ads API against the real simulator over HTTP, with faults."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from amazon_sim_clients import US, StatusRecorder, ads_client, orders_client, utc_today

from chalkola_pipelines.amazon.ads import profiles_by_marketplace
from chalkola_pipelines.amazon.errors import AdsReportFailedError, AdsRetentionError
from chalkola_pipelines.amazon.retries import parse_json
from chalkola_pipelines.amazon.sp_orders import PII_KEYS

pytestmark = pytest.mark.integration


def _day_window(days_ago: int) -> tuple[datetime, datetime]:
    day = utc_today() - timedelta(days=days_ago)
    return datetime.combine(day, time.min, tzinfo=UTC), datetime.combine(
        day + timedelta(days=1), time.min, tzinfo=UTC
    )


def _no_pii(value) -> bool:
    if isinstance(value, dict):
        return not (set(value) & PII_KEYS) and all(_no_pii(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_pii(v) for v in value)
    return True


# ---------------------------------------------------------------- Orders


def test_get_orders_paginates_with_next_token(simulator, clean_faults):
    after, before = _day_window(5)
    client = orders_client(simulator, max_results_per_page=100)
    orders = list(client.iter_orders([US.marketplace_id], created_after=after, created_before=before))
    assert len(orders) > 100, "the synthetic seller has more than one page of orders per day"
    assert len(client.request_ids) == -(-len(orders) // 100)  # one request per page, NextToken followed
    ids = [o["AmazonOrderId"] for o in orders]
    assert len(ids) == len(set(ids))
    assert all(
        after <= datetime.fromisoformat(o["PurchaseDate"].replace("Z", "+00:00")) < before for o in orders
    )
    assert all(_no_pii(o) for o in orders)


def test_get_orders_up_to_now_is_clamped_to_two_minutes_ago(simulator, clean_faults):
    now = datetime.now(UTC)
    orders = list(
        orders_client(simulator).iter_orders(
            [US.marketplace_id], last_updated_after=now - timedelta(hours=6), last_updated_before=now
        )
    )
    assert all(_no_pii(o) for o in orders)


def test_get_orders_survives_faults(simulator, clean_faults):
    clean_faults.add("getOrders", "429", count=2, retry_after=60)
    clean_faults.add("getOrders", "500", count=1)
    clean_faults.add("getOrders", "reset", count=1)
    after, before = _day_window(6)
    orders = list(
        orders_client(simulator).iter_orders([US.marketplace_id], created_after=after, created_before=before)
    )
    assert orders
    assert clean_faults.pending() == []


def test_get_order_items(simulator, clean_faults):
    after, before = _day_window(7)
    client = orders_client(simulator)
    order = next(iter(client.iter_orders([US.marketplace_id], created_after=after, created_before=before)))
    clean_faults.add("getOrderItems", "503", count=1)
    items = list(client.iter_order_items(order["AmazonOrderId"]))
    assert items and all(i["ASIN"] and i["OrderItemId"] for i in items)
    assert all(_no_pii(i) for i in items)


# ---------------------------------------------------------------- Ads


def _profile_id(simulator) -> int:
    return simulator.state.truth.profile_id("US")


def test_list_profiles_maps_marketplaces_with_exact_ids(simulator, clean_faults):
    clean_faults.add("listProfiles", "503", count=1)
    profiles = ads_client(simulator).list_profiles()
    mapping = profiles_by_marketplace(profiles)
    assert "US" in mapping
    assert mapping["US"]["profileId"] == _profile_id(simulator)
    assert all(isinstance(p["profileId"], int) for p in profiles)


def _rows(path) -> list[dict]:
    return parse_json(gzip.decompress(path.read_bytes()))


def test_sp_advertised_product_matches_ground_truth(simulator, clean_faults, tmp_path):
    profile_id = _profile_id(simulator)
    start = utc_today() - timedelta(days=6)
    end = start + timedelta(days=2)
    seen = []
    results = ads_client(simulator).fetch_sp_advertised_product(
        profile_id,
        start,
        end,
        lambda rid: tmp_path / f"{rid}.json.gz",
        on_report_id=lambda *a: seen.append(a),
    )
    assert len(results) == 1 and results[0].start == start and results[0].end == end
    rows = _rows(results[0].path)
    assert seen[0][:3] == (start, end, results[0].report_id)
    truth = simulator.state.truth
    for offset in range(3):
        day = start + timedelta(days=offset)
        spend = sum((Decimal(str(r["cost"])) for r in rows if r["date"] == day.isoformat()), Decimal(0))
        assert spend == truth.ad_spend("US", day)
    assert all(isinstance(r["campaignId"], int) for r in rows)


def test_long_range_is_split_into_31_day_reports(simulator, clean_faults, tmp_path):
    start = utc_today() - timedelta(days=80)
    end = start + timedelta(days=31)  # 32 days
    results = ads_client(simulator).fetch_sp_advertised_product(
        _profile_id(simulator), start, end, lambda rid: tmp_path / f"{rid}.json.gz"
    )
    assert [(r.start, r.end) for r in results] == [
        (start, start + timedelta(days=30)),
        (start + timedelta(days=31), end),
    ]
    dates = {row["date"] for r in results for row in _rows(r.path)}
    assert min(dates) == start.isoformat() and max(dates) == end.isoformat()


def test_older_than_retention_is_refused_before_calling(simulator, clean_faults, tmp_path):
    recorder = StatusRecorder()
    with pytest.raises(AdsRetentionError) as info:
        ads_client(simulator, recorder=recorder).fetch_sp_advertised_product(
            _profile_id(simulator),
            utc_today() - timedelta(days=100),
            utc_today() - timedelta(days=90),
            lambda r: tmp_path / r,
        )
    assert recorder.seen == []
    assert "95 days" in str(info.value)


def test_failed_report_raises_with_reason(simulator, clean_faults, tmp_path):
    clean_faults.add("createAsyncReport", "failed", count=1)
    start = utc_today() - timedelta(days=20)
    with pytest.raises(AdsReportFailedError) as info:
        ads_client(simulator).fetch_sp_advertised_product(
            _profile_id(simulator), start, start, lambda r: tmp_path / r
        )
    assert info.value.report_id and info.value.reason


def test_polling_429_and_5xx_are_ridden_out(simulator, clean_faults, tmp_path):
    clean_faults.add("getAsyncReport", "429", count=2, retry_after=60)
    clean_faults.add("createAsyncReport", "500", count=1)
    clean_faults.add("downloadAsyncReport", "503", count=1)
    start = utc_today() - timedelta(days=21)
    (result,) = ads_client(simulator).fetch_sp_advertised_product(
        _profile_id(simulator), start, start, lambda r: tmp_path / r
    )
    assert _rows(result.path)
    assert clean_faults.pending() == []


@pytest.mark.parametrize("operation", ["getAsyncReport", "downloadAsyncReport"])
def test_expired_download_url_is_refreshed(simulator, clean_faults, tmp_path, operation):
    clean_faults.add(operation, "expired_url", count=1)
    start = utc_today() - timedelta(days=22)
    recorder = StatusRecorder()
    (result,) = ads_client(simulator, recorder=recorder).fetch_sp_advertised_product(
        _profile_id(simulator), start, start, lambda r: tmp_path / r
    )
    assert _rows(result.path)
    assert 403 in recorder.statuses("/_documents/ads/")


def test_connection_reset_and_slow_download(simulator, clean_faults, tmp_path):
    clean_faults.add("downloadAsyncReport", "reset", count=1)
    clean_faults.add("getAsyncReport", "slow", count=1, delay=0.3)
    start = utc_today() - timedelta(days=23)
    (result,) = ads_client(simulator).fetch_sp_advertised_product(
        _profile_id(simulator), start, start, lambda r: tmp_path / r
    )
    assert _rows(result.path)


def test_ads_document_faults_are_archived_as_served(simulator, clean_faults, tmp_path):
    from chalkola_pipelines.simulator.document_encoding import EXTRA_FIELD_NAME

    profile_id = _profile_id(simulator)
    client = ads_client(simulator)
    day = utc_today() - timedelta(days=24)
    clean_faults.add("downloadAsyncReport", "corrupt_gzip", count=1)
    (corrupt,) = client.fetch_sp_advertised_product(profile_id, day, day, lambda r: tmp_path / "corrupt.gz")
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(corrupt.path.read_bytes())
    clean_faults.add("downloadAsyncReport", "truncated_json", count=1)
    (truncated,) = client.fetch_sp_advertised_product(
        profile_id, day, day, lambda r: tmp_path / "truncated.gz"
    )
    with pytest.raises(ValueError):
        json.loads(gzip.decompress(truncated.path.read_bytes()))
    clean_faults.add("downloadAsyncReport", "extra_field", count=1)
    (extra,) = client.fetch_sp_advertised_product(profile_id, day, day, lambda r: tmp_path / "extra.gz")
    assert all(EXTRA_FIELD_NAME in row for row in _rows(extra.path))
