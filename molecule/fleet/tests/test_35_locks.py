"""Lock files belong to the mirror user, mode 0600, in directories only it can write (issue 13,
item 14): no other local user can open them, so none can block syncs by holding a shared flock."""

from __future__ import annotations

import pytest

from scenario import CRON_LOCK, DATA_DIR, MIRRORS, USER, podman_host

testinfra_hosts = [podman_host(name) for name in MIRRORS]

RUN_DIR = "/run/pypi-mirror"
TMPFILES = "/etc/tmpfiles.d/pypi-mirror.conf"
AS_NOBODY = "setpriv --reuid=nobody --regid=nogroup --clear-groups"


def test_cron_lock_directory_is_the_mirror_users_alone(host):
    assert CRON_LOCK.startswith(RUN_DIR + "/")
    run_dir = host.file(RUN_DIR)
    assert run_dir.is_directory
    assert (run_dir.user, run_dir.group, run_dir.mode) == (USER, USER, 0o700)


@pytest.mark.parametrize("path", [CRON_LOCK, f"{DATA_DIR}/.lock"])
def test_lock_files_after_a_run(host, cron_run, path):
    _, result = cron_run
    assert result.rc == 0
    lock = host.file(path)
    assert lock.is_file, path
    assert (lock.user, lock.mode) == (USER, 0o600), path
    # Another local user cannot even open it for a shared lock.
    res = host.run(f"{AS_NOBODY} flock -s -n {path} true")
    assert res.rc != 0 and "Permission denied" in res.stderr, res.stderr


def test_tmpfiles_entry_recreates_the_directory_at_boot(host, quiet_fleet):
    """/run is a tmpfs: what the role created is gone after a reboot; systemd-tmpfiles (run at
    boot) must bring the directory and the lock file back with the same owner and mode."""
    entry = host.file(TMPFILES)
    assert (entry.user, entry.mode) == ("root", 0o644)
    assert host.run(f"rm -rf {RUN_DIR}").rc == 0
    res = host.run(f"systemd-tmpfiles --create {TMPFILES}")
    assert res.rc == 0, res.stderr
    run_dir, lock = host.file(RUN_DIR), host.file(CRON_LOCK)
    assert (run_dir.user, run_dir.group, run_dir.mode) == (USER, USER, 0o700)
    assert (lock.user, lock.mode) == (USER, 0o600)
