"""The loaders COPY what the parsers produce, column for column (these were import-time asserts)."""

from __future__ import annotations

from chalkola_pipelines.amazon.parsers.ads_report import ROW_KEYS as ADS_PARSER_ROW_KEYS
from chalkola_pipelines.warehouse import ads_tables


def test_the_ads_parsers_row_tuples_follow_the_catalogue_report_date_first() -> None:
    assert ads_tables._ADS_FIELD_COLUMNS[0] == "report_date"
    assert ads_tables._ADS_FIELD_COLUMNS == ADS_PARSER_ROW_KEYS
