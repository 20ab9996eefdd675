"""Pure Amazon clients (LWA, SP-API incl. Data Kiosk, Ads API): no Dagster, no warehouse, no simulator imports.

Typical use::

    from chalkola_pipelines.amazon import (
        AmazonEndpoints, SpReportsClient, ReportSpec, sp_credentials_from_env, sp_http_client,
    )
    http = sp_http_client("eu", sp_credentials_from_env("eu"), endpoints=AmazonEndpoints.from_env())
    result = SpReportsClient(http).fetch(spec, dest=lambda report_id: landing / f"{report_id}.gz")
"""

from chalkola_pipelines.amazon.ads import (
    AdsClient,
    AdsReportResult,
    profile_marketplace,
    profiles_by_marketplace,
)
from chalkola_pipelines.amazon.client_factories import ads_http_client, sp_http_client
from chalkola_pipelines.amazon.credentials import (
    LwaCredentials,
    ads_credentials_from_env,
    sp_credentials_from_env,
)
from chalkola_pipelines.amazon.data_kiosk import DataKioskClient, DataKioskResult, data_kiosk_client
from chalkola_pipelines.amazon.data_kiosk_queries import (
    DataKioskQuery,
    sales_traffic_by_asin_query,
    sales_traffic_by_date_query,
    sales_traffic_trends_queries,
)
from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
from chalkola_pipelines.amazon.errors import (
    AdsReportFailedError,
    AdsReportFormatError,
    AdsRetentionError,
    AmazonApiError,
    AmazonAuthError,
    AmazonError,
    DataKioskAccessDeniedError,
    DataKioskQueryFatalError,
    DocumentCorruptError,
    DocumentExpiredError,
    OrderReportFormatError,
    ReportFatalError,
    ReportTimeoutError,
    SalesTrafficFormatError,
)
from chalkola_pipelines.amazon.lwa import LwaTokenProvider
from chalkola_pipelines.amazon.retries import RetryPolicy
from chalkola_pipelines.amazon.sp_orders import SpOrdersClient
from chalkola_pipelines.amazon.sp_reports import ReportResult, ReportSpec, SpReportsClient
from chalkola_pipelines.amazon.token_buckets import InMemoryRateLimiter, RateLimiter
from chalkola_pipelines.amazon.transport import AmazonHttpClient

__all__ = [
    "AdsClient",
    "AdsReportFailedError",
    "AdsReportFormatError",
    "AdsReportResult",
    "AdsRetentionError",
    "AmazonApiError",
    "AmazonAuthError",
    "AmazonEndpoints",
    "AmazonError",
    "AmazonHttpClient",
    "DataKioskAccessDeniedError",
    "DataKioskClient",
    "DataKioskQuery",
    "DataKioskQueryFatalError",
    "DataKioskResult",
    "DocumentCorruptError",
    "DocumentExpiredError",
    "InMemoryRateLimiter",
    "LwaCredentials",
    "LwaTokenProvider",
    "OrderReportFormatError",
    "RateLimiter",
    "ReportFatalError",
    "ReportResult",
    "ReportSpec",
    "ReportTimeoutError",
    "RetryPolicy",
    "SalesTrafficFormatError",
    "SpOrdersClient",
    "SpReportsClient",
    "ads_credentials_from_env",
    "ads_http_client",
    "data_kiosk_client",
    "profile_marketplace",
    "profiles_by_marketplace",
    "sales_traffic_by_asin_query",
    "sales_traffic_by_date_query",
    "sales_traffic_trends_queries",
    "sp_credentials_from_env",
    "sp_http_client",
]
