"""`pypi-mirror verify [--repair] [--delete] [--json]` against a real sync of tests/fakepypi."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from pathlib import Path

import pytest

from mirror_tool.index.read import file_version
from mirror_tool.storage.filesystem import FilesystemStorage
from tests.fakepypi.server import FakePyPI
from tests.support.tree_check import assert_no_orphans, assert_tree_consistent
from tests.test_verify_support import MirrorEnv, synced, template_tree  # noqa: F401  (fixtures)


def _problems(doc: dict, kind: str) -> dict[str, dict]:
    return {p["path"]: p for p in doc["problems"] if p["kind"] == kind}


def test_clean_mirror_is_clean(synced: MirrorEnv) -> None:
    doc = synced.verify_json(expect=0)
    assert set(doc["counts"]) == {
        "corrupt", "missing", "orphan", "missing-page", "gone-upstream", "excluded-project", "excluded-file"
    }
    assert doc["problems"] == [] and doc["problems_left"] == 0
    assert doc["upstream_checked"] is True
    assert doc["projects_checked"] >= 7
    assert doc["files_checked"] > 20
    text = synced.run("verify")
    assert text.returncode == 0
    assert "no problems" in text.stdout


def test_corrupt_and_missing_files_are_reported_then_repaired(synced: MirrorEnv, fakepypi: FakePyPI) -> None:
    files = synced.page_files("foo-bar")
    wheels = sorted(n for n in files if n.endswith(".whl"))
    sdists = sorted(n for n in files if n.endswith(".tar.gz"))
    flipped, truncated, deleted = wheels[0], sdists[0], wheels[1]
    # same size, one byte changed: only the hash can tell
    path = synced.local_path("foo-bar", flipped)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    synced.local_path("foo-bar", truncated).write_bytes(b"short")
    synced.local_path("foo-bar", deleted).unlink()
    meta_of = wheels[2]
    assert files[meta_of]["core-metadata"], "corpus wheels advertise PEP 658 metadata"
    meta_path = Path(str(synced.local_path("foo-bar", meta_of)) + ".metadata")
    meta_path.unlink()

    text = synced.run("verify")
    assert text.returncode == 1
    assert f"missing: {synced.local_path('foo-bar', deleted).relative_to(synced.web)} [foo-bar]: 0 bytes" in text.stdout
    assert "would re-download 4 files (" in text.stdout and "4 problems left" in text.stdout

    doc = synced.verify_json(expect=1)
    corrupt, missing = _problems(doc, "corrupt"), _problems(doc, "missing")
    rel = lambda name: str(synced.local_path("foo-bar", name).relative_to(synced.web))  # noqa: E731
    assert set(corrupt) == {rel(flipped), rel(truncated)}
    assert "sha256" in corrupt[rel(flipped)]["detail"]
    assert set(missing) == {rel(deleted), rel(meta_of) + ".metadata"}
    assert {p["project"] for p in doc["problems"]} == {"foo-bar"}
    assert doc["would"]["repair_files"] == 4
    assert not synced.local_path("foo-bar", deleted).exists(), "a dry run changes nothing"
    assert synced.local_path("foo-bar", truncated).read_bytes() == b"short"

    doc = synced.verify_json("--repair", expect=0)
    assert doc["repaired"]["files"] == 4
    for name in (flipped, truncated, deleted):
        assert synced.local_path("foo-bar", name).read_bytes() == fakepypi.file_bytes(name)
    assert hashlib.sha256(meta_path.read_bytes()).hexdigest() == files[meta_of]["core-metadata"]["sha256"]
    assert_tree_consistent(synced.root)
    synced.verify_json(expect=0)


def test_orphans_are_deleted_only_with_delete(synced: MirrorEnv) -> None:
    orphan = synced.web / "packages" / "aa" / "bb" / ("c" * 60) / "stray-1.0.tar.gz"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x" * 1234)
    json_orphan = synced.web / "json" / "not-mirrored"
    json_orphan.write_text("{}")

    doc = synced.verify_json("--repair", expect=1)
    orphans = _problems(doc, "orphan")
    assert set(orphans) == {"packages/aa/bb/" + "c" * 60 + "/stray-1.0.tar.gz", "json/not-mirrored"}
    assert orphans["packages/aa/bb/" + "c" * 60 + "/stray-1.0.tar.gz"]["bytes"] == 1234
    assert orphan.exists(), "--repair never deletes"

    doc = synced.verify_json("--delete", expect=0)
    assert doc["deleted"]["files"] == 2 and doc["deleted"]["bytes"] == 1234 + 2
    assert not orphan.exists() and not (synced.web / "packages" / "aa").exists()
    assert not json_orphan.exists()
    assert_no_orphans(synced.root)


def test_project_gone_upstream_is_reported_then_deleted(synced: MirrorEnv, fakepypi: FakePyPI) -> None:
    files = {n: synced.local_path("foo-bar", n) for n in synced.page_files("foo-bar")}
    fakepypi.remove_project("Foo.Bar")
    doc = synced.verify_json(expect=1)
    gone = [p for p in doc["problems"] if p["kind"] == "gone-upstream"]
    assert [p["project"] for p in gone] == ["foo-bar"]
    assert gone[0]["bytes"] >= sum(p.stat().st_size for p in files.values())
    assert "foo-bar" in synced.root_projects()

    doc = synced.verify_json("--delete", expect=0)
    assert doc["deleted"]["projects"] == ["foo-bar"]
    assert "foo-bar" not in synced.root_projects()
    assert not (synced.web / "simple" / "foo-bar").exists()
    assert not (synced.web / "pypi" / "foo-bar").exists() and not (synced.web / "json" / "foo-bar").exists()
    assert not any(p.exists() for p in files.values())
    assert_no_orphans(synced.root)
    synced.verify_json(expect=0)


def test_html_only_mirror_is_verified_from_html_pages(fakepypi: FakePyPI, tmp_path: Path) -> None:
    env = MirrorEnv(tmp_path, fakepypi, simple_format="HTML")
    env.ok("mirror")
    assert not (env.web / "simple" / "foo-bar" / "index.v1_json").exists()
    page = (env.web / "simple" / "foo-bar" / "index.html").read_text()
    href = re.search(r'<a href="\.\./\.\./([^"#]+)#sha256=', page).group(1)
    target = env.web / href
    assert target.is_file()
    target.write_bytes(b"garbage")
    doc = env.verify_json(expect=1)
    assert set(_problems(doc, "corrupt")) == {str(target.relative_to(env.web))}
    env.verify_json("--repair", expect=0)
    assert_tree_consistent(env.root)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_upstream_still_checks_files_and_exits_5(synced: MirrorEnv) -> None:
    name = sorted(synced.page_files("foo-bar"))[0]
    synced.local_path("foo-bar", name).write_bytes(b"bad")
    synced.master = f"http://127.0.0.1:{_closed_port()}"
    synced.configure(timeout=2, retries=0)
    doc = synced.verify_json(expect=5)
    assert doc["upstream_checked"] is False and doc["upstream_error"]
    assert len(_problems(doc, "corrupt")) == 1
    assert doc["counts"]["gone-upstream"] == 0


def test_verify_without_a_mirror_fails_cleanly(fakepypi: FakePyPI, tmp_path: Path) -> None:
    env = MirrorEnv(tmp_path, fakepypi)
    result = env.run("verify")
    assert result.returncode == 1
    assert "no mirror at" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17])
def test_sha256_file_matches_hashlib_around_the_chunk_size(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert FilesystemStorage(tmp_path, tmp_path / "tmp").sha256("f") == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("norm", "filename", "versions", "expected"),
    [
        ("foo-bar", "foo_bar-1.0.0.tar.gz", None, "1.0.0"),
        ("foo-bar", "Foo.Bar-1.0.0rc1.zip", ("1.0.0rc1",), "1.0.0rc1"),
        ("foo-bar", "foo_bar-1.0.0-py3-none-any.whl", None, "1.0.0"),
        ("foo-bar", "foo_bar-1.0.1.tar.gz", ("1.0", "1.0.1"), "1.0.1"),
        ("foo-bar", "foo_bar-1.0.win32-py2.7.exe", ("1.0",), "1.0"),
        ("foo-bar", "other-1.0.tar.gz", None, None),
    ],
)
def test_file_version_from_names(norm: str, filename: str, versions: tuple[str, ...] | None, expected: str | None) -> None:
    assert file_version(norm, filename, versions) == expected


def test_excluded_files_are_dropped_from_html_pages_too(fakepypi: FakePyPI, tmp_path: Path) -> None:
    env = MirrorEnv(tmp_path, fakepypi, simple_format="HTML")
    env.ok("mirror")
    page = env.web / "simple" / "plat-wheels" / "index.html"
    before = page.read_text()
    assert "win_amd64" in before and "<h1>Links for Plat_Wheels</h1>" in before
    env.configure("[blocklist]\nplatforms = windows\n")
    doc = env.verify_json("--delete", expect=0)
    assert doc["counts"]["excluded-file"] == 3 and doc["deleted"]["files"] >= 3
    after = page.read_text()
    assert "win_amd64" not in after and "macosx_11_0_arm64" in after
    assert "<h1>Links for Plat_Wheels</h1>" in after
    assert (env.web / "simple" / "plat-wheels" / "index.v1_html").read_text() == after
    assert_no_orphans(env.root)
    env.verify_json(expect=0)


def test_project_listed_without_pages_is_reported_and_unlisted_by_delete(synced: MirrorEnv) -> None:
    pdir = synced.web / "simple" / "needs-py"
    files = {synced.local_path("needs-py", n) for n in synced.page_files("needs-py")}
    for page in pdir.iterdir():
        page.unlink()
    doc = synced.verify_json(expect=1)
    assert [(p["kind"], p["project"]) for p in doc["problems"] if p["kind"] == "missing-page"] == [("missing-page", "needs-py")]
    assert {synced.web / p["path"] for p in doc["problems"] if p["kind"] == "orphan"} >= files
    synced.verify_json("--delete", expect=0)
    assert "needs-py" not in synced.root_projects() and not pdir.exists()
    assert not any(p.exists() for p in files)
    assert_no_orphans(synced.root)


def test_file_upstream_no_longer_has_cannot_be_repaired(synced: MirrorEnv, fakepypi: FakePyPI) -> None:
    name = sorted(n for n in synced.page_files("foo-bar") if n.endswith(".tar.gz"))[0]
    synced.local_path("foo-bar", name).unlink()
    fakepypi.remove_file("Foo.Bar", name)
    doc = synced.verify_json("--repair", expect=1)
    (problem,) = doc["problems"]
    assert problem["kind"] == "missing" and problem["fixed"] is False
    assert "cannot repair" in problem["detail"]
    synced.ok("mirror")  # the sync drops the file from the page: the tree is clean again
    synced.verify_json(expect=0)
