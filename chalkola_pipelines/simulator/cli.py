"""`chalkola simulator serve|env`."""

from __future__ import annotations

import argparse
import shlex

from chalkola_pipelines.simulator.credentials import simulator_environment
from chalkola_pipelines.simulator.faults import FaultError, FaultPlan


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``simulator`` command group to ``chalkola``."""
    parser = subparsers.add_parser("simulator", help="the local Amazon simulator (LWA, SP-API, Ads API)")
    sub = parser.add_subparsers(dest="simulator_command", required=True)

    serve = sub.add_parser("serve", help="serve the simulator over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=7, help="synthetic seller seed (default 7)")
    serve.add_argument(
        "--time-scale",
        type=float,
        default=60.0,
        help="simulated seconds per real second for rate limits, report processing and URL expiry (default 60)",
    )
    serve.add_argument(
        "--fault",
        action="extend",
        nargs="+",
        default=[],
        metavar="OP:KIND[:COUNT[:k=v,...]]",
        help="inject a fault, e.g. createReport:429:3 or getReportDocument:expired_url:1 (repeatable)",
    )
    serve.add_argument(
        "--st-report-tokens",
        type=float,
        default=None,
        metavar="N",
        help="per-seller GET_SALES_AND_TRAFFIC_REPORT createReport bucket at start, 0 to 4 (default: full, "
        "a seller that has not requested the report for an hour)",
    )
    serve.add_argument(
        "--no-brand-analytics",
        action="store_true",
        help="the app lacks the Brand Analytics role: Data Kiosk answers 403 (also POST /_simulator/data-kiosk)",
    )
    serve.set_defaults(func=_serve)

    env = sub.add_parser("env", help="print export lines pointing the pipeline at a running simulator")
    env.add_argument("--base", default="http://127.0.0.1:8765", help="the simulator's base URL")
    env.set_defaults(func=_env)


def _serve(args: argparse.Namespace) -> int:
    try:
        FaultPlan().add_many(args.fault)  # fail fast on a bad --fault before binding the port
    except FaultError as exc:
        raise SystemExit(f"chalkola simulator serve: {exc}") from None
    if args.time_scale <= 0:
        raise SystemExit("chalkola simulator serve: --time-scale must be > 0")
    from chalkola_pipelines.simulator.server import serve

    if args.st_report_tokens is not None and not 0 <= args.st_report_tokens <= 4:
        raise SystemExit("chalkola simulator serve: --st-report-tokens must be from 0 to 4")
    serve(
        seed=args.seed,
        time_scale=args.time_scale,
        host=args.host,
        port=args.port,
        faults=args.fault,
        st_initial_tokens=args.st_report_tokens,
        brand_analytics=not args.no_brand_analytics,
    )
    return 0


def _env(args: argparse.Namespace) -> int:
    for key, value in simulator_environment(args.base).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0
