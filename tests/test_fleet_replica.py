"""A replica syncing from a hub: the hub's tree served by a real nginx (the role's vhost), the hub
syncing from tests/fakepypi, the replica from the hub (`upstream-kind = mirror`).

What a replica must do (issue 18): copy the hub exactly; a no-op is one GET of the journal head;
an incremental run costs O(changes) (no index, no XML-RPC); it reconciles from the hub's index
when it fell behind the journal's retention; it never claims a serial its hub has not published;
it asks the upstream nothing; `status` and the metrics show the hub's serial and the lag.
"""

from __future__ import annotations

import filecmp
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from mirror_tool.config import Config
from mirror_tool.engine.run import run_mirror
from mirror_tool.exitcodes import ExitCode
from mirror_tool.hubstate import read_hub_state
from tests.support.mirror_env import make_config, run_cli, write_config
from tests.fakepypi.server import FakePyPI
from tests.support.nginx import NginxServer, free_port, nginx_factory, start_nginx  # noqa: F401 (fixture)
from tests.support.tree_check import assert_tree_consistent
from tests.test_wrapper_support import metric, read_metrics, run_wrapper


@dataclass
class Fleet:
    upstream: object  # FakePyPI
    hub: Config
    nginx: NginxServer
    tmp: Path

    def replica(self, name: str = "replica", **keys: object) -> Config:
        keys = {"upstream_kind": "mirror", "json": True, **keys}
        master = str(keys.pop("master", self.nginx.base_url))
        return make_config(self.tmp, master, name=name, **keys)

    def hub_sync(self) -> None:
        result = run_mirror(self.hub)
        assert result.exit_code == ExitCode.OK, result

    def access(self) -> list[str]:
        """Request paths nginx logged so far ("GET /path")."""
        lines = self.nginx.access_log.read_text().splitlines() if self.nginx.access_log.exists() else []
        return [line.split('"')[1].rsplit(" ", 1)[0] for line in lines]


def head(cfg: Config) -> dict:
    return json.loads((cfg.directory / "web/changes/head.json").read_text())


def status(cfg: Config) -> int:
    return int((cfg.directory / "status").read_text())


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One upstream, hub and nginx for the module (rendering the vhost costs an Ansible run)."""
    tmp = tmp_path_factory.mktemp("fleet")
    upstream = FakePyPI().start()
    hub = make_config(tmp, upstream.base_url, name="hub", json=True)
    assert run_mirror(hub).exit_code == ExitCode.OK
    server = start_nginx(hub.directory / "web", tmp / "nginx")
    try:
        yield Fleet(upstream, hub, server, tmp)
    finally:
        server.stop()
        upstream.stop()


@pytest.fixture
def fleet(shared_hub: Fleet, tmp_path: Path) -> Fleet:
    """The shared hub, in step with its upstream; replicas live in the test's own directory."""
    shared_hub.upstream.clear_faults()
    shared_hub.hub_sync()
    return replace(shared_hub, tmp=tmp_path)


def test_first_sync_copies_the_hub_and_asks_the_upstream_nothing(fleet: Fleet) -> None:
    fleet.upstream.clear_log()
    replica = fleet.replica()
    result = run_mirror(replica)
    assert result.exit_code == ExitCode.OK, result
    assert status(replica) == status(fleet.hub) == fleet.upstream.last_serial
    assert fleet.upstream.requests() == [], "a replica never talks to the upstream"
    # The same pages byte for byte (display names, serials, hashes, metadata), the same files.
    for sub in ("simple", "packages", "pypi", "json"):
        compare = filecmp.dircmp(fleet.hub.directory / "web" / sub, replica.directory / "web" / sub)
        _assert_same_tree(compare)
    assert_tree_consistent(replica.directory)
    state = read_hub_state(replica.directory)
    assert state.hub == fleet.nginx.base_url and state.journal_id == head(fleet.hub)["id"]


def _assert_same_tree(compare: filecmp.dircmp) -> None:
    assert not compare.left_only and not compare.right_only, (compare.left, compare.left_only, compare.right_only)
    _, mismatch, errors = filecmp.cmpfiles(compare.left, compare.right, compare.common_files, shallow=False)
    assert not mismatch and not errors, (compare.left, mismatch, errors)
    for sub in compare.subdirs.values():
        _assert_same_tree(sub)


def test_a_no_op_is_one_small_get(fleet: Fleet) -> None:
    replica = fleet.replica()
    assert run_mirror(replica).exit_code == ExitCode.OK
    before = len(fleet.access())
    result = run_mirror(replica)
    assert result.exit_code == ExitCode.OK and result.synced == []
    assert fleet.access()[before:] == ["GET /changes/head.json"]


def test_an_incremental_run_costs_the_changes_only(fleet: Fleet) -> None:
    replica = fleet.replica()
    assert run_mirror(replica).exit_code == ExitCode.OK
    fleet.upstream.upload("Foo.Bar", "9.0")
    fleet.hub_sync()
    before = len(fleet.access())
    fleet.upstream.clear_log()
    result = run_mirror(replica)
    assert result.exit_code == ExitCode.OK and result.synced == ["foo-bar"]
    assert status(replica) == status(fleet.hub) == fleet.upstream.last_serial
    got = fleet.access()[before:]
    assert got[:2] == ["GET /changes/head.json", "GET /changes/segments.json"] and got[2].startswith("GET /changes/0")
    pages = [path for path in got if not path.startswith("GET /packages/")]
    assert pages[3:] == ["GET /simple/foo-bar/", "GET /pypi/foo-bar/json"], "one page (and its JSON copy), no index"
    new_files = [path for path in got if path.startswith("GET /packages/")]
    assert len(new_files) == 2 and all("-9.0" in path for path in new_files), "only the new release's files"
    assert fleet.upstream.requests() == []
    assert "9.0" in json.loads((replica.directory / "web/simple/foo-bar/index.v1_json").read_text())["versions"]


def test_a_replica_behind_the_retention_reconciles_from_the_index(
        tmp_path: Path, fakepypi, nginx_factory) -> None:  # noqa: F811
    hub = make_config(tmp_path, fakepypi.base_url, name="hub", journal_retention=1)
    assert run_mirror(hub).exit_code == ExitCode.OK
    fleet = Fleet(fakepypi, hub, nginx_factory(hub.directory / "web"), tmp_path)
    replica = fleet.replica(json=False)
    assert run_mirror(replica).exit_code == ExitCode.OK
    left_at = status(replica)
    fakepypi.upload("Foo.Bar", "9.1")
    fakepypi.remove_project("dup.name")
    fleet.hub_sync()
    # The hub keeps syncing (nothing new) until the journal has pruned the entries the replica needs.
    deadline = time.monotonic() + 60
    while head(hub)["since"] <= left_at:
        assert time.monotonic() < deadline, "the hub never pruned its journal"
        fleet.hub_sync()
    before = len(fleet.access())
    result = run_mirror(replica)
    assert result.exit_code == ExitCode.OK, result
    assert status(replica) == status(hub) == fakepypi.last_serial
    assert "GET /simple/" in fleet.access()[before:], "reconciled from the hub's root index"
    assert sorted(result.synced) == ["dup-name", "foo-bar"]
    assert not (replica.directory / "web/simple/dup-name").exists(), "the withdrawn project is gone"
    assert "9.1" in json.loads((replica.directory / "web/simple/foo-bar/index.v1_json").read_text())["versions"]
    assert_tree_consistent(replica.directory)


def test_a_replica_never_claims_a_serial_its_hub_has_not_published(fleet: Fleet) -> None:
    """The hub publishes Foo.Bar (a later serial) while Needs-Py (an earlier one) fails: the hub's
    head stays below Needs-Py's change, and so does the replica, though it copies Foo.Bar."""
    replica = fleet.replica()
    assert run_mirror(replica).exit_code == ExitCode.OK
    up = fleet.upstream
    early = up.upload("Needs-Py", "7.0")["serial"]
    up.upload("Foo.Bar", "7.0")
    fault = up.add_fault("status", path="/pypi/needs-py/json", status=503)
    try:
        assert run_mirror(fleet.hub).exit_code == ExitCode.FAILED
        hub_head = head(fleet.hub)["serial"]
        assert hub_head < early <= up.last_serial
        assert run_mirror(replica).exit_code == ExitCode.OK
        assert status(replica) == hub_head, "never ahead of the hub's published serial"
    finally:
        up.remove_fault(fault)
    fleet.hub_sync()
    assert run_mirror(replica).exit_code == ExitCode.OK
    assert status(replica) == status(fleet.hub) == up.last_serial
    for name in ("needs-py", "foo-bar"):
        assert "7.0" in json.loads((replica.directory / f"web/simple/{name}/index.v1_json").read_text())["versions"]


def test_status_and_metrics_show_the_hub_serial_and_the_lag(fleet: Fleet) -> None:
    metrics_file = fleet.tmp / "replica.prom"
    conf = write_config(fleet.tmp / "replica.conf", fleet.tmp / "replica", fleet.nginx.base_url,
                        upstream_kind="mirror", extra=f"[wrapper]\nmetrics-file = {metrics_file}\n")
    assert run_wrapper(conf).returncode == 0
    synced_at = status(fleet.hub)
    doc = json.loads(run_cli("-c", str(conf), "status", "--json").stdout)
    assert (doc["kind"], doc["hub"], doc["hub_serial"], doc["hub_lag_serials"], doc["hub_lag_seconds"]) == (
        "mirror", fleet.nginx.base_url, synced_at, 0, 0.0)
    assert doc["last_exit_code"] == 0
    m = read_metrics(metrics_file)
    assert metric(m, "replica") == 1 and metric(m, "hub_serial") == synced_at and metric(m, "hub_lag_serials") == 0

    fleet.upstream.upload("Foo.Bar", "9.2")
    fleet.hub_sync()
    moved = status(fleet.hub)
    recorded = json.loads(run_cli("-c", str(conf), "status", "--json").stdout)
    assert recorded["hub_serial"] == synced_at, "without --live: what the last run saw"
    live = json.loads(run_cli("-c", str(conf), "status", "--json", "--live").stdout)
    assert live["hub_serial"] == moved and live["hub_lag_serials"] == moved - synced_at > 0
    assert live["hub_lag_seconds"] is not None and live["hub_lag_seconds"] >= 0
    text = run_cli("-c", str(conf), "status", "--live").stdout
    assert f"hub serial:       {moved}" in text and f"lag behind hub:   {moved - synced_at} serials" in text

    assert run_wrapper(conf).returncode == 0
    live = json.loads(run_cli("-c", str(conf), "status", "--json", "--live").stdout)
    assert (live["mirror_serial"], live["hub_lag_serials"], live["hub_lag_seconds"]) == (moved, 0, 0.0)


def test_status_of_a_hub_asks_its_upstream_live(fleet: Fleet) -> None:
    fleet.upstream.upload("Foo.Bar", "9.3")
    doc = json.loads(run_cli("-c", str(fleet.hub.path), "status", "--json", "--live").stdout)
    assert doc["kind"] == "pypi" and doc["upstream_serial"] == fleet.upstream.last_serial
    assert doc["upstream_lag_serials"] == fleet.upstream.last_serial - doc["mirror_serial"] > 0
    assert doc["journal"]["serial"] == doc["mirror_serial"]


def test_standby_hub_then_fallback_upstream_then_nothing(fleet: Fleet) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    replica = fleet.replica(master=dead, standby_hubs=fleet.nginx.base_url)
    result = run_mirror(replica)
    assert result.exit_code == ExitCode.OK and status(replica) == status(fleet.hub)
    assert read_hub_state(replica.directory).hub == fleet.nginx.base_url

    fleet.upstream.upload("Foo.Bar", "9.4")
    alone = fleet.replica(name="alone", master=dead, fallback_upstream=fleet.upstream.base_url)
    result = run_mirror(alone)
    assert result.exit_code == ExitCode.OK and status(alone) == fleet.upstream.last_serial
    assert read_hub_state(alone.directory).fallback

    cut_off = fleet.replica(name="cut-off", master=dead)
    result = run_mirror(cut_off)
    assert result.exit_code == ExitCode.UNREACHABLE
    assert not (cut_off.directory / "status").exists()


def test_a_hub_without_a_journal_is_not_a_hub(tmp_path: Path, nginx_factory) -> None:  # noqa: F811
    empty = tmp_path / "empty" / "web"
    empty.mkdir(parents=True)
    server = nginx_factory(empty)
    replica = make_config(tmp_path, server.base_url, name="replica", upstream_kind="mirror")
    result = run_mirror(replica)
    assert result.exit_code == ExitCode.UNREACHABLE


def test_journal_cache_headers(fleet: Fleet) -> None:
    """The head revalidates every time; a closed segment is immutable."""
    import urllib.request

    fleet.upstream.upload("Foo.Bar", "9.5")
    fleet.hub_sync()
    web = fleet.hub.directory / "web/changes"
    (web / "0000000009.txt").write_text("1 closed-example\n")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for path, want in (("/changes/head.json", "no-cache"), ("/changes/segments.json", "no-cache"),
                       ("/changes/0000000001.open.txt", "no-cache"), ("/changes/0000000009.txt", "immutable")):
        with opener.open(fleet.nginx.base_url + path, timeout=10) as resp:
            assert want in resp.headers["Cache-Control"], (path, resp.headers["Cache-Control"])


def test_sync_names_on_a_replica_uses_the_answering_hub(fleet: Fleet) -> None:
    """`pypi-mirror sync NAME` reads no head first: the client still picks the hub that answers."""
    from mirror_tool.engine.run import run_sync

    replica = fleet.replica(master=f"http://127.0.0.1:{free_port()}", standby_hubs=fleet.nginx.base_url)
    assert run_mirror(replica).exit_code == ExitCode.OK
    fleet.upstream.upload("Foo.Bar", "9.6")
    fleet.hub_sync()
    result = run_sync(replica, ["Foo.Bar"])
    assert result.exit_code == ExitCode.OK and result.synced == ["foo-bar"]
    assert "9.6" in json.loads((replica.directory / "web/simple/foo-bar/index.v1_json").read_text())["versions"]


def test_force_check_on_a_replica_rechecks_against_the_hub(fleet: Fleet) -> None:
    """`mirror --force-check` (bandersnatch's flag) on a replica diffs against the hub's index, not
    the upstream's: every project is re-checked, the upstream is never asked."""
    from mirror_tool.engine.reconcile import FullCheck

    replica = fleet.replica()
    assert run_mirror(replica).exit_code == ExitCode.OK
    fleet.upstream.upload("Foo.Bar", "9.7")
    fleet.hub_sync()
    fleet.upstream.clear_log()
    check = FullCheck.from_flags(reconcile=False, force_check=True)
    result = run_mirror(replica, full_check=check)
    assert result.exit_code == ExitCode.OK, result
    hub_projects = {p.name for p in (fleet.hub.directory / "web/simple").iterdir() if p.is_dir()}
    assert set(result.synced) == hub_projects
    assert status(replica) == status(fleet.hub)
    assert fleet.upstream.requests() == []
    assert "9.7" in json.loads((replica.directory / "web/simple/foo-bar/index.v1_json").read_text())["versions"]
    assert_tree_consistent(replica.directory)
