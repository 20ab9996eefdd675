"""Dagster resources: Amazon API credentials (EnvVar secrets) and endpoints, and the warehouse (Postgres +
landing + limiter).

Secrets are ``EnvVar``s: Dagster stores the variable *name* in run config, never the value, and the fields
are excluded from ``repr``. Regional refresh tokens are optional (a seller may sell in one region only):
``build_resources`` wires an ``EnvVar`` for each variable that is set when the definitions load, and a
marketplace whose region has no token fails with one line naming the missing variable. The Amazon hosts are
resource fields too (``simulator_url`` and per-host overrides, unset = Amazon's production hosts), wired the
same way from ``CHALKOLA_AMAZON_SIMULATOR`` and friends (``amazon.endpoints.ENDPOINT_SETTINGS``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import psycopg
from pydantic import Field, PrivateAttr

from chalkola_pipelines.marketplaces import REGIONS, Marketplace, Region

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.ads import AdsClient
    from chalkola_pipelines.amazon.credentials import LwaCredentials
    from chalkola_pipelines.amazon.data_kiosk import DataKioskClient
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
    from chalkola_pipelines.amazon.sp_reports import SpReportsClient
    from chalkola_pipelines.amazon.token_buckets import RateLimiter
    from chalkola_pipelines.warehouse.landing import LandingStore
    from chalkola_pipelines.warehouse.ledger import ReportLedger

SP_SECRET_ENV = ("SP_LWA_CLIENT_ID", "SP_LWA_CLIENT_SECRET")
ADS_SECRET_ENV = ("ADS_CLIENT_ID", "ADS_CLIENT_SECRET")
SP_TOKEN_ENV: Mapping[Region, str] = {r: f"SP_REFRESH_TOKEN_{r.upper()}" for r in REGIONS}
ADS_TOKEN_ENV: Mapping[Region, str] = {r: f"ADS_REFRESH_TOKEN_{r.upper()}" for r in REGIONS}
SALES_TRAFFIC_SOURCES = ("auto", "data_kiosk", "reports")
REGION_NAMES: Mapping[Region, str] = {"na": "North America", "eu": "Europe", "fe": "Far East"}


class ConfigurationFailure(dg.Failure):
    """A setting is missing or wrong; the description names it and the fix (never retried)."""

    def __init__(self, description: str) -> None:
        super().__init__(description=description, allow_retries=False)

    def __str__(self) -> str:
        return self.description or ""


class MissingCredentialError(ConfigurationFailure):
    """A credential the run needs is not configured; the description names the variable."""


def _secret(description: str) -> Any:
    return Field(default=None, repr=False, description=description)


def _host(description: str) -> Any:
    return Field(default=None, description=f"{description}; unset → the simulator layout or Amazon's host")


class AmazonApiResource(dg.ConfigurableResource):
    """LWA credentials of the SP-API app and the Ads API app, one refresh token per region.

    Endpoints are fields: unset, every host is Amazon's production host; ``simulator_url`` points every
    host at the local simulator; each per-host field overrides one host (on top of either layout). Clients
    are created per run and closed by the context managers below.
    """

    sp_lwa_client_id: str | None = _secret("SP-API LWA client id (SP_LWA_CLIENT_ID)")
    sp_lwa_client_secret: str | None = _secret("SP-API LWA client secret (SP_LWA_CLIENT_SECRET)")
    sp_refresh_token_na: str | None = _secret("SP-API refresh token, North America (SP_REFRESH_TOKEN_NA)")
    sp_refresh_token_eu: str | None = _secret("SP-API refresh token, Europe (SP_REFRESH_TOKEN_EU)")
    sp_refresh_token_fe: str | None = _secret("SP-API refresh token, Far East (SP_REFRESH_TOKEN_FE)")
    ads_client_id: str | None = _secret("Ads API LWA client id (ADS_CLIENT_ID)")
    ads_client_secret: str | None = _secret("Ads API LWA client secret (ADS_CLIENT_SECRET)")
    ads_refresh_token_na: str | None = _secret("Ads API refresh token, North America (ADS_REFRESH_TOKEN_NA)")
    ads_refresh_token_eu: str | None = _secret("Ads API refresh token, Europe (ADS_REFRESH_TOKEN_EU)")
    ads_refresh_token_fe: str | None = _secret("Ads API refresh token, Far East (ADS_REFRESH_TOKEN_FE)")
    simulator_url: str | None = Field(
        default=None,
        description="Local Amazon simulator base URL (CHALKOLA_AMAZON_SIMULATOR): every host points at it; "
        "unset → Amazon's production hosts",
    )
    simulator_time_scale: str | None = Field(
        default=None,
        description="The simulator's time scale (CHALKOLA_AMAZON_SIMULATOR_TIME_SCALE): per-seller quotas that "
        "no response header announces (the S&T report's 4 an hour) are paced at its speed; only with simulator_url",
    )
    http_read_timeout_seconds: str | None = Field(
        default=None,
        description="How long an Amazon response may take (CHALKOLA_HTTP_READ_TIMEOUT_SECONDS, default 60); a "
        "slower one is retried like a connection error",
    )
    sp_lwa_token_url: str | None = _host("SP-API LWA token URL (CHALKOLA_SP_LWA_TOKEN_URL)")
    ads_lwa_token_url_na: str | None = _host("Ads API LWA token URL, NA (CHALKOLA_ADS_LWA_TOKEN_URL_NA)")
    ads_lwa_token_url_eu: str | None = _host("Ads API LWA token URL, EU (CHALKOLA_ADS_LWA_TOKEN_URL_EU)")
    ads_lwa_token_url_fe: str | None = _host("Ads API LWA token URL, FE (CHALKOLA_ADS_LWA_TOKEN_URL_FE)")
    sp_api_url_na: str | None = _host("SP-API base URL, NA (CHALKOLA_SP_API_URL_NA)")
    sp_api_url_eu: str | None = _host("SP-API base URL, EU (CHALKOLA_SP_API_URL_EU)")
    sp_api_url_fe: str | None = _host("SP-API base URL, FE (CHALKOLA_SP_API_URL_FE)")
    ads_api_url_na: str | None = _host("Ads API base URL, NA (CHALKOLA_ADS_API_URL_NA)")
    ads_api_url_eu: str | None = _host("Ads API base URL, EU (CHALKOLA_ADS_API_URL_EU)")
    ads_api_url_fe: str | None = _host("Ads API base URL, FE (CHALKOLA_ADS_API_URL_FE)")
    sp_report_poll_seconds: float = Field(
        default=1.0, description="First getReport polling interval (grows ×1.5 up to 60 s)"
    )
    data_kiosk_poll_seconds: float = Field(
        default=10.0, description="First getQuery polling interval (grows ×1.5 up to 15 s)"
    )
    sales_traffic_source: str = Field(
        default="auto",
        description="Where sales & traffic comes from (CHALKOLA_SALES_TRAFFIC_SOURCE): auto (Data Kiosk, falling "
        "back to the S&T report when the app lacks the Brand Analytics role), data_kiosk, or reports",
    )
    ads_report_poll_seconds: float = Field(
        default=5.0, description="First getAsyncReport polling interval (grows ×1.5 up to 120 s)"
    )
    # the longest polling intervals (CHALKOLA_*_POLL_MAX_SECONDS; benchmarks on a faster simulated clock
    # scale them with the clock, as they scale the first intervals)
    sp_report_poll_max_seconds: float = Field(default=60.0, description="Longest getReport polling interval")
    data_kiosk_poll_max_seconds: float = Field(default=15.0, description="Longest getQuery polling interval")
    ads_report_poll_max_seconds: float = Field(
        default=120.0, description="Longest getAsyncReport polling interval"
    )

    # -- credentials
    def sp_credentials(self, marketplace: Marketplace) -> LwaCredentials:
        """SP-API credentials for the marketplace's region, or a one-line error naming what is missing."""
        from chalkola_pipelines.amazon.credentials import LwaCredentials

        region = marketplace.region
        token = getattr(self, f"sp_refresh_token_{region}")
        if not token:
            raise MissingCredentialError(
                f"Marketplace {marketplace.code} is in region {region.upper()} but {SP_TOKEN_ENV[region]} is not "
                f"set: add the seller's SP-API refresh token for {REGION_NAMES[region]} to the environment "
                f"(or remove {marketplace.code} from CHALKOLA_MARKETPLACES), then reload the code location."
            )
        self._require(("sp_lwa_client_id", "sp_lwa_client_secret"), SP_SECRET_ENV, "SP-API")
        return LwaCredentials(self.sp_lwa_client_id or "", self.sp_lwa_client_secret or "", token)

    def ads_regions(self) -> list[Region]:
        """Regions that have an Ads API refresh token configured."""
        return [r for r in REGIONS if getattr(self, f"ads_refresh_token_{r}")]

    def ads_credentials(self, region: Region, marketplace: Marketplace | None = None) -> LwaCredentials:
        """Ads API credentials for a region, or a one-line error naming what is missing."""
        from chalkola_pipelines.amazon.credentials import LwaCredentials

        token = getattr(self, f"ads_refresh_token_{region}")
        if not token:
            who = (
                f"Marketplace {marketplace.code} is in region {region.upper()}"
                if marketplace
                else (f"Region {region.upper()} was requested")
            )
            raise MissingCredentialError(
                f"{who} but {ADS_TOKEN_ENV[region]} is not set: add the seller's Ads API refresh token for "
                f"{REGION_NAMES[region]} to the environment, then reload the code location."
            )
        self._require(("ads_client_id", "ads_client_secret"), ADS_SECRET_ENV, "Ads API")
        return LwaCredentials(self.ads_client_id or "", self.ads_client_secret or "", token)

    def _require(self, fields: tuple[str, ...], names: tuple[str, ...], api: str) -> None:
        missing = [name for attr, name in zip(fields, names, strict=True) if not getattr(self, attr)]
        if missing:
            raise MissingCredentialError(
                f"{api} app credentials are not configured: set {' and '.join(missing)} in the environment, "
                "then reload the code location."
            )

    # -- clients
    def endpoints(self) -> AmazonEndpoints:
        """The hosts this resource is configured for (see the class docstring)."""
        from chalkola_pipelines.amazon.endpoints import ENDPOINT_SETTINGS, AmazonEndpoints

        return AmazonEndpoints.from_settings({name: getattr(self, name) for name in ENDPOINT_SETTINGS})

    @contextlib.contextmanager
    def sp_reports_client(
        self, marketplace: Marketplace, rate_limiter: RateLimiter | None = None
    ) -> Iterator[SpReportsClient]:
        """An SP-API Reports client for the marketplace's region (closed on exit)."""
        from chalkola_pipelines.amazon.client_factories import sp_http_client
        from chalkola_pipelines.amazon.sp_reports import SpReportsClient

        credentials = self.sp_credentials(marketplace)
        http = sp_http_client(
            marketplace.region, credentials, endpoints=self.endpoints(), rate_limiter=rate_limiter
        )
        try:
            yield SpReportsClient(
                http,
                poll_initial_seconds=self.sp_report_poll_seconds,
                poll_max_seconds=self.sp_report_poll_max_seconds,
            )
        finally:
            http.close()

    @contextlib.contextmanager
    def data_kiosk_client(
        self, marketplace: Marketplace, rate_limiter: RateLimiter | None = None
    ) -> Iterator[DataKioskClient]:
        """A Data Kiosk client for the marketplace's region (closed on exit)."""
        from chalkola_pipelines.amazon.data_kiosk import data_kiosk_client

        client = data_kiosk_client(
            marketplace.region,
            self.sp_credentials(marketplace),
            endpoints=self.endpoints(),
            rate_limiter=rate_limiter,
            poll_initial_seconds=self.data_kiosk_poll_seconds,
            poll_max_seconds=self.data_kiosk_poll_max_seconds,
        )
        try:
            yield client
        finally:
            client.http.close()

    def sales_traffic_source_setting(self) -> str:
        """``auto`` | ``data_kiosk`` | ``reports``, or one line naming the setting and its values."""
        value = (self.sales_traffic_source or "auto").strip().lower()
        if value not in SALES_TRAFFIC_SOURCES:
            raise ConfigurationFailure(
                f"CHALKOLA_SALES_TRAFFIC_SOURCE={self.sales_traffic_source!r} is not one of "
                f"{', '.join(SALES_TRAFFIC_SOURCES)}: set it to auto (the default), data_kiosk or reports."
            )
        return value

    @contextlib.contextmanager
    def ads_client(
        self, region: Region, rate_limiter: RateLimiter | None = None, marketplace: Marketplace | None = None
    ) -> Iterator[AdsClient]:
        """An Ads API client for one region (closed on exit)."""
        from chalkola_pipelines.amazon.ads import AdsClient
        from chalkola_pipelines.amazon.client_factories import ads_http_client

        credentials = self.ads_credentials(region, marketplace)
        http = ads_http_client(region, credentials, endpoints=self.endpoints(), rate_limiter=rate_limiter)
        try:
            yield AdsClient(
                http,
                poll_initial_seconds=self.ads_report_poll_seconds,
                poll_max_seconds=self.ads_report_poll_max_seconds,
            )
        finally:
            http.close()


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse Postgres (``DATABASE_URL`` or the embedded server), the landing store and the shared
    rate limiter. The URL may carry a password: it is never logged (``postgres.mask_url_password``)."""

    database_url: str | None = _secret("Warehouse URL (DATABASE_URL); unset → the embedded PostgreSQL")
    landing_dir: str | None = Field(
        default=None,
        description="Where report documents are archived (default CHALKOLA_LANDING_DIR / .chalkola)",
    )
    rate_limit_namespace: str = Field(
        default="default",
        description="Rate-limit buckets are shared by every run with the same namespace (one per seller account)",
    )
    _url: str | None = PrivateAttr(default=None)

    def url(self) -> str:
        """The warehouse URL (``postgresql://…``); starts the embedded server when no URL is configured.

        On first use in a process the versioned DDL is applied (idempotent, guarded by an advisory lock), so a
        fresh deployment never runs against a missing schema."""
        if self._url is None:
            from chalkola_pipelines.warehouse.migrations import apply_migrations
            from chalkola_pipelines.warehouse.postgres import connect, database_url, normalize_url

            url = normalize_url(self.database_url) if self.database_url else database_url()
            with connect(url) as conn:
                apply_migrations(conn)
            self._url = url
        return self._url

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection:
        """A new psycopg connection (pooler-safe: no server-side prepared statements).

        Autocommit by default: the loaders open their own ``conn.transaction()`` per partition replace, and
        no transaction stays open while a run waits for Amazon."""
        from chalkola_pipelines.warehouse.postgres import connect

        return connect(self.url(), autocommit=autocommit)

    def ledger(self) -> ReportLedger:
        from chalkola_pipelines.warehouse.ledger import ReportLedger

        return ReportLedger(self.connect)

    def landing(self) -> LandingStore:
        from chalkola_pipelines.settings import landing_dir
        from chalkola_pipelines.warehouse.landing import LandingStore

        return LandingStore(Path(self.landing_dir) if self.landing_dir else landing_dir())

    def rate_limiter(self) -> RateLimiter:
        """The Postgres-backed limiter shared by every run (and machine) of this seller."""
        from chalkola_pipelines.warehouse.shared_rate_limiter import PostgresRateLimiter

        return PostgresRateLimiter(self.url(), namespace=self.rate_limit_namespace)


def _env_var_if_set(name: str, environ: Mapping[str, str]) -> dg.EnvVar | None:
    return dg.EnvVar(name) if (environ.get(name) or "").strip() else None


def build_amazon_resource(environ: Mapping[str, str] = os.environ) -> AmazonApiResource:
    """``AmazonApiResource`` with an ``EnvVar`` for every credential and endpoint variable that is set
    (values are read by Dagster when a run starts, never here)."""
    from chalkola_pipelines.amazon.endpoints import ENDPOINT_SETTINGS

    fields: dict[str, Any] = {}
    for name in (*SP_SECRET_ENV, *ADS_SECRET_ENV, *SP_TOKEN_ENV.values(), *ADS_TOKEN_ENV.values()):
        fields[name.lower()] = _env_var_if_set(name, environ)
    for attr, name in ENDPOINT_SETTINGS.items():
        fields[attr] = _env_var_if_set(name, environ)
    if (source := _env_var_if_set("CHALKOLA_SALES_TRAFFIC_SOURCE", environ)) is not None:
        fields["sales_traffic_source"] = source
    for name, attr in (("CHALKOLA_SP_REPORT_POLL_SECONDS", "sp_report_poll_seconds"),
                       ("CHALKOLA_DATA_KIOSK_POLL_SECONDS", "data_kiosk_poll_seconds"),
                       ("CHALKOLA_ADS_REPORT_POLL_SECONDS", "ads_report_poll_seconds"),
                       ("CHALKOLA_SP_REPORT_POLL_MAX_SECONDS", "sp_report_poll_max_seconds"),
                       ("CHALKOLA_DATA_KIOSK_POLL_MAX_SECONDS", "data_kiosk_poll_max_seconds"),
                       ("CHALKOLA_ADS_REPORT_POLL_MAX_SECONDS", "ads_report_poll_max_seconds")):  # fmt: skip
        value = (environ.get(name) or "").strip()
        if value:
            try:
                fields[attr] = float(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} is not a number of seconds") from None
    return AmazonApiResource(**{k: v for k, v in fields.items() if v is not None})


def build_warehouse_resource(environ: Mapping[str, str] = os.environ) -> WarehouseResource:
    """``WarehouseResource`` on ``DATABASE_URL`` (EnvVar) when set, else the embedded server."""
    kwargs: dict[str, Any] = {}
    if (url := _env_var_if_set("DATABASE_URL", environ)) is not None:
        kwargs["database_url"] = url
    if (landing := _env_var_if_set("CHALKOLA_LANDING_DIR", environ)) is not None:
        kwargs["landing_dir"] = landing
    if (namespace := _env_var_if_set("CHALKOLA_RATE_LIMIT_NAMESPACE", environ)) is not None:
        kwargs["rate_limit_namespace"] = namespace
    return WarehouseResource(**kwargs)
