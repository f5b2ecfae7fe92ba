"""The role with storage-backend = s3: sync into a shared bucket, pip through nginx, kill -9 resume."""

from __future__ import annotations

import json

from objstore import (CREDENTIALS, DATA_DIR, MIRRORS, USER, VENV, WRAPPER_LOG, as_mirror_user, bucket_keys,
                      mirror_serial, upstream, verify, wait_for, wrapper_run)

JSON = "application/vnd.pypi.simple.v1+json"


def test_both_mirrors_sync_into_their_prefix_of_one_bucket(swift_host, mirrors) -> None:
    serial = upstream(swift_host, "state")["last_serial"]
    for name, host in mirrors.items():
        done = wrapper_run(host)
        assert done.rc == 0, f"{name}: {done.stdout}{done.stderr}"
        assert mirror_serial(host) == serial
        assert not host.file(f"{DATA_DIR}/web").exists, "no web tree on disk with an object store"
        credentials = host.file(CREDENTIALS)
        assert (credentials.user, credentials.mode) == (USER, 0o400)
        checked = verify(host)
        assert checked["exit_code"] == 0 and checked["files_checked"] > 0, checked
    for prefix in MIRRORS.values():
        keys = bucket_keys(swift_host, prefix)
        assert f"{prefix}simple/index.html" in keys and any(k.startswith(f"{prefix}packages/") for k in keys)
    everything = bucket_keys(swift_host, "")
    assert {k.split("/", 1)[0] + "/" for k in everything} == set(MIRRORS.values()), "nothing outside the two prefixes"


def test_pip_installs_through_nginx_from_the_bucket(mirrors) -> None:
    host = mirrors["objstore-mirror1"]
    page = host.run(f"curl -fsS -H 'Accept: {JSON}' -D /tmp/headers http://localhost/simple/foo-bar/")
    assert page.rc == 0 and json.loads(page.stdout)["name"] == "foo-bar"
    assert f"content-type: {JSON}" in host.file("/tmp/headers").content_string.lower()
    host.run("rm -rf /tmp/pip-target")
    done = host.run(f"{VENV}/bin/python -m pip install --no-deps --isolated --no-cache-dir --disable-pip-version-check "
                    "--index-url http://localhost/simple/ --target /tmp/pip-target Foo.Bar Pre.Release")
    assert done.rc == 0, done.stdout + done.stderr
    installed = host.check_output("ls /tmp/pip-target").split()
    assert "foo_bar-1.2.0.dist-info" in installed and "pre_release-1.2.0.dist-info" in installed
    access = host.file("/var/log/nginx/pypi-mirror/access.log").content_string
    assert ".whl HTTP/1.1\" 200" in access


def test_a_sync_killed_with_sigkill_resumes_and_the_bucket_stays_consistent(swift_host, mirrors) -> None:
    host = mirrors["objstore-mirror2"]
    for i in range(6):
        upstream(swift_host, "upload", {"name": f"Kill.Test{i}", "version": "1.0", "file_size": 65536})
    fault = upstream(swift_host, "fault", {"kind": "latency", "prefix": "/packages/", "latency": 0.4})["id"]
    lines_before = len(host.file(WRAPPER_LOG).content_string.splitlines())
    pid = host.check_output("setsid sh -c " + repr(as_mirror_user(f"{VENV}/bin/pypi-mirror-run -c /etc/pypi-mirror.conf")
                                                   + " >/dev/null 2>&1") + " </dev/null >/dev/null 2>&1 & echo $!")

    def syncing() -> bool:
        new = host.file(WRAPPER_LOG).content_string.splitlines()[lines_before:]
        return sum("Syncing package" in line for line in new) >= 2

    wait_for(syncing, 120, "the run to start syncing")
    assert host.run(f"/bin/kill -s KILL -- -{pid}").rc == 0  # the whole session: the wrapper and its workers
    wait_for(lambda: host.run("pgrep -u pypi-mirror -f pypi-mirror-run").rc != 0, 30, "the killed run to be gone")
    assert host.file(f"{DATA_DIR}/todo").exists, "the killed run left its work in todo"
    after_kill = verify(host)
    bad = [p for p in after_kill["problems"] if p["kind"] in ("missing", "corrupt", "missing-page")]
    assert not bad, bad  # no page lists a missing object or one with a wrong hash
    upstream(swift_host, "remove-fault", {"id": fault})
    done = wrapper_run(host)
    assert done.rc == 0, done.stdout + done.stderr
    assert mirror_serial(host) == upstream(swift_host, "state")["last_serial"]
    assert not host.file(f"{DATA_DIR}/todo").exists
    clean = verify(host)
    assert clean["exit_code"] == 0, clean["problems"]
    page = host.check_output("curl -fsS http://localhost/simple/kill-test5/")
    assert "kill_test5-1.0" in page
