"""Parsers of Amazon report documents: binary stream in (see ``amazon.documents``), typed rows out."""

from chalkola_pipelines.amazon.parsers.ads_report import (
    SpAdvertisedProductRows,
    iter_sp_advertised_product_rows,
)
from chalkola_pipelines.amazon.parsers.data_kiosk_sales_traffic import (
    DataKioskSalesTrafficRows,
    iter_data_kiosk_sales_traffic,
    sales_traffic_documents,
)
from chalkola_pipelines.amazon.parsers.orders_report import iter_order_report_rows
from chalkola_pipelines.amazon.parsers.sales_traffic import SalesTrafficDocument, parse_sales_and_traffic

__all__ = [
    "DataKioskSalesTrafficRows",
    "SalesTrafficDocument",
    "SpAdvertisedProductRows",
    "iter_data_kiosk_sales_traffic",
    "iter_order_report_rows",
    "iter_sp_advertised_product_rows",
    "parse_sales_and_traffic",
    "sales_traffic_documents",
]
