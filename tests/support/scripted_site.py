"""A tiny, correct upstream published on a `HostileUpstream`, so one route at a time can turn hostile.

FakePyPI serves a whole corpus but cannot make one answer drip, explode after decompression, or
promise a `.metadata` file that is not the wheel's own METADATA; `HostileUpstream` can, but serves
nothing useful by itself. `ScriptedSite` writes the few routes a sync reads (the PEP 691 root index
`/simple/`, `/pypi/<name>/json`, the files and their `.metadata`) onto such a server; a test then
replaces one route with a behaviour (`drip`, `gzip_bomb`, `rate_limited`, `redirect`) and runs
`pypi-mirror-run` with `changelog-source = index`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field

from tests.support.hostile_upstream import HostileUpstream


@dataclass
class ScriptedFile:
    filename: str
    data: bytes
    path: str  # URL path of the file on its server
    url: str
    server: HostileUpstream  # the server that holds it
    metadata: bytes | None = None  # the promised `.metadata` (wheels only)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def blake2b_256(self) -> str:
        return hashlib.blake2b(self.data, digest_size=32).hexdigest()


@dataclass
class ScriptedProject:
    name: str
    serial: int
    files: list[ScriptedFile] = field(default_factory=list)


def wheel_without_metadata(name: str, version: str, payload: bytes = b"") -> bytes:
    """A wheel whose `.dist-info` holds no METADATA: the mirror must download its `.metadata`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/RECORD", "")
        archive.writestr(f"{name}/__init__.py", payload)
    return buf.getvalue()


class ScriptedSite:
    """`ScriptedSite(server)`; `add_project(...)` then `publish()` (again after each change)."""

    def __init__(self, server: HostileUpstream) -> None:
        self.server = server
        self.projects: dict[str, ScriptedProject] = {}

    def add_project(self, name: str, files: dict[str, bytes], *, serial: int | None = None,
                    file_server: HostileUpstream | None = None,
                    metadata: dict[str, bytes] | None = None) -> ScriptedProject:
        """Project `name` (already normalized) with `files` (filename -> bytes) in release 1.0.

        `file_server`: where the files live (default: the upstream itself); `metadata`: the
        `.metadata` promised for some wheels (filename -> bytes), served beside them.
        """
        serial = serial if serial is not None else max((p.serial for p in self.projects.values()), default=0) + 1
        host = file_server or self.server
        project = ScriptedProject(name, serial)
        for filename, data in files.items():
            b2 = hashlib.blake2b(data, digest_size=32).hexdigest()
            path = f"/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{filename}"
            project.files.append(ScriptedFile(filename, data, path, host.url(path), host, (metadata or {}).get(filename)))
        self.projects[name] = project
        return project

    def publish(self) -> None:
        """Write every route (index, project JSON, files, `.metadata`) onto the servers."""
        top = max((p.serial for p in self.projects.values()), default=0)
        index = {"meta": {"api-version": "1.1", "_last-serial": top},
                 "projects": [{"name": p.name, "_last-serial": p.serial} for p in self.projects.values()]}
        self.server.ok("/simple/", json.dumps(index).encode(),
                       {"Content-Type": "application/vnd.pypi.simple.v1+json", "X-PyPI-Last-Serial": str(top)})
        for project in self.projects.values():
            self.server.ok(f"/pypi/{project.name}/json", self.project_json(project),
                           {"Content-Type": "application/json", "X-PyPI-Last-Serial": str(project.serial)})
            for f in project.files:
                f.server.ok(f.path, f.data, {"Content-Type": "application/octet-stream"})
                if f.metadata is not None:
                    f.server.ok(f.path + ".metadata", f.metadata, {"Content-Type": "application/octet-stream"})

    def project_json(self, project: ScriptedProject) -> bytes:
        """The JSON API document of `project` (every file in release 1.0)."""
        files = []
        for f in project.files:
            entry = {"filename": f.filename, "url": f.url, "size": len(f.data),
                     "digests": {"sha256": f.sha256, "blake2b_256": f.blake2b_256}, "packagetype": "bdist_wheel"
                     if f.filename.endswith(".whl") else "sdist", "yanked": False}
            if f.metadata is not None:
                entry["core-metadata"] = {"sha256": hashlib.sha256(f.metadata).hexdigest()}
            files.append(entry)
        doc = {"info": {"name": project.name, "version": "1.0"}, "last_serial": project.serial,
               "releases": {"1.0": files}, "urls": files}
        return json.dumps(doc).encode()


__all__ = ["ScriptedFile", "ScriptedProject", "ScriptedSite", "wheel_without_metadata"]
