"""Quiet Dagster's repeated lifecycle warnings about the APIs this project chose on purpose.

Dagster warns (``BetaWarning``, ``PreviewWarning``, ``SupersessionWarning``) every time a decorator or function
with such a parameter is used — e.g. ``@asset(backfill_policy=…)`` — in every process that loads the code
location: each code server, each run worker, each step process. Under ``make ui`` that was hundreds of identical
console lines that say nothing an operator can act on. The filter only covers those three categories, and only
when Dagster raises them from its own modules or from ours; every other warning (and Dagster's
``DeprecationWarning``s, which announce removals) still shows. Installed when ``chalkola_pipelines.defs`` is
imported, i.e. before any of our assets is defined.
"""

from __future__ import annotations

import warnings

import dagster as dg

QUIETED_CATEGORIES: tuple[type[Warning], ...] = (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning)
QUIETED_MODULES = r"(dagster|dagster_[a-z_]+|chalkola_pipelines)(\.|$)"


def quiet_dagster_lifecycle_warnings() -> None:
    """Ignore Dagster's Beta / Preview / Supersession warnings raised from Dagster's modules or ours."""
    for category in QUIETED_CATEGORIES:
        warnings.filterwarnings("ignore", category=category, module=QUIETED_MODULES)
