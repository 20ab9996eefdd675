"""`chalkola docs`: the dbt documentation of the marts (models, columns, lineage) as static files.

Runs ``dbt docs generate --static`` against the warehouse (the catalog reads the built relations' columns) and
copies the result to ``--output`` (default ``$CHALKOLA_HOME/dbt-docs``): ``index.html`` is one self-contained
page (open it from disk or put it on any web server); ``manifest.json`` and ``catalog.json`` are dbt's files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from chalkola_pipelines.dbt_env import DBT_PROJECT_DIR, dbt_env_for

DOCS_FILES = {
    "static_index.html": "index.html",
    "manifest.json": "manifest.json",
    "catalog.json": "catalog.json",
}


class DocsError(RuntimeError):
    """dbt could not generate the docs; the message holds the end of its output."""


def register(sub: argparse._SubParsersAction) -> None:
    docs = sub.add_parser("docs", help="write the dbt docs of the marts as static HTML (dbt docs generate)")
    docs.add_argument("-o", "--output", type=Path, help="directory (default $CHALKOLA_HOME/dbt-docs)")
    docs.set_defaults(func=run_docs)


def generate_docs(url: str, output: Path) -> Path:
    """``dbt docs generate --static`` on the warehouse at ``url``; the files land in ``output``. Returns the
    path of ``index.html``."""
    dbt = str(Path(sys.executable).with_name("dbt"))
    env = {
        **os.environ,
        **dbt_env_for(url),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    with tempfile.TemporaryDirectory(prefix="chalkola-dbt-docs-") as tmp:
        cmd = [dbt, "docs", "generate", "--static", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", tmp, "--log-path", str(Path(tmp) / "logs")]  # fmt: skip
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
            raise DocsError(f"dbt docs generate failed (exit {proc.returncode}):\n{tail}")
        output.mkdir(parents=True, exist_ok=True)
        for source, name in DOCS_FILES.items():
            shutil.copyfile(Path(tmp) / source, output / name)
    return output / "index.html"


def run_docs(args: argparse.Namespace) -> int:
    from chalkola_pipelines.settings import chalkola_home
    from chalkola_pipelines.warehouse.postgres import database_url

    output = (args.output or chalkola_home() / "dbt-docs").resolve()
    try:
        index = generate_docs(database_url(), output)
    except DocsError as exc:
        print(f"chalkola docs: {exc}", file=sys.stderr)
        return 1
    print(f"dbt docs written to {output}; open {index.as_uri()}")
    return 0
