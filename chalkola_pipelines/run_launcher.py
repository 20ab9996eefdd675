"""The Dagster run launcher of chalkola-pipelines: Dagster's ``DefaultRunLauncher`` plus a worker health check,
so that run monitoring (``run_monitoring`` in deploy/dagster.yaml) can tell a dead run worker from a live one.

Dagster 1.13's ``DefaultRunLauncher`` (runs as subprocesses of the code server) does not implement
``check_run_worker_health``: the monitoring daemon then only watches start / cancel timeouts and
``dagster/max_runtime``. When only the run worker dies, the code server notices and fails the run; when the code
server dies with it (user-code container restarted, OOM killer, host reboot) or Postgres was down when it tried,
the run stays STARTED forever and keeps its concurrency-pool slots.

The check asks the code server that launched the run (``dagster/grpc_info`` tag) whether it still runs it
(``CanCancelExecution``):

- it does → RUNNING;
- it answers but does not know the run → FAILED (the worker was killed, or the server restarted);
- it cannot be reached for ``worker_unreachable_grace_seconds`` in a row → FAILED (a network blip shorter than
  that is ignored).

Runs without that tag (``dagster job execute``, in-process test runs) are not checked (RUNNING): there is no
server to ask. Slots of runs that ended are freed by run monitoring's ``free_slots_after_run_end_seconds``.
Caveat: a UI "Reload" of a ``dagster code-server start`` location replaces the server behind the proxy while the
old one finishes its runs; the new one does not know them, so runs in flight at a reload are marked failed.
Reload only when no run is in flight (or deploy a new image, which restarts the runs anyway).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from dagster import DefaultRunLauncher, Field
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._serdes import ConfigurableClassData, deserialize_value

DEFAULT_UNREACHABLE_GRACE_SECONDS = 120
HEALTH_CHECK_TIMEOUT_SECONDS = 10


class MonitoredRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` with ``check_run_worker_health`` (see the module docstring)."""

    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        worker_unreachable_grace_seconds: int = DEFAULT_UNREACHABLE_GRACE_SECONDS,
    ) -> None:
        super().__init__(inst_data=inst_data)
        self._grace = worker_unreachable_grace_seconds
        self._unreachable_since: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "worker_unreachable_grace_seconds": Field(
                int,
                default_value=DEFAULT_UNREACHABLE_GRACE_SECONDS,
                is_required=False,
                description="Mark a run failed once the code server that runs it has been unreachable this long",
            )
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> MonitoredRunLauncher:
        return cls(inst_data=inst_data, **dict(config_value))

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        from dagster._grpc.client import DagsterGrpcClient
        from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult

        raw = run.tags.get(GRPC_INFO_TAG)
        if not raw:
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, "not launched through a code server: not checked"
            )
        info = json.loads(raw)
        where = info.get("socket") or f"{info.get('host')}:{info.get('port')}"
        client = DagsterGrpcClient(
            port=info.get("port"),
            socket=info.get("socket"),
            host=info.get("host"),
            use_ssl=bool(info.get("use_ssl", False)),
        )
        try:
            result = deserialize_value(
                client.can_cancel_execution(
                    CanCancelExecutionRequest(run_id=run.run_id), timeout=HEALTH_CHECK_TIMEOUT_SECONDS
                ),
                CanCancelExecutionResult,
            )
        except DagsterUserCodeUnreachableError:
            now = time.monotonic()
            with self._lock:
                since = self._unreachable_since.setdefault(run.run_id, now)
            if now - since < self._grace:
                return CheckRunHealthResult(
                    WorkerStatus.RUNNING,
                    f"code server {where} unreachable for {now - since:.0f} s (grace {self._grace} s)",
                )
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"the code server that ran this run ({where}) has been unreachable for {now - since:.0f} s: "
                "its run worker is gone (container or process killed)",
            )
        with self._lock:
            self._unreachable_since.pop(run.run_id, None)
        if result.can_cancel:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the code server at {where} no longer runs this run: its run worker process was killed or the "
            "server restarted",
        )
