"""`chalkola ui`: ``dagster dev`` (webserver + daemon + code server) on the demo's instance and database, with the
local simulator unless ``--no-simulator``.

Stopping it stops everything it started. The simulator and ``dagster dev`` each run in a process group of their
own (process_groups.py), so a terminal's Ctrl-C reaches only this command, which then stops them: ``dagster dev``'s
whole group (webserver, daemon, code servers, run workers) gets SIGINT — what Ctrl-C would give it — then, for
what is still there after ``DAGSTER_GRACE_SECONDS``, SIGTERM, and SIGKILL 10 s later; then the simulator (SIGTERM, then SIGKILL). SIGTERM
and SIGHUP to this command do the same (Python's default for SIGTERM would leave every child running). A run
interrupted that way is failed by Dagster's run monitoring when the daemon runs again.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from chalkola_pipelines.process_groups import start_group, stop_group, stop_signals_raise

DAGSTER_GRACE_SECONDS = 25.0
#: ``dagster dev`` warns at every start that it is superseded by ``dg dev`` (the dagster-dg CLI, not installed
#: here): nothing an operator can act on. A message filter needs no import, so it costs the children nothing.
DAGSTER_DEV_WARNINGS = "ignore:Function `dev_command` is superseded"


def dagster_dev_command(port: int) -> list[str]:
    from chalkola_pipelines.demo import DEFINITIONS_MODULE

    dagster = str(Path(sys.executable).parent / "dagster")
    return [dagster, "dev", "-m", DEFINITIONS_MODULE, "-h", "127.0.0.1", "-p", str(port)]


def dagster_dev_environment(env: dict[str, str]) -> dict[str, str]:
    """The environment of ``dagster dev``: ours, plus the warning filter above (added to any the user set)."""
    out = {**os.environ, **env}
    existing = out.get("PYTHONWARNINGS")
    out["PYTHONWARNINGS"] = f"{existing},{DAGSTER_DEV_WARNINGS}" if existing else DAGSTER_DEV_WARNINGS
    return out


@contextlib.contextmanager
def _maybe_simulator(enabled: bool, time_scale: float, env: dict[str, str]) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    from chalkola_pipelines.demo import running_simulator
    from chalkola_pipelines.simulator.credentials import simulator_environment

    with running_simulator(7, time_scale) as base:
        env.update(simulator_environment(base, time_scale))
        yield base


def run_ui(args: argparse.Namespace) -> int:
    """Serve the UI until stopped; returns ``dagster dev``'s exit code, or 0 when stopped by a signal."""
    from chalkola_pipelines.demo import REPO_ROOT, prepare_environment

    with stop_signals_raise():
        try:
            env = prepare_environment()
            print(f"Dagster UI on http://127.0.0.1:{args.port}  (instance {env['DAGSTER_HOME']})", flush=True)
            with _maybe_simulator(not args.no_simulator, args.time_scale, env) as base:
                if base:
                    print(
                        f"Amazon endpoints point at the local simulator {base}; use --no-simulator for real Amazon.",
                        flush=True,
                    )
                proc = start_group(
                    dagster_dev_command(args.port), env=dagster_dev_environment(env), cwd=REPO_ROOT
                )
                try:
                    return proc.wait()
                finally:
                    if proc.poll() is None:
                        print("chalkola ui: stopping Dagster (webserver, daemon, code servers) …", flush=True)
                    took = stop_group(
                        proc,
                        first=signal.SIGINT,
                        grace=DAGSTER_GRACE_SECONDS,
                        then=signal.SIGTERM,
                        then_grace=10.0,
                    )
                    print(f"chalkola ui: Dagster stopped ({took:.0f} s)", flush=True)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM / SIGHUP (Stopped): everything above is stopped
            print("chalkola ui: stopped", flush=True)
            return 0
