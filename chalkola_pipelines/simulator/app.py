"""The simulator's HTTP side: LWA, SP-API (Reports, Orders v0, Sellers), Ads (profiles, reporting v3),
presigned document downloads and the /_simulator control routes, all under one base URL.

Layout: ``/lwa/{region}/auth/o2/token``, ``/sp/{region}/<official path>`` (Reports, Orders, Sellers, Data
Kiosk), ``/ads/{region}/<official path>``, ``/_documents/{sp|ads|dk}/{key}?X-Amz-…`` (no auth headers, like
S3), ``/_simulator/faults``, ``/_simulator/data-kiosk`` (Brand Analytics role), ``/_simulator/quotas``, ``/_simulator/stats`` (calls by operation and status).
Every API request goes through the same steps: injected request faults, authentication, the usage-plan
token bucket, the handler; then the headers the official models declare for that status code.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from chalkola_pipelines.simulator.api_ads import (
    create_async_report,
    delete_async_report,
    get_async_report,
    list_profiles,
)
from chalkola_pipelines.simulator.api_control import (
    advance_route,
    data_kiosk_route,
    faults_route,
    health_route,
    quotas_route,
    stats_route,
)
from chalkola_pipelines.simulator.api_data_kiosk import (
    cancel_query,
    create_query,
    download_dk_document,
    get_document,
    get_queries,
    get_query,
)
from chalkola_pipelines.simulator.api_downloads import download_document
from chalkola_pipelines.simulator.api_lwa import lwa_token
from chalkola_pipelines.simulator.api_pipeline import KeepRawSend, endpoint
from chalkola_pipelines.simulator.api_sp_orders import (
    get_marketplace_participations,
    get_order_items,
    get_orders,
)
from chalkola_pipelines.simulator.api_sp_reports import (
    cancel_report,
    create_report,
    get_report,
    get_report_document,
    get_reports,
)
from chalkola_pipelines.simulator.state import SimulatorState


def create_app(state: SimulatorState) -> ASGIApp:
    """The Starlette application serving every route of the simulator for ``state``."""
    sp = "/sp/{region}"
    ads = "/ads/{region}"
    dk = "/sp/{region}/dataKiosk/2023-11-15"
    ba = "sp-brand-analytics"
    routes = [
        Route("/lwa/{region}/auth/o2/token", endpoint("lwa", "lwaToken", lwa_token), methods=["POST"]),
        Route(f"{sp}/reports/2021-06-30/reports", endpoint("sp", "createReport", create_report, auth="sp"), methods=["POST"]),
        Route(f"{sp}/reports/2021-06-30/reports", endpoint("sp", "getReports", get_reports, auth="sp"), methods=["GET"]),
        Route(f"{sp}/reports/2021-06-30/reports/{{reportId}}", endpoint("sp", "getReport", get_report, auth="sp"), methods=["GET"]),
        Route(f"{sp}/reports/2021-06-30/reports/{{reportId}}", endpoint("sp", "cancelReport", cancel_report, auth="sp"), methods=["DELETE"]),
        Route(f"{sp}/reports/2021-06-30/documents/{{reportDocumentId}}", endpoint("sp", "getReportDocument", get_report_document, auth="sp"), methods=["GET"]),
        Route(f"{sp}/orders/v0/orders", endpoint("sp", "getOrders", get_orders, auth="sp"), methods=["GET"]),
        Route(f"{sp}/orders/v0/orders/{{orderId}}/orderItems", endpoint("sp", "getOrderItems", get_order_items, auth="sp"), methods=["GET"]),
        Route(f"{sp}/sellers/v1/marketplaceParticipations", endpoint("sp", "getMarketplaceParticipations", get_marketplace_participations, auth="sp"), methods=["GET"]),
        Route(f"{dk}/queries", endpoint("sp", "createQuery", create_query, auth=ba), methods=["POST"]),
        Route(f"{dk}/queries", endpoint("sp", "getQueries", get_queries, auth=ba), methods=["GET"]),
        Route(f"{dk}/queries/{{queryId}}", endpoint("sp", "getQuery", get_query, auth=ba), methods=["GET"]),
        Route(f"{dk}/queries/{{queryId}}", endpoint("sp", "cancelQuery", cancel_query, auth=ba), methods=["DELETE"]),
        Route(f"{dk}/documents/{{documentId}}", endpoint("sp", "getDocument", get_document, auth=ba), methods=["GET"]),
        Route(f"{ads}/v2/profiles", endpoint("ads", "listProfiles", list_profiles, auth="ads"), methods=["GET"]),
        Route(f"{ads}/reporting/reports", endpoint("ads", "createAsyncReport", create_async_report, auth="ads-scope"), methods=["POST"]),
        Route(f"{ads}/reporting/reports/{{reportId}}", endpoint("ads", "getAsyncReport", get_async_report, auth="ads-scope"), methods=["GET"]),
        Route(f"{ads}/reporting/reports/{{reportId}}", endpoint("ads", "deleteAsyncReport", delete_async_report, auth="ads-scope"), methods=["DELETE"]),
        Route("/_documents/sp/{key}", endpoint("download", "downloadReportDocument", download_document), methods=["GET"]),
        Route("/_documents/ads/{key}", endpoint("download", "downloadAsyncReport", download_document), methods=["GET"]),
        Route("/_documents/dk/{key}", endpoint("download", "downloadDataKioskDocument", download_dk_document), methods=["GET"]),
        Route("/_simulator/faults", faults_route, methods=["GET", "POST", "DELETE"]),
        Route("/_simulator/data-kiosk", data_kiosk_route, methods=["GET", "POST"]),
        Route("/_simulator/quotas", quotas_route, methods=["GET", "POST", "DELETE"]),
        Route("/_simulator/health", health_route, methods=["GET"]),
        Route("/_simulator/stats", stats_route, methods=["GET", "DELETE"]),
        Route("/_simulator/clock/advance", advance_route, methods=["POST"]),
    ]  # fmt: skip
    app = Starlette(routes=routes)
    app.state.simulator = state
    return KeepRawSend(app)
