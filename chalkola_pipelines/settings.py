"""Project-level settings read from the environment (never at import time of Dagster definitions)."""

from __future__ import annotations

import os
from pathlib import Path


def chalkola_home() -> Path:
    """Where local state lives: embedded Postgres data, report landing store, Dagster home.

    ``CHALKOLA_HOME`` overrides; default ``.chalkola`` in the current working directory.
    """
    return Path(os.environ.get("CHALKOLA_HOME") or Path.cwd() / ".chalkola").resolve()


def landing_dir() -> Path:
    """Where report documents are archived as received (gzip). ``CHALKOLA_LANDING_DIR`` overrides."""
    value = os.environ.get("CHALKOLA_LANDING_DIR")
    return Path(value).resolve() if value else chalkola_home() / "landing"
