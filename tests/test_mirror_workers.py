"""Project syncs in forked worker processes (mirror_tool/workers.py, `[mirror] worker-mode`).

Real `pypi-mirror` processes against the fake upstream; the worker processes are found through
/proc and killed for real.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mirror_tool.exitcodes import ExitCode
from mirror_tool.engine.run import run_mirror
from mirror_tool.stop import StopToken
from mirror_tool.engine.workers import choose_processes
from tests.support.mirror_env import make_config, popen_cli, run_cli, write_config
from tests.support.tree_check import assert_tree_consistent, files_on_disk
from tests.support.upstream_compare import assert_mirror_matches, assert_only_listed_files

CORPUS = {"projects": 12, "releases": 2, "files": 2}


def children_of(pid: int) -> set[int]:
    """Direct children of `pid`, whichever of its threads forked them."""
    out: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out |= {int(x) for x in text.split()}
    return out


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has exited: not alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def wait_gone(pids: set[int], seconds: float = 5.0) -> set[int]:
    """Poll until none of `pids` runs; returns those still running after `seconds`."""
    end = time.monotonic() + seconds
    left = {p for p in pids if alive(p)}
    while left and time.monotonic() < end:
        time.sleep(0.05)
        left = {p for p in left if alive(p)}
    return left


def start_and_wait_for(conf: Path, lines: int, *extra: str, marker: str = "Syncing package",
                       new_session: bool = False) -> tuple[subprocess.Popen[str], list[str], set[int]]:
    """Start `mirror` in processes mode; return once `lines` lines with `marker` appeared, with the
    worker PIDs seen at that point. stderr keeps being drained by a thread into the list."""
    proc = popen_cli("-c", str(conf), *extra, "mirror", start_new_session=new_session)
    assert proc.stderr is not None
    seen: list[str] = []
    count = 0
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            count += 1
            if count >= lines:
                break
    assert count >= lines, "".join(seen)
    workers: set[int] = set()
    end = time.monotonic() + 5
    while not workers and time.monotonic() < end:
        workers = {p for p in children_of(proc.pid) if alive(p)}
        if not workers:
            time.sleep(0.02)

    def drain() -> None:
        assert proc.stderr is not None
        for rest in proc.stderr:
            seen.append(rest)

    threading.Thread(target=drain, daemon=True).start()
    return proc, seen, workers


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    try:
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.1)  # let the drain thread read the last lines
    return code


def slow_upstream(fakepypi_factory):  # type: ignore[no-untyped-def]
    """Every file takes a second: a run lasts a few seconds although a project's files download at
    once, so a kill or a stop always meets work in flight."""
    fp = fakepypi_factory(**CORPUS)
    fault = fp.add_fault("latency", prefix="/packages/", latency=1.0)
    return fp, fault


def rerun_completes(fp, fault, conf: Path, directory: Path) -> None:  # type: ignore[no-untyped-def]
    """With the upstream fast again, the next run finishes the interrupted work exactly."""
    fp.remove_fault(fault)
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.OK, res.stderr
    report = assert_mirror_matches(fp, directory)
    assert_only_listed_files(directory, report)
    assert not (directory / "todo").exists()


def pages_of(directory: Path) -> dict[str, bytes]:
    """Every file below web/simple (pages and the root index), relative path -> bytes."""
    simple = directory / "web" / "simple"
    return {str(p.relative_to(simple)): p.read_bytes() for p in simple.rglob("*") if p.is_file()}


# -- modes ---------------------------------------------------------------------------------------


def test_choose_processes() -> None:
    assert "fork" in multiprocessing.get_all_start_methods()
    assert choose_processes("threads", 8, 1000) is False
    assert choose_processes("processes", 1, 1) is True
    assert choose_processes("auto", 3, 1000) is False  # threads: the syncs wait on the network
    assert choose_processes("auto", 1, 1000) is False


def test_threads_and_processes_give_identical_trees(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(**CORPUS)
    trees = {}
    for mode in ("threads", "processes"):
        directory = tmp_path / mode
        conf = write_config(tmp_path / f"{mode}.conf", directory, fp.base_url, workers=3, worker_mode=mode)
        res = run_cli("-c", str(conf), "--debug", "mirror")
        assert res.returncode == ExitCode.OK, res.stderr
        assert f"on 3 worker {mode}" in res.stderr, res.stderr[-2000:]
        other = "threads" if mode == "processes" else "processes"
        assert f"worker {other}" not in res.stderr
        report = assert_mirror_matches(fp, directory)
        assert_only_listed_files(directory, report)
        assert not (directory / "todo").exists()
        summary = [line for line in res.stderr.splitlines() if "Sync finished:" in line]
        assert len(summary) == 1
        trees[mode] = (files_on_disk(directory), pages_of(directory), summary[0].split("Sync finished:")[1].split(",")[:3])
    t_files, t_pages, t_counts = trees["threads"]
    p_files, p_pages, p_counts = trees["processes"]
    assert t_files and t_files == p_files
    assert set(t_pages) == set(p_pages)
    assert t_pages == p_pages
    # the summary counts the workers' downloads too (projects, files, bytes)
    assert t_counts == p_counts
    assert int(t_counts[1].split()[0]) > 0


def test_auto_mode_picks_threads(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    """`auto` syncs on threads, even a first sync of many projects (one process in memory)."""
    fp = fakepypi_factory(**CORPUS)
    directory = tmp_path / "auto"
    conf = write_config(tmp_path / "auto.conf", directory, fp.base_url, workers=2)
    res = run_cli("-c", str(conf), "--debug", "mirror")
    assert res.returncode == ExitCode.OK, res.stderr
    assert "on 2 worker threads" in res.stderr
    assert "worker processes" not in res.stderr
    assert_mirror_matches(fp, directory)


# -- kills and stops -----------------------------------------------------------------------------


def test_sigkill_parent_takes_workers_down(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp, fault = slow_upstream(fakepypi_factory)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url, workers=3, worker_mode="processes")
    proc, seen, workers = start_and_wait_for(conf, 2, "--debug")
    try:
        assert len(workers) == 3, (workers, "".join(seen))
        proc.send_signal(signal.SIGKILL)
        assert finish(proc) == -signal.SIGKILL
        left = wait_gone(workers)
        assert not left, f"worker processes still running after the parent died: {left}"
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert "worker processes" in "".join(seen)
    assert_tree_consistent(directory)
    assert (directory / "todo").exists()
    rerun_completes(fp, fault, conf, directory)


def test_sigkill_one_worker_fails_run_cleanly(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp, fault = slow_upstream(fakepypi_factory)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url, workers=3, worker_mode="processes")
    proc, seen, workers = start_and_wait_for(conf, 2)
    try:
        assert len(workers) == 3, (workers, "".join(seen))
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        code = finish(proc)
        assert not wait_gone(workers), "the other workers outlived the run"
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(seen)
    assert code == ExitCode.FAILED, stderr[-3000:]
    died = [line for line in stderr.splitlines() if "worker process died" in line]
    assert len(died) == 1, stderr[-3000:]
    assert "ERROR" in died[0]
    assert "Traceback" not in stderr
    assert_tree_consistent(directory)
    todo = json.loads((directory / "todo").read_text())
    assert todo["projects"] and todo["target_serial"] == fp.last_serial
    assert not (directory / "status").exists() or int((directory / "status").read_text()) < fp.last_serial
    rerun_completes(fp, fault, conf, directory)


@pytest.mark.parametrize(
    ("target", "signum", "expected"),
    [
        ("parent", signal.SIGINT, ExitCode.INTERRUPTED),
        ("group", signal.SIGINT, ExitCode.INTERRUPTED),  # Ctrl-C reaches every process of the group
        ("parent", signal.SIGTERM, ExitCode.TERMINATED),
    ],
)
def test_signal_parent_in_processes_mode(tmp_path: Path, fakepypi_factory, target: str, signum: int,
                                         expected: ExitCode) -> None:  # type: ignore[no-untyped-def]
    fp, fault = slow_upstream(fakepypi_factory)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url, workers=3, worker_mode="processes")
    proc, seen, workers = start_and_wait_for(conf, 2, new_session=True)
    try:
        assert len(workers) == 3, (workers, "".join(seen))
        if target == "group":
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        code = finish(proc)
        assert not wait_gone(workers), "worker processes outlived an interrupted run"
    finally:
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    stderr = "".join(seen)
    assert code == expected, stderr[-3000:]
    assert "Traceback" not in stderr
    assert_tree_consistent(directory)
    todo = json.loads((directory / "todo").read_text())
    assert todo["projects"]
    assert not list((directory / "tmp").iterdir())
    rerun_completes(fp, fault, conf, directory)


def test_stop_token_in_process_processes_mode(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp, fault = slow_upstream(fakepypi_factory)
    cfg = make_config(tmp_path, fp.base_url, workers=3, worker_mode="processes")
    directory = cfg.directory
    token = StopToken()
    started_with: set[int] = set()

    def stop_when_busy() -> None:
        # stop once some files are on disk (the workers really run), well before the end
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if len(files_on_disk(directory)) >= 4:
                started_with.update(p for p in children_of(os.getpid()) if alive(p))
                break
            time.sleep(0.01)
        token.set()

    stopper = threading.Thread(target=stop_when_busy, daemon=True)
    stopper.start()
    result = run_mirror(cfg, stop=token)
    stopper.join(timeout=5)
    assert result.exit_code == ExitCode.INTERRUPTED, result
    assert started_with, "no worker process was seen while the sync ran"
    assert not wait_gone(started_with), "worker processes outlived run_mirror"
    assert not multiprocessing.active_children()
    assert_tree_consistent(directory)
    assert (directory / "todo").exists()
    assert not list((directory / "tmp").iterdir())
    fp.remove_fault(fault)
    again = run_mirror(cfg)
    assert again.exit_code == ExitCode.OK, again
    report = assert_mirror_matches(fp, directory)
    assert_only_listed_files(directory, report)
    assert not (directory / "todo").exists()


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_time_limit_stops_cleanly(tmp_path: Path, fakepypi_factory, mode: str) -> None:  # type: ignore[no-untyped-def]
    fp, fault = slow_upstream(fakepypi_factory)
    cfg = make_config(tmp_path, fp.base_url, workers=3, worker_mode=mode)
    result = run_mirror(cfg, stop=StopToken.after(0.6))
    assert result.exit_code == ExitCode.TIMEOUT, result
    assert not multiprocessing.active_children()
    assert_tree_consistent(cfg.directory)
    assert (cfg.directory / "todo").exists()
    fp.remove_fault(fault)
    assert run_mirror(cfg).exit_code == ExitCode.OK
    assert_mirror_matches(fp, cfg.directory)


def _limit_file_size() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))


def test_storage_error_in_a_worker_process_exits_7(tmp_path: Path, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    """A StorageError raised in a worker crosses the process boundary: exit 7, nothing half-published."""
    fp = fakepypi_factory(**CORPUS)
    directory = tmp_path / "mirror"
    conf = write_config(tmp_path / "m.conf", directory, fp.base_url, workers=2, worker_mode="processes")
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.OK, res.stderr
    names = sorted(fp.projects())[:3]
    for norm in names:
        fp.upload(fp.project(norm)["name"], "30.0", file_size=60_000)  # above the file size limit
    res = run_cli("-c", str(conf), "--debug", "mirror", preexec_fn=_limit_file_size)
    assert res.returncode == ExitCode.STORAGE, res.stderr[-3000:]
    assert "on 2 worker processes" in res.stderr
    assert "File too large" in res.stderr
    assert "Traceback" not in res.stderr and "worker process died" not in res.stderr
    report = assert_tree_consistent(directory)
    for norm in names:
        assert not any("30.0" in n for n in report.projects[norm].files)
    assert list((directory / "tmp").iterdir()) == []
    assert (directory / "todo").exists()
    res = run_cli("-c", str(conf), "mirror")
    assert res.returncode == ExitCode.OK, res.stderr
    assert_mirror_matches(fp, directory)
