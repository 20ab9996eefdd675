"""The landing store: report documents archived as received (gzip), one file per report.

Layout: ``root/source/report_type/scope/report_id.suffix`` (each part sanitised to ``[A-Za-z0-9._-]``),
e.g. ``.chalkola/landing/sp_reports/GET_SALES_AND_TRAFFIC_REPORT/US/50123019876.gz``. A partition can be
re-parsed from here without calling Amazon. Writers use ``atomic_path`` so that a crash never leaves a
truncated file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

from chalkola_pipelines.settings import landing_dir

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe_part(value: str, what: str) -> str:
    part = _UNSAFE.sub("_", str(value).strip())
    part = re.sub(r"_{2,}", "_", re.sub(r"\.{2,}", "_", part)).strip("._")
    if not part:
        raise ValueError(f"landing path: {what} {value!r} is empty after sanitising")
    return part[:200]


class LandingStore:
    """Where report documents live on disk (a directory; shared storage when runs span machines)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def default(cls) -> LandingStore:
        """The store at ``settings.landing_dir()`` (``CHALKOLA_LANDING_DIR`` or ``.chalkola/landing``)."""
        return cls(landing_dir())

    def path_for(
        self, source: str, report_type: str, scope: str, report_id: str, suffix: str = ".gz"
    ) -> Path:
        """The document's path (parent directories created); the file itself may not exist yet."""
        if suffix and not re.fullmatch(r"(\.[A-Za-z0-9]+)+", suffix):
            raise ValueError(f"landing path: suffix {suffix!r} must look like '.gz' or '.json.gz'")
        directory = (
            self.root
            / _safe_part(source, "source")
            / _safe_part(report_type, "report type")
            / _safe_part(scope, "scope")
        )
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{_safe_part(report_id, 'report id')}{suffix}"

    def __repr__(self) -> str:
        return f"LandingStore({str(self.root)!r})"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary ``…part`` path next to ``path``; on success it is renamed onto ``path`` (atomic on
    one filesystem), on an exception it is removed and ``path`` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to {tmp} for {path}")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def quarantine_document(path: Path) -> Path | None:
    """Move a document that cannot be read aside (``<its folder>/quarantine/<name>.<UTC time>``), kept for
    inspection; the ledger then finds no landed document and the next run downloads it again by report id
    (or requests a new report when Amazon no longer serves it). None when there was no file to move."""
    import datetime as dt

    path = Path(path)
    if not path.is_file():
        return None
    folder = path.parent / "quarantine"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"{path.name}.{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    os.replace(path, target)
    return target
