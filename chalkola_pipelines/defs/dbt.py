"""The dbt project as Dagster assets: staging views and marts, downstream of the raw assets.

Sources map to the raw assets through ``meta.dagster.asset_key`` in ``models/staging/_amazon__sources.yml``
(``sp_sales_traffic``, ``sp_orders``, ``ads_profiles``, ``ads_sp_advertised_product``). The manifest is
produced by ``dbt parse`` at install / test-setup time (``make dbt-parse``; ``prepare_if_dev()`` re-parses
under ``dagster dev``), never at import. ``dbt build`` runs the venv's dbt with the warehouse connection in
``CHALKOLA_PG_*`` (``dbt_env_for``), set for the subprocess only. The incremental facts decide themselves which
marketplace-days to rebuild (new raw loads since the last build + a lookback), so the dbt assets are
unpartitioned.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from chalkola_pipelines.dbt_env import DBT_PROJECT_DIR, dbt_env_for
from chalkola_pipelines.defs.resources import WarehouseResource

DBT_POOL = "dbt"
INDIRECT_SELECTION_ENV = "DBT_INDIRECT_SELECTION"
PARSE_HINT = (
    "run `make install` (or `.venv/bin/dbt parse --project-dir dbt_project --profiles-dir dbt_project`) "
    "to produce it"
)

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class DbtManifestMissingError(FileNotFoundError):
    """The dbt manifest was not produced before the definitions were loaded."""


def dbt_executable() -> str:
    """The dbt next to this interpreter (the venv's), else the one on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    if candidate.exists():
        return str(candidate)
    return shutil.which("dbt") or "dbt"


def build_dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    )


def _dbt_parse() -> None:
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR)],
        check=True,
        capture_output=True,
    )  # fmt: skip


def ensure_dbt_manifest() -> Path:
    """Run ``dbt parse`` if the manifest is missing (install / test-setup time, never at import)."""
    manifest = Path(dbt_project.manifest_path)
    if not manifest.is_file():
        _dbt_parse()
    return manifest


def _manifest_is_stale(manifest: Path) -> bool:
    if not manifest.is_file():
        return True
    built = manifest.stat().st_mtime
    for folder in ("models", "macros", "seeds", "tests"):
        for path in (DBT_PROJECT_DIR / folder).rglob("*"):
            if path.is_file() and path.stat().st_mtime > built:
                return True
    return (DBT_PROJECT_DIR / "dbt_project.yml").stat().st_mtime > built


def prepare_if_dev() -> None:
    """``DbtProject.prepare_if_dev()`` with the venv's dbt: under ``dagster dev`` (only there) re-parse when a
    model changed since the last parse; dagster-dbt's own version needs ``dbt`` on PATH, which an unactivated
    venv lacks, and re-parses in every run process."""
    if os.environ.get("DAGSTER_IS_DEV_CLI") and _manifest_is_stale(Path(dbt_project.manifest_path)):
        _dbt_parse()


prepare_if_dev()


class ChalkolaDbtTranslator(DagsterDbtTranslator):
    """Groups by project folder: ``staging`` (views) and ``marts`` (tables and the marketplace seed).

    Both S&T source tables (byDate, byAsin) come from the one ``sp_sales_traffic`` asset, so duplicate
    source asset keys are allowed."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest.get("nodes", {}).get(unique_id) or manifest.get("sources", {}).get(unique_id) or {}
        if node.get("resource_type") == "source":
            return spec
        fqn = node.get("fqn") or []
        group = "staging" if "staging" in fqn[1:-1] else "marts"
        return spec.replace_attributes(group_name=group)


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def dbt_environment(url: str) -> Iterator[None]:
    """Set ``CHALKOLA_PG_*`` for dbt subprocesses started inside the block (restored afterwards).

    dagster-dbt passes ``os.environ`` to the dbt subprocess; the values (a password among them) are never
    logged. ``DBT_INDIRECT_SELECTION=cautious`` (unless set by the operator): a build of a subset (what the dbt
    sensor launches after one source loaded) runs only the tests whose every parent is in the build, not a
    relationship test or the singular reconcile test of a mart that was left out — on a fresh warehouse that
    mart does not exist yet, and eager selection fails the build."""
    env = dbt_env_for(url)
    env.setdefault(INDIRECT_SELECTION_ENV, os.environ.get(INDIRECT_SELECTION_ENV) or "cautious")
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def build_dbt_assets() -> dg.AssetsDefinition:
    """``@dbt_assets`` over the parsed manifest; a clear error if it was not produced."""
    manifest = dbt_project.manifest_path
    if not Path(manifest).is_file():
        raise DbtManifestMissingError(f"dbt manifest not found at {manifest}: {PARSE_HINT}.")

    @dbt_assets(
        manifest=manifest,
        project=dbt_project,
        dagster_dbt_translator=ChalkolaDbtTranslator(),
        name="chalkola_dbt",
        pool=DBT_POOL,
    )
    def chalkola_dbt(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        """``dbt build`` (models, seeds, tests) of the selected dbt nodes."""
        with dbt_environment(warehouse.url()):
            yield from dbt.cli(["build"], context=context).stream()

    return chalkola_dbt
