"""Serving the simulator: in a background thread (tests, demo, benchmarks) or in the foreground (CLI)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
import uvicorn

from chalkola_pipelines.simulator.app import create_app
from chalkola_pipelines.simulator.state import SimulatorState, create_state

log = logging.getLogger(__name__)


@dataclass
class RunningSimulator:
    """A simulator answering on ``base_url`` (no trailing slash); ``stop()`` shuts it down."""

    base_url: str
    state: SimulatorState
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def start_state_in_thread(
    state: SimulatorState, *, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Serve an existing state with uvicorn in a daemon thread; returns once the server answers."""
    sock = _bind(host, port)
    base_url = _url(host, sock.getsockname()[1])
    state.base_url = base_url
    config = uvicorn.Config(create_app(state), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="chalkola-simulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15.0
    while True:
        try:
            if httpx.get(f"{base_url}/_simulator/health", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the simulator did not start on {base_url}")
        time.sleep(0.02)
    log.info("simulator answering on %s (seed %s, time scale %s)", base_url, state.seed, state.time_scale)
    return RunningSimulator(base_url=base_url, state=state, _server=server, _thread=thread)


def run_in_thread(
    *,
    seed: int = 7,
    time_scale: float = 60.0,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Iterable[str] = (),
    st_initial_tokens: float | None = None,
    brand_analytics: bool = True,
) -> RunningSimulator:
    """A simulator for ``seed`` on a free port (port=0) in a background thread (options: create_state)."""
    state = create_state(
        seed=seed,
        time_scale=time_scale,
        faults=faults,
        st_initial_tokens=st_initial_tokens,
        brand_analytics=brand_analytics,
    )
    return start_state_in_thread(state, host=host, port=port)


def serve(
    *,
    seed: int = 7,
    time_scale: float = 60.0,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: Iterable[str] = (),
    st_initial_tokens: float | None = None,
    brand_analytics: bool = True,
) -> None:
    """Serve in the foreground until interrupted (``chalkola simulator serve``); port 0 picks a free port."""
    state = create_state(
        seed=seed,
        time_scale=time_scale,
        faults=faults,
        st_initial_tokens=st_initial_tokens,
        brand_analytics=brand_analytics,
    )
    sock = _bind(host, port)
    state.base_url = _url(host, sock.getsockname()[1])
    log.info(
        "chalkola simulator on %s (seed %s, time scale %s); `chalkola simulator env --base %s` prints the environment",
        state.base_url,
        seed,
        time_scale,
        state.base_url,
    )
    # uvicorn's access log would print presigned query strings: the app logs each call by path instead
    config = uvicorn.Config(create_app(state), log_level="info", lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
