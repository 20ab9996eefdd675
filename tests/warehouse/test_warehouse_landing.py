"""LandingStore layout and atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalkola_pipelines.warehouse.landing import LandingStore, atomic_path


def test_path_layout_and_sanitising(tmp_path: Path) -> None:
    store = LandingStore(tmp_path)
    path = store.path_for("sp_reports", "GET_SALES_AND_TRAFFIC_REPORT", "US", "50123019876")
    assert path == tmp_path / "sp_reports" / "GET_SALES_AND_TRAFFIC_REPORT" / "US" / "50123019876.gz"
    assert path.parent.is_dir() and not path.exists()
    ads = store.path_for(
        "ads_reporting", "spAdvertisedProduct", str(2**60), "8adca409-98e1", suffix=".json.gz"
    )
    assert ads.name == "8adca409-98e1.json.gz" and ads.parent.name == str(2**60)
    evil = store.path_for("x/../y", "a/b", "c d", "../../etc/passwd")
    assert evil.resolve().is_relative_to(tmp_path.resolve())
    assert evil.relative_to(tmp_path).parts == ("x_y", "a_b", "c_d", "etc_passwd.gz")
    assert store.path_for("s", "T", "US", "amzn1.tortuga.3.abc").name == "amzn1.tortuga.3.abc.gz"
    with pytest.raises(ValueError, match="report id"):
        store.path_for("sp_reports", "T", "US", "..")
    with pytest.raises(ValueError, match="suffix"):
        store.path_for("sp_reports", "T", "US", "1", suffix="/x")


def test_atomic_path(tmp_path: Path) -> None:
    final = tmp_path / "d" / "r.gz"
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent and tmp.name.endswith(".part")
        tmp.write_bytes(b"new")
        assert not final.exists()
    assert final.read_bytes() == b"new"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("download broke")
    assert final.read_bytes() == b"new"
    assert [p.name for p in final.parent.iterdir()] == ["r.gz"]  # no .part left behind


def test_directories_and_part_files_are_private(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)  # a typical umask: files would be 0644, directories 0755
    try:
        root = tmp_path / "landing"
        path = LandingStore(root).path_for("sp_reports", "GET_X", "NA", "1")
        for directory in (root, root / "sp_reports", root / "sp_reports" / "GET_X", path.parent):
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
        with atomic_path(path) as tmp:
            assert stat.S_IMODE(tmp.stat().st_mode) == 0o600
            with open(tmp, "wb") as fh:
                fh.write(b"x")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)
