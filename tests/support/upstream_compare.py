"""Compare a mirror tree with what a FakePyPI upstream serves right now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.tree_check import TreeReport, assert_no_temporaries, assert_tree_consistent, files_on_disk


def upstream_files(fp: Any) -> dict[str, dict[str, str]]:
    """normalized -> {filename: sha256} of every live project of `fp`."""
    out: dict[str, dict[str, str]] = {}
    for norm, info in fp.projects().items():
        out[norm] = {f["filename"]: f["sha256"] for rel in info["releases"].values() for f in rel["files"]}
    return out


def assert_mirror_matches(fp: Any, directory: Path, *, check_serial: bool = True, root_uri: str = "") -> TreeReport:
    """The tree is consistent and lists exactly upstream's projects, files, yanks and serials."""
    report = assert_tree_consistent(directory, root_uri)
    expected = upstream_files(fp)
    got = {norm: pages.files for norm, pages in report.projects.items()}
    assert got == expected
    assert set(report.root_projects) == set(expected)
    projects = fp.projects()
    for norm, info in projects.items():
        pages = report.projects[norm]
        assert pages.serial == info["last_serial"], f"{norm}: page serial {pages.serial} != {info['last_serial']}"
        assert report.root_projects[norm] in (info["name"], norm)
        for rel in info["releases"].values():
            for f in rel["files"]:
                if rel["yanked"]:
                    assert pages.yanked.get(f["filename"]) == (rel["yanked_reason"] or ""), f["filename"]
                else:
                    assert f["filename"] not in pages.yanked
                if f["metadata_sha256"]:
                    assert f["filename"] in pages.metadata
    assert_no_temporaries(directory)
    if check_serial:
        assert int((Path(directory) / "status").read_text()) == fp.last_serial
    return report


def assert_only_listed_files(directory: Path, report: TreeReport) -> None:
    """No file under packages/ that no page lists (after deletions with delete-packages on)."""
    on_disk = {Path(p).name for p in files_on_disk(directory)}
    listed = {name for pages in report.projects.values() for name in pages.files}
    listed |= {name + ".metadata" for pages in report.projects.values() for name in pages.metadata}
    assert on_disk == listed, (sorted(on_disk - listed), sorted(listed - on_disk))
