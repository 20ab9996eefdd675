"""``chalkola export``: one mart (a relation of schema ``marts``) for a date range, optionally one marketplace,
written as CSV (spreadsheets) or Parquet (pandas + pyarrow).

Rows are read in ``date, marketplace`` order when the mart has those columns; money stays exact (numeric →
decimal text in CSV, decimal128 in Parquet). A mart without a ``date`` column (the dimensions) is exported whole
and refuses a date range.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from chalkola_pipelines.config_errors import ConfigurationError
from chalkola_pipelines.warehouse.migrations import BI_SCHEMA

FORMATS = ("csv", "parquet")
_MARKETPLACE_COLUMNS = ("marketplace", "code")  # facts / dim_product, dim_marketplace


@dataclass(frozen=True)
class ExportRequest:
    mart: str
    first: dt.date | None = None
    last: dt.date | None = None
    marketplace: str | None = None
    fmt: str = "csv"

    def default_path(self) -> Path:
        parts = [self.mart]
        if self.first and self.last:
            parts.append(f"{self.first}_{self.last}")
        if self.marketplace:
            parts.append(self.marketplace)
        return Path("_".join(parts) + f".{self.fmt}")


def list_marts(conn: psycopg.Connection) -> dict[str, list[str]]:
    """The relations of schema ``marts`` and their columns, in column order."""
    rows = conn.execute(
        "select table_name, column_name from information_schema.columns where table_schema = %s"
        " order by table_name, ordinal_position",
        (BI_SCHEMA,),
    ).fetchall()
    marts: dict[str, list[str]] = {}
    for table, column in rows:
        marts.setdefault(table, []).append(column)
    return marts


def _query(request: ExportRequest, columns: list[str]) -> tuple[sql.Composed, list[object]]:
    where: list[sql.Composable] = []
    params: list[object] = []
    if request.first is not None:
        where.append(sql.SQL("{} between %s and %s").format(sql.Identifier("date")))
        params += [request.first, request.last]
    if request.marketplace:
        column = next(c for c in _MARKETPLACE_COLUMNS if c in columns)
        where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(request.marketplace)
    order = [sql.Identifier(c) for c in ("date", "marketplace", "code") if c in columns]
    query = sql.SQL("select * from {}.{}").format(sql.Identifier(BI_SCHEMA), sql.Identifier(request.mart))
    if where:
        query += sql.SQL(" where ") + sql.SQL(" and ").join(where)
    if order:
        query += sql.SQL(" order by ") + sql.SQL(", ").join(order)
    return query, params


def export_mart(url: str, request: ExportRequest, path: Path | None = None) -> tuple[Path, int]:
    """Write the mart's rows to ``path`` (default :meth:`ExportRequest.default_path`); return it and the rows.

    ConfigurationError (one line) for an unknown mart, a date range on a mart without dates, a marketplace
    filter on a mart without marketplaces, an unknown format or a reversed range.
    """
    import pandas as pd

    if request.fmt not in FORMATS:
        raise ConfigurationError(f"--format {request.fmt}: use csv or parquet.")
    if (request.first is None) != (request.last is None):
        raise ConfigurationError("give both --from and --to (YYYY-MM-DD), or neither for a dimension.")
    if request.first and request.last and request.first > request.last:
        raise ConfigurationError(f"--from {request.first} is after --to {request.last}.")
    with psycopg.connect(url, prepare_threshold=None) as conn:
        marts = list_marts(conn)
        if request.mart not in marts:
            known = ", ".join(sorted(marts)) or "none yet: run `make demo` or `dbt build` first"
            raise ConfigurationError(f"mart {request.mart!r} is not in schema {BI_SCHEMA} ({known}).")
        columns = marts[request.mart]
        if request.first is not None and "date" not in columns:
            raise ConfigurationError(f"{request.mart} has no date column: export it without --from/--to.")
        if request.first is None and "date" in columns:
            raise ConfigurationError(f"{request.mart} is daily: give --from and --to (YYYY-MM-DD).")
        if request.marketplace and not any(c in columns for c in _MARKETPLACE_COLUMNS):
            raise ConfigurationError(f"{request.mart} has no marketplace column: drop --marketplace.")
        query, params = _query(request, columns)
        with conn.cursor() as cur:
            cur.execute(query, params)
            names = [d.name for d in cur.description or ()]
            frame = pd.DataFrame.from_records(cur.fetchall(), columns=names)
    target = path or request.default_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    if request.fmt == "csv":
        frame.to_csv(target, index=False)
    else:
        frame.to_parquet(target, engine="pyarrow", index=False)
    return target, len(frame)
