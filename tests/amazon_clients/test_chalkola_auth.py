"""`chalkola auth`: consent URLs and steps per region, and the authorization-code exchange against the simulator's
Login with Amazon over real HTTP (its authorization_code grant), with the Brand Analytics role check on Data Kiosk.
Each demo code is single-use, as Amazon's: every test redeems its own."""

from __future__ import annotations

import stat
from urllib.parse import parse_qs, urlsplit

import pytest

from chalkola_pipelines.cli import main
from chalkola_pipelines.simulator.credentials import (
    DEMO_ADS_CLIENT_ID,
    DEMO_AUTHORIZATION_CODES,
    DEMO_REDIRECT_URI,
    DEMO_REFRESH_TOKENS,
    DEMO_SP_CLIENT_SECRET,
)

pytestmark = pytest.mark.integration


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["auth", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_url_prints_self_authorisation_steps_and_consent_urls(simulator_env, capsys, monkeypatch) -> None:
    code, out, _ = _run(capsys, "url", "--api", "sp", "--region", "eu")
    assert code == 0
    assert "https://sellercentral.amazon.co.uk" in out and "Develop Apps" in out
    assert "Set SP_REFRESH_TOKEN_EU" in out and "SP_APP_ID" in out

    monkeypatch.setenv("SP_APP_ID", "amzn1.sp.solution.0123-abcd")
    code, out, _ = _run(capsys, "url", "--api", "sp", "--region", "fe", "--state", "s-123", "--draft")
    assert code == 0
    assert (
        "https://sellercentral.amazon.co.jp/apps/authorize/consent?"
        "application_id=amzn1.sp.solution.0123-abcd&state=s-123&version=beta"
    ) in out

    code, out, _ = _run(capsys, "url", "--api", "ads", "--region", "eu")
    assert code == 0
    url = next(line.strip() for line in out.splitlines() if "/ap/oa?" in line)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.netloc == "eu.account.amazon.com"
    assert query["client_id"] == DEMO_ADS_CLIENT_ID and query["scope"] == "advertising::campaign_management"
    assert query["response_type"] == "code" and query["redirect_uri"] == DEMO_REDIRECT_URI
    assert len(query["state"]) >= 24 and f"state: {query['state']}" in out


def test_exchange_from_the_redirect_url_prints_the_variable_and_checks_the_role(
    simulator_env, capsys
) -> None:
    sp_code = DEMO_AUTHORIZATION_CODES["sp"]["eu"]
    redirect = f"{DEMO_REDIRECT_URI}?spapi_oauth_code={sp_code}&state=st-1&selling_partner_id=A1B2C3"
    code, out, _ = _run(
        capsys, "exchange", "--api", "sp", "--region", "eu", "--redirect-url", redirect, "--state", "st-1"
    )
    assert code == 0, out
    assert f"SP_REFRESH_TOKEN_EU={DEMO_REFRESH_TOKENS['sp']['eu']}" in out.splitlines()
    assert "Brand Analytics role (Data Kiosk): granted" in out

    # Amazon's codes are single-use: the same code again is refused, with what to do
    code, out, err = _run(capsys, "exchange", "--api", "sp", "--region", "eu", "--code", sp_code)
    assert code == 2 and "single-use" in err and "Authorise again" in err


def test_exchange_reports_a_missing_brand_analytics_role(simulator_env, capsys) -> None:
    simulator_env.state.brand_analytics = False
    try:
        code, out, _ = _run(
            capsys,
            "exchange",
            "--api",
            "sp",
            "--region",
            "fe",
            "--code",
            DEMO_AUTHORIZATION_CODES["sp"]["fe"],
        )
    finally:
        simulator_env.state.brand_analytics = True
    assert code == 0
    assert "SP_REFRESH_TOKEN_FE=" in out
    assert "Brand Analytics role (Data Kiosk): missing" in out and "Edit App" in out


def test_ads_exchange_writes_the_env_file_and_prints_no_token(simulator_env, capsys, tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ADS_REFRESH_TOKEN_NA=old\nOTHER=1\n")
    code, out, _ = _run(
        capsys, "exchange", "--api", "ads", "--region", "na", "--code", DEMO_AUTHORIZATION_CODES["ads"]["na"],
        "--redirect-uri", DEMO_REDIRECT_URI, "--env-file", str(env_file),
    )  # fmt: skip
    assert code == 0, out
    token = DEMO_REFRESH_TOKENS["ads"]["na"]
    assert token not in out and "written to" in out and "ADS_REFRESH_TOKEN_NA" in out
    assert env_file.read_text() == f"OTHER=1\nADS_REFRESH_TOKEN_NA={token}\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "Brand Analytics" not in out  # an SP-API role


def test_refusals_name_the_setting_never_the_secret(simulator_env, capsys, monkeypatch) -> None:
    redirect = f"{DEMO_REDIRECT_URI}?code={DEMO_AUTHORIZATION_CODES['ads']['eu']}&state=theirs"
    code, _, err = _run(
        capsys, "exchange", "--api", "ads", "--region", "eu", "--redirect-url", redirect, "--state", "ours"
    )
    assert code == 2 and "state" in err and "do not use this code" in err

    code, _, err = _run(
        capsys, "exchange", "--api", "sp", "--region", "na", "--code", DEMO_AUTHORIZATION_CODES["sp"]["na"],
        "--redirect-uri", "https://elsewhere.example/cb",
    )  # fmt: skip
    assert code == 2 and "registered redirect URI" in err

    monkeypatch.setenv("SP_LWA_CLIENT_SECRET", "amzn1.oa2-cs.v1.wrong-secret-value")
    code, out, err = _run(capsys, "exchange", "--api", "sp", "--region", "na", "--code", "ANsomething")
    assert code == 2 and "SP_LWA_CLIENT_ID and SP_LWA_CLIENT_SECRET" in err
    assert "wrong-secret-value" not in out + err and DEMO_SP_CLIENT_SECRET not in out + err

    monkeypatch.delenv("SP_LWA_CLIENT_ID")
    code, _, err = _run(capsys, "exchange", "--api", "sp", "--region", "na", "--code", "ANsomething")
    assert code == 2 and "SP_LWA_CLIENT_ID is not set" in err
