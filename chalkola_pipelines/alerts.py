"""Run-failure alerts: where they go (Slack incoming webhook, SMTP), what they say, and that they hold no secret.

Knows nothing of Dagster: ``defs/alert_sensor.py`` collects a failed run's facts into a :class:`RunFailure` and
calls :func:`send_alert`. Settings (read when an alert is sent, never logged):

- ``SLACK_WEBHOOK_URL``: a Slack incoming webhook (https://hooks.slack.com/services/…).
- ``ALERT_SMTP_HOST`` and ``ALERT_SMTP_TO`` (comma separated) turn on email; ``ALERT_SMTP_PORT`` (default 587),
  ``ALERT_SMTP_SECURITY`` (``starttls`` default, ``ssl`` or ``none``), ``ALERT_SMTP_USER`` /
  ``ALERT_SMTP_PASSWORD`` (login only when both are set), ``ALERT_SMTP_FROM`` (default the user, else
  ``chalkola@localhost``).
- ``CHALKOLA_UI_BASE_URL``: the Dagster UI the run link points at (default http://127.0.0.1:3000).

Every text that leaves is passed through :func:`redact`: values of secret-named environment variables, LWA
tokens and client secrets, bearer tokens, ``key=value`` secrets and URL passwords become ``***``.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

import httpx

REDACTED = "***"
DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"
SLACK_ENV = "SLACK_WEBHOOK_URL"
SMTP_HOST_ENV = "ALERT_SMTP_HOST"
SMTP_TO_ENV = "ALERT_SMTP_TO"
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|WEBHOOK|PRIVATE", re.I)
_URL_ENVS = ("DATABASE_URL", "DAGSTER_PG_URL")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Atz[ar]\|[A-Za-z0-9_\-|.=+/]+"), REDACTED),  # LWA refresh / access tokens
    (re.compile(r"amzn1\.oa2-cs\.v1\.[A-Za-z0-9]+"), REDACTED),  # LWA client secrets
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-.=+/|]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"https://hooks\.slack\.com/\S+"), REDACTED),
    (
        re.compile(
            r"""(?i)\b((?:client_)?secret|password|passwd|pwd|(?:refresh_|access_)?token|api_key|authorization)"""
            r"""(["']?\s*[:=]\s*["']?)([^\s"'&,;)}\]]+)"""
        ),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + REDACTED + "@"),  # URL passwords
)


def redact(text: str, environ: Mapping[str, str] = os.environ) -> str:
    """``text`` with every secret we can recognise replaced by ``***``."""
    from urllib.parse import urlsplit

    values = {v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v.strip()) >= 6}
    for name in _URL_ENVS:
        try:
            password = urlsplit(environ.get(name) or "").password
        except ValueError:
            password = None
        if password and len(password) >= 4:
            values.add(password)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value.strip(), REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class RunFailure:
    """What an operator needs to know about one failed run."""

    run_id: str
    job_name: str
    assets: Sequence[str]
    partitions: str  # "2026-11-20|US", "2026-11-20|US … 2026-11-26|US", or "" (unpartitioned)
    errors: Sequence[str]  # one line per failed step ("step: error"), or the run's failure message
    attempt: int = 1  # 2 for the first automatic retry, …
    tags: Mapping[str, str] = field(default_factory=dict)


def run_url(run_id: str, environ: Mapping[str, str] = os.environ) -> str:
    base = (environ.get("CHALKOLA_UI_BASE_URL") or DEFAULT_UI_BASE_URL).strip().rstrip("/")
    return f"{base}/runs/{run_id}"


def subject(failure: RunFailure) -> str:
    what = ", ".join(failure.assets) or failure.job_name
    where = f" [{failure.partitions}]" if failure.partitions else ""
    return f"chalkola: run failed: {what}{where}"


def body(failure: RunFailure, environ: Mapping[str, str] = os.environ) -> str:
    """The alert's plain text (Slack and email), redacted."""
    lines = [
        subject(failure),
        f"Job: {failure.job_name}  run {failure.run_id}"
        + (f"  (attempt {failure.attempt}, the last automatic retry)" if failure.attempt > 1 else ""),
        f"Assets: {', '.join(failure.assets) or '-'}",
        f"Partitions: {failure.partitions or '-'}",
    ]
    region = failure.tags.get("amazon/region")
    if region:
        lines.append(f"Region: {region}  API: {failure.tags.get('amazon/api', '-')}")
    lines.append("Error:")
    lines.extend(f"  {line}" for line in (failure.errors or ["(no error message recorded)"]))
    lines.append(f"Run in the Dagster UI: {run_url(failure.run_id, environ)}")
    return redact("\n".join(lines), environ)


class AlertDeliveryError(RuntimeError):
    """An alert channel refused or could not be reached; the message names it (never its URL or password)."""


def configured_channels(environ: Mapping[str, str] = os.environ) -> list[str]:
    """``slack`` and/or ``email``, from which settings are present."""
    channels = []
    if (environ.get(SLACK_ENV) or "").strip():
        channels.append("slack")
    if (environ.get(SMTP_HOST_ENV) or "").strip() and (environ.get(SMTP_TO_ENV) or "").strip():
        channels.append("email")
    return channels


def send_alert(failure: RunFailure, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Send the alert to every configured channel; return the channels that took it.

    Every channel is tried; AlertDeliveryError (one line per failed channel) when any refused.
    """
    text = body(failure, environ)
    sent, problems = [], []
    for channel in configured_channels(environ):
        try:
            if channel == "slack":
                _post_slack(environ[SLACK_ENV].strip(), text)
            else:
                _send_email(redact(subject(failure), environ), text, environ)
            sent.append(channel)
        except AlertDeliveryError as exc:
            problems.append(str(exc))
    if problems:
        raise AlertDeliveryError("; ".join(problems) + (f" (sent to {', '.join(sent)})" if sent else ""))
    return sent


def _post_slack(webhook_url: str, text: str) -> None:
    host = httpx.URL(webhook_url).host
    try:
        response = httpx.post(webhook_url, json={"text": text}, timeout=15.0)
    except httpx.HTTPError as exc:
        raise AlertDeliveryError(
            f"Slack webhook on {host} not reachable ({type(exc).__name__}); check {SLACK_ENV}"
        ) from None
    if response.status_code >= 300:
        raise AlertDeliveryError(
            f"Slack webhook on {host} answered HTTP {response.status_code} "
            f"{redact(response.text[:100])!r}; check {SLACK_ENV}"
        )


def _send_email(subject_line: str, text: str, environ: Mapping[str, str]) -> None:
    host = environ[SMTP_HOST_ENV].strip()
    security = (environ.get("ALERT_SMTP_SECURITY") or "starttls").strip().lower()
    if security not in ("starttls", "ssl", "none"):
        raise AlertDeliveryError(f"ALERT_SMTP_SECURITY={security!r}: use starttls, ssl or none")
    port_text = (environ.get("ALERT_SMTP_PORT") or ("465" if security == "ssl" else "587")).strip()
    if not port_text.isdigit():
        raise AlertDeliveryError(f"ALERT_SMTP_PORT={port_text!r} is not a port number")
    user = (environ.get("ALERT_SMTP_USER") or "").strip()
    password = environ.get("ALERT_SMTP_PASSWORD") or ""
    message = EmailMessage()
    message["Subject"] = subject_line
    message["From"] = (environ.get("ALERT_SMTP_FROM") or user or "chalkola@localhost").strip()
    message["To"] = ", ".join(a.strip() for a in environ[SMTP_TO_ENV].split(",") if a.strip())
    message.set_content(text)
    try:
        if security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, int(port_text), timeout=30, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, int(port_text), timeout=30)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if user and password:
                smtp.login(user, password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        detail = type(exc).__name__
        if isinstance(exc, smtplib.SMTPResponseException):
            detail += f" {exc.smtp_code}"
        raise AlertDeliveryError(
            f"SMTP server {host}:{port_text} refused the alert ({detail}); check the ALERT_SMTP_* settings"
        ) from None
