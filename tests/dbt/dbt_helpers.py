"""Helpers for the dbt tests: run the real dbt CLI against a database, write raw rows, read marts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from chalkola_pipelines.dbt_env import DBT_PROJECT_DIR

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
SIX_PLACES = Decimal("0.000001")


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """The marts' ratio rule, computed independently: NULL on a zero denominator, 6 places half-up."""
    if Decimal(denominator) == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def run_dbt(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    target_path: Path,
    check: bool = True,
    dbt_vars: Mapping[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``dbt <args>`` on the project with its own target and log paths (parallel runs don't clash)."""
    cmd = [
        DBT_EXECUTABLE,
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
    ]
    if dbt_vars is not None:
        cmd += ["--vars", json.dumps(dict(dbt_vars))]
    full_env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false", **env}
    proc = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
        )
    return proc


def insert_rows(conn: psycopg.Connection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert dict rows into ``raw_amazon.<table>`` (columns from each row's keys)."""
    for row in rows:
        columns = list(row)
        placeholders = ", ".join(["%s"] * len(columns))
        conn.execute(
            f"insert into raw_amazon.{table} ({', '.join(columns)}) values ({placeholders})",
            [row[c] for c in columns],
        )


def fetch(url: str, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return list(conn.execute(sql, params).fetchall())


def fetch_one(url: str, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> dict[str, Any]:
    rows = fetch(url, sql, params)
    assert len(rows) == 1, f"expected one row, got {len(rows)}: {sql} {params}"
    return rows[0]
