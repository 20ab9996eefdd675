"""The landing store: report documents archived (gzip), one file per report.

Layout: ``root/source/report_type/scope/report_id.suffix`` (each part sanitised to ``[A-Za-z0-9._-]``),
e.g. ``.chalkola/landing/sp_reports/GET_SALES_AND_TRAFFIC_REPORT/US/50123019876.gz``. A partition can be
re-parsed from here without calling Amazon. Writers use ``atomic_path`` (or ``amazon.presigned``'s ``.part``
files) so that a crash never leaves a truncated file under the final name.

Data protection: order documents arrive here with every buyer personal data column removed
(``amazon.document_filters``); directories are 0700 and files 0600 (private to the service user), and files
are deleted after their retention (``warehouse.landing_retention``: 30 days for order documents by default).
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
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` created if needed and made private to the service user (0700, whatever the umask)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


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
        directory = private_dir(self.root)
        for part, what in ((source, "source"), (report_type, "report type"), (scope, "scope")):
            directory = private_dir(directory / _safe_part(part, what))
        return directory / f"{_safe_part(report_id, 'report id')}{suffix}"

    def __repr__(self) -> str:
        return f"LandingStore({str(self.root)!r})"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary ``…part`` path next to ``path``; on success it is renamed onto ``path`` (atomic on
    one filesystem), on an exception it is removed and ``path`` is left untouched. The ``.part`` file is
    created empty and private (0600) before it is yielded: open it for writing (``"wb"`` keeps the mode)."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.part")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    os.chmod(tmp, FILE_MODE)
    try:
        yield tmp
        if not tmp.exists() or not tmp.stat().st_size:
            raise FileNotFoundError(f"nothing was written to {tmp} for {path}")
        os.chmod(tmp, FILE_MODE)
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
