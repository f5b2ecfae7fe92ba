"""Issue 13 items 1, 4, 5 and 6 end to end, through `pypi-mirror-run` (the path cron takes).

A `ScriptedSite` on a `HostileUpstream` is a small correct upstream (PEP 691 index, project JSON,
files); each test turns one route hostile: a file that drips a byte a second, a gzip bomb, a body
past its cap, a file on (or redirected to) a host nobody configured, 429 with `Retry-After`. What
the servers saw proves what was (not) requested; no timing asserts: a run that would hang ends
by the subprocess timeout as a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.hostile_upstream import HostileUpstream, wait_for
from tests.support.scripted_site import ScriptedSite, wheel_without_metadata
from tests.support.tree_check import assert_tree_consistent
from tests.test_wrapper_support import (
    WRAPPER_TIMEOUT,
    metric,
    read_metrics,
    run_wrapper,
    wrapper_command,
    write_config,
)
from mirror_tool.wrapper.clock import CLOCK_OFFSET_ENV


class Site:
    """One mirror host under tmp_path, syncing from `upstream` with the PEP 691 index as its feed."""

    def __init__(self, root: Path, upstream: HostileUpstream) -> None:
        self.root = root
        self.mirror = root / "mirror"
        self.config = root / "pypi-mirror.conf"
        self.log = root / "wrapper.log"
        self.metrics = root / "pypi_mirror.prom"
        self.state = self.mirror / "wrapper-state.json"
        self.upstream = upstream
        self.scripted = ScriptedSite(upstream)

    def configure(self, mirror: dict[str, str] | None = None, **wrapper: str) -> Path:
        keys = {"changelog-source": "index", "worker-mode": "processes", **(mirror or {})}
        wrapper_keys = {"log-file": str(self.log), "metrics-file": str(self.metrics),
                        **{k.replace("_", "-"): v for k, v in wrapper.items()}}
        return write_config(self.config, self.mirror, self.upstream.url(""), keys, wrapper_keys)

    def log_lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if text in line]

    def has_file(self, filename: str) -> bool:
        return any((self.mirror / "web" / "packages").rglob(filename))

    def failing(self) -> dict[str, str]:
        return json.loads((self.mirror / "state.json").read_text())["failing"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with HostileUpstream() as upstream:
        yield Site(tmp_path, upstream)


def wrapper_env() -> dict[str, str]:
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env[CLOCK_OFFSET_ENV] = "0.0"
    return env


def run_measured(config: Path) -> tuple[int, int]:
    """Run the wrapper from a fresh launcher: (exit code, peak RSS in KiB of the biggest process of
    the run, worker processes included, as the kernel counts it for waited-for descendants)."""
    launcher = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", launcher, *wrapper_command(), "-c", str(config)],
                          capture_output=True, text=True, env=wrapper_env(), timeout=WRAPPER_TIMEOUT)
    return proc.returncode, int(proc.stdout.split()[-1])


# -- item 1: a slow upstream ends with the run ------------------------------------------------

def _dripping_site(site: Site) -> str:
    """Two projects; the file of `slow` drips one byte a second (an hour for the whole file)."""
    site.scripted.add_project("fast", {"fast-1.0.tar.gz": b"fast bytes"})
    slow = site.scripted.add_project("slow", {"slow-1.0.tar.gz": b"s" * 3600})
    site.scripted.publish()
    path = slow.files[0].path
    site.upstream.drip(path, size=3600)
    return path


def test_a_dripping_upstream_is_ended_by_the_time_limit(site: Site) -> None:
    path = _dripping_site(site)
    site.configure(time_limit="3")

    result = run_wrapper(site.config)

    log_text = site.log.read_text()
    assert result.returncode == 6, log_text
    assert path in site.upstream.paths()  # the drip was in flight when the limit came
    assert "Time limit reached; stopped cleanly" in log_text
    assert not site.has_file("slow-1.0.tar.gz") and site.has_file("fast-1.0.tar.gz")
    assert_tree_consistent(site.mirror)
    assert json.loads(site.state.read_text())["version"] == 1
    assert metric(read_metrics(site.metrics), "exit_code") == 6


def test_a_dripping_upstream_is_ended_by_sigterm(site: Site) -> None:
    path = _dripping_site(site)
    site.configure()
    proc = subprocess.Popen(wrapper_command() + ["-c", str(site.config)], env=wrapper_env())
    try:
        assert wait_for(lambda: path in site.upstream.paths(), 60), site.log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Terminated by SIGTERM; stopped cleanly" in site.log.read_text()
    assert_tree_consistent(site.mirror)
    assert site.state.exists()
    assert metric(read_metrics(site.metrics), "exit_code") == 143


# -- item 4: caps after decompression, bounded memory ------------------------------------------

def test_bodies_past_their_caps_fail_only_their_project_in_bounded_memory(site: Site) -> None:
    site.scripted.add_project("fine", {"fine-1.0.tar.gz": b"fine bytes"})
    site.scripted.add_project("bomb", {"bomb-1.0.tar.gz": b"bomb bytes"})
    site.scripted.add_project("huge", {"huge-1.0.tar.gz": b"huge bytes"})
    wheel = wheel_without_metadata("meta", "1.0")
    site.scripted.add_project("meta", {"meta-1.0-py3-none-any.whl": wheel},
                              metadata={"meta-1.0-py3-none-any.whl": b"Metadata-Version: 2.1\n" + b" " * 300_000})
    site.scripted.publish()
    site.upstream.gzip_bomb("/pypi/bomb/json", plain_size=1 << 30)  # 1 GiB of zeros, ~1 MiB on the wire
    padding = json.loads(site.scripted.project_json(site.scripted.projects["huge"]))
    padding["info"]["description"] = "x" * (3 << 20)
    site.upstream.ok("/pypi/huge/json", json.dumps(padding).encode(),
                     {"Content-Type": "application/json", "X-PyPI-Last-Serial": "3"})
    site.configure({"max-project-json-size": "1M", "max-metadata-size": "64K"})

    code, rss_kib = run_measured(site.config)

    assert code == 1, site.log.read_text()
    assert set(site.failing()) == {"bomb", "huge", "meta"}
    for name, cap in (("bomb", 1 << 20), ("huge", 1 << 20), ("meta", 64 << 10)):
        lines = site.log_lines(f"Failed to sync package {name}:")
        assert len(lines) == 1 and f"body larger than its cap of {cap} bytes (after decompression)" in lines[0]
    assert site.has_file("fine-1.0.tar.gz")
    assert not (site.mirror / "web" / "simple" / "meta").exists()
    assert_tree_consistent(site.mirror)
    assert rss_kib < 200 * 1024, f"peak RSS {rss_kib} KiB"


def test_a_gzip_bomb_as_the_index_fails_the_feed_in_bounded_memory(site: Site) -> None:
    site.upstream.gzip_bomb("/simple/", plain_size=1 << 30)
    site.configure({"max-index-size": "16M"})

    code, rss_kib = run_measured(site.config)

    assert code == 5, site.log.read_text()
    lines = site.log_lines("body larger than its cap")
    assert len(lines) == 1 and "GET " + site.upstream.url("/simple/") in lines[0]
    assert "cap of 16777216 bytes" in lines[0] and "change feed failed" in lines[0]
    assert metric(read_metrics(site.metrics), "exit_code") == 5
    assert rss_kib < 200 * 1024, f"peak RSS {rss_kib} KiB"


# -- item 5: file hosts and redirects ---------------------------------------------------------

def test_a_redirect_to_a_foreign_host_is_refused_and_never_requested(site: Site) -> None:
    with HostileUpstream(host="127.0.0.5") as foreign:
        site.scripted.add_project("fine", {"fine-1.0.tar.gz": b"fine bytes"})
        moved = site.scripted.add_project("moved", {"moved-1.0.tar.gz": b"moved bytes"})
        site.scripted.publish()
        foreign.ok("/moved-1.0.tar.gz", b"moved bytes")
        site.upstream.redirect(moved.files[0].path, foreign.url("/moved-1.0.tar.gz"))
        site.configure()

        result = run_wrapper(site.config)

        assert result.returncode == 1, site.log.read_text()
        assert foreign.seen == [] and foreign.connections == 0
    assert set(site.failing()) == {"moved"}
    lines = site.log_lines("Failed to sync package moved:")
    assert len(lines) == 1 and foreign.url("/moved-1.0.tar.gz") in lines[0] and "download-hosts" in lines[0]
    assert site.has_file("fine-1.0.tar.gz") and not site.has_file("moved-1.0.tar.gz")
    assert_tree_consistent(site.mirror)


def test_files_on_a_foreign_host_fail_their_project_until_download_hosts_lists_it(site: Site) -> None:
    with HostileUpstream(host="127.0.0.5") as files:
        site.scripted.add_project("fine", {"fine-1.0.tar.gz": b"fine bytes"})
        site.scripted.add_project("elsewhere", {"elsewhere-1.0.tar.gz": b"bytes elsewhere",
                                                "elsewhere-1.0-py3-none-any.whl": b"a wheel"}, file_server=files)
        site.scripted.publish()
        host = f"127.0.0.5:{files.port}"
        site.configure()

        result = run_wrapper(site.config)

        assert result.returncode == 1, site.log.read_text()
        assert files.seen == [] and files.connections == 0
        lines = site.log_lines("Failed to sync package elsewhere:")
        assert len(lines) == 1 and lines[0].endswith(f"file host {host} is not in [mirror] download-hosts")
        assert site.has_file("fine-1.0.tar.gz")

        site.configure({"download-hosts": host})
        result = run_wrapper(site.config)

        assert result.returncode == 0, site.log.read_text()
        assert sorted(s.path.rsplit("/", 1)[1] for s in files.seen) == ["elsewhere-1.0-py3-none-any.whl",
                                                                       "elsewhere-1.0.tar.gz"]
    assert site.has_file("elsewhere-1.0.tar.gz")
    assert_tree_consistent(site.mirror)


# -- item 6: 429 with Retry-After --------------------------------------------------------------

def test_429_with_retry_after_is_retried_within_the_run_and_bounded(site: Site) -> None:
    scripted = site.scripted
    busy = scripted.add_project("busy", {"busy-1.0.tar.gz": b"busy bytes"})
    slowfile = scripted.add_project("slowfile", {"slowfile-1.0.tar.gz": b"slowfile bytes"})
    greedy = scripted.add_project("greedy", {"greedy-1.0.tar.gz": b"greedy bytes"})
    scripted.publish()
    site.upstream.rate_limited("/pypi/busy/json", times=2, retry_after="1", body=scripted.project_json(busy))
    site.upstream.rate_limited(slowfile.files[0].path, times=1, retry_after="1", body=slowfile.files[0].data)
    site.upstream.rate_limited("/pypi/greedy/json", times=5, retry_after="3600", body=scripted.project_json(greedy))
    site.configure({"retries": "3"})

    result = run_wrapper(site.config)

    assert result.returncode == 1, site.log.read_text()
    paths = site.upstream.paths()
    assert paths.count("/pypi/busy/json") == 3 and paths.count(slowfile.files[0].path) == 2
    assert site.has_file("busy-1.0.tar.gz") and site.has_file("slowfile-1.0.tar.gz")
    assert paths.count("/pypi/greedy/json") == 1  # a wait past retry-after-max is not taken
    assert set(site.failing()) == {"greedy"}
    lines = site.log_lines("Failed to sync package greedy:")
    assert len(lines) == 1 and "asks to wait 3600 s, more than the 60 s the retry policy allows" in lines[0]


def test_429_with_retry_after_is_retried_in_the_purge_loop(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(purge_mode="open")
    config = tmp_path / "pypi-mirror.conf"
    metrics = tmp_path / "pypi_mirror.prom"
    log = tmp_path / "wrapper.log"
    with HostileUpstream() as cdn:
        wrapper = {"log-file": str(log), "metrics-file": str(metrics), "purge-url": cdn.url(""),
                   "retry-attempts": "0"}
        write_config(config, tmp_path / "mirror", fp.base_url, None, wrapper)
        assert run_wrapper(config).returncode == 0, log.read_text()
        upload = fp.upload("Foo.Bar", "4.0")
        fp.pin_stale("foo-bar", serial=upload["serial"] - 1)
        purged = ["/pypi/Foo.Bar/json", "/pypi/foo-bar/json", "/simple/foo-bar/"]
        for path in purged:
            cdn.rate_limited(path, times=1, retry_after="1", body=b"purged\n")

        result = run_wrapper(config)

        assert result.returncode == 3, log.read_text()  # the PURGEs reached another CDN: still stale
        assert [(s.method, s.path) for s in cdn.seen] == [("PURGE", p) for p in purged for _ in range(2)]
    m = read_metrics(metrics)
    assert metric(m, "last_run_purges_sent") == 3 and metric(m, "last_run_purges_failed") == 0
