"""Bad configuration → one clear line and a non-zero exit, never a traceback.

``one_line(exc)`` turns the errors a wrong setting produces (unknown marketplace, a history start before the
partitions' start or older than Amazon keeps, a missing refresh token, a malformed or unreachable
``DATABASE_URL``) into one line naming the setting and the fix, with any password masked; None for anything
else (a bug, which keeps its traceback). ``chalkola`` (cli.py) prints it and exits with ``EXIT_CONFIG``.
``check_amazon_settings`` validates, before anything is launched, what a run would otherwise only discover
after it started (so no run is left behind by a bad setting); ``check_lwa_credentials`` asks Login With Amazon
for a token with each credential set the marketplaces need, so that a wrong client id / secret / refresh token
is named by ``chalkola setup`` rather than by the first night's runs.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping

from chalkola_pipelines.marketplaces import Marketplace

EXIT_CONFIG = 2


class ConfigurationError(ValueError):
    """A setting cannot be used; the message (one line) names it and says what to do."""


def _mask(text: str, environ: Mapping[str, str]) -> str:
    from urllib.parse import urlsplit

    for name in ("DATABASE_URL", "DAGSTER_PG_URL"):
        url = (environ.get(name) or "").strip()
        try:
            password = urlsplit(url).password if url else None
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "***")
    return text


def one_line(exc: BaseException, environ: Mapping[str, str] = os.environ) -> str | None:
    """The one-line message for a configuration error, or None if ``exc`` is not one."""
    import psycopg

    from chalkola_pipelines.amazon.errors import AmazonAuthError
    from chalkola_pipelines.dbt_env import DbtEnvError
    from chalkola_pipelines.defs.partitions import MARKETPLACES_ENV, PartitionConfigError
    from chalkola_pipelines.defs.resources import MissingCredentialError
    from chalkola_pipelines.marketplaces import UnknownMarketplaceError
    from chalkola_pipelines.warehouse.postgres import DatabaseConfigError, mask_url_password

    if isinstance(exc, UnknownMarketplaceError):
        message = (
            f"{MARKETPLACES_ENV}: {exc} Fix the list (comma separated), e.g. {MARKETPLACES_ENV}=US,UK,DE."
        )
    elif isinstance(exc, ConfigurationError | PartitionConfigError | DatabaseConfigError | DbtEnvError):
        message = str(exc)
    elif isinstance(exc, MissingCredentialError):
        message = exc.description or str(exc)
    elif isinstance(exc, AmazonAuthError) and exc.code:
        message = str(exc)  # Login With Amazon refused a credential: the message names its variable
    elif isinstance(exc, psycopg.OperationalError):
        url = (environ.get("DATABASE_URL") or "").strip()
        where = f"DATABASE_URL={mask_url_password(url)}" if url else "the embedded PostgreSQL"
        reason = " ".join(str(exc).split())
        message = (
            f"cannot connect to {where}: {reason}. Check host, port, user and password in DATABASE_URL "
            "(or unset it to use the embedded server)."
        )
    elif isinstance(exc, ValueError) and "DATABASE_URL" in str(exc):
        message = str(exc)
    else:
        return None
    return _mask(" ".join(message.split()), environ)


def check_history_window(first: dt.date, partitions_start: dt.date, what: str) -> None:
    """A run or backfill may not start before the partitions do (they start at ``CHALKOLA_START_DATE`` or 24
    months back, what Amazon keeps)."""
    from chalkola_pipelines.defs.partitions import START_DATE_ENV

    if first < partitions_start:
        raise ConfigurationError(
            f"{what} starts on {first}, before the partitions' start {partitions_start} ({START_DATE_ENV}, at "
            f"most 24 months back: what Amazon keeps): start on {partitions_start} or later."
        )


def check_amazon_settings(
    marketplaces: Iterable[Marketplace], environ: Mapping[str, str] = os.environ
) -> None:
    """Every configured marketplace's region has an SP-API refresh token, and the SP-API app credentials are
    set (checked before anything is launched: a run would fail on them only after it started)."""
    from chalkola_pipelines.defs.resources import REGION_NAMES, SP_SECRET_ENV, SP_TOKEN_ENV

    missing_app = [name for name in SP_SECRET_ENV if not (environ.get(name) or "").strip()]
    if missing_app:
        raise ConfigurationError(
            f"{' and '.join(missing_app)} not set: add the SP-API app's LWA credentials to the environment "
            "(see .env.example)."
        )
    for mkt in marketplaces:
        name = SP_TOKEN_ENV[mkt.region]
        if not (environ.get(name) or "").strip():
            raise ConfigurationError(
                f"Marketplace {mkt.code} is in region {mkt.region.upper()} but {name} is not set: add the "
                f"seller's SP-API refresh token for {REGION_NAMES[mkt.region]} (or remove {mkt.code} from "
                "CHALKOLA_MARKETPLACES)."
            )


def check_lwa_credentials(
    marketplaces: Iterable[Marketplace], environ: Mapping[str, str] = os.environ
) -> list[str]:
    """One access token per credential set the marketplaces use (SP-API: each marketplace's region; Ads API:
    each of those regions with an ``ADS_REFRESH_TOKEN_*``), from the configured LWA hosts. A refusal raises
    ``AmazonAuthError`` naming the variable(s) and the fix; returns warnings (LWA could not be reached, or a
    set is incomplete). Nothing is called for a set whose variables are not all set."""
    from chalkola_pipelines.amazon.client_factories import ads_http_client, sp_http_client
    from chalkola_pipelines.amazon.credentials import ads_credentials_from_env, sp_credentials_from_env
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
    from chalkola_pipelines.amazon.errors import AmazonAuthError
    from chalkola_pipelines.defs.resources import ADS_SECRET_ENV, ADS_TOKEN_ENV, SP_SECRET_ENV, SP_TOKEN_ENV

    def present(*names: str) -> bool:
        return all((environ.get(n) or "").strip() for n in names)

    endpoints = AmazonEndpoints.from_env(environ)
    warnings: list[str] = []
    for region in sorted({m.region for m in marketplaces}):
        for api, names, credentials, factory in (
            ("sp", (*SP_SECRET_ENV, SP_TOKEN_ENV[region]), sp_credentials_from_env, sp_http_client),
            ("ads", (*ADS_SECRET_ENV, ADS_TOKEN_ENV[region]), ads_credentials_from_env, ads_http_client),
        ):
            if not present(*names):
                continue  # SP: check_amazon_settings names what is missing; Ads: a region may have no ads
            http = factory(region, credentials(region, environ), endpoints=endpoints)
            try:
                http.tokens.access_token()
            except AmazonAuthError as exc:
                if exc.code:
                    raise
                what = "SP-API" if api == "sp" else "Ads API"
                warnings.append(f"could not check the {what} credentials of {region.upper()}: {exc}")
            finally:
                http.close()
    return warnings
