"""Hosts of Login With Amazon, SP-API and the Ads API per region; the simulator layout.

Endpoints are configuration, one setting per host on top of a layout (``ENDPOINT_SETTINGS``): a
``simulator_url`` points every host at the local simulator, otherwise the production hosts; then each host
can be overridden one by one (also on top of the simulator layout). ``AmazonEndpoints.from_settings`` builds
them from those settings (what ``defs.resources.AmazonApiResource`` does with its fields);
``AmazonEndpoints.from_env()`` reads the same settings from their environment variables:
``CHALKOLA_AMAZON_SIMULATOR``, ``CHALKOLA_SP_LWA_TOKEN_URL``, ``CHALKOLA_ADS_LWA_TOKEN_URL_{NA,EU,FE}``,
``CHALKOLA_SP_API_URL_{NA,EU,FE}``, ``CHALKOLA_ADS_API_URL_{NA,EU,FE}``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from chalkola_pipelines.marketplaces import REGIONS, Region

SIMULATOR_ENV = "CHALKOLA_AMAZON_SIMULATOR"
DEFAULT_READ_TIMEOUT_SECONDS = 60.0

#: setting name (an ``AmazonApiResource`` field) → the environment variable that configures it.
ENDPOINT_SETTINGS: Mapping[str, str] = MappingProxyType(
    {
        "simulator_url": SIMULATOR_ENV,
        "simulator_time_scale": "CHALKOLA_AMAZON_SIMULATOR_TIME_SCALE",
        "http_read_timeout_seconds": "CHALKOLA_HTTP_READ_TIMEOUT_SECONDS",
        "sp_lwa_token_url": "CHALKOLA_SP_LWA_TOKEN_URL",
        **{f"ads_lwa_token_url_{r}": f"CHALKOLA_ADS_LWA_TOKEN_URL_{r.upper()}" for r in REGIONS},
        **{f"sp_api_url_{r}": f"CHALKOLA_SP_API_URL_{r.upper()}" for r in REGIONS},
        **{f"ads_api_url_{r}": f"CHALKOLA_ADS_API_URL_{r.upper()}" for r in REGIONS},
    }
)

_PROD_SP_LWA = "https://api.amazon.com/auth/o2/token"
_PROD_ADS_LWA: dict[Region, str] = {
    "na": "https://api.amazon.com/auth/o2/token",
    "eu": "https://api.amazon.co.uk/auth/o2/token",
    "fe": "https://api.amazon.co.jp/auth/o2/token",
}
_PROD_SP: dict[Region, str] = {r: f"https://sellingpartnerapi-{r}.amazon.com" for r in REGIONS}
_PROD_ADS: dict[Region, str] = {
    "na": "https://advertising-api.amazon.com",
    "eu": "https://advertising-api-eu.amazon.com",
    "fe": "https://advertising-api-fe.amazon.com",
}


def _frozen(mapping: Mapping[Region, str]) -> Mapping[Region, str]:
    return MappingProxyType({r: str(v).rstrip("/") for r, v in mapping.items()})


@dataclass(frozen=True)
class AmazonEndpoints:
    """Base URLs (no trailing slash) of every Amazon host the pipeline talks to."""

    sp_lwa_token_url: str
    ads_lwa_token_urls: Mapping[Region, str] = field(hash=False)
    sp_api_base_urls: Mapping[Region, str] = field(hash=False)
    ads_api_base_urls: Mapping[Region, str] = field(hash=False)
    #: how much faster than real time the other side's clock runs (the simulator's time scale; 1 for Amazon).
    #: Per-seller quotas that no response header announces are paced by it.
    quota_time_scale: float = 1.0
    #: how long a response may take to arrive (httpx read timeout; a slower one is retried as a transport error)
    read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        for name in ("ads_lwa_token_urls", "sp_api_base_urls", "ads_api_base_urls"):
            value = getattr(self, name)
            missing = [r for r in REGIONS if r not in value]
            if missing:
                raise ValueError(f"AmazonEndpoints.{name} lacks region(s) {missing}")
            object.__setattr__(self, name, _frozen(value))

    @classmethod
    def production(cls) -> AmazonEndpoints:
        """Amazon's production hosts."""
        return cls(_PROD_SP_LWA, _PROD_ADS_LWA, _PROD_SP, _PROD_ADS)

    @classmethod
    def simulator(cls, base_url: str, time_scale: float = 1.0) -> AmazonEndpoints:
        """Every host on the local simulator at ``base_url`` (e.g. ``http://127.0.0.1:8765``)."""
        base = base_url.rstrip("/")
        return cls(
            sp_lwa_token_url=f"{base}/lwa/na/auth/o2/token",
            ads_lwa_token_urls={r: f"{base}/lwa/{r}/auth/o2/token" for r in REGIONS},
            sp_api_base_urls={r: f"{base}/sp/{r}" for r in REGIONS},
            ads_api_base_urls={r: f"{base}/ads/{r}" for r in REGIONS},
            quota_time_scale=time_scale,
        )

    @classmethod
    def from_settings(cls, settings: Mapping[str, str | None]) -> AmazonEndpoints:
        """``simulator_url`` → simulator layout, else production; then every per-host setting that is set.

        ``settings`` is keyed by the names of ``ENDPOINT_SETTINGS``; a missing, empty or blank value means
        "not set"."""
        unknown = sorted(set(settings) - set(ENDPOINT_SETTINGS))
        if unknown:
            raise ValueError(f"unknown endpoint setting(s) {unknown}; known: {sorted(ENDPOINT_SETTINGS)}")

        def setting(name: str) -> str:
            return (settings.get(name) or "").strip()

        sim = setting("simulator_url")
        scale = setting("simulator_time_scale")
        try:
            time_scale = float(scale) if scale else 1.0
        except ValueError:
            raise ValueError(f"simulator_time_scale must be a number, not {scale!r}") from None
        base = cls.simulator(sim, time_scale) if sim else cls.production()
        timeout = setting("http_read_timeout_seconds")
        try:
            read_timeout = float(timeout) if timeout else DEFAULT_READ_TIMEOUT_SECONDS
        except ValueError:
            read_timeout = -1.0
        if not read_timeout > 0:
            raise ValueError(
                f"http_read_timeout_seconds must be a positive number of seconds, not {timeout!r}"
            )

        def regional(prefix: str, current: Mapping[Region, str]) -> dict[Region, str]:
            return {r: setting(f"{prefix}_{r}") or current[r] for r in REGIONS}

        return cls(
            sp_lwa_token_url=(setting("sp_lwa_token_url") or base.sp_lwa_token_url).rstrip("/"),
            ads_lwa_token_urls=regional("ads_lwa_token_url", base.ads_lwa_token_urls),
            sp_api_base_urls=regional("sp_api_url", base.sp_api_base_urls),
            ads_api_base_urls=regional("ads_api_url", base.ads_api_base_urls),
            quota_time_scale=base.quota_time_scale,
            read_timeout_seconds=read_timeout,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> AmazonEndpoints:
        """``from_settings`` with each setting read from its environment variable (``ENDPOINT_SETTINGS``)."""
        return cls.from_settings({name: environ.get(var) for name, var in ENDPOINT_SETTINGS.items()})

    @property
    def is_simulator(self) -> bool:
        """True when the SP-API LWA host is not Amazon's (a simulator or a test double)."""
        return self.sp_lwa_token_url != _PROD_SP_LWA
