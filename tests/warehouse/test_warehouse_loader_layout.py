"""The loaders COPY what the parsers produce, column for column (these were import-time asserts in
``warehouse/loaders.py``)."""

from __future__ import annotations

from chalkola_pipelines.amazon.parsers import ads_report, orders_report
from chalkola_pipelines.warehouse import loaders


def test_the_order_parsers_csv_follows_the_table() -> None:
    assert loaders.ORDER_ITEM_COLUMNS == orders_report.CSV_COLUMNS


def test_the_ads_parsers_row_tuples_follow_the_catalogue_report_date_first() -> None:
    assert loaders._ADS_FIELD_COLUMNS[0] == "report_date"
    assert loaders._ADS_FIELD_COLUMNS == ads_report.COLUMN_NAMES
