"""Layout facts the parsers' fast paths rely on (these were import-time asserts in the parser modules).

``operator.attrgetter`` of several names returns a tuple but of one name a bare value, so the fast paths
need more than one money / decimal field where they use one; the section and column orders are the ones
the row builders index into.
"""

from __future__ import annotations

from chalkola_pipelines.amazon.parsers import ads_report
from chalkola_pipelines.amazon.parsers import sales_traffic as st
from chalkola_pipelines.amazon.report_columns import SP_ADVERTISED_PRODUCT_COLUMNS


def test_sales_traffic_sections_come_in_the_order_the_parser_reads_them() -> None:
    assert list(st._BY_DATE_SECTIONS) == ["salesByDate", "trafficByDate"]
    assert list(st._BY_ASIN_SECTIONS) == ["salesByAsin", "trafficByAsin"]


def test_sales_sections_have_several_money_fields_and_traffic_by_asin_none() -> None:
    assert all(len(s.money) > 1 for s in (st._SALES_BY_DATE, st._SALES_BY_ASIN))
    assert not st._TRAFFIC_BY_ASIN.money


def test_ads_report_has_several_decimal_columns_and_date_first() -> None:
    assert len(ads_report._DECIMAL_NAMES) > 1
    assert SP_ADVERTISED_PRODUCT_COLUMNS[0].name == "date"
