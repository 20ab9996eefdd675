"""LWA credential sets, read from the environment, never shown.

Environment variables (one app for SP-API, one for the Ads API, one refresh token per region):
``SP_LWA_CLIENT_ID``, ``SP_LWA_CLIENT_SECRET``, ``SP_REFRESH_TOKEN_{NA,EU,FE}``,
``ADS_CLIENT_ID``, ``ADS_CLIENT_SECRET``, ``ADS_REFRESH_TOKEN_{NA,EU,FE}``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from chalkola_pipelines.amazon.errors import AmazonAuthError
from chalkola_pipelines.marketplaces import Region

REDACTED = "***"


@dataclass(frozen=True)
class LwaCredentials:
    """An LWA app (client id + secret) and a seller's refresh token. repr/str never show the secrets."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)

    def __repr__(self) -> str:
        return f"LwaCredentials(client_id={self.client_id!r}, client_secret='{REDACTED}', refresh_token='{REDACTED}')"

    __str__ = __repr__

    def secrets(self) -> tuple[str, ...]:
        """The secret values, for redaction filters."""
        return tuple(s for s in (self.client_secret, self.refresh_token) if s)


def _required(environ: Mapping[str, str], name: str, what: str) -> str:
    value = (environ.get(name) or "").strip()
    if not value:
        raise AmazonAuthError(
            f"{what} is not configured: set the environment variable {name} "
            "(see README: Amazon credentials). Nothing was called."
        )
    return value


def sp_credentials_from_env(region: Region, environ: Mapping[str, str] = os.environ) -> LwaCredentials:
    """SP-API credentials for ``region`` from ``SP_LWA_CLIENT_ID/SECRET`` and ``SP_REFRESH_TOKEN_<REGION>``."""
    r = region.upper()
    return LwaCredentials(
        client_id=_required(environ, "SP_LWA_CLIENT_ID", "SP-API LWA client id"),
        client_secret=_required(environ, "SP_LWA_CLIENT_SECRET", "SP-API LWA client secret"),
        refresh_token=_required(environ, f"SP_REFRESH_TOKEN_{r}", f"SP-API {r} refresh token"),
    )


def ads_credentials_from_env(region: Region, environ: Mapping[str, str] = os.environ) -> LwaCredentials:
    """Ads API credentials for ``region`` from ``ADS_CLIENT_ID/SECRET`` and ``ADS_REFRESH_TOKEN_<REGION>``."""
    r = region.upper()
    return LwaCredentials(
        client_id=_required(environ, "ADS_CLIENT_ID", "Ads API LWA client id"),
        client_secret=_required(environ, "ADS_CLIENT_SECRET", "Ads API LWA client secret"),
        refresh_token=_required(environ, f"ADS_REFRESH_TOKEN_{r}", f"Ads API {r} refresh token"),
    )
