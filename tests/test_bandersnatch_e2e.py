"""The drop-in, end to end, with the real bandersnatch 8.2.0 (bench/peer.py: a Debian 13 root,
built once and cached in .cache/, about 95 s from scratch):

1. bandersnatch syncs the fake upstream with a typical operator config (filter plugins,
   `json = true`, `simple-format = ALL`);
2. our client takes the same config file and the same directory: its first run adopts the tree
   and downloads nothing (the fake's request log shows no file request);
3. an upload upstream then reaches the adopted mirror (only the new files are downloaded);
4. pip installs through the role's nginx vhost.
bandersnatch's own shipped example config loads here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.peer import PEER_ROOT, Peer
from mirror_tool.config import load_config
from tests.fakepypi import FakePyPI
from tests.support.mirror_env import run_cli
from tests.support.nginx import nginx_factory  # noqa: F401  (pytest fixture)
from tests.test_mirror_pip import pip

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bandersnatch runs in a chroot: root only (CI runs as root)")

OPERATOR_CONFIG = """\
[mirror]
directory = {directory}
master = {master}
allow-non-https = true
json = true
release-files = true
core-metadata = true
simple-format = ALL
hash-index = false
cleanup = false
stop-on-error = false
cleanup_todo = false
delete_missing_packages = false
workers = 3
verifiers = 3
timeout = 10
global-timeout = 1800
compare-method = hash
storage-backend = filesystem
storage-filesystem-manage-permissions = true

[plugins]
enabled =
    blocklist_project
    exclude_platform
    prerelease_release

[blocklist]
packages =
    Yanked-Pkg
platforms =
    windows
"""


@pytest.fixture(scope="module")
def peer() -> Peer:
    """bandersnatch 8.2.0 in its root (built on first use; CI builds it from scratch)."""
    built = Peer(PEER_ROOT)
    built.ensure(log=lambda line: print(line, flush=True))
    return built


@pytest.fixture
def shared(peer: Peer) -> Iterator[Path]:
    """A directory with the same path for bandersnatch (in its root) and for us."""
    host = peer.shared_dir(f"e2e-{uuid.uuid4().hex[:8]}")
    try:
        yield host
    finally:
        peer.remove_shared_dir(host)


def _file_requests(fp: FakePyPI) -> list[str]:
    return [r["path"] for r in fp.requests() if r["path"].startswith("/packages/")]


def test_bandersnatch_tree_adopted_in_place_then_synced_and_served(peer: Peer, shared: Path, fakepypi: FakePyPI,
                                                                    tmp_path: Path, nginx_factory: Any) -> None:  # noqa: F811
    directory = shared / "mirror"
    conf = shared / "bandersnatch.conf"
    conf.write_text(OPERATOR_CONFIG.format(directory=directory, master=fakepypi.base_url))

    # 1. bandersnatch syncs
    ran = subprocess.run(peer.command(str(conf), "mirror"), env=peer.chroot_env(), capture_output=True, text=True,
                         timeout=600, check=False)
    assert ran.returncode == 0, ran.stderr[-3000:]
    web = directory / "web"
    assert (directory / "status").read_text().isdigit()
    theirs = {p.relative_to(web) for p in web.rglob("*") if p.is_file()}
    files = [p for p in theirs if p.parts[0] == "packages"]
    assert len(files) > 20 and not [p for p in files if "win_amd64" in p.name or "yanked_pkg" in p.name]
    root_index = json.loads((web / "simple" / "index.v1_json").read_bytes())
    assert not [p for p in root_index["projects"] if "_last-serial" in p]  # what adopting has to seed

    # 2. our first run over the same config file and directory downloads nothing
    fakepypi.clear_log()
    result = run_cli("-c", str(conf), "mirror")
    assert result.returncode == 0, result.stderr
    assert "adopting it" in result.stderr
    assert _file_requests(fakepypi) == []
    assert not [r for r in fakepypi.requests() if r["path"].startswith("/pypi/") and r["path"].endswith("/json")]
    ours = json.loads((web / "simple" / "index.v1_json").read_bytes())
    assert all(p["_last-serial"] > 0 for p in ours["projects"])
    assert {p["name"] for p in ours["projects"]} >= {"foo-bar", "plat-wheels"}
    report = run_cli("-c", str(conf), "adopt", "--from-bandersnatch", str(conf), "--json")
    assert report.returncode == 0, report.stderr
    found = json.loads(report.stdout)
    assert found["files"] == len([p for p in files if not p.name.endswith(".metadata")])
    assert (found["wrong_hash"]["count"], found["missing_files"]["count"], found["queued"]["count"]) == (0, 0, 0)
    assert _file_requests(fakepypi) == []
    checked = run_cli("-c", str(conf), "verify", "--json")  # pages as bandersnatch wrote them, files as they are
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert json.loads(checked.stdout)["problems_left"] == 0

    # 3. an upload upstream reaches the adopted mirror, and only its files are downloaded
    fakepypi.upload("Foo.Bar", "3.0")
    fakepypi.clear_log()
    result = run_cli("-c", str(conf), "mirror")
    assert result.returncode == 0, result.stderr
    assert sorted(p.rsplit("/", 1)[-1] for p in _file_requests(fakepypi)) == ["foo_bar-3.0-py3-none-any.whl",
                                                                              "foo_bar-3.0.tar.gz"]
    assert json.loads((web / "simple" / "foo-bar" / "index.v1_json").read_bytes())["meta"]["_last-serial"] == \
        fakepypi.last_serial

    # 4. pip through the role's vhost
    server = nginx_factory(web)
    index = server.base_url + "/simple/"
    target = tmp_path / "target"
    res = pip(index, "install", "--no-deps", "--target", str(target), "Foo.Bar==3.0", "plat_wheels")
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(p.name for p in target.glob("*.dist-info")) == ["foo_bar-3.0.dist-info", "plat_wheels-1.2.0.dist-info"]


def test_bandersnatchs_own_example_config_loads(peer: Peer) -> None:
    shipped = next((peer.root / "opt/bs/lib").glob("python3*/site-packages/bandersnatch/example.conf"))
    config = load_config(shipped)
    assert config.mirror.storage_backend == "filesystem" and config.mirror.delete_packages is False
    result = run_cli("check-config", str(shipped))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("pypi-mirror: config warning: [mirror] global-timeout:")
