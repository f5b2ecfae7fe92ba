"""The vhost's logs survive a real logrotate: nginx's workers reopen them (issue 13, item 11).

logrotate renames access.log / error.log and signals nginx; the master reopens the files, and so
must each worker (user www-data). A worker that cannot reach the log directory keeps writing into
the rotated file, so the new access.log stays empty. Runs last: it rotates the mirror's own logs
too (the role's file rotates both groups).
"""

from __future__ import annotations

import uuid

from scenario import MIRRORS, podman_host, wait_for

testinfra_hosts = [podman_host(name) for name in MIRRORS]

NGINX_LOGS = "/var/log/nginx/pypi-mirror"
ACCESS, ERROR = f"{NGINX_LOGS}/access.log", f"{NGINX_LOGS}/error.log"
RULES = "/etc/logrotate.d/pypi-mirror"


def _requests(host, marker: str) -> None:
    """One served request and one for a missing file (nginx logs the latter in error.log)."""
    for path in (f"/simple/?{marker}", f"/no-such-file-{marker}"):
        assert host.run(f"curl -sS -o /dev/null http://127.0.0.1{path}").rc == 0


def _content(host, path: str) -> str:
    return host.file(path).content_string if host.file(path).exists else ""


def test_vhost_log_directory_is_like_debians_nginx_log_directory(host):
    """root:adm 0755, as the nginx package makes /var/log/nginx: the workers can reopen files."""
    ours, debian = host.file(NGINX_LOGS), host.file("/var/log/nginx")
    assert ours.is_directory
    assert (ours.user, ours.group, ours.mode) == (debian.user, debian.group, debian.mode) == ("root", "adm", 0o755)


def test_nginx_logs_into_the_new_files_after_logrotate(host):
    before, after = f"before-{uuid.uuid4().hex}", f"after-{uuid.uuid4().hex}"
    _requests(host, before)  # notifempty: both logs must hold something to be rotated
    wait_for(lambda: before in _content(host, ERROR), 10, 0.5, "the error line before rotation")
    state = host.check_output("mktemp /tmp/logrotate-state.XXXXXX")
    try:
        res = host.run(f"logrotate -v -f -s {state} {RULES}")
    finally:
        host.run(f"rm -f {state}")
    assert res.rc == 0, res.stdout + res.stderr
    assert before in _content(host, f"{ACCESS}.1"), "the rotated access.log holds the earlier request"

    _requests(host, after)
    wait_for(lambda: after in _content(host, ACCESS), 10, 0.5, "the new request in the new access.log")
    wait_for(lambda: after in _content(host, ERROR), 10, 0.5, "the new error line in the new error.log")
    assert before not in _content(host, ACCESS)
    assert after not in _content(host, f"{ACCESS}.1"), "a worker still writes into the rotated file"
    assert after not in _content(host, f"{ERROR}.1")
    for path in (ACCESS, ERROR):
        log = host.file(path)
        assert (log.user, log.group, log.mode) == ("www-data", "adm", 0o640), path
