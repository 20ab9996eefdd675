"""`dagster job execute --tags` naming partitions the code location does not have: one line, exit 2, no run.

Dagster 1.13's ``dagster job execute`` stores the run *before* it resolves a partition range: a range that
starts before the partitions' start (``CHALKOLA_START_DATE`` or 24 months back, what Amazon keeps) ends in a
90-line ``CheckError`` traceback and a run left ``NOT_STARTED`` forever. The command loads the definitions in
its own process first, so ``check_cli_launch`` (called when ``chalkola_pipelines.definitions`` is imported)
sees the command line there, checks the tagged partition keys with ``partitions.partition_tags_problem``
and stops with one line on stderr before Dagster creates anything. Any other process (code server, daemon,
webserver, run worker) has another command line and is left alone; runs that do start are checked again by
``partitions.run_marketplace_days``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from chalkola_pipelines.config_errors import EXIT_CONFIG

COMMANDS = ("execute",)


def cli_tags(argv: Sequence[str]) -> dict[str, str] | None:
    """The ``--tags`` JSON of a ``dagster job execute`` command line (None for any other command)."""
    if len(argv) < 3 or Path(argv[0]).name != "dagster" or argv[1] != "job" or argv[2] not in COMMANDS:
        return None
    for i, arg in enumerate(argv):
        value = None
        if arg == "--tags" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--tags="):
            value = arg.split("=", 1)[1]
        if value is not None:
            try:
                tags = json.loads(value)
            except ValueError:
                return None  # Dagster names a malformed --tags itself
            return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else None
    return None


def check_cli_launch(
    partitions_def: dg.MultiPartitionsDefinition,
    argv: Sequence[str] = sys.argv,
    now: dt.datetime | None = None,
) -> None:
    """Exit with one line on stderr (code 2) if this process is a ``dagster job execute`` whose tags name
    partition keys outside ``partitions_def``."""
    from chalkola_pipelines.defs.partitions import partition_tags_problem

    tags = cli_tags(argv)
    if not tags:
        return
    problem = partition_tags_problem(tags, partitions_def, now or dt.datetime.now(dt.UTC))
    if problem:
        print(f"dagster job {argv[2]}: {problem} No run was created.", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_CONFIG)
