"""bandersnatch 8.2.0's `[mirror]` keys that change what a run writes, each synced from the fake
upstream: core-metadata, digest_name, keep_index_versions, hash-index (through the role's vhost),
diff-file, storage-filesystem-manage-permissions, download-mirror, log-config, `--force-check`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import requests

from mirror_tool.config import Config, load_config
from mirror_tool.engine.run import run_mirror
from mirror_tool.exitcodes import ExitCode
from mirror_tool.maintenance.verify import verify_tree
from mirror_tool.stop import StopToken
from tests.fakepypi import FakePyPI
from tests.support.mirror_env import run_cli, write_config
from tests.support.nginx import nginx_factory  # noqa: F401  (pytest fixture)
from tests.support.tree_check import assert_tree_consistent


def _config(tmp_path: Path, fp: FakePyPI, name: str = "m", extra: str = "", **mirror: Any) -> Config:
    return load_config(write_config(tmp_path / f"{name}.conf", tmp_path / name, fp.base_url, extra=extra, **mirror))


def _page(config: Config, norm: str, page: str = "index.v1_json") -> bytes:
    return (config.web_dir / "simple" / norm / page).read_bytes()


def _downloads(fp: FakePyPI) -> list[str]:
    return [r["path"] for r in fp.requests() if r["path"].startswith("/packages/")]


def test_core_metadata_off_fetches_and_advertises_no_metadata(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _config(tmp_path, fakepypi, core_metadata="false")
    assert run_mirror(config).exit_code == ExitCode.OK
    assert not list(config.web_dir.rglob("*.metadata"))
    assert not [p for p in _downloads(fakepypi) if p.endswith(".metadata")]
    page = json.loads(_page(config, "foo-bar"))
    assert page["files"] and not [f for f in page["files"] if "core-metadata" in f or "data-dist-info-metadata" in f]
    assert b"data-core-metadata" not in _page(config, "foo-bar", "index.html")
    assert_tree_consistent(config.directory)


def test_digest_name_md5_names_md5_in_links_and_keeps_sha256_checks(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _config(tmp_path, fakepypi, digest_name="md5")
    assert run_mirror(config).exit_code == ExitCode.OK
    html = _page(config, "foo-bar", "index.html").decode()
    links = re.findall(r'href="\.\./\.\./(packages/[^"#]+)#md5=([0-9a-f]{32})"', html)
    assert links and len(links) == html.count("<a ")
    for key, md5 in links:
        assert hashlib.md5((config.web_dir / key).read_bytes()).hexdigest() == md5
    for item in json.loads(_page(config, "foo-bar"))["files"]:
        assert set(item["hashes"]) == {"md5", "sha256"}
    fakepypi.clear_log()
    report, code = verify_tree(config, repair=False, delete=False, stop=StopToken())
    assert code == ExitCode.OK and not report.problems
    assert run_mirror(config).exit_code == ExitCode.OK and _downloads(fakepypi) == []  # 8.2.0 re-downloads here


def test_keep_index_versions_keeps_n_copies_for_rollback(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _config(tmp_path, fakepypi, keep_index_versions=2)
    assert run_mirror(config).exit_code == ExitCode.OK
    first = _page(config, "foo-bar")
    for version in ("3.0", "3.1"):
        fakepypi.upload("Foo.Bar", version)
        assert run_mirror(config).exit_code == ExitCode.OK
    versions = config.web_dir / "simple" / "foo-bar" / "versions"
    names = sorted(p.name for p in versions.iterdir())
    assert len(names) == 6 and {n.rsplit(".", 1)[-1] for n in names} == {"html", "v1_html", "v1_json"}
    serials = sorted({int(n.split("_")[1]) for n in names})
    assert len(serials) == 2 and serials[-1] == json.loads(_page(config, "foo-bar"))["meta"]["_last-serial"]
    newest = max((p for p in versions.iterdir() if p.name.endswith(".v1_json")), key=lambda p: p.name)
    assert newest.read_bytes() == _page(config, "foo-bar") and not (config.web_dir / "simple/foo-bar/index.html").is_symlink()
    assert first not in {p.read_bytes() for p in versions.iterdir()}  # the oldest went
    # the bandersnatch defaults.conf spelling acts too, with a warning
    alias = _config(tmp_path, fakepypi, name="alias", extra="")
    text = alias.path.read_text().replace("[mirror]\n", "[mirror]\nkeep-index-versions = 1\n")
    alias.path.write_text(text)
    alias = load_config(alias.path)
    assert alias.mirror.keep_index_versions == 1
    assert any("keep-index-versions" in w and "never reads this spelling" in w for w in alias.warnings)


def test_hash_index_tree_served_through_the_roles_rewrite(fakepypi: FakePyPI, tmp_path: Path, nginx_factory: Any) -> None:  # noqa: F811
    config = _config(tmp_path, fakepypi, hash_index="true")
    assert run_mirror(config).exit_code == ExitCode.OK
    simple = config.web_dir / "simple"
    assert (simple / "f" / "foo-bar" / "index.v1_json").is_file() and not (simple / "foo-bar").exists()
    assert "Foo.Bar" in {p["name"] for p in json.loads((simple / "index.v1_json").read_bytes())["projects"]}
    report, code = verify_tree(config, repair=False, delete=False, stop=StopToken())
    assert code == ExitCode.OK and report.projects_checked >= 7, report.problems
    server = nginx_factory(config.web_dir, pypi_mirror_hash_index=True)
    page = requests.get(f"{server.base_url}/simple/foo-bar/", headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                        timeout=10)
    assert page.status_code == 200 and page.json()["name"] == "foo-bar"
    wheel = next(f for f in page.json()["files"] if f["filename"].endswith(".whl"))
    got = requests.get(f"{server.base_url}/simple/foo-bar/{wheel['url']}", timeout=10)
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == wheel["hashes"]["sha256"]
    # a project removed upstream leaves the hashed tree too
    fakepypi.remove_project("Foo.Bar")
    assert run_mirror(config).exit_code == ExitCode.OK
    assert not (simple / "f" / "foo-bar").exists()


def test_diff_file_lists_what_each_run_wrote(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _config(tmp_path, fakepypi, json="true", diff_file="{{mirror_directory}}/diffs", diff_append_epoch="true")
    (config.directory / "diffs").mkdir(parents=True)
    assert run_mirror(config).exit_code == ExitCode.OK
    [first] = list((config.directory / "diffs").iterdir())
    assert re.fullmatch(r"mirrored-files-\d+", first.name)
    listed = first.read_text().split("\n")
    assert all(Path(p).is_file() and p.startswith(f"{config.web_dir}/") for p in listed)
    on_disk = {str(p) for p in config.web_dir.rglob("*") if p.is_file()}
    assert set(listed) == on_disk  # the first run wrote everything
    assert listed.index(f"{config.web_dir}/json/foo-bar") < listed.index(f"{config.web_dir}/simple/foo-bar/index.html")
    first.rename(tmp_path / "shipped")  # what an operator does with each list
    fakepypi.upload("Foo.Bar", "3.0")
    assert run_mirror(config).exit_code == ExitCode.OK
    [second] = list((config.directory / "diffs").iterdir())
    names = {p.rsplit("/", 1)[-1] for p in second.read_text().split("\n")}
    assert {"foo_bar-3.0-py3-none-any.whl", "foo_bar-3.0.tar.gz", "foo_bar-3.0-py3-none-any.whl.metadata"} < names
    assert "needs_py-1.0.0.tar.gz" not in names and not second.read_text().endswith("\n")


def test_manage_permissions_off_leaves_modes_to_the_umask(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _config(tmp_path, fakepypi, storage_filesystem_manage_permissions="false")
    old = os.umask(0o027)
    try:
        assert run_mirror(config).exit_code == ExitCode.OK
    finally:
        os.umask(old)
    wheel = next(config.web_dir.rglob("*.whl"))
    assert stat.S_IMODE(wheel.stat().st_mode) == 0o640
    assert stat.S_IMODE((config.web_dir / "simple/foo-bar/index.html").stat().st_mode) == 0o640
    managed = _config(tmp_path, fakepypi, name="managed")
    old = os.umask(0o027)
    try:
        assert run_mirror(managed).exit_code == ExitCode.OK
    finally:
        os.umask(old)
    assert stat.S_IMODE(next(managed.web_dir.rglob("*.whl")).stat().st_mode) == 0o644


def test_download_mirror_serves_files_with_fallback_to_master(fakepypi_factory: Any, tmp_path: Path) -> None:
    master, near = fakepypi_factory(), fakepypi_factory()  # same corpus: same files at the same paths
    config = _config(tmp_path, master, download_mirror=near.base_url + "/")
    assert run_mirror(config).exit_code == ExitCode.OK
    assert _downloads(master) == [] and len(_downloads(near)) > 10
    assert_tree_consistent(config.directory)
    master.upload("Foo.Bar", "3.0")  # the near mirror does not have it yet: fallback
    near.clear_log()
    assert run_mirror(config).exit_code == ExitCode.OK
    assert sorted(_downloads(master)) == sorted(_downloads(near)) and _downloads(master)
    strict = _config(tmp_path, master, name="strict", download_mirror=near.base_url, download_mirror_no_fallback="true")
    master.clear_log()
    result = run_mirror(strict)
    assert result.exit_code == ExitCode.FAILED and list(result.failed) == ["foo-bar"]
    assert _downloads(master) == []


def test_force_check_repairs_what_changed_behind_the_mirrors_back(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = _config(tmp_path, fakepypi)
    assert run_mirror(config).exit_code == ExitCode.OK
    wheel = next(config.web_dir.rglob("foo_bar-1.1.0-py3-none-any.whl"))
    wheel.write_bytes(b"rotten")
    sdist = next(config.web_dir.rglob("needs_py-1.0.0.tar.gz"))
    sdist.unlink()
    fakepypi.clear_log()
    assert run_mirror(config).exit_code == ExitCode.OK and _downloads(fakepypi) == []  # the feed says nothing changed
    serial = int((config.directory / "status").read_text())
    result = run_cli("-c", str(config.path), "mirror", "--force-check")
    assert result.returncode == 0, result.stderr
    assert sorted(p.rsplit("/", 1)[-1] for p in _downloads(fakepypi)) == ["foo_bar-1.1.0-py3-none-any.whl",
                                                                          "needs_py-1.0.0.tar.gz"]
    assert int((config.directory / "status").read_text()) == serial
    assert_tree_consistent(config.directory)


def test_log_config_file_configures_logging(fakepypi: FakePyPI, tmp_path: Path) -> None:
    log_file = tmp_path / "fileconfig.log"
    logconf = tmp_path / "logging.ini"
    logconf.write_text(
        "[loggers]\nkeys = root\n[handlers]\nkeys = file\n[formatters]\nkeys = plain\n"
        "[logger_root]\nlevel = INFO\nhandlers = file\n"
        f"[handler_file]\nclass = FileHandler\nformatter = plain\nargs = ('{log_file}',)\n"
        "[formatter_plain]\nformat = LC %(levelname)s %(message)s\n")
    config = _config(tmp_path, fakepypi, log_config=str(logconf))
    result = run_cli("-c", str(config.path), "mirror")
    assert result.returncode == 0, result.stderr
    assert "LC INFO Sync finished:" in log_file.read_text()
    config.path.write_text(config.path.read_text().replace(str(logconf), str(tmp_path / "missing.ini")))
    result = run_cli("-c", str(config.path), "mirror")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("missing.ini: no such file") and "[mirror] log-config" in result.stderr
