"""The simulator's ``missing_field`` fault over HTTP: each family's document comes with a required field dropped
from its last row, and its parser refuses it with the field, the row and the document named; the next download
(fault consumed) parses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from amazon_sim_clients import US, ads_client, order_spec, reports_client, sp_http, st_spec, utc_today

from chalkola_pipelines.amazon.data_kiosk import DataKioskClient
from chalkola_pipelines.amazon.data_kiosk_queries import sales_traffic_by_date_query
from chalkola_pipelines.amazon.documents import open_document
from chalkola_pipelines.amazon.errors import (
    AdsMissingFieldError,
    MissingRequiredFieldError,
    OrderReportMissingFieldError,
    SalesTrafficMissingFieldError,
)
from chalkola_pipelines.amazon.parsers import (
    iter_data_kiosk_sales_traffic,
    iter_order_report_rows,
    iter_sp_advertised_product_rows,
    parse_sales_and_traffic,
)

pytestmark = pytest.mark.integration


def _refused(parse, path, error: type[MissingRequiredFieldError]) -> MissingRequiredFieldError:
    with open_document(path) as stream, pytest.raises(error) as info:
        parse(stream)
    assert str(path) in str(info.value) and info.value.document is not None
    assert str(path) in info.value.document
    return info.value


def test_sales_and_traffic_report_without_a_required_field(simulator, clean_faults, tmp_path):
    client = reports_client(simulator)
    clean_faults.add("downloadReportDocument", "missing_field")
    bad = client.fetch(st_spec(16), tmp_path / "bad.gz")
    error = _refused(parse_sales_and_traffic, bad.path, SalesTrafficMissingFieldError)
    assert error.field == "salesByAsin.unitsOrdered"
    assert error.row.startswith("salesAndTrafficByAsin[") and f"{error.row}.salesByAsin.unitsOrdered" in str(
        error
    )
    again = client.fetch(st_spec(16), tmp_path / "good.gz", resume_report_id=bad.report_id)
    with open_document(again.path) as stream:
        assert len(parse_sales_and_traffic(stream).by_asin) > 0


def test_order_report_with_a_blank_key_value(simulator, clean_faults, tmp_path):
    client = reports_client(simulator)
    clean_faults.add("downloadReportDocument", "missing_field", field="sales-channel")
    bad = client.fetch(order_spec(6), tmp_path / "bad.gz")
    error = _refused(lambda s: list(iter_order_report_rows(s)), bad.path, OrderReportMissingFieldError)
    assert error.field == "sales-channel" and error.row == f"line {error.line}" and error.line > 2
    clean_faults.add("downloadReportDocument", "missing_field")  # the default: quantity
    bad = client.fetch(order_spec(6), tmp_path / "bad2.gz", resume_report_id=bad.report_id)
    assert _refused(
        lambda s: list(iter_order_report_rows(s)), bad.path, OrderReportMissingFieldError
    ).field == ("quantity")
    good = client.fetch(order_spec(6), tmp_path / "good.gz", resume_report_id=bad.report_id)
    with open_document(good.path) as stream:
        assert all(r["quantity"] is not None for r in iter_order_report_rows(stream))


def test_ads_report_row_without_a_column_the_marts_need(simulator, clean_faults, tmp_path):
    profiles = ads_client(simulator).list_profiles()
    profile_id = next(
        int(p["profileId"]) for p in profiles if p["accountInfo"]["marketplaceStringId"] == US.marketplace_id
    )
    day = utc_today() - timedelta(days=26)
    clean_faults.add("downloadAsyncReport", "missing_field")
    (bad,) = ads_client(simulator).fetch_sp_advertised_product(
        profile_id, day, day, lambda r: tmp_path / "b.gz"
    )
    error = _refused(lambda s: list(iter_sp_advertised_product_rows(s)), bad.path, AdsMissingFieldError)
    assert error.field == "impressions" and error.row.startswith("row ")
    (good,) = ads_client(simulator).fetch_sp_advertised_product(
        profile_id, day, day, lambda r: tmp_path / "g.gz"
    )
    with open_document(good.path) as stream:
        assert all(r["impressions"] is not None for r in iter_sp_advertised_product_rows(stream))


def test_data_kiosk_record_without_a_non_null_field(simulator, clean_faults, tmp_path):
    day = datetime.now(UTC).date() - timedelta(days=11)
    client = DataKioskClient(
        sp_http(simulator),
        poll_initial_seconds=0.05,
        poll_max_seconds=0.5,
        poll_timeout_seconds=120,
        reuse=False,
    )
    query = sales_traffic_by_date_query(day, day, [US.marketplace_id])
    clean_faults.add("downloadDataKioskDocument", "missing_field")
    bad = client.fetch(query, tmp_path / "bad.jsonl")
    error = _refused(
        lambda s: list(iter_data_kiosk_sales_traffic(s, "by_date")), bad.path, SalesTrafficMissingFieldError
    )
    assert error.field == "sales.unitsOrdered" and error.row == "line 1"
    good = client.fetch(query, tmp_path / "good.jsonl")
    with open_document(good.path) as stream:
        assert [r["units_ordered"] is not None for r in iter_data_kiosk_sales_traffic(stream, "by_date")] == [
            True
        ]
