"""`chalkola auth url|exchange`: the authorisation a seller still has to do per Amazon region (amazon/authorization.py).

    chalkola auth url --api sp --region eu [--marketplace DE]     # self-authorisation steps (+ consent URL if SP_APP_ID)
    chalkola auth url --api ads --region eu --redirect-uri URI    # the Ads consent URL with a fresh state
    chalkola auth exchange --api sp --region eu --redirect-url 'https://…?spapi_oauth_code=…&state=…' --state S
    chalkola auth exchange --api ads --region na --code CODE --redirect-uri URI [--env-file .env]

The app's client id and secret come from the environment (SP_LWA_CLIENT_ID / SP_LWA_CLIENT_SECRET,
ADS_CLIENT_ID / ADS_CLIENT_SECRET); Amazon's endpoints from the same settings as the pipeline (the simulator's with
CHALKOLA_AMAZON_SIMULATOR). The refresh token goes to stdout as ``NAME=value`` — or, with ``--env-file``, into that
file (the value then is not printed) — and nowhere else.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from chalkola_pipelines.marketplaces import REGIONS, Region, get_marketplace

if TYPE_CHECKING:
    from chalkola_pipelines.amazon.authorization import Api

REDIRECT_ENV = "CHALKOLA_AUTH_REDIRECT_URI"
APP_ID_ENV = "SP_APP_ID"


def register(sub: argparse._SubParsersAction) -> None:
    auth = sub.add_parser(
        "auth", help="authorise the seller's SP-API / Ads apps per region (consent, code exchange)"
    )
    commands = auth.add_subparsers(dest="auth_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--api", choices=("sp", "ads"), required=True)
        p.add_argument("--region", choices=REGIONS, required=True)
        p.add_argument(
            "--redirect-uri",
            default=None,
            help=f"the app's registered redirect URI (default ${REDIRECT_ENV})",
        )

    url = commands.add_parser("url", help="print the consent URL (with a fresh state) and the steps")
    common(url)
    url.add_argument("--marketplace", default=None, help="the Seller Central to use (default: US / UK / JP)")
    url.add_argument("--state", default=None, help="state value to use (default: a new random one)")
    url.add_argument("--draft", action="store_true", help="SP-API app still in draft: add version=beta")
    url.set_defaults(func=run_url)

    exchange = commands.add_parser("exchange", help="exchange an authorization code for a refresh token")
    common(exchange)
    given = exchange.add_mutually_exclusive_group(required=True)
    given.add_argument("--code", help="the code (spapi_oauth_code for SP-API, code for Ads)")
    given.add_argument("--redirect-url", help="the whole URL the browser was sent back to")
    exchange.add_argument(
        "--state", default=None, help="the state `auth url` printed: checked against the URL's"
    )
    exchange.add_argument(
        "--env-file", type=Path, default=None, help="write NAME=token into this file instead"
    )
    exchange.set_defaults(func=run_exchange)


def _redirect_uri(args: argparse.Namespace, required: bool) -> str | None:
    from chalkola_pipelines.config_errors import ConfigurationError

    value = args.redirect_uri or os.environ.get(REDIRECT_ENV) or None
    if value is None and os.environ.get("CHALKOLA_AMAZON_SIMULATOR"):
        from chalkola_pipelines.simulator.credentials import DEMO_REDIRECT_URI

        value = DEMO_REDIRECT_URI
    if required and not value:
        raise ConfigurationError(
            f"--redirect-uri is missing: give the redirect URI registered for the app (or set {REDIRECT_ENV})."
        )
    return value


def _client(api: str) -> tuple[str, str]:
    from chalkola_pipelines.amazon.authorization import client_env
    from chalkola_pipelines.config_errors import ConfigurationError

    names = client_env(cast("Api", api))
    values = [os.environ.get(name, "").strip() for name in names]
    for name, value in zip(names, values, strict=True):
        if not value:
            raise ConfigurationError(
                f"{name} is not set: set the app's LWA credentials ({names[0]}, {names[1]})."
            )
    return values[0], values[1]


def run_url(args: argparse.Namespace) -> int:
    from chalkola_pipelines.amazon import authorization as az

    region = cast(Region, args.region)
    state = args.state or az.new_state()
    if args.api == "sp":
        mkt = get_marketplace(args.marketplace or az.DEFAULT_SP_MARKETPLACE[region])
        print(f"SP-API, region {region.upper()} — a private app is self-authorised in Seller Central:")
        for i, line in enumerate(az.self_authorization_steps(mkt, region), 1):
            print(f"  {i}. {line}")
        app_id = os.environ.get(APP_ID_ENV, "").strip()
        if app_id:
            print("\nOr, with the website workflow, send the seller to:")
            print(f"  {az.sp_consent_url(mkt, app_id, state, draft=args.draft)}")
            _print_exchange_hint(args, state)
        else:
            print(f"\n(Website workflow: set {APP_ID_ENV}=amzn1.sp.solution.… to print its consent URL.)")
        return 0
    client_id, _ = _client("ads")
    redirect = _redirect_uri(args, required=True)
    print(f"Ads API, region {region.upper()} — open this URL signed in as the advertiser, and allow access:")
    print(f"  {az.ads_consent_url(region, client_id, str(redirect), state)}")
    _print_exchange_hint(args, state)
    return 0


def _print_exchange_hint(args: argparse.Namespace, state: str) -> None:
    print(f"\nstate: {state}")
    print("Amazon then redirects to your redirect URI with the code; within a few minutes run:")
    print(
        f"  chalkola auth exchange --api {args.api} --region {args.region} --state {state} --redirect-url '<that URL>'"
    )


def run_exchange(args: argparse.Namespace) -> int:
    from chalkola_pipelines.amazon import authorization as az
    from chalkola_pipelines.amazon.endpoints import AmazonEndpoints
    from chalkola_pipelines.config_errors import ConfigurationError

    code = args.code
    if args.redirect_url:
        code, returned_state = az.code_from_redirect(args.redirect_url)
        if not code:
            raise ConfigurationError(
                "--redirect-url has no spapi_oauth_code / code parameter: paste the whole URL."
            )
        if args.state and returned_state != args.state:
            raise ConfigurationError(
                "the redirect's state is not the one `chalkola auth url` printed: do not use this code; authorise again."
            )
    client_id, client_secret = _client(args.api)
    redirect = str(_redirect_uri(args, required=True))
    endpoints = AmazonEndpoints.from_env()
    result = az.exchange_code(
        cast("Api", args.api), cast(Region, args.region), code, redirect, client_id, client_secret, endpoints
    )
    api_name = "SP-API" if args.api == "sp" else "Ads API"
    if args.env_file:
        _write_env(args.env_file, result.env_var, result.refresh_token)
        print(
            f"{api_name} {args.region.upper()}: refresh token received and written to {args.env_file} as {result.env_var}."
        )
    else:
        print(
            f"{api_name} {args.region.upper()}: refresh token received. Set this environment variable (e.g. in .env):"
        )
        print(f"{result.env_var}={result.refresh_token}")
    if args.api == "sp":
        status, detail = az.brand_analytics_role(result, endpoints)
        print(f"Brand Analytics role (Data Kiosk): {status} — {detail}")
    return 0


def _write_env(path: Path, name: str, value: str) -> None:
    """Set ``name=value`` in a dotenv file (replacing an earlier line of that name), private to the user."""
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [line for line in lines if not line.startswith(f"{name}=")] + [f"{name}={value}"]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
