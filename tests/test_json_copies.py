"""`json = true` copies (`web/pypi/<name>/json`, `web/json/<name>`) republish only what the mirror
serves: files it refused (unsafe names, URLs, digests) or filtered out are not in `releases` or
`urls`, and the URLs of the files it keeps point at its own `/packages/` (or upstream with
`release-files = false`)."""

from __future__ import annotations

import json
from pathlib import Path

from mirror_tool.engine.run import run_mirror
from tests.support.evil_upstream import EvilUpstream
from tests.support.mirror_env import make_config
from tests.support.tree_check import assert_tree_consistent


def copies(directory: Path, norm: str) -> list[dict]:
    docs = [json.loads((directory / "web" / rel).read_bytes()) for rel in (f"pypi/{norm}/json", f"json/{norm}")]
    assert docs[0] == docs[1]
    return docs


def listed(doc: dict) -> set[str]:
    return {f["filename"] for files in doc["releases"].values() for f in files} | {f["filename"] for f in doc["urls"]}


def test_refused_files_are_not_republished(tmp_path: Path) -> None:
    evil = EvilUpstream().start()
    try:
        good_path = "/packages/aa/bb/" + "c" * 60 + "/good-1.0.tar.gz"
        good_sha = evil.add_file(good_path, b"good bytes")
        bad_sha = evil.add_file("/evil", b"owned")

        def entry(filename: str, url: str, sha: str) -> dict:
            return {"filename": filename, "url": url, "digests": {"sha256": sha, "blake2b_256": "d" * 64},
                    "size": None, "yanked": False}

        evil.add_project("good", 10, [
            entry("good-1.0.tar.gz", evil.base_url + good_path, good_sha),
            entry("../../../escape.tar.gz", evil.base_url + "/evil", bad_sha),
            entry("file-url-1.0.tar.gz", "file:///etc/passwd", bad_sha),
            entry("bad-digest-1.0.tar.gz", evil.base_url + "/evil", "not-a-digest"),
        ])
        cfg = make_config(tmp_path, evil.base_url, json=True)
        assert run_mirror(cfg).exit_code == 0
        report = assert_tree_consistent(cfg.directory)
        assert set(report.projects["good"].files) == {"good-1.0.tar.gz"}
        for doc in copies(cfg.directory, "good"):
            assert listed(doc) == {"good-1.0.tar.gz"}
            assert [f["url"] for f in doc["urls"]] == [f"/packages/dd/dd/{'d' * 60}/good-1.0.tar.gz"]
            assert "/etc/passwd" not in json.dumps(doc) and "/evil" not in json.dumps(doc)
    finally:
        evil.stop()


def test_filtered_files_and_releases_are_not_republished(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    extra = "[blocklist]\nplatforms = windows\n\n[filters]\nprereleases = true\n"
    cfg = make_config(tmp_path, fakepypi.base_url, json=True, extra=extra)
    assert run_mirror(cfg).exit_code == 0
    report = assert_tree_consistent(cfg.directory)
    upstream = fakepypi.project("Plat_Wheels")
    assert any("win_amd64" in f["filename"] for rel in upstream["releases"].values() for f in rel["files"])
    (doc, _) = copies(cfg.directory, "plat-wheels")
    assert listed(doc) == set(report.projects["plat-wheels"].files)
    assert not any("win" in name for name in listed(doc))
    assert all(f["url"].startswith("/packages/") for files in doc["releases"].values() for f in files)
    (doc, _) = copies(cfg.directory, "pre-release")
    assert "2.0.0rc1" in fakepypi.project("Pre.Release")["releases"]
    assert "2.0.0rc1" not in doc["releases"]
    assert listed(doc) == set(report.projects["pre-release"].files)


def test_without_release_files_the_copy_keeps_upstream_urls(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    cfg = make_config(tmp_path, fakepypi.base_url, json=True, release_files=False,
                      extra="[blocklist]\nplatforms = windows\n")
    assert run_mirror(cfg).exit_code == 0
    (doc, _) = copies(cfg.directory, "plat-wheels")
    urls = [f["url"] for files in doc["releases"].values() for f in files]
    assert urls and all(u.startswith(fakepypi.file_base_url) for u in urls)
    assert not any("win" in name for name in listed(doc))
