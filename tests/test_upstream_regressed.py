"""An upstream whose serial went backwards: refused (exit 8, nothing published), reported in
`status` and in the wrapper's metrics, cured by itself when it was a lagging feed, and accepted
by `pypi-mirror mirror --reconcile`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mirror_tool.exitcodes import ExitCode, most_urgent
from tests.support.mirror_env import run_cli, write_config
from tests.support.tree_check import assert_no_orphans
from tests.support.upstream_compare import assert_mirror_matches
from tests.test_wrapper_support import metric, read_metrics, run_wrapper
from tests.test_wrapper_support import write_config as write_wrapper_config


def tree_snapshot(directory: Path) -> dict[str, int]:
    """Every file below web/, and `status`, with its mtime."""
    files = [p for p in (directory / "web").rglob("*") if p.is_file()] + [directory / "status"]
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns for p in files}


def status_json(conf: Path) -> dict:
    res = run_cli("-c", str(conf), "status", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_restored_upstream_is_refused_then_reconciled(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    old = fakepypi_factory(projects=10, releases=2, files=2)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, old.base_url)
    # The mirror follows the upstream past its backup: a new release, a new project.
    old.upload("Foo.Bar", "8.0.0")
    old.upload("Brand_New", "0.1")
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    mirror_serial = int((directory / "status").read_text())
    # The upstream is restored from the backup (same corpus, its serial from before the uploads)
    # and takes one change of its own, still below the mirror's serial.
    restored = fakepypi_factory(projects=10, releases=2, files=2)
    restored.upload("Needs_Py", "6.0.0")
    assert restored.last_serial < mirror_serial
    write_config(conf, directory, restored.base_url)
    before = tree_snapshot(directory)

    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.REGRESSED == 8, res.stderr
    errors = [line for line in res.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "went backwards" in errors[0], res.stderr
    assert f"says {restored.last_serial}, the mirror is at {mirror_serial}" in errors[0]
    assert "--reconcile" in errors[0]
    assert tree_snapshot(directory) == before  # nothing published, `status` unchanged
    assert not any(r["path"].startswith(("/pypi/", "/packages/")) for r in restored.requests())
    report = status_json(conf)
    assert report["mirror_serial"] == mirror_serial
    regressed = report["upstream_regressed"]
    assert regressed["upstream_serial"] == restored.last_serial and regressed["mirror_serial"] == mirror_serial
    assert regressed["source"] == "the XML-RPC change feed" and regressed["first_seen"] <= regressed["last_seen"]
    text = run_cli("-c", str(conf), "status").stdout
    assert re.search(rf"REGRESSED: +upstream serial {restored.last_serial} < mirror serial {mirror_serial}", text), text
    # Every run refuses again until the operator decides.
    assert run_cli("-c", str(conf), "mirror").returncode == 8

    res = run_cli("-c", str(conf), "mirror", "--reconcile")
    assert res.returncode == 0, res.stderr
    report = assert_mirror_matches(restored, directory)  # status == the restored upstream's serial
    assert "brand-new" not in report.projects and "8.0.0" not in " ".join(report.projects["foo-bar"].files)
    assert any("6.0.0" in name for name in report.projects["needs-py"].files)
    assert_no_orphans(directory)  # the files of the release and project upstream lost are gone
    after = status_json(conf)
    assert after["upstream_regressed"] is None and after["todo"] == 0
    assert after["mirror_serial"] == after["upstream_serial"] == restored.last_serial
    # From here on the mirror follows the restored upstream as usual.
    restored.upload("Foo.Bar", "9.0.0")
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    assert_mirror_matches(restored, directory)


def test_lagging_feed_is_asked_again_and_a_later_run_recovers(tmp_path: Path, fakepypi) -> None:  # type: ignore[no-untyped-def]
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fakepypi.base_url, stale_retries=2)
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    serial = fakepypi.last_serial
    # One stale answer (or two: the re-check is asked again) costs nothing.
    fakepypi.lag_xmlrpc(serial - 3, calls=3)
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == 0, res.stderr
    assert "asking again" in res.stderr
    # A feed that stays behind for a whole run stops that run only.
    fakepypi.lag_xmlrpc(serial - 3)
    fakepypi.upload("Foo.Bar", "7.0.0")
    assert run_cli("-c", str(conf), "mirror").returncode == 8
    assert status_json(conf)["upstream_regressed"]["upstream_serial"] == serial - 3
    fakepypi.lag_xmlrpc(None)
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == 0, res.stderr
    assert_mirror_matches(fakepypi, directory)
    assert status_json(conf)["upstream_regressed"] is None


def test_index_source_meets_the_same_guard(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    ahead = fakepypi_factory(projects=8, releases=1, files=1)
    ahead.upload("Foo.Bar", "8.0.0")
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, ahead.base_url, changelog_source="index")
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    behind = fakepypi_factory(projects=8, releases=1, files=1)
    write_config(conf, directory, behind.base_url, changelog_source="index")
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == 8, res.stderr
    assert status_json(conf)["upstream_regressed"]["source"] == "the /simple/ index"
    assert run_cli("-c", str(conf), "mirror", "--reconcile").returncode == 0
    assert_mirror_matches(behind, directory)


def test_wrapper_exits_8_with_metrics_and_sends_no_purge(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    old = fakepypi_factory(projects=6, releases=1, files=1)
    old.upload("Foo.Bar", "8.0.0")
    directory = tmp_path / "mirror"
    metrics_file = tmp_path / "metrics.prom"
    wrapper = {"metrics-file": str(metrics_file), "purge": "auto"}
    conf = write_wrapper_config(tmp_path / "w.conf", directory, old.base_url, wrapper=wrapper)
    assert run_wrapper(conf).returncode == 0
    assert metric(read_metrics(metrics_file), "upstream_serial_regressed") == 0
    mirror_serial = int((directory / "status").read_text())
    restored = fakepypi_factory(projects=6, releases=1, files=1)
    write_wrapper_config(conf, directory, restored.base_url, wrapper=wrapper)
    run = run_wrapper(conf)
    assert run.returncode == 8, run.stdout + run.stderr
    metrics = read_metrics(metrics_file)
    assert metric(metrics, "upstream_serial_regressed") == 1
    assert metric(metrics, "serial") == mirror_serial
    assert metric(metrics, "upstream_serial") == restored.last_serial
    assert metric(metrics, "exit_code") == 8
    assert restored.purges() == []
    assert "went backwards" in run.stdout


def test_regressed_outranks_storage_and_stops_but_not_unreachable() -> None:
    assert most_urgent(ExitCode.STORAGE, ExitCode.REGRESSED, ExitCode.TERMINATED) == ExitCode.REGRESSED
    assert most_urgent(ExitCode.REGRESSED, ExitCode.UNREACHABLE) == ExitCode.UNREACHABLE


def test_force_check_refuses_a_lower_serial_and_with_reconcile_accepts_it(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    """`--force-check` and `--reconcile` are one full check differing in two things: force-check
    re-checks every project (a rotten file of a project whose serial did not change is fetched
    again), reconcile accepts a lower serial. Alone, force-check meets the serial guard."""
    old = fakepypi_factory(projects=6, releases=1, files=2)
    old.upload("Foo.Bar", "8.0.0")
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, old.base_url)
    assert run_cli("-c", str(conf), "mirror").returncode == 0
    mirror_serial = int((directory / "status").read_text())
    rotten = next((directory / "web" / "packages").rglob("foo_bar_baz-*.tar.gz"))
    rotten.write_bytes(b"rotten")  # foo-bar-baz: the same serial on both upstreams
    restored = fakepypi_factory(projects=6, releases=1, files=2)
    write_config(conf, directory, restored.base_url)
    before = tree_snapshot(directory)

    res = run_cli("-c", str(conf), "mirror", "--force-check")
    assert res.returncode == ExitCode.REGRESSED, res.stderr
    assert f"says {restored.last_serial}, the mirror is at {mirror_serial}" in res.stderr
    assert tree_snapshot(directory) == before
    assert not any(r["path"].startswith(("/pypi/", "/packages/")) for r in restored.requests())

    res = run_cli("-c", str(conf), "mirror", "--reconcile", "--force-check")
    assert res.returncode == 0, res.stderr
    assert "Full reconcile with force check" in res.stderr
    fetched = {r["path"].split("/")[2] for r in restored.requests() if r["path"].startswith("/pypi/")}
    assert fetched == set(restored.projects())  # every project, also those whose serial is the mirror's
    assert [r["path"].rsplit("/", 1)[-1] for r in restored.requests() if r["path"].startswith("/packages/")] == [rotten.name]
    assert_mirror_matches(restored, directory)  # the rotten file is whole again; status = the lower serial
    assert_no_orphans(directory)
    assert status_json(conf)["upstream_regressed"] is None
