"""`chalkola db url|migrate|psql|stop`, `chalkola export` and `chalkola landing prune`: the warehouse from the
command line."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``db`` command group to the ``chalkola`` parser."""
    db = subparsers.add_parser("db", help="the warehouse PostgreSQL (embedded unless DATABASE_URL is set)")
    sub = db.add_subparsers(dest="db_command", required=True)

    url = sub.add_parser("url", help="print the warehouse URL (starts the embedded server if needed)")
    url.add_argument("--redacted", action="store_true", help="hide the password")
    url.set_defaults(func=_url)

    migrate = sub.add_parser("migrate", help="apply pending schema migrations (idempotent)")
    migrate.set_defaults(func=_migrate)

    psql = sub.add_parser("psql", help="open psql on the warehouse")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER, help="extra arguments passed to psql")
    psql.set_defaults(func=_psql)

    stop = sub.add_parser(
        "stop", help="stop the embedded PostgreSQL server (the next command starts it again)"
    )
    stop.set_defaults(func=_stop)

    export = subparsers.add_parser(
        "export",
        help="write one mart (schema marts) for a date range as CSV or Parquet, e.g. for Google Sheets",
    )
    export.add_argument("mart", help="e.g. fct_asin_daily, fct_ads_campaign_daily, dim_product")
    export.add_argument("--from", dest="first", type=_date, help="first day, YYYY-MM-DD (daily marts)")
    export.add_argument("--to", dest="last", type=_date, help="last day, YYYY-MM-DD, inclusive")
    export.add_argument("--marketplace", help="one marketplace code, e.g. US")
    export.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv")
    export.add_argument("-o", "--output", type=Path, help="file to write (default MART_FROM_TO[_MKT].FORMAT)")
    export.set_defaults(func=_export)

    landing = subparsers.add_parser("landing", help="the landing store of archived report documents")
    landing_sub = landing.add_subparsers(dest="landing_command", required=True)
    prune = landing_sub.add_parser(
        "prune",
        help="delete documents past their retention (CHALKOLA_LANDING_RETENTION_DAYS_ORDERS, default 30; "
        "CHALKOLA_LANDING_RETENTION_DAYS_DEFAULT, default 90) and clear them from the ledger",
    )
    prune.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    prune.set_defaults(func=_landing_prune)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def _export(args: argparse.Namespace) -> int:
    from chalkola_pipelines.warehouse.export import ExportRequest, export_mart
    from chalkola_pipelines.warehouse.postgres import database_url

    marketplace = args.marketplace.strip().upper() if args.marketplace else None
    request = ExportRequest(args.mart, args.first, args.last, marketplace, args.fmt)
    path, rows = export_mart(database_url(), request, args.output)
    print(f"wrote {rows} rows of marts.{args.mart} to {path}")
    return 0


def _landing_prune(args: argparse.Namespace) -> int:
    from chalkola_pipelines.warehouse.landing import LandingStore
    from chalkola_pipelines.warehouse.landing_retention import Retention, RetentionConfigError, prune_landing
    from chalkola_pipelines.warehouse.ledger import ReportLedger
    from chalkola_pipelines.warehouse.migrations import apply_migrations
    from chalkola_pipelines.warehouse.postgres import connect, database_url

    try:
        retention = Retention.from_env()
    except RetentionConfigError as exc:
        log.error("%s", exc)
        return 2
    url = database_url()
    with connect(url) as conn:
        apply_migrations(conn)
    ledger = ReportLedger.from_url(url)
    report = prune_landing(
        LandingStore.default(), retention=retention, forget_documents=ledger.forget_documents,
        dry_run=args.dry_run,
    )  # fmt: skip
    verb = "would delete" if args.dry_run else "deleted"
    for path in report.deleted:
        print(f"{verb} {path}")
    print(("dry run: " if args.dry_run else "") + f"{retention.describe()}: {report.summary()}")
    return 0


def _url(args: argparse.Namespace) -> int:
    from chalkola_pipelines.warehouse.postgres import database_url, mask_url_password

    url = database_url()
    print(mask_url_password(url) if args.redacted else url)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from chalkola_pipelines.warehouse.migrations import apply_migrations
    from chalkola_pipelines.warehouse.postgres import connect, database_url, mask_url_password

    url = database_url()
    with connect(url) as conn:
        applied = apply_migrations(conn)
    if applied:
        print(f"applied {len(applied)} migration(s) to {mask_url_password(url)}: {', '.join(applied)}")
    else:
        print(f"{mask_url_password(url)} is up to date")
    return 0


def _stop(args: argparse.Namespace) -> int:
    from chalkola_pipelines.settings import chalkola_home
    from chalkola_pipelines.warehouse.postgres import recorded_port, stop_embedded_postgres

    if os.environ.get("DATABASE_URL", "").strip():
        print("DATABASE_URL is set: the warehouse is not the embedded server, nothing to stop")
        return 0
    home = chalkola_home()
    pid = stop_embedded_postgres(home)
    if pid is None:
        print(f"embedded PostgreSQL in {home / 'pgdata'} is not running")
    else:
        print(
            f"stopped embedded PostgreSQL (pid {pid}, port {recorded_port(home)}, data {home / 'pgdata'}); "
            "the next chalkola command starts it again on the same port"
        )
    return 0


def _psql(args: argparse.Namespace) -> int:
    from chalkola_pipelines.warehouse.postgres import database_url

    url = database_url()
    binary = shutil.which("psql")
    if binary is None:
        try:
            from chalkola_pipelines.warehouse.embedded_server import bin_dir

            candidate = bin_dir() / "psql"
            binary = str(candidate) if candidate.exists() else None
        except ImportError:
            binary = None
    if binary is None:
        log.error(
            "psql not found: install the PostgreSQL client, or connect with the URL of `chalkola db url`"
        )
        return 1
    extra = [a for a in args.psql_args if a != "--"]
    os.execv(binary, [binary, url, *extra])
    return 0  # not reached
