"""The seller's authorisation, per Amazon region: consent URLs, the authorization-code exchange, the role check.

- SP-API: a private (self-authorised) app gets its refresh token in Seller Central (Apps and Services → Develop
  Apps → Authorize) — steps printed by ``self_authorization_steps``. An app with a website workflow sends the
  seller to ``https://sellercentral.<domain>/apps/authorize/consent?application_id=…&state=…`` (``&version=beta``
  while the app is a draft); Amazon redirects to the app's redirect URI with ``spapi_oauth_code``, ``state`` and
  ``selling_partner_id``.
- Ads API: Login with Amazon's grant page for the region (``www.amazon.com`` / ``eu.account.amazon.com`` /
  ``apac.account.amazon.com`` ``/ap/oa``, scope ``advertising::campaign_management``), redirecting with ``code``.
- Either code is exchanged once (it is single-use and short-lived) at the region's LWA token endpoint with
  ``grant_type=authorization_code`` for a refresh token; for SP-API the new token is then used once against Data
  Kiosk to tell whether the app has the Brand Analytics role (403 without it: sales & traffic falls back to
  reports).

No value of a secret is logged; ``ExchangeResult`` hides the refresh token from ``repr``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
from chalkola_pipelines.config_errors import ConfigurationError
from chalkola_pipelines.marketplaces import REGIONS, Marketplace, Region

Api = Literal["sp", "ads"]
ADS_GRANT_HOSTS: dict[Region, str] = {
    "na": "https://www.amazon.com",
    "eu": "https://eu.account.amazon.com",
    "fe": "https://apac.account.amazon.com",
}
ADS_SCOPE = "advertising::campaign_management"
DEFAULT_SP_MARKETPLACE: dict[Region, str] = {"na": "US", "eu": "UK", "fe": "JP"}
DATA_KIOSK_QUERIES = "/dataKiosk/2023-11-15/queries"


def client_env(api: Api) -> tuple[str, str]:
    """The environment variables of the app's LWA client id and secret."""
    return (
        ("SP_LWA_CLIENT_ID", "SP_LWA_CLIENT_SECRET")
        if api == "sp"
        else ("ADS_CLIENT_ID", "ADS_CLIENT_SECRET")
    )


def refresh_token_env(api: Api, region: Region) -> str:
    """The environment variable the pipeline reads the region's refresh token from."""
    return f"{'SP' if api == 'sp' else 'ADS'}_REFRESH_TOKEN_{region.upper()}"


def new_state() -> str:
    """A random ``state`` value: the redirect must bring the same one back (CSRF protection)."""
    return secrets.token_urlsafe(24)


def seller_central_url(marketplace: Marketplace) -> str:
    """``https://sellercentral.amazon.com`` for US, ``…amazon.co.uk`` for UK, ``…amazon.co.jp`` for JP, …"""
    domain = marketplace.sales_channel.lower()  # "amazon.co.uk"
    return f"https://sellercentral.{domain}"


def sp_consent_url(marketplace: Marketplace, application_id: str, state: str, *, draft: bool = False) -> str:
    """The website-workflow consent page of the marketplace's Seller Central for the SP-API app."""
    params = {"application_id": application_id, "state": state, **({"version": "beta"} if draft else {})}
    return f"{seller_central_url(marketplace)}/apps/authorize/consent?{urlencode(params)}"


def ads_consent_url(region: Region, client_id: str, redirect_uri: str, state: str) -> str:
    """Login with Amazon's grant page of the region for the Ads API scope."""
    params = {
        "client_id": client_id,
        "scope": ADS_SCOPE,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"{ADS_GRANT_HOSTS[region]}/ap/oa?{urlencode(params)}"


def self_authorization_steps(marketplace: Marketplace, region: Region) -> list[str]:
    """What a seller does in Seller Central to self-authorise a private SP-API app for one region."""
    return [
        f"Sign in to {seller_central_url(marketplace)} with the seller account of region {region.upper()}.",
        "Apps and Services → Develop Apps; next to your app, Authorize → Authorize app.",
        "Copy the refresh token Amazon shows (Atzr|…; it is shown once).",
        f"Set {refresh_token_env('sp', region)} to it (e.g. in .env), then run `chalkola setup` to check it.",
    ]


def code_from_redirect(url: str) -> tuple[str | None, str | None]:
    """(code, state) from the URL the browser was redirected to (SP-API: ``spapi_oauth_code``; Ads: ``code``)."""
    query = parse_qs(urlsplit(url).query)
    code = (query.get("spapi_oauth_code") or query.get("code") or [None])[0]
    state = (query.get("state") or [None])[0]
    return code, state


@dataclass(frozen=True)
class ExchangeResult:
    api: Api
    region: Region
    refresh_token: str = field(repr=False)
    access_token: str = field(repr=False)

    @property
    def env_var(self) -> str:
        return refresh_token_env(self.api, self.region)


def token_url(endpoints: AmazonEndpoints, api: Api, region: Region) -> str:
    return endpoints.sp_lwa_token_url if api == "sp" else endpoints.ads_lwa_token_urls[region]


def exchange_code(
    api: Api,
    region: Region,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
    endpoints: AmazonEndpoints,
    *,
    client: httpx.Client | None = None,
) -> ExchangeResult:
    """``grant_type=authorization_code`` at the region's LWA endpoint → the refresh token (one attempt: a code
    is single-use, a retry after a lost answer would be refused anyway)."""
    if region not in REGIONS:
        raise ConfigurationError(f"--region {region}: use one of {', '.join(REGIONS)}.")
    id_env, secret_env = client_env(api)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    http = client or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
    try:
        response = http.post(token_url(endpoints, api, region), data=form)
    except httpx.HTTPError as exc:
        raise ConfigurationError(
            f"Login with Amazon could not be reached ({type(exc).__name__}); check the network and retry "
            "with a new code."
        ) from None
    finally:
        if client is None:
            http.close()
    if response.status_code == 200:
        body = response.json()
        token = str(body.get("refresh_token") or "")
        if not token:
            raise ConfigurationError(
                "Login with Amazon answered without a refresh token; retry with a new code."
            )
        return ExchangeResult(api, region, token, str(body.get("access_token") or ""))
    error = _lwa_error(response)
    if error == "invalid_client":
        raise ConfigurationError(
            f"Login with Amazon refused the app's credentials: check {id_env} and {secret_env}."
        )
    if error == "invalid_grant":
        raise ConfigurationError(
            "Login with Amazon refused the authorization code: it is single-use and expires within minutes, "
            "and --redirect-uri must be the app's registered redirect URI. Authorise again and exchange the new "
            "code at once."
        )
    raise ConfigurationError(
        f"Login with Amazon answered HTTP {response.status_code} ({error or 'no error code'})."
    )


def _lwa_error(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("error") or "") or None
    except ValueError:
        return None


RoleCheck = Literal["granted", "missing", "unknown"]


def brand_analytics_role(
    result: ExchangeResult, endpoints: AmazonEndpoints, *, client: httpx.Client | None = None
) -> tuple[RoleCheck, str]:
    """Whether the SP-API app may call Data Kiosk (the Brand Analytics role), with the new access token."""
    url = endpoints.sp_api_base_urls[result.region] + DATA_KIOSK_QUERIES
    http = client or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
    try:
        response = http.get(url, headers={"x-amz-access-token": result.access_token})
    except httpx.HTTPError as exc:
        return "unknown", f"Data Kiosk could not be reached ({type(exc).__name__})"
    finally:
        if client is None:
            http.close()
    if response.status_code == 200:
        return (
            "granted",
            "Data Kiosk answers: sales & traffic comes from Data Kiosk (a few queries per region)",
        )
    if response.status_code == 403:
        return "missing", (
            "Data Kiosk answers 403: the app lacks the Brand Analytics role. Sales & traffic will use one report "
            "per marketplace-day (metered per seller). Add the role to the app (Developer Central → your app → "
            "Edit App → Brand Analytics), then authorise again."
        )
    return "unknown", f"Data Kiosk answered HTTP {response.status_code}"
