"""The origin's data: projects, releases and files with their full history.

Why history instead of mutable state: the CDN must be able to serve any project "as it was at
serial S" (old body *and* old ``X-PyPI-Last-Serial``). Every record therefore carries the serial it
was added at and, once removed, the serial it was removed at; yanks keep a list of
(serial, yanked, reason). A view at serial S is then a pure filter, and because a project only
changes with journal rows carrying its name, the view at S equals the view at the project's last
serial <= S, which makes a good cache key. Every mutation writes the journal rows Warehouse would.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterator

from . import wheels
from .journal import Journal
from .lazy import LAZY_VERSION, OWNER, LazyProjects
from .names import normalize, version_key
from .wheels import ArchiveSpec

DEFAULT_BASE_TIME = 1672531200  # 2023-01-01T00:00:00Z: corpus timestamps are synthetic
PLATFORM_ALIASES = {
    "any": "any",
    "manylinux": "manylinux_2_17_x86_64",
    "linux": "manylinux_2_17_x86_64",
    "win": "win_amd64",
    "windows": "win_amd64",
    "mac": "macosx_11_0_arm64",
    "macos": "macosx_11_0_arm64",
}
BYTES_CACHE_LIMIT = 64 * 1024 * 1024


class NotFound(KeyError):
    """Raised by mutations naming a project, release or file that does not exist."""


@dataclass
class FileRec:
    spec: ArchiveSpec
    packagetype: str  # "bdist_wheel" | "sdist"
    python_version: str  # "py3", "source", ...
    upload_time: float
    added: int
    removed: int | None = None
    _digests: dict[str, str] | None = field(default=None, repr=False)

    @property
    def filename(self) -> str:
        return self.spec.filename

    @property
    def is_wheel(self) -> bool:
        return self.packagetype == "bdist_wheel"

    def alive(self, at: int) -> bool:
        return self.added <= at and (self.removed is None or self.removed > at)


@dataclass
class ReleaseRec:
    version: str
    requires_python: str | None
    summary: str
    added: int
    upload_time: float
    removed: int | None = None
    files: list[FileRec] = field(default_factory=list)
    yank_history: list[tuple[int, bool, str]] = field(default_factory=list)
    #: Core metadata the JSON API's `info` shows (metadata filters read them).
    classifiers: tuple[str, ...] = ()
    license: str = ""

    def alive(self, at: int) -> bool:
        return self.added <= at and (self.removed is None or self.removed > at)

    def yank_state(self, at: int) -> tuple[bool, str]:
        state = (False, "")
        for serial, yanked, reason in self.yank_history:
            if serial > at:
                break
            state = (yanked, reason)
        return state


@dataclass
class ProjectRec:
    display: str
    normalized: str
    added: int
    removed: int | None = None
    releases: list[ReleaseRec] = field(default_factory=list)

    def alive(self, at: int) -> bool:
        return self.added <= at and (self.removed is None or self.removed > at)

    def live_release(self, version: str, at: int) -> ReleaseRec | None:
        for rel in reversed(self.releases):
            if rel.version == version and rel.alive(at):
                return rel
        return None


@dataclass(frozen=True)
class FileView:
    rec: FileRec
    sha256: str
    md5: str
    blake2b_256: str
    size: int
    metadata_sha256: str | None  # None: no PEP 658 metadata (sdist, or switched off)
    requires_python: str | None
    yanked: bool
    yanked_reason: str

    @property
    def filename(self) -> str:
        return self.rec.filename

    @property
    def path(self) -> str:
        return file_path(self.blake2b_256, self.rec.filename)


@dataclass(frozen=True)
class ReleaseView:
    version: str
    requires_python: str | None
    summary: str
    yanked: bool
    yanked_reason: str
    upload_time: float
    files: tuple[FileView, ...]
    classifiers: tuple[str, ...] = ()
    license: str = ""


@dataclass(frozen=True)
class ProjectView:
    display: str
    normalized: str
    last_serial: int
    releases: tuple[ReleaseView, ...]  # ascending version order


def file_path(b2: str, filename: str) -> str:
    """Warehouse's content-addressed file path."""
    return f"/packages/{b2[0:2]}/{b2[2:4]}/{b2[4:]}/{filename}"


def _tag_for(kind: str) -> tuple[str, str]:
    """Map an upload file kind to (packagetype, wheel tag)."""
    if kind == "sdist":
        return "sdist", ""
    if kind == "wheel":
        return "bdist_wheel", "py3-none-any"
    if kind.count("-") == 2:
        return "bdist_wheel", kind  # a full python-abi-platform triple
    return "bdist_wheel", f"py3-none-{PLATFORM_ALIASES.get(kind, kind)}"


class Store:
    """Thread-safe project store. All public mutations return the new last serial."""

    def __init__(
        self,
        *,
        seed: int = 0,
        file_size: int = 2048,
        core_metadata: bool = True,
        lazy_count: int = 0,
        base_time: int = DEFAULT_BASE_TIME,
    ) -> None:
        self.seed = seed
        self.file_size = file_size
        self.core_metadata = core_metadata
        self.lazy = LazyProjects(lazy_count, seed, file_size, base_time)
        self._tick = base_time + self.lazy.max_serial
        self.synthetic_clock = True  # deterministic timestamps while the corpus is built
        self.journal = Journal(self.lazy, self._clock)
        self._lock = threading.RLock()
        self._projects: dict[str, list[ProjectRec]] = {}
        self._files_by_name: dict[str, list[FileRec]] = {}
        self._bytes: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._bytes_total = 0
        self._bytes_lock = threading.Lock()
        self._lazy_files: OrderedDict[int, FileRec] = OrderedDict()

    # ------------------------------------------------------------------ time
    def _clock(self) -> float:
        if self.synthetic_clock:
            self._tick += 60
            return self._tick
        return time.time()

    def now(self) -> float:
        return float(self._tick) if self.synthetic_clock else time.time()

    @property
    def last_serial(self) -> int:
        return self.journal.last_serial

    # ------------------------------------------------------------- lookups
    def _current(self, name: str) -> ProjectRec:
        norm = normalize(name)
        recs = self._projects.get(norm)
        if not recs or recs[-1].removed is not None:
            if self.lazy.parse(norm) is not None:
                raise ValueError(f"lazy index project {name!r} is read-only")
            raise NotFound(f"no such project: {name}")
        return recs[-1]

    def _incarnation(self, norm: str, at: int) -> ProjectRec | None:
        for rec in reversed(self._projects.get(norm, [])):
            if rec.alive(at):
                return rec
        return None

    # ----------------------------------------------------------- mutations
    def create_project(self, name: str) -> int:
        """Register a project (journal: ``create`` + ``add Owner``)."""
        with self._lock:
            norm = normalize(name)
            if self.lazy.parse(norm) is not None:
                raise ValueError(f"name {name!r} collides with a lazy index project")
            recs = self._projects.get(norm)
            if recs and recs[-1].removed is None:
                raise ValueError(f"project already exists: {recs[-1].display}")
            serial = self.journal.append(name, None, "create")
            self._projects.setdefault(norm, []).append(ProjectRec(name, norm, serial))
            return self.journal.append(name, None, f"add Owner {OWNER}")

    def upload(
        self,
        name: str,
        version: str,
        *,
        files: list[str] | None = None,
        requires_python: str | None = None,
        yanked: bool | str = False,
        file_size: int | None = None,
        platforms: list[str] | None = None,
        summary: str | None = None,
        classifiers: list[str] | None = None,
        license: str | None = None,
    ) -> list[FileRec]:
        """Upload files of one release, creating the project / release as Warehouse would.

        ``files`` lists kinds (``"wheel"``, ``"sdist"``, a platform alias such as ``"manylinux"``,
        ``"win"``, ``"mac"``, a platform tag or a full wheel tag); default wheel + sdist.
        ``platforms`` adds platform wheels to that default. ``yanked`` may be a reason string.
        ``classifiers`` and ``license`` are the release's core metadata in the JSON API's ``info``.
        """
        kinds = list(files) if files is not None else ["wheel", "sdist"]
        kinds += list(platforms or [])
        size = self.file_size if file_size is None else int(file_size)
        with self._lock:
            norm = normalize(name)
            recs = self._projects.get(norm)
            if not recs or recs[-1].removed is not None:
                self.create_project(name)
            project = self._current(norm)
            now = self.now()
            release = project.live_release(version, self.last_serial)
            if release is None:
                serial = self.journal.append(project.display, version, "new release")
                release = ReleaseRec(
                    version=version,
                    requires_python=requires_python,
                    summary=summary or f"Fake project {project.display}",
                    added=serial,
                    upload_time=now,
                    classifiers=tuple(classifiers or ()),
                    license=license or "",
                )
                project.releases.append(release)
            live_names = {f.filename for f in release.files if f.removed is None}
            created: list[FileRec] = []
            for kind in kinds:
                packagetype, tag = _tag_for(kind)
                pyver = "source" if packagetype == "sdist" else tag.split("-")[0]
                probe = ArchiveSpec(project.display, version, "sdist" if packagetype == "sdist" else "wheel",
                                    tag, size, 0, release.requires_python, release.summary)
                if probe.filename in live_names:
                    raise ValueError(f"file already exists: {probe.filename}")
                serial = self.journal.append(project.display, version, f"add {pyver} file {probe.filename}")
                seed = zlib.crc32(f"{self.seed}:{probe.filename}:{serial}".encode())
                spec = ArchiveSpec(probe.name, version, probe.kind, tag, size, seed,
                                   release.requires_python, release.summary)
                rec = FileRec(spec, packagetype, pyver, self.now(), serial)
                release.files.append(rec)
                self._files_by_name.setdefault(rec.filename, []).append(rec)
                live_names.add(rec.filename)
                created.append(rec)
            if yanked is not False and yanked is not None:
                self.yank(project.display, version, "" if yanked is True else str(yanked))
            return created

    def yank(self, name: str, version: str, reason: str = "") -> int:
        with self._lock:
            project = self._current(name)
            release = self._release(project, version)
            serial = self.journal.append(project.display, version, "yank release")
            release.yank_history.append((serial, True, reason))
            return serial

    def unyank(self, name: str, version: str) -> int:
        with self._lock:
            project = self._current(name)
            release = self._release(project, version)
            serial = self.journal.append(project.display, version, "unyank release")
            release.yank_history.append((serial, False, ""))
            return serial

    def remove_file(self, name: str, filename: str) -> int:
        with self._lock:
            project = self._current(name)
            for release in project.releases:
                if release.removed is not None:
                    continue
                for rec in release.files:
                    if rec.filename == filename and rec.removed is None:
                        serial = self.journal.append(project.display, release.version, f"remove file {filename}")
                        rec.removed = serial
                        return serial
            raise NotFound(f"no such file in {project.display}: {filename}")

    def remove_release(self, name: str, version: str) -> int:
        with self._lock:
            project = self._current(name)
            release = self._release(project, version)
            serial = self.journal.append(project.display, version, "remove release")
            release.removed = serial
            for rec in release.files:
                if rec.removed is None:
                    rec.removed = serial
            return serial

    def remove_project(self, name: str) -> int:
        with self._lock:
            project = self._current(name)
            serial = self.journal.append(project.display, None, "remove project")
            project.removed = serial
            for release in project.releases:
                if release.removed is None:
                    release.removed = serial
                for rec in release.files:
                    if rec.removed is None:
                        rec.removed = serial
            return serial

    def _release(self, project: ProjectRec, version: str) -> ReleaseRec:
        release = project.live_release(version, self.last_serial)
        if release is None:
            raise NotFound(f"no such release: {project.display} {version}")
        return release

    # --------------------------------------------------------------- bytes
    def file_bytes(self, rec: FileRec) -> bytes:
        """The archive bytes, rebuilt on demand and kept in a bounded LRU."""
        key = (rec.filename, rec.added)
        with self._bytes_lock:
            data = self._bytes.get(key)
            if data is not None:
                self._bytes.move_to_end(key)
                return data
        data = wheels.build(rec.spec)
        with self._bytes_lock:
            if len(data) <= BYTES_CACHE_LIMIT // 4:
                self._bytes[key] = data
                self._bytes_total += len(data)
                while self._bytes_total > BYTES_CACHE_LIMIT:
                    _, old = self._bytes.popitem(last=False)
                    self._bytes_total -= len(old)
        return data

    def metadata_bytes(self, rec: FileRec) -> bytes:
        return wheels.metadata_bytes(rec.spec)

    def digests(self, rec: FileRec) -> dict[str, str]:
        if rec._digests is None:
            data = self.file_bytes(rec)
            rec._digests = {
                "md5": hashlib.md5(data).hexdigest(),
                "sha256": hashlib.sha256(data).hexdigest(),
                "blake2b_256": hashlib.blake2b(data, digest_size=32).hexdigest(),
                "size": str(len(data)),
            }
        return rec._digests

    def file_view(self, rec: FileRec, release: ReleaseRec | None, at: int) -> FileView:
        dig = self.digests(rec)
        meta = None
        if rec.is_wheel and self.core_metadata:
            meta = hashlib.sha256(self.metadata_bytes(rec)).hexdigest()
        yanked, reason = release.yank_state(at) if release else (False, "")
        return FileView(rec, dig["sha256"], dig["md5"], dig["blake2b_256"], int(dig["size"]), meta,
                        rec.spec.requires_python, yanked, reason)

    def _lazy_file(self, i: int) -> FileRec:
        with self._bytes_lock:
            rec = self._lazy_files.get(i)
            if rec is not None:
                return rec
        serial = self.lazy.last_serial(i)
        rec = FileRec(self.lazy.spec(i), "bdist_wheel", "py3", self.lazy.timestamp(serial), serial)
        with self._bytes_lock:
            self._lazy_files[i] = rec
            while len(self._lazy_files) > 4096:
                self._lazy_files.popitem(last=False)
        return rec

    def live_file(self, filename: str) -> FileRec | None:
        """The newest live explicit file with this name."""
        with self._lock:
            for rec in reversed(self._files_by_name.get(filename, [])):
                if rec.removed is None:
                    return rec
        return None

    def find_file(self, b2: str, filename: str) -> FileRec | None:
        """A live file by its content address, None when unknown, removed or the hash differs."""
        candidates: list[FileRec] = []
        lazy_norm = normalize(filename.split("-")[0])
        lazy_i = self.lazy.parse(lazy_norm)
        if lazy_i is not None:
            rec = self._lazy_file(lazy_i)
            if rec.filename == filename:
                candidates.append(rec)
        with self._lock:
            candidates += [r for r in self._files_by_name.get(filename, []) if r.removed is None]
        for rec in candidates:
            if self.digests(rec)["blake2b_256"] == b2:
                return rec
        return None

    # --------------------------------------------------------------- views
    def project_serial(self, name: str, at: int | None = None) -> int | None:
        return self.journal.project_serial(normalize(name), at)

    def view(self, name: str, at: int | None = None) -> ProjectView | None:
        """The project as it was at serial ``at`` (default: now); None if it did not exist."""
        norm = normalize(name)
        at = self.last_serial if at is None else at
        lazy_i = self.lazy.parse(norm)
        if lazy_i is not None:
            return self._lazy_view(lazy_i, at)
        with self._lock:
            project = self._incarnation(norm, at)
            if project is None:
                return None
            releases = [r for r in project.releases if r.alive(at)]
            files_by_release = [(r, [f for f in r.files if f.alive(at)]) for r in releases]
            last = self.journal.project_serial(norm, at) or project.added
        out: list[ReleaseView] = []
        for rel, recs in files_by_release:
            yanked, reason = rel.yank_state(at)
            fviews = tuple(self.file_view(f, rel, at) for f in recs)
            out.append(ReleaseView(rel.version, rel.requires_python, rel.summary, yanked, reason,
                                   rel.upload_time, fviews, rel.classifiers, rel.license))
        out.sort(key=lambda r: version_key(r.version))
        return ProjectView(project.display, norm, last, tuple(out))

    def _lazy_view(self, i: int, at: int) -> ProjectView | None:
        first = self.lazy.first_serial(i)
        if at < first:
            return None
        last = min(at, self.lazy.last_serial(i))
        releases: tuple[ReleaseView, ...] = ()
        if at >= first + 2:
            rec = self._lazy_file(i)
            files = (self.file_view(rec, None, at),) if at >= rec.added else ()
            releases = (ReleaseView(LAZY_VERSION, None, rec.spec.summary, False, "",
                                    self.lazy.timestamp(first + 2), files),)
        return ProjectView(self.lazy.display(i), self.lazy.normalized(i), last, releases)

    def index_explicit(self, at: int | None = None) -> list[tuple[str, str, int]]:
        """(display, normalized, last serial) of explicit projects alive at ``at``, sorted."""
        at = self.last_serial if at is None else at
        with self._lock:
            out = []
            for norm in sorted(self._projects):
                project = self._incarnation(norm, at)
                if project is not None:
                    out.append((project.display, norm, self.journal.project_serial(norm, at) or project.added))
            return out

    def index_lazy_count(self, at: int | None = None) -> int:
        return self.lazy.visible_count(self.last_serial if at is None else at)

    def iter_index(self, at: int | None = None) -> Iterator[tuple[str, str, int]]:
        """Every project in the index: explicit ones first, then the lazy ones (streamed)."""
        at = self.last_serial if at is None else at
        yield from self.index_explicit(at)
        for i in range(self.index_lazy_count(at)):
            yield self.lazy.display(i), self.lazy.normalized(i), min(at, self.lazy.last_serial(i))

    def explicit_names(self) -> list[str]:
        with self._lock:
            return [recs[-1].display for recs in self._projects.values() if recs[-1].removed is None]


__all__ = ["Store", "NotFound", "FileRec", "FileView", "ProjectView", "ReleaseView", "file_path"]
