"""Demo credentials accepted by the simulator, and the environment that points the pipeline at it.

These are not secrets: they only open the local simulator. They follow Amazon's formats
(``amzn1.application-oa2-client.…`` client ids, ``Atzr|…`` refresh tokens).
"""

from __future__ import annotations

from chalkola_pipelines.marketplaces import REGIONS

DEMO_SP_CLIENT_ID = "amzn1.application-oa2-client.chalkolasimulatorsp0000000001"
DEMO_SP_CLIENT_SECRET = "amzn1.oa2-cs.v1.chalkola-simulator-sp-demo-secret"
DEMO_ADS_CLIENT_ID = "amzn1.application-oa2-client.chalkolasimulatorads000000001"
DEMO_ADS_CLIENT_SECRET = "amzn1.oa2-cs.v1.chalkola-simulator-ads-demo-secret"

#: api ("sp" | "ads") → region → refresh token.
DEMO_REFRESH_TOKENS: dict[str, dict[str, str]] = {
    api: {region: f"Atzr|chalkola-simulator-{api}-{region}-demo-refresh-token" for region in REGIONS}
    for api in ("sp", "ads")
}

#: api → region → the authorization code the simulator's LWA exchanges for that region's refresh token (what
#: Amazon's consent page hands the redirect URI as ``spapi_oauth_code`` / ``code``; single-use there and here).
DEMO_AUTHORIZATION_CODES: dict[str, dict[str, str]] = {
    api: {region: f"ANchalkolaSimulator{api.upper()}{region.upper()}AuthorizationCode" for region in REGIONS}
    for api in ("sp", "ads")
}
#: the redirect URI the demo apps are registered with (an authorization_code grant must name the same one)
DEMO_REDIRECT_URI = "https://localhost/chalkola/amazon-consent"

#: client id → (client secret, api)
DEMO_CLIENTS: dict[str, tuple[str, str]] = {
    DEMO_SP_CLIENT_ID: (DEMO_SP_CLIENT_SECRET, "sp"),
    DEMO_ADS_CLIENT_ID: (DEMO_ADS_CLIENT_SECRET, "ads"),
}


def simulator_environment(base_url: str, time_scale: float | None = None) -> dict[str, str]:
    """Environment variables (the pipeline's real names) pointing every endpoint at the simulator; with its
    ``time_scale`` so that per-seller quotas no header announces are paced at the simulator's speed."""
    env = {
        "CHALKOLA_AMAZON_SIMULATOR": base_url.rstrip("/"),
        "SP_LWA_CLIENT_ID": DEMO_SP_CLIENT_ID,
        "SP_LWA_CLIENT_SECRET": DEMO_SP_CLIENT_SECRET,
        "ADS_CLIENT_ID": DEMO_ADS_CLIENT_ID,
        "ADS_CLIENT_SECRET": DEMO_ADS_CLIENT_SECRET,
    }
    for region in REGIONS:
        env[f"SP_REFRESH_TOKEN_{region.upper()}"] = DEMO_REFRESH_TOKENS["sp"][region]
        env[f"ADS_REFRESH_TOKEN_{region.upper()}"] = DEMO_REFRESH_TOKENS["ads"][region]
    if time_scale is not None:
        env["CHALKOLA_AMAZON_SIMULATOR_TIME_SCALE"] = repr(float(time_scale))
    return env
