"""PEP 658 `.metadata` files read out of the stored wheel instead of downloaded (wheel_metadata.py)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from mirror_tool.engine import wheel_metadata
from mirror_tool.exitcodes import ExitCode
from mirror_tool.engine.run import run_mirror
from mirror_tool.engine.wheel_metadata import read_core_metadata
from tests.support.evil_upstream import EvilUpstream
from tests.support.mirror_env import make_config
from tests.support.tree_check import assert_tree_consistent
from tests.support.upstream_compare import assert_mirror_matches

METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n\n"


def wheel_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def write(tmp_path: Path, data: bytes, name: str = "demo-1.0-py3-none-any.whl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_reads_the_top_level_dist_info_metadata(tmp_path: Path) -> None:
    wheel = write(tmp_path, wheel_bytes({
        "demo/__init__.py": b"",
        "demo/vendored.dist-info/METADATA": b"not this one (not top level)",
        "demo-1.0.dist-info/METADATA": METADATA,
        "demo-1.0.dist-info/RECORD": b"",
    }))
    assert read_core_metadata(wheel) == METADATA


def test_refuses_what_it_cannot_read_safely(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    two = write(tmp_path, wheel_bytes({"a-1.dist-info/METADATA": METADATA, "b-1.dist-info/METADATA": METADATA}), "two.whl")
    none = write(tmp_path, wheel_bytes({"demo/__init__.py": b""}), "none.whl")
    not_zip = write(tmp_path, b"this is not a zip archive at all", "bad.whl")
    corrupt = bytearray(wheel_bytes({"demo-1.0.dist-info/METADATA": METADATA * 50}))
    start = corrupt.find(b"Metadata") if b"Metadata" in corrupt else len(corrupt) // 3
    corrupt[start + 5: start + 15] = b"x" * 10  # stored member bytes changed: CRC or inflate fails
    damaged = write(tmp_path, bytes(corrupt), "damaged.whl")
    assert read_core_metadata(two) is None
    assert read_core_metadata(none) is None
    assert read_core_metadata(not_zip) is None
    assert read_core_metadata(damaged) is None
    assert read_core_metadata(tmp_path / "missing.whl") is None
    monkeypatch.setattr(wheel_metadata, "MAX_METADATA_BYTES", 10)
    assert read_core_metadata(write(tmp_path, wheel_bytes({"demo-1.0.dist-info/METADATA": METADATA}))) is None


def test_sync_reads_metadata_from_wheels_instead_of_fetching(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi
    cfg = make_config(tmp_path, fp.base_url)
    fp.clear_log()
    assert run_mirror(cfg).exit_code == ExitCode.OK
    paths = [r["path"] for r in fp.requests()]
    wheels = [p for p in paths if p.endswith(".whl")]
    assert wheels, "the corpus has wheels"
    assert [p for p in paths if p.endswith(".metadata")] == []
    report = assert_mirror_matches(fp, cfg.directory)  # byte-for-byte .metadata checks included
    assert sum(len(p.metadata) for p in report.projects.values()) >= len(wheels)
    assert_tree_consistent(cfg.directory)


def test_metadata_that_differs_from_the_wheel_is_downloaded(tmp_path: Path) -> None:
    """Upstream's `.metadata` is the truth: a wheel whose METADATA does not hash to the promised
    sha256 makes the mirror fetch the `.metadata` file, and store exactly that."""
    evil = EvilUpstream().start()
    try:
        upstream_metadata = METADATA + b"Summary: the upstream variant\n"
        wheel = wheel_bytes({"demo-1.0.dist-info/METADATA": METADATA})
        path = "/packages/aa/bb/" + "c" * 60 + "/demo-1.0-py3-none-any.whl"
        sha = evil.add_file(path, wheel)
        meta_sha = evil.add_file(path + ".metadata", upstream_metadata)
        evil.add_project("demo", 5, [{
            "filename": "demo-1.0-py3-none-any.whl", "url": evil.base_url + path,
            "digests": {"sha256": sha}, "size": len(wheel), "yanked": False,
            "core_metadata": {"sha256": meta_sha},
        }])
        cfg = make_config(tmp_path, evil.base_url)
        assert run_mirror(cfg).exit_code == ExitCode.OK
        stored = cfg.directory / "web" / "packages" / "aa" / "bb" / ("c" * 60) / "demo-1.0-py3-none-any.whl.metadata"
        assert stored.read_bytes() == upstream_metadata
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == meta_sha
        assert path + ".metadata" in evil.requests
        assert_tree_consistent(cfg.directory)
    finally:
        evil.stop()
