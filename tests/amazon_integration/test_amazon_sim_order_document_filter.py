"""Order documents reach disk without buyer personal data: filtered while downloading, private files."""

from __future__ import annotations

import gzip
import io
import stat

import pytest
from amazon_sim_clients import reports_client

from chalkola_pipelines.amazon.errors import DocumentCorruptError
from chalkola_pipelines.amazon.parsers.orders_report import iter_order_report_rows
from chalkola_pipelines.amazon.sp_reports import ReportSpec
from chalkola_pipelines.marketplaces import get_marketplace

pytestmark = pytest.mark.integration

PERSONAL = (b"ship-city", b"ship-postal-code", b"cpf")


def _spec(days: int) -> ReportSpec:
    import datetime as dt

    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=days)
    return ReportSpec(
        report_type="GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        marketplace_ids=(get_marketplace("US").marketplace_id,),
        data_start_time=end - dt.timedelta(days=2),
        data_end_time=end,
    )


def test_order_document_is_archived_without_buyer_address_columns(simulator, clean_faults, tmp_path):
    result = reports_client(simulator).fetch(_spec(5), tmp_path / "orders.gz")
    assert result.status == "DONE" and result.compression == "GZIP"
    text = gzip.decompress(result.path.read_bytes())
    header = text.split(b"\n", 1)[0].split(b"\t")
    for column in PERSONAL:
        assert column not in header
    assert b"SIMTOWN" not in text and b"SIM-" not in text  # the simulator's city and postal code values
    assert b"ship-state" in header and b"ship-country" in header
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    rows = list(iter_order_report_rows(io.BytesIO(text)))
    assert rows and all(
        r["ship_state"] and r["ship_country"] for r in rows if r["sales_channel"] != "Non-Amazon"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["orders.gz"]  # no .part left


def test_corrupt_order_document_is_not_archived(simulator, clean_faults, tmp_path):
    clean_faults.add("downloadReportDocument", "corrupt_gzip", count=1)
    with pytest.raises(DocumentCorruptError, match="orders.gz"):
        reports_client(simulator).fetch(_spec(6), tmp_path / "orders.gz")
    assert list(tmp_path.iterdir()) == []
