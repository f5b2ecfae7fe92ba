"""The mirror with `storage-backend = s3`, against the real Swift all-in-one and the fake upstream.

Full, incremental and stale-serial syncs into a bucket; `verify` judging files by their stored
sha256 (and `--deep` by their bytes), `--repair` after an object was deleted behind the mirror's
back, `--delete` and `delete`; `reconcile-state` after the state disk was lost; refused
credentials as one line and exit 9 from both commands. After every step the bucket is copied
and judged by the same invariant as a tree on disk (tests/support/bucket.py).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from mirror_tool.exitcodes import ExitCode
from mirror_tool.names import normalize
from tests.support.bucket import bucket_keys, bucket_mirror, snapshot
from tests.support.mirror_env import run_cli
from tests.support.swift import Swift
from tests.support.upstream_compare import assert_mirror_matches, assert_only_listed_files
from tests.test_wrapper_support import metric, read_metrics, run_wrapper

PREFIX = "m1/"
SECRET = "s3cr3t-never-printed"


def mirror(conf: Path, *args: str) -> str:
    """Run `pypi-mirror -c conf ARGS`, expect exit 0, return stdout."""
    done = run_cli("-c", str(conf), *args, timeout=300)
    assert done.returncode == ExitCode.OK, (done.returncode, done.stderr[-3000:], done.stdout[-3000:])
    return done.stdout


def judged(swift: Swift, bucket: str, tmp_path: Path, fp, *, check_serial: bool = True):  # type: ignore[no-untyped-def]
    """The bucket's tree matches upstream and holds no file that no page lists."""
    copy = snapshot(swift, bucket, PREFIX, tmp_path / "snapshot", status_from=tmp_path / "mirror")
    report = assert_mirror_matches(fp, copy, check_serial=check_serial)
    assert_only_listed_files(copy, report)
    return report


def test_full_incremental_and_stale_syncs_into_a_bucket(tmp_path: Path, swift: Swift, swift_bucket: str,
                                                        fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=10, releases=2, files=2)
    conf = bucket_mirror(tmp_path, swift, swift_bucket, fp.base_url, json=True, workers=3)
    mirror(conf, "mirror")
    judged(swift, swift_bucket, tmp_path, fp)
    local = tmp_path / "mirror"
    assert not (local / "web").exists(), "no web tree on disk with an object store"
    assert {p.name for p in local.iterdir()} >= {"status", "state.json", "stale.json"}
    keys = bucket_keys(swift, swift_bucket, PREFIX)
    assert "last-modified" in keys and any(k.startswith("pypi/") for k in keys)

    # incremental: a new release, a removed release, a removed project
    names = sorted(name for name, info in fp.projects().items() if len(info["releases"]) >= 2)
    fp.upload(fp.project(names[0])["name"], "9.0")
    first = fp.project(names[1])
    fp.remove_release(first["name"], next(iter(first["releases"])))
    fp.remove_project(fp.project(names[2])["name"])
    mirror(conf, "mirror")
    judged(swift, swift_bucket, tmp_path, fp)
    assert not any(k.startswith(f"simple/{names[2]}/") or k == f"pypi/{names[2]}/json"
                   for k in bucket_keys(swift, swift_bucket, PREFIX))

    # stale: the CDN keeps serving the old pages of a project that changed
    stale = fp.project(names[3])["name"]
    fp.upload(stale, "9.1")
    fp.pin_stale(stale, fp.last_serial - 1)
    done = run_cli("-c", str(conf), "mirror", timeout=300)
    assert done.returncode == ExitCode.STALE, done.stderr[-2000:]
    assert names[3] in json.loads((local / "stale.json").read_text())["projects"]
    copy = snapshot(swift, swift_bucket, PREFIX, tmp_path / "snapshot")
    assert "9.1" not in (copy / "web" / "simple" / names[3] / "index.html").read_text()  # the old page stays
    fp.unpin_all()
    mirror(conf, "mirror")
    judged(swift, swift_bucket, tmp_path, fp)


def test_verify_reads_stored_hashes_deep_reads_bytes_and_repair_restores_deleted_objects(
        tmp_path: Path, swift: Swift, swift_bucket: str, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8, releases=2, files=2)
    conf = bucket_mirror(tmp_path, swift, swift_bucket, fp.base_url)
    mirror(conf, "mirror")
    s3 = swift.s3()
    files = sorted(k for k in bucket_keys(swift, swift_bucket, PREFIX) if k.startswith("packages/") and k.endswith(".whl"))
    deleted, rotten = files[0], files[1]
    s3.delete_object(Bucket=swift_bucket, Key=PREFIX + deleted)  # behind the mirror's back
    # bit rot under an unchanged object: the stored sha256 still says what the page says
    good = s3.get_object(Bucket=swift_bucket, Key=PREFIX + rotten)
    body = bytearray(good["Body"].read())
    body[-1] ^= 0xFF
    s3.put_object(Bucket=swift_bucket, Key=PREFIX + rotten, Body=bytes(body), ContentType="application/octet-stream",
                  Metadata=good["Metadata"])
    s3.put_object(Bucket=swift_bucket, Key=PREFIX + "packages/aa/bb/cc/orphan-1.0.tar.gz", Body=b"orphan",
                  ContentType="application/octet-stream", Metadata={"sha256": hashlib.sha256(b"orphan").hexdigest()})

    plain = json.loads(run_cli("-c", str(conf), "verify", "--json", timeout=300).stdout)
    assert plain["exit_code"] == ExitCode.FAILED
    assert {(p["kind"], p["path"]) for p in plain["problems"]} == {
        ("missing", deleted), ("orphan", "packages/aa/bb/cc/orphan-1.0.tar.gz")}  # metadata only: no byte read
    deep = json.loads(run_cli("-c", str(conf), "verify", "--deep", "--json", timeout=300).stdout)
    assert {(p["kind"], p["path"]) for p in deep["problems"]} == {
        ("missing", deleted), ("corrupt", rotten), ("orphan", "packages/aa/bb/cc/orphan-1.0.tar.gz")}

    fixed = json.loads(run_cli("-c", str(conf), "verify", "--deep", "--repair", "--delete", "--json", timeout=300).stdout)
    assert fixed["exit_code"] == ExitCode.OK and fixed["repaired"]["files"] == 2 and fixed["deleted"]["files"] == 1
    judged(swift, swift_bucket, tmp_path, fp)
    assert "no problems" in mirror(conf, "verify", "--deep")

    victim = sorted(name for name, info in fp.projects().items() if info["releases"])[0]
    keys_before = bucket_keys(swift, swift_bucket, PREFIX)
    assert f"deleted project: {victim}" in mirror(conf, "delete", victim)
    left = bucket_keys(swift, swift_bucket, PREFIX)
    assert not any(k.startswith(f"simple/{victim}/") for k in left)
    root = json.loads(s3.get_object(Bucket=swift_bucket, Key=PREFIX + "simple/index.v1_json")["Body"].read())
    assert victim not in {normalize(p["name"]) for p in root["projects"]}
    assert len([k for k in left if k.startswith("packages/")]) < len([k for k in keys_before if k.startswith("packages/")])


def test_reconcile_state_rebuilds_the_lost_state_disk_from_the_bucket(
        tmp_path: Path, swift: Swift, swift_bucket: str, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8, releases=2, files=2)
    conf = bucket_mirror(tmp_path, swift, swift_bucket, fp.base_url)
    mirror(conf, "mirror")
    serial = fp.last_serial
    shutil.rmtree(tmp_path / "mirror")  # the host's disk is gone, the bucket is not
    out = mirror(conf, "reconcile-state")
    assert f"mirror serial {serial}" in out
    assert int((tmp_path / "mirror" / "status").read_text()) == serial
    fp.upload(fp.project(sorted(n for n, info in fp.projects().items() if info["releases"])[0])["name"], "9.0")
    done = run_cli("-c", str(conf), "mirror", timeout=300)
    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    # the next run compared every project with upstream but downloaded only the new release
    summary = next(line for line in done.stderr.splitlines() if "Sync finished" in line)
    assert ", 2 files," in summary, summary
    judged(swift, swift_bucket, tmp_path, fp)


def test_refused_or_unsafe_credentials_are_one_line_and_exit_9(tmp_path: Path, swift: Swift, swift_bucket: str,
                                                                 fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8)
    cases = {
        "wrong secret": (f"[default]\naws_access_key_id = {swift.access_key}\naws_secret_access_key = {SECRET}\n", 0o400),
        "unknown key": ("[default]\naws_access_key_id = nobody:none\naws_secret_access_key = x\n", 0o600),
        "readable by others": (swift.credentials_file.read_text(), 0o644),
        "no secret": ("[default]\naws_access_key_id = x\n", 0o400),
        "missing file": (None, 0),
    }
    for case, (text, mode) in cases.items():
        credentials = tmp_path / f"credentials-{case.replace(' ', '-')}"
        if text is not None:
            credentials.write_text(text)
            credentials.chmod(mode)
        conf = bucket_mirror(tmp_path, swift, swift_bucket, fp.base_url, name=case.replace(" ", "-"),
                             credentials=credentials)
        for command in (("mirror",), ("verify",), ("reconcile-state",)):
            done = run_cli("-c", str(conf), *command, timeout=120)
            lines = done.stderr.splitlines()
            assert done.returncode == ExitCode.CREDENTIALS, (case, command, done.stderr)
            assert len(lines) == 1 and "credentials" in lines[0] and str(credentials) in lines[0], (case, lines)
            assert SECRET not in done.stderr + done.stdout, "the secret must never be printed"
        assert not (tmp_path / case.replace(" ", "-") / "status").exists()
    assert bucket_keys(swift, swift_bucket) == {}  # nothing was written


def test_the_wrapper_reports_refused_credentials_as_exit_9_in_its_log_and_metrics(
        tmp_path: Path, swift: Swift, swift_bucket: str, fakepypi_factory) -> None:  # type: ignore[no-untyped-def]
    fp = fakepypi_factory(projects=8)
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[default]\naws_access_key_id = {swift.access_key}\naws_secret_access_key = revoked\n")
    credentials.chmod(0o400)
    conf = bucket_mirror(tmp_path, swift, swift_bucket, fp.base_url, credentials=credentials)
    with open(conf, "a", encoding="utf-8") as fh:
        fh.write(f"[wrapper]\nlog-file = {tmp_path / 'wrapper.log'}\nmetrics-file = {tmp_path / 'metrics.prom'}\n")
    done = run_wrapper(conf)
    assert done.returncode == ExitCode.CREDENTIALS, done.stderr
    errors = [line for line in (tmp_path / "wrapper.log").read_text().splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "refused the credentials" in errors[0] and "revoked" not in errors[0], errors
    metrics = read_metrics(tmp_path / "metrics.prom")
    assert metric(metrics, "exit_code") == 9
    assert metric(metrics, "object_store_credentials_refused") == 1
