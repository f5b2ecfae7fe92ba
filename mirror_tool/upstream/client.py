"""The upstream client: PyPI's protocols in, records out; it never touches the mirror tree.

XML-RPC change feed, the PEP 691 root index, project JSON (the JSON API, else the PEP 691 page)
as `Project` records, and file downloads streamed into a writer the caller gives (a storage
`Staged`), committed only once size and sha256 match. 5xx answers, cut connections and hash
mismatches are retried with a short backoff; the HTTP stacks are transport.py's.
"""

from __future__ import annotations

import json
import logging
import threading
import xmlrpc.client
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar
from urllib.parse import quote

from mirror_tool.errors import FeedUnavailable, IntegrityError, ProjectError, RetryableError, UpstreamUnreachable
from mirror_tool.records import Project
from mirror_tool.stop import StopToken
from mirror_tool.upstream.parse import from_json_api, from_simple, index_listing, serial_of
from mirror_tool.upstream.transport import Document, Response, Transport

if TYPE_CHECKING:
    from mirror_tool.config import MirrorSettings
    from mirror_tool.storage.base import Staged  # the writer a download streams into

log = logging.getLogger("mirror_tool.upstream")

T = TypeVar("T")
CHUNK = 1 << 20
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class Stopped(Exception):
    """The stop token was set while a request was in flight."""


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


class Upstream:
    """Talks to `master`; every method is safe to call from several threads."""

    def __init__(self, master: str, stop: StopToken, *, timeout: float, retries: int, connections: int) -> None:
        self.master = master.rstrip("/")
        self.stop = stop
        self.retries = retries
        self.transport = Transport(timeout, connections)
        self.stats = DownloadStats()
        self._buffers = threading.local()

    @classmethod
    def for_mirror(cls, settings: "MirrorSettings", stop: StopToken) -> "Upstream":
        """The client a `[mirror]` section describes."""
        return cls(settings.master, stop, timeout=settings.timeout, retries=settings.retries, connections=settings.workers)

    def close(self) -> None:
        """Close idle keep-alive connections and sessions."""
        self.transport.close()

    def _backoff(self, attempt: int) -> None:
        if self.stop.wait(min(0.1 * (2**attempt), 2.0)):
            raise Stopped()

    # -- change feed ---------------------------------------------------------------------------
    def xmlrpc(self, method: str, *args: Any) -> Any:
        """Call an XML-RPC method on `<master>/pypi` (one small request on a new connection).

        A fault or 404 raises FeedUnavailable (callers fall back to the index diff); no answer at
        all after the retries raises UpstreamUnreachable.
        """
        body = xmlrpc.client.dumps(args, method, allow_none=False).encode("utf-8")
        url = f"{self.master}/pypi"

        def once() -> Any:
            status, content = self.transport.post(url, body, "text/xml")
            if status >= 500:
                raise RetryableError(f"HTTP {status} from {url}")
            if status != 200:
                raise FeedUnavailable(f"XML-RPC {method}: HTTP {status}")
            try:
                result, _ = xmlrpc.client.loads(content, use_builtin_types=True)
            except xmlrpc.client.Fault as exc:
                raise FeedUnavailable(f"XML-RPC {method}: fault {exc.faultCode}: {exc.faultString}") from None
            except Exception as exc:  # malformed XML from a broken proxy
                raise FeedUnavailable(f"XML-RPC {method}: unreadable answer: {exc}") from None
            return result[0] if result else None

        try:
            return self._retrying(url, once, stoppable=False)
        except (RetryableError, OSError) as exc:
            raise UpstreamUnreachable(f"upstream {self.master} unreachable: {_short(exc)}") from None

    def changelog_last_serial(self) -> int:
        return int(self.xmlrpc("changelog_last_serial"))

    def changelog_since_serial(self, serial: int) -> list[tuple[str, int]]:
        """Rows `(name, serial)` after `serial` (one page; the caller pages)."""
        rows = self.xmlrpc("changelog_since_serial", serial) or []
        return [(str(row[0]), int(row[4])) for row in rows if isinstance(row, (list, tuple)) and len(row) >= 5]

    def list_packages_with_serial(self) -> dict[str, int]:
        result = self.xmlrpc("list_packages_with_serial") or {}
        return {str(k): int(v) for k, v in result.items()}

    def simple_index(self) -> tuple[int, dict[str, int]]:
        """The PEP 691 JSON root index: (its `_last-serial`, {name: project `_last-serial`})."""
        url = f"{self.master}/simple/"
        doc = self._document(url, feed=True)
        if doc.status != 200:
            raise UpstreamUnreachable(f"GET {url}: HTTP {doc.status}")
        try:
            serial, projects = index_listing(doc.body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UpstreamUnreachable(f"GET {url}: not a PEP 691 JSON index ({exc})") from None
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
        status, headers, raw, redirects = self._fetch(self.master + path, {"Accept": "application/json"})
        paths = [path, *(p for p in redirects if p != path)]
        serial = serial_of(headers)
        if status == 404:
            return ProjectAnswer(None, serial, paths)
        if status != 200:
            raise ProjectError(f"GET {path}: HTTP {status}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise ProjectError(f"GET {path}: invalid JSON") from None
        if not isinstance(data, dict):
            raise ProjectError(f"GET {path}: JSON is not an object")
        if serial < 0:
            try:
                serial = int(data.get("last_serial", -1))
            except (TypeError, ValueError):
                serial = -1
        return ProjectAnswer(from_json_api(normalized, data, raw, serial), serial, paths)

    def project_simple(self, normalized: str) -> ProjectAnswer:
        path = f"/simple/{quote(normalized, safe='')}/"
        doc = self._document(self.master + path)
        if doc.status == 404:
            return ProjectAnswer(None, serial_of(doc.headers), [path])
        if doc.status != 200:
            raise ProjectError(f"GET {path}: HTTP {doc.status}")
        try:
            project = from_simple(normalized, json.loads(doc.body), doc.url, serial_of(doc.headers))
        except ValueError:
            raise ProjectError(f"GET {path}: not a PEP 691 JSON project page") from None
        return ProjectAnswer(project, project.serial, [path])

    def _fetch(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, list[str]]:
        """GET a small document on this thread's connection: (status, headers, body, redirect paths).

        The redirect paths are those on `master` that the request was sent on to (a CDN may
        cache each).
        """

        def once() -> tuple[int, dict[str, str], bytes, list[str]]:
            resp, visited = self.transport.get(url, headers)
            body = resp.read_all()
            if resp.status >= 500:
                raise RetryableError(f"HTTP {resp.status}")
            redirects = [u[len(self.master):].split("?", 1)[0] for u in visited if u.startswith(self.master + "/")]
            return resp.status, resp.headers, body, redirects

        try:
            return self._retrying(url, once)
        except (RetryableError, OSError) as exc:
            raise ProjectError(f"GET {url}: {_short(exc)}") from None

    def _document(self, url: str, feed: bool = False) -> Document:
        """GET a document through the session (the PEP 691 index and pages), retried like `_fetch`."""

        def once() -> Document:
            doc = self.transport.get_document(url, {"Accept": SIMPLE_JSON})
            if doc.status >= 500:
                raise RetryableError(f"HTTP {doc.status} for {url}")
            return doc

        try:
            return self._retrying(url, once)
        except (RetryableError, OSError) as exc:
            if feed:
                raise UpstreamUnreachable(f"upstream {self.master} unreachable: {_short(exc)}") from None
            raise ProjectError(f"GET {url}: {_short(exc)}") from None

    def _retrying(self, url: str, once: Callable[[], T], *, stoppable: bool = True,
                  retry_on: tuple[type[BaseException], ...] = (RetryableError, OSError)) -> T:
        """`once()`, again after a short backoff while it raises one of `retry_on`, at most
        `retries` more times; then its last error. Every request of the client retries here."""
        attempt = 0
        while True:
            if stoppable and self.stop.stopped:
                raise Stopped()
            try:
                return once()
            except retry_on as exc:
                if attempt >= self.retries:
                    raise
                log.debug("retrying %s after %s", url, _short(exc))
            self._backoff(attempt)
            attempt += 1

    # -- files ---------------------------------------------------------------------------------
    def download(self, url: str, stage: Callable[[], "Staged"], sha256: str, size: int | None) -> int:
        """Stream `url` into `stage()` and commit it once size and sha256 match; returns bytes.

        Retries 5xx, cut connections and hash mismatches (a fresh `stage()` per attempt); nothing
        is committed unless verified.
        """
        try:
            n = self._retrying(url, lambda: self._download_once(url, stage, sha256, size), retry_on=(RetryableError, IntegrityError))
        except (RetryableError, IntegrityError) as exc:
            raise type(exc)(str(exc)) from None
        self.stats.add_many(1, n)
        return n

    def _download_once(self, url: str, stage: Callable[[], "Staged"], sha256: str, size: int | None) -> int:
        try:
            resp, _ = self.transport.get(url, {})
        except OSError as exc:
            raise RetryableError(f"download {url}: {_short(exc)}") from exc
        if resp.status >= 500:
            resp.read_all()
            raise RetryableError(f"HTTP {resp.status} for {url}")
        if resp.status != 200:
            raise ProjectError(f"download {url}: HTTP {resp.status}")
        staged = stage()
        try:
            return self._receive(resp, url, staged, sha256, size)
        except BaseException:
            resp.abandon()  # the rest of the body, if any, is still on the wire
            staged.discard()
            raise

    def _receive(self, resp: Response, url: str, staged: "Staged", sha256: str, size: int | None) -> int:
        """Body into `staged` in 1 MiB pieces through one reused per-thread buffer, hashing as it
        goes; commit only when size and sha256 match."""
        import hashlib
        buf = getattr(self._buffers, "buf", None)
        if buf is None:
            buf = self._buffers.buf = memoryview(bytearray(CHUNK))
        digest = hashlib.sha256()
        n = 0
        ended = False
        while not ended:
            filled = 0
            while filled < CHUNK:  # a full buffer per write: fewer system calls
                try:
                    got = resp.readinto(buf[filled:])
                except OSError as exc:
                    raise RetryableError(f"connection cut while downloading {url}: {_short(exc)}") from exc
                if not got:
                    ended = True
                    break
                filled += got
            if not filled:
                break
            chunk = buf[:filled]
            digest.update(chunk)
            n += filled
            if size is not None and n > size:
                raise IntegrityError(f"{url}: more than the promised {size} bytes")
            staged.write(chunk)
            if self.stop.stopped:
                raise Stopped()
        if size is not None and n != size:
            raise IntegrityError(f"{url}: got {n} bytes, expected {size}")
        got_sha = digest.hexdigest()
        if got_sha != sha256:
            raise IntegrityError(f"{url}: sha256 {got_sha} does not match the expected {sha256}")
        staged.commit(sha256)
        return n


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "..."


__all__ = ["DownloadStats", "ProjectAnswer", "Stopped", "Upstream"]
