"""The upstream client: PyPI's protocols in, records out; it never touches the mirror tree.

XML-RPC change feed, the PEP 691 root index, project JSON (the JSON API, else the PEP 691 page)
as `Project` records, and release files streamed into writers the caller gives (storage `Staged`),
each committed only once its size and sha256 match. Every request goes through the one HTTP layer
(`mirror_tool.net`): its settings (proxy, trust store, deadlines, caps, allowed hosts), its one
retry policy and its stop handling. This module only says what each answer means.
"""

from __future__ import annotations

import json
import threading
import xmlrpc.client
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence
from urllib.parse import quote

from mirror_tool import __version__
from mirror_tool.errors import FeedUnavailable, ProjectError, StorageError, UpstreamUnreachable
from mirror_tool.net import (
    Client,
    DownloadJob,
    Downloaded,
    HashingSink,
    HttpSettings,
    NetError,
    Response,
    Stopped,
    feed_error,
    settings_from_config,
)
from mirror_tool.records import Project
from mirror_tool.stop import StopToken
from mirror_tool.upstream.parse import from_json_api, from_simple, index_listing, serial_of

if TYPE_CHECKING:
    from mirror_tool.config import MirrorSettings
    from mirror_tool.storage.base import Staged  # the writer a download streams into

USER_AGENT = f"pypi-mirror/{__version__} (mirror_tool)"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def http_settings(mirror: "MirrorSettings", *, upstream: str | None = None) -> HttpSettings:
    """The run's one `HttpSettings` from `[mirror]` and the environment (read once, here).

    `upstream` replaces `master` as the host requests may go to (the PURGE client's `purge-url`).
    """
    return settings_from_config(mirror, user_agent=USER_AGENT, upstream=upstream)


@dataclass
class ProjectAnswer:
    """What upstream said about one project: the record (None: gone upstream, a 404), the serial
    it was served with, and every URL path fetched for it (stale.json `urls`, what the wrapper
    PURGEs)."""

    project: Project | None
    serial: int
    paths: list[str] = field(default_factory=list)


@dataclass
class DownloadStats:
    files: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_many(self, files: int, size: int) -> None:
        with self.lock:
            self.files += files
            self.bytes += size


@dataclass
class FileJob:
    """One file to store: its URL, the storage writer to stream it into (opened at the first
    byte), what it must hash to, its promised size, and a body cap (`.metadata`; files have none:
    their promised size bounds them), and what to call once it is committed (the engine's crash
    point: a test kills the run right after one file is stored)."""

    url: str
    stage: Callable[[], "Staged"]
    sha256: str
    size: int | None = None
    cap: int | None = None
    committed: Callable[[], None] | None = None


class Upstream:
    """Talks to `master` through one `net.Client`; safe to call from several threads (each gets
    its own libcurl handles) and, created again in each forked worker, from worker processes."""

    def __init__(self, http: HttpSettings, stop: StopToken) -> None:
        self.http = http
        self.master = http.upstream
        self.stop = stop
        self.client = Client(http, stop)
        self.stats = DownloadStats()

    @classmethod
    def for_mirror(cls, settings: "MirrorSettings", stop: StopToken) -> "Upstream":
        """The client a `[mirror]` section describes (settings read from it and the environment now)."""
        return cls(http_settings(settings), stop)

    def close(self) -> None:
        """Close this thread's idle connections."""
        self.client.close()

    # -- change feed ---------------------------------------------------------------------------
    def xmlrpc(self, method: str, *args: Any) -> Any:
        """Call an XML-RPC method on `<master>/pypi`.

        A fault, a 404 or an unreadable answer raises FeedUnavailable (callers fall back to the
        index diff); no answer at all, after the retries, raises UpstreamUnreachable (exit 5).
        """
        body = xmlrpc.client.dumps(args, method, allow_none=False).encode("utf-8")
        try:
            r = self.client.request("POST", f"{self.master}/pypi", body=body,
                                    headers={"Content-Type": "text/xml"}, cap=self.http.caps.xmlrpc)
        except NetError as exc:
            raise feed_error(exc) from None
        if r.status != 200:
            raise FeedUnavailable(f"XML-RPC {method}: HTTP {r.status}")
        try:
            result, _ = xmlrpc.client.loads(r.body, use_builtin_types=True)
        except xmlrpc.client.Fault as exc:
            raise FeedUnavailable(f"XML-RPC {method}: fault {exc.faultCode}: {exc.faultString}") from None
        except Exception as exc:  # malformed XML from a broken proxy
            raise FeedUnavailable(f"XML-RPC {method}: unreadable answer: {_short(exc)}") from None
        return result[0] if result else None

    def changelog_last_serial(self) -> int:
        return int(self.xmlrpc("changelog_last_serial"))

    def changelog_since_serial(self, serial: int) -> list[tuple[str, int]]:
        """Rows `(name, serial)` after `serial` (one page; the caller pages)."""
        rows = self.xmlrpc("changelog_since_serial", serial) or []
        return [(str(row[0]), int(row[4])) for row in rows if isinstance(row, (list, tuple)) and len(row) >= 5]

    def list_packages_with_serial(self) -> dict[str, int]:
        result = self.xmlrpc("list_packages_with_serial") or {}
        return {str(k): int(v) for k, v in result.items()}

    def simple_index(self) -> tuple[int, Mapping[str, int]]:
        """The PEP 691 JSON root index: (its `_last-serial`, {name: project `_last-serial`}; kept
        as bytes until looked into when compact: upstream/parse.py `IndexListing`)."""
        url = f"{self.master}/simple/"
        try:
            r = self.client.get(url, headers={"Accept": SIMPLE_JSON}, cap=self.http.caps.index)
        except NetError as exc:
            raise feed_error(exc) from None
        if r.status != 200:
            raise UpstreamUnreachable(f"GET {url}: HTTP {r.status}")
        try:
            serial, projects = index_listing(r.body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UpstreamUnreachable(f"GET {url}: not a PEP 691 JSON index ({_short(exc)})") from None
        return serial, projects

    # -- projects ------------------------------------------------------------------------------
    def project(self, normalized: str) -> ProjectAnswer:
        """The project from the JSON API; on its 404 (a project without releases answers 404
        there) the PEP 691 page decides: 200 is the project, 404 means it is gone."""
        answer = self.project_json(normalized)
        if answer.project is None:
            simple = self.project_simple(normalized)
            simple.paths[:0] = answer.paths
            return simple
        return answer

    def project_json(self, normalized: str) -> ProjectAnswer:
        path = f"/pypi/{quote(normalized, safe='')}/json"
        r = self._get(path, "application/json")
        paths = [path, *(p for p in self._paths_on_master(r) if p != path)]
        serial = serial_of(r.headers)
        if r.status == 404:
            return ProjectAnswer(None, serial, paths)
        if r.status != 200:
            raise ProjectError(f"GET {path}: HTTP {r.status}")
        try:
            data = json.loads(r.body)
        except ValueError:
            raise ProjectError(f"GET {path}: invalid JSON") from None
        if not isinstance(data, dict):
            raise ProjectError(f"GET {path}: JSON is not an object")
        if serial < 0:
            try:
                serial = int(data.get("last_serial", -1))
            except (TypeError, ValueError):
                serial = -1
        return ProjectAnswer(from_json_api(normalized, data, r.body, serial), serial, paths)

    def project_simple(self, normalized: str) -> ProjectAnswer:
        path = f"/simple/{quote(normalized, safe='')}/"
        r = self._get(path, SIMPLE_JSON)
        paths = [path, *(p for p in self._paths_on_master(r) if p != path)]
        if r.status == 404:
            return ProjectAnswer(None, serial_of(r.headers), paths)
        if r.status != 200:
            raise ProjectError(f"GET {path}: HTTP {r.status}")
        try:
            project = from_simple(normalized, json.loads(r.body), r.url, serial_of(r.headers))
        except ValueError:
            raise ProjectError(f"GET {path}: not a PEP 691 JSON project page") from None
        return ProjectAnswer(project, project.serial, paths)

    def _get(self, path: str, accept: str) -> Response:
        """GET a project document on `master`; a failure (after the retries) is the net layer's
        one-line `NetError`, a `ProjectError`: the project fails, the run goes on."""
        return self.client.get(self.master + path, headers={"Accept": accept}, cap=self.http.caps.project)

    def _paths_on_master(self, r: Response) -> list[str]:
        """Paths below `master` the request was redirected to (a CDN may cache each: PURGE them)."""
        base = self.master + "/"
        return ["/" + u[len(base):].split("?", 1)[0] for u in r.redirects if u.startswith(base)]

    # -- files ---------------------------------------------------------------------------------
    def fetch_files(self, jobs: Sequence[FileJob]) -> list[int | BaseException]:
        """Download `jobs` at once over the client's bounded pool (`connections` at a time).

        Each file streams into its own writer while it is hashed; a mismatch is fetched again
        (the retry policy); a file that matches is committed at once (so only files in flight
        hold a temporary), one that failed is discarded. Returns, in order, each file's size or
        the error it ended with. A stop discards every uncommitted writer and raises Stopped; a
        storage error (the store, not the file) is raised after the batch.
        """
        if not jobs:
            return []
        sinks = [HashingSink(job.stage) for job in jobs]
        batch = [DownloadJob(job.url, sink, job.size, partial(sink.verify, job.sha256, job.url), job.cap,
                             partial(self._commit, sink, job))
                 for job, sink in zip(jobs, sinks)]
        try:
            results = self.client.download_many(batch)
        finally:
            for sink in sinks:
                sink.discard()  # a no-op for the committed ones
        out = [r if isinstance(r, BaseException) else r.size for r in results]
        for result in out:
            if isinstance(result, StorageError):
                raise result
        return out

    def _commit(self, sink: HashingSink, job: FileJob, downloaded: Downloaded) -> None:
        sink.commit(job.sha256)
        self.stats.add_many(1, downloaded.size)
        if job.committed is not None:
            job.committed()

    def download(self, url: str, stage: Callable[[], "Staged"], sha256: str, size: int | None,
                 cap: int | None = None) -> int:
        """One file (`verify --repair`): committed once verified; its size, or the error raised."""
        result = self.fetch_files([FileJob(url, stage, sha256, size, cap)])[0]
        if isinstance(result, BaseException):
            raise result
        return result


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "..."


__all__ = ["DownloadStats", "FileJob", "ProjectAnswer", "Stopped", "Upstream", "USER_AGENT", "SIMPLE_JSON",
           "http_settings"]
