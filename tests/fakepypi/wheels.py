"""Builders for real, tiny, installable distribution archives.

Why real archives: the tests drive the real pip against the fake upstream, so every wheel must be
a valid pure-Python wheel (WHEEL, METADATA, RECORD, one importable module) and its
``.dist-info/METADATA`` must be byte for byte the PEP 658 ``.metadata`` sibling. Archives are
deterministic (fixed timestamps, seeded padding) so a seed always yields the same hashes, and
they are padded with incompressible seeded bytes so the file size is controllable.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import tarfile
import zipfile
from dataclasses import dataclass

from .names import dist_name, module_name

ZIP_DATE = (2020, 1, 1, 0, 0, 0)
TAR_MTIME = 1577836800  # 2020-01-01


@dataclass(frozen=True)
class ArchiveSpec:
    """Everything needed to rebuild a file's bytes on demand (bytes are never kept forever)."""

    name: str  # display name as uploaded
    version: str
    kind: str  # "sdist" or "wheel"
    tag: str  # wheel tag triple, e.g. "py3-none-any"; "" for sdists
    size: int  # target size in bytes (minimum size wins if smaller)
    seed: int
    requires_python: str | None
    summary: str

    @property
    def filename(self) -> str:
        if self.kind == "sdist":
            return f"{dist_name(self.name)}-{self.version}.tar.gz"
        return f"{dist_name(self.name)}-{self.version}-{self.tag}.whl"


def metadata_bytes(spec: ArchiveSpec) -> bytes:
    """Core metadata (the wheel's METADATA and the sdist's PKG-INFO)."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {spec.name}",
        f"Version: {spec.version}",
        f"Summary: {spec.summary}",
    ]
    if spec.requires_python:
        lines.append(f"Requires-Python: {spec.requires_python}")
    return ("\n".join(lines) + "\n\n").encode()


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _padding(spec: ArchiveSpec, length: int) -> bytes:
    return random.Random(spec.seed).randbytes(max(0, length))


def _wheel(spec: ArchiveSpec, pad_len: int) -> bytes:
    mod = module_name(spec.name)
    info = f"{dist_name(spec.name)}-{spec.version}.dist-info"
    pure = spec.tag.endswith("-any")
    members: list[tuple[str, bytes]] = [
        (f"{mod}/__init__.py", f'"""Fake package {spec.name}."""\n__version__ = "{spec.version}"\n'.encode()),
        (f"{mod}/_pad.bin", _padding(spec, pad_len)),
        (f"{info}/METADATA", metadata_bytes(spec)),
        (
            f"{info}/WHEEL",
            (
                "Wheel-Version: 1.0\nGenerator: fakepypi\n"
                f"Root-Is-Purelib: {'true' if pure else 'false'}\nTag: {spec.tag}\n\n"
            ).encode(),
        ),
        (f"{info}/top_level.txt", f"{mod}\n".encode()),
    ]
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in members)
    record += f"{info}/RECORD,,\n"
    members.append((f"{info}/RECORD", record.encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for path, data in members:
            zinfo = zipfile.ZipInfo(path, date_time=ZIP_DATE)
            zinfo.external_attr = 0o644 << 16
            zf.writestr(zinfo, data)
    return buf.getvalue()


def _sdist(spec: ArchiveSpec, pad_len: int) -> bytes:
    import gzip

    root = f"{dist_name(spec.name)}-{spec.version}"
    mod = module_name(spec.name)
    pyproject = (
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n"
        f"[project]\nname = \"{spec.name}\"\nversion = \"{spec.version}\"\n"
        f"description = \"{spec.summary}\"\n"
        + (f"requires-python = \"{spec.requires_python}\"\n" if spec.requires_python else "")
    ).encode()
    members = [
        (f"{root}/PKG-INFO", metadata_bytes(spec)),
        (f"{root}/pyproject.toml", pyproject),
        (f"{root}/{mod}/__init__.py", f'__version__ = "{spec.version}"\n'.encode()),
        (f"{root}/{mod}/_pad.bin", _padding(spec, pad_len)),
    ]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for path, data in members:
            tinfo = tarfile.TarInfo(path)
            tinfo.size = len(data)
            tinfo.mtime = TAR_MTIME
            tinfo.mode = 0o644
            tf.addfile(tinfo, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="", compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def build(spec: ArchiveSpec) -> bytes:
    """Build the archive, adjusting the padding until the size hits ``spec.size``.

    Wheels are stored uncompressed, so they converge to the exact size; sdists are gzip'd random
    bytes and land within a few bytes of it. A target below the minimum gives the minimum.
    """
    make = _sdist if spec.kind == "sdist" else _wheel
    pad = 0
    data = make(spec, pad)
    for _ in range(5):
        diff = spec.size - len(data)
        if diff == 0 or (pad == 0 and diff < 0):
            break
        pad = max(0, pad + diff)
        data = make(spec, pad)
    return data
