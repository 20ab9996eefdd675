"""Child processes in process groups of their own, and stopping them all — for `chalkola ui` and `chalkola demo`.

A command that starts long-running children (the simulator, ``dagster dev`` with its webserver, daemon, code
servers and run workers) must stop every one of them when it is stopped itself: Ctrl-C in the terminal (SIGINT),
``kill`` / a supervisor (SIGTERM) or a closed terminal (SIGHUP). Each child is started in a new session, so its
whole tree is one process group that can be signalled at once, and a terminal's Ctrl-C reaches only our command,
which then stops the groups in order: first the group's own "please stop" signal, then, after a grace period (or
at a second Ctrl-C), SIGKILL to the whole group — ``dagster dev``'s group was seen ignoring SIGTERM for over a
minute.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """Raised in the main thread when the command receives SIGTERM or SIGHUP (handled like Ctrl-C)."""


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within the block SIGTERM and SIGHUP raise ``Stopped``, so ``finally`` blocks run (Python's default for
    SIGTERM is to die at once, leaving every child behind)."""

    def handler(signum: int, frame: Any) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _default_sigint() -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_group(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdout: int | IO[Any] | None = None,
    stderr: int | IO[Any] | None = None,
) -> subprocess.Popen:
    """``args`` as the leader of a new session (its process group id is its pid), with SIGINT at its default.

    An ignored SIGINT is inherited across exec: a command started in the background of a script (``cmd &``,
    where the shell ignores SIGINT) would hand that on to ``dagster dev`` and all its children, which then
    ignore the SIGINT that stops them (seen: nothing reacted for 30 s until SIGKILL). So the child gets SIGINT
    back at its default (Python then turns it into KeyboardInterrupt again)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    return subprocess.Popen(
        list(args),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_default_sigint if in_main_thread else None,  # noqa: PLW1509 - only sets one signal
    )


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(
    proc: subprocess.Popen,
    *,
    first: signal.Signals = signal.SIGTERM,
    grace: float = 20.0,
    then: signal.Signals | None = None,
    then_grace: float = 10.0,
    poll: float = 0.2,
) -> float:
    """Stop the group led by ``proc``: ``first`` to the whole group; after ``grace`` seconds ``then`` (if given)
    to what is left, and after ``then_grace`` more SIGKILL; SIGKILL at once on a second Ctrl-C / SIGTERM
    meanwhile. Returns the seconds it took."""
    started = time.monotonic()
    pgid = proc.pid
    hurry = False

    def impatient(signum: int, frame: Any) -> None:
        nonlocal hurry
        hurry = True

    watched = (signal.SIGINT, *STOP_SIGNALS)
    previous = {}
    with contextlib.suppress(ValueError):  # signal handlers can only be set in the main thread
        previous = {sig: signal.signal(sig, impatient) for sig in watched}
    try:
        steps = [(first, grace), *([(then, then_grace)] if then is not None else [])]
        for sig, wait in steps:
            if hurry or not group_alive(pgid):
                break
            _signal_group(pgid, sig)
            step_started = time.monotonic()
            while time.monotonic() - step_started < wait and not hurry:
                proc.poll()  # reap the leader: a zombie still counts as a member of its group
                if not group_alive(pgid):
                    break
                time.sleep(poll)
        proc.poll()
        if group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return time.monotonic() - started
