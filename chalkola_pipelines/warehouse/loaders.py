"""The warehouse loaders, by their historical names (one module per table family since issue 6).

- :mod:`warehouse.partition_copy`: the COPY encoding, the partition lock and the replace transaction;
- :mod:`warehouse.sales_traffic_tables`, :mod:`warehouse.order_tables`, :mod:`warehouse.ads_tables`:
  each table family's layout and loads; :mod:`warehouse.order_lines`: the order-item placement rule;
- :mod:`warehouse.partition_queries`: what the loaded partitions hold.
"""

from __future__ import annotations

from chalkola_pipelines.warehouse.ads_tables import (
    ADS_PROFILE_COLUMNS,
    ADS_PROFILES_TABLE,
    ADS_SP_ADVERTISED_PRODUCT_COLUMNS,
    ADS_SP_ADVERTISED_PRODUCT_TABLE,
    replace_ads_advertised_product,
    upsert_ads_profiles,
)
from chalkola_pipelines.warehouse.order_tables import (
    ORDER_ITEM_COLUMNS,
    ORDER_ITEMS_TABLE,
    replace_order_items,
)
from chalkola_pipelines.warehouse.partition_copy import PartitionCounts, WarehouseLoadError
from chalkola_pipelines.warehouse.sales_traffic_tables import (
    ST_BY_ASIN_COLUMNS,
    ST_BY_ASIN_TABLE,
    ST_BY_DATE_COLUMNS,
    ST_BY_DATE_TABLE,
    replace_sales_traffic_day,
)

__all__ = [
    "ADS_PROFILES_TABLE",
    "ADS_PROFILE_COLUMNS",
    "ADS_SP_ADVERTISED_PRODUCT_COLUMNS",
    "ADS_SP_ADVERTISED_PRODUCT_TABLE",
    "ORDER_ITEMS_TABLE",
    "ORDER_ITEM_COLUMNS",
    "ST_BY_ASIN_COLUMNS",
    "ST_BY_ASIN_TABLE",
    "ST_BY_DATE_COLUMNS",
    "ST_BY_DATE_TABLE",
    "PartitionCounts",
    "WarehouseLoadError",
    "replace_ads_advertised_product",
    "replace_order_items",
    "replace_sales_traffic_day",
    "upsert_ads_profiles",
]
