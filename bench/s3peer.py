"""bandersnatch 8.2.0 with its S3 backend, in a virtualenv of its own inside the peer's chroot.

Why a second virtualenv (``/opt/bs-s3``): the S3 extra and the shim below must not change the
bandersnatch the disk scenarios measure (``/opt/bs``). Why the shim: bandersnatch 8.2.0 takes its
lock with ``PutObject(..., IfNoneMatch="*")``, which Swift 2.30's s3api answers 501 NotImplemented
("Conditional object PUTs are not supported"), and it has no setting to do otherwise
(docs/object-store.md). The shim, loaded by a ``.pth`` file of that virtualenv only, makes that
one call a HEAD (412 PreconditionFailed when the object exists, as S3 would answer) followed by a
plain PUT. That is not atomic, which is fine for one mirror process at a time, the benchmark's
case. Every other request goes to Swift unchanged. The shim is ours, written from the behaviour
docs/object-store.md records.
"""

from __future__ import annotations

import subprocess

from .peer import BANDERSNATCH_VERSION, Peer, PeerSetupError

S3_VENV = "/opt/bs-s3"
SHIM_MODULE = "bench_swift_conditional_put"
SHIM = '''\
"""bench shim (bench/s3peer.py): PutObject(IfNoneMatch="*") as HEAD + PUT, for Swift 2.30's s3api."""
import botocore.client
from botocore.exceptions import ClientError

_make_api_call = botocore.client.BaseClient._make_api_call


def _conditional_put_as_head_then_put(self, operation_name, api_params):
    if operation_name != "PutObject" or api_params.get("IfNoneMatch") != "*":
        return _make_api_call(self, operation_name, api_params)
    params = {k: v for k, v in api_params.items() if k != "IfNoneMatch"}
    try:
        _make_api_call(self, "HeadObject", {"Bucket": params["Bucket"], "Key": params["Key"]})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        return _make_api_call(self, operation_name, params)
    raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "the object exists (bench shim)"},
                       "ResponseMetadata": {"HTTPStatusCode": 412}}, operation_name)


botocore.client.BaseClient._make_api_call = _conditional_put_as_head_then_put
'''


def _chroot(peer: Peer, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chroot", str(peer.root), *argv], env=peer.chroot_env(),
                          capture_output=True, text=True, check=False)


def ensure_s3_venv(peer: Peer, log=print) -> str:  # type: ignore[no-untyped-def]
    """Create ``/opt/bs-s3`` with ``bandersnatch[s3]`` and the shim once; describe what it holds."""
    python = peer.root / S3_VENV.lstrip("/") / "bin" / "python"
    installed = _chroot(peer, f"{S3_VENV}/bin/pip", "show", "bandersnatch", "boto3") if python.exists() else None
    if installed is None or installed.returncode != 0 or f"Version: {BANDERSNATCH_VERSION}" not in installed.stdout:
        log(f"bench.objectstore: installing bandersnatch[s3]=={BANDERSNATCH_VERSION} into {peer.root}{S3_VENV}")
        for step in (["python3", "-m", "venv", S3_VENV],
                     [f"{S3_VENV}/bin/pip", "install", "--quiet", "--disable-pip-version-check",
                      f"bandersnatch[s3]=={BANDERSNATCH_VERSION}"]):
            done = _chroot(peer, *step)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
                raise PeerSetupError(f"{' '.join(step[:3])} in the peer root failed: {tail[0]}")
    site = _chroot(peer, f"{S3_VENV}/bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    if site.returncode != 0:
        raise PeerSetupError(f"cannot find the site-packages of {S3_VENV}: {site.stderr.strip()}")
    purelib = peer.root / site.stdout.strip().lstrip("/")
    (purelib / f"{SHIM_MODULE}.py").write_text(SHIM)
    (purelib / f"{SHIM_MODULE}.pth").write_text(f"import {SHIM_MODULE}\n")
    versions = _chroot(peer, f"{S3_VENV}/bin/python", "-c",
                       "import boto3, botocore; print(boto3.__version__, botocore.__version__)")
    boto, botocore = (versions.stdout.split() + ["?", "?"])[:2]
    return f"boto3 {boto}, botocore {botocore}, with the conditional-PUT shim ({SHIM_MODULE}.pth)"


__all__ = ["S3_VENV", "ensure_s3_venv"]
