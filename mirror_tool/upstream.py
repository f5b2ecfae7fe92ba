"""HTTP access to the upstream: XML-RPC change feed, PEP 691 index, project JSON, file downloads.

Project JSON, release files and the XML-RPC feed go through `http11` (a small keep-alive HTTP/1.1
client: a small file costs a fraction of the CPU, and a no-op run imports no HTTP library); the
PEP 691 index and pages, fallback paths, use one `requests.Session` per thread. 5xx and cut
connections are retried with a short backoff; downloads are streamed in 1 MiB chunks into a
staging file while hashing, and linked in at their final path only once verified (staging.py).
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import hashlib
import json
import logging
import mmap
import os
import threading
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import quote, urljoin, urlsplit

if TYPE_CHECKING:
    import requests

from mirror_tool import __version__, http11
from mirror_tool.config import MirrorSettings
from mirror_tool.errors import (
    FeedUnavailable,
    IntegrityError,
    ProjectError,
    RetryableError,
    StorageError,
    UpstreamUnreachable,
)
from mirror_tool.layout import storage_error
from mirror_tool.names import check_http_url
from mirror_tool.staging import Staged, open_staged
from mirror_tool.stop import StopToken

log = logging.getLogger("mirror_tool.upstream")

CHUNK = 1 << 20
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
USER_AGENT = f"pypi-mirror/{__version__} (mirror_tool)"


def _connection_errors() -> tuple[type[BaseException], ...]:
    """requests' "no (complete) answer" errors; requests is imported lazily so that a no-op run,
    which only makes one XML-RPC call, starts fast."""
    import requests

    return (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError, requests.RequestException)


class Stopped(Exception):
    """The stop token was set while a request was in flight."""


@dataclass
class ProjectPage:
    """Answer for `/pypi/<name>/json`: `data` is None on 404 (project removed upstream)."""

    url_path: str
    status: int
    serial: int
    data: dict[str, Any] | None
    raw: bytes = b""
    from_simple: bool = False  # data reshaped from the PEP 691 page (no JSON API document)
    redirects: list[str] = field(default_factory=list)  # paths on master the request was redirected to


@dataclass
class DownloadStats:
    files: int = 0
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, size: int) -> None:
        self.add_many(1, size)

    def add_many(self, files: int, size: int) -> None:
        with self.lock:
            self.files += files
            self.bytes += size


class Upstream:
    """Talks to `master`; every method is safe to call from several threads."""

    def __init__(self, settings: MirrorSettings, stop: StopToken, tmp_dir: Path) -> None:
        self.settings = settings
        self.master = settings.master.rstrip("/")
        self.stop = stop
        self.tmp_dir = tmp_dir
        self.timeout = settings.timeout
        self.retries = settings.retries
        self._local = threading.local()
        self._sessions: list["requests.Session"] = []
        self._sessions_lock = threading.Lock()
        self._conns: list[http11.Connection] = []  # every file connection, for close()
        self._writer_pool: cf.ThreadPoolExecutor | None = None
        self._tmp_prefix = f"{tmp_dir}/dl-{os.getpid()}-"
        self.stats = DownloadStats()

    # -- sessions -----------------------------------------------------------------------------
    def session(self) -> "requests.Session":
        sess = getattr(self._local, "session", None)
        if sess is None:
            import requests
            from requests.adapters import HTTPAdapter

            sess = requests.Session()
            pool = max(2, self.settings.workers)
            adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
            sess.mount("http://", adapter)
            sess.mount("https://", adapter)
            sess.headers["User-Agent"] = USER_AGENT
            sess.trust_env = False  # never route mirror traffic through an environment proxy
            self._local.session = sess
            with self._sessions_lock:
                self._sessions.append(sess)
        return sess

    def close(self) -> None:
        """Close every session and file connection (idle keep-alive sockets)."""
        with self._sessions_lock:
            for sess in self._sessions:
                sess.close()
            self._sessions.clear()
            for conn in self._conns:
                conn.close()
            self._conns.clear()
            if self._writer_pool is not None:
                self._writer_pool.shutdown(wait=True)
                self._writer_pool = None

    def _backoff(self, attempt: int) -> None:
        if self.stop.wait(min(0.1 * (2**attempt), 2.0)):
            raise Stopped()

    # -- change feed --------------------------------------------------------------------------
    def xmlrpc(self, method: str, *args: Any) -> Any:
        """Call an XML-RPC method on `<master>/pypi` (one small request on a new connection).

        A fault or 404 raises FeedUnavailable (callers fall back to the index diff); no answer at
        all after the retries raises UpstreamUnreachable.
        """
        body = xmlrpc.client.dumps(args, method, allow_none=False).encode("utf-8")
        url = f"{self.master}/pypi"
        last: str = "no answer"
        for attempt in range(self.retries + 1):
            try:
                status, content = _post(url, body, self.timeout)
            except OSError as exc:
                last = str(exc) or type(exc).__name__
            else:
                if status >= 500:
                    last = f"HTTP {status} from {url}"
                elif status != 200:
                    raise FeedUnavailable(f"XML-RPC {method}: HTTP {status}")
                else:
                    try:
                        result, _ = xmlrpc.client.loads(content, use_builtin_types=True)
                    except xmlrpc.client.Fault as exc:
                        raise FeedUnavailable(f"XML-RPC {method}: fault {exc.faultCode}: {exc.faultString}") from None
                    except Exception as exc:  # malformed XML from a broken proxy
                        raise FeedUnavailable(f"XML-RPC {method}: unreadable answer: {exc}") from None
                    return result[0] if result else None
            if attempt < self.retries:
                self._backoff(attempt)
        raise UpstreamUnreachable(f"upstream {self.master} unreachable: {last}")

    def changelog_last_serial(self) -> int:
        return int(self.xmlrpc("changelog_last_serial"))

    def changelog_since_serial(self, serial: int) -> list[tuple[str, int]]:
        """Rows `(name, serial)` after `serial` (one page; the caller pages)."""
        rows = self.xmlrpc("changelog_since_serial", serial) or []
        out: list[tuple[str, int]] = []
        for row in rows:
            if isinstance(row, (list, tuple)) and len(row) >= 5:
                out.append((str(row[0]), int(row[4])))
        return out

    def list_packages_with_serial(self) -> dict[str, int]:
        result = self.xmlrpc("list_packages_with_serial") or {}
        return {str(k): int(v) for k, v in result.items()}

    def simple_index(self) -> tuple[int, dict[str, int]]:
        """The PEP 691 JSON root index: (its `_last-serial`, {name: project `_last-serial`})."""
        url = f"{self.master}/simple/"
        resp = self._get_with_retries(url, headers={"Accept": SIMPLE_JSON}, feed=True)
        if resp.status_code != 200:
            raise UpstreamUnreachable(f"GET {url}: HTTP {resp.status_code}")
        try:
            data = resp.json()
            serial = int(data.get("meta", {}).get("_last-serial", 0))
            projects = {str(p["name"]): int(p.get("_last-serial", 0)) for p in data["projects"]}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UpstreamUnreachable(f"GET {url}: not a PEP 691 JSON index ({exc})") from None
        return serial, projects

    # -- projects -----------------------------------------------------------------------------
    def project_json(self, name: str) -> ProjectPage:
        path = f"/pypi/{quote(name, safe='')}/json"
        status, headers, raw, redirects = self._fetch(self.master + path, {"Accept": "application/json"})
        if status == 404:
            return ProjectPage(path, 404, _serial_of(headers), None, redirects=redirects)
        if status != 200:
            raise ProjectError(f"GET {path}: HTTP {status}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise ProjectError(f"GET {path}: invalid JSON") from None
        if not isinstance(data, dict):
            raise ProjectError(f"GET {path}: JSON is not an object")
        serial = _serial_of(headers)
        if serial < 0:
            try:
                serial = int(data.get("last_serial", -1))
            except (TypeError, ValueError):
                serial = -1
        return ProjectPage(path, 200, serial, data, raw, redirects=redirects)

    def _fetch(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, list[str]]:
        """GET a small document on this thread's connection: (status, headers, body, redirect paths).

        5xx answers and connections that fail or are cut are retried with backoff; the redirect
        paths are those on `master` that the request was sent on to (a CDN may cache each).
        """
        last: str = "no answer"
        for attempt in range(self.retries + 1):
            if self.stop.stopped:
                raise Stopped()
            try:
                resp, visited = self._open(url, headers)
                body = resp.read_all()
                if resp.status < 500:
                    redirects = [u[len(self.master):].split("?", 1)[0] for u in visited if u.startswith(self.master + "/")]
                    return resp.status, resp.headers, body, redirects
                last = f"HTTP {resp.status}"
            except OSError as exc:
                last = _short(exc)
            if attempt < self.retries:
                log.debug("retrying %s after %s", url, last)
                self._backoff(attempt)
        raise ProjectError(f"GET {url}: {last}")

    def project_simple(self, norm: str) -> ProjectPage:
        """The PEP 691 JSON project page, reshaped like the JSON API (`info`, `releases`)."""
        path = f"/simple/{quote(norm, safe='')}/"
        url = self.master + path
        resp = self._get_with_retries(url, headers={"Accept": SIMPLE_JSON})
        if resp.status_code == 404:
            return ProjectPage(path, 404, _serial_of(resp.headers), None)
        if resp.status_code != 200:
            raise ProjectError(f"GET {path}: HTTP {resp.status_code}")
        try:
            doc = resp.json()
            files = doc["files"]
            serial = int(doc.get("meta", {}).get("_last-serial", _serial_of(resp.headers)))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProjectError(f"GET {path}: not a PEP 691 JSON project page") from None
        releases: dict[str, list[dict[str, Any]]] = {str(v): [] for v in doc.get("versions", []) or []}
        base = resp.url
        for f in files:
            if not isinstance(f, dict):
                continue
            from urllib.parse import urljoin

            yanked = f.get("yanked", False)
            meta = f.get("core-metadata", f.get("data-dist-info-metadata", f.get("dist-info-metadata")))
            entry = {
                "filename": f.get("filename"),
                "url": urljoin(base, str(f.get("url", ""))).split("#", 1)[0],
                "digests": {"sha256": (f.get("hashes") or {}).get("sha256")},
                "size": f.get("size"),
                "requires_python": f.get("requires-python"),
                "yanked": bool(yanked),
                "yanked_reason": yanked if isinstance(yanked, str) else None,
                "upload_time_iso_8601": f.get("upload-time"),
                "core_metadata": meta,
            }
            releases.setdefault(_version_from_filename(str(f.get("filename", ""))), []).append(entry)
        data = {"info": {"name": doc.get("name", norm)}, "last_serial": serial, "releases": releases}
        return ProjectPage(path, 200, serial, data, from_simple=True)

    def _get_with_retries(self, url: str, headers: dict[str, str], feed: bool = False) -> "requests.Response":
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if self.stop.stopped:
                raise Stopped()
            try:
                resp = self.session().get(url, headers=headers, timeout=self.timeout)
                if resp.status_code < 500:
                    return resp
                last = RetryableError(f"HTTP {resp.status_code} for {url}")
            except _connection_errors() as exc:
                last = exc
            if attempt < self.retries:
                log.debug("retrying %s after %s", url, _short(last))
                self._backoff(attempt)
        if feed:
            raise UpstreamUnreachable(f"upstream {self.master} unreachable: {_short(last)}")
        raise ProjectError(f"GET {url}: {_short(last)}")

    # -- files --------------------------------------------------------------------------------
    def download(self, url: str, dest: Path, sha256: str, size: int | None) -> int:
        """Fetch `url` into `dest` atomically after checking size and sha256; returns bytes.

        Retries 5xx, cut connections and hash mismatches; nothing reaches `dest` unless verified.
        """
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if self.stop.stopped:
                raise Stopped()
            try:
                n = self._download_once(url, dest, sha256, size)
                self.stats.add(n)
                return n
            except (RetryableError, IntegrityError) as exc:
                last = exc
            if attempt < self.retries:
                log.debug("retrying %s after %s", url, _short(last))
                self._backoff(attempt)
        if isinstance(last, (IntegrityError, ProjectError)):
            raise type(last)(str(last))
        raise ProjectError(f"download {url}: {_short(last)}")

    # Files and project JSON go through http11 on per-thread keep-alive connections: a 20 KB GET
    # costs a fraction of the CPU it costs through requests (or http.client, whose header parsing
    # alone was a quarter of a full sync's CPU), and they are the bulk of a sync. The PEP 691
    # index and pages (fallback paths) stay on requests.
    def _open(self, url: str, headers: dict[str, str]) -> tuple[http11.Response, list[str]]:
        """GET `url` on this thread's connection to its host, following up to 5 redirects.

        Returns the final response (body unread) and the URLs redirected to, in order.
        """
        conns: dict[tuple[str, str], http11.Connection] = self._local.__dict__.setdefault("conns", {})
        visited: list[str] = []
        all_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        for _hop in range(6):
            parts = urlsplit(url)
            key = (parts.scheme, parts.netloc)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn = conns.get(key)
            if conn is None:
                conn = conns[key] = http11.Connection(parts.scheme, parts.hostname or "", parts.port, self.timeout)
                with self._sessions_lock:
                    self._conns.append(conn)
            reused = not conn.fresh
            try:
                resp = conn.request("GET", target, all_headers)
            except (http11.ConnectionClosed, BrokenPipeError, ConnectionResetError):
                if not reused:  # a fresh connection failing is a real error
                    raise
                # the server closed an idle keep-alive connection: retry once on a new one
                resp = conn.request("GET", target, all_headers)
            location = resp.getheader("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                resp.read_all()
                url = check_http_url(urljoin(url, location))
                visited.append(url)
                continue
            return resp, visited
        raise ProjectError(f"GET {url}: too many redirects")

    def _download_once(self, url: str, dest: Path, sha256: str, size: int | None) -> int:
        try:
            resp, _ = self._open(url, {})
        except OSError as exc:
            raise RetryableError(f"download {url}: {_short(exc)}") from exc
        if resp.status >= 500:
            resp.read_all()
            raise RetryableError(f"HTTP {resp.status} for {url}")
        if resp.status != 200:
            raise ProjectError(f"download {url}: HTTP {resp.status}")
        return self._receive(resp, url, dest, sha256, size)

    def _receive(self, resp: http11.Response, url: str, dest: Path, sha256: str, size: int | None) -> int:
        """Stream the body into a staging file (staging.py) while hashing; commit it at `dest`
        only once size and sha256 match, so nothing unverified ever has the final name.

        The body is read into two reused page-aligned buffers per thread: no allocation per
        chunk (for large files an mmap, page faults and an munmap every MiB), direct writes from
        them, and for direct writes (which wait for the disk) the write of one buffer overlaps
        receiving and hashing the next.
        """
        bufs = self._local.__dict__.get("bufs")
        if bufs is None:
            # mmap memory is page-aligned, as direct writes (staging.py) require.
            bufs = self._local.bufs = (memoryview(mmap.mmap(-1, CHUNK)), memoryview(mmap.mmap(-1, CHUNK)))
        try:
            staged = open_staged(str(dest), f"{self._tmp_prefix}{threading.get_ident()}-", size)
        except OSError as exc:
            raise storage_error(exc, str(dest)) from exc
        digest = hashlib.sha256()
        n = 0
        flushed = 0
        which = 0
        pending: "cf.Future[None] | None" = None
        try:
            ended = False
            while not ended:
                buf = bufs[which]
                filled = 0
                while filled < CHUNK:  # a full buffer per write: direct writes want whole blocks
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
                if pending is not None:
                    pending, done = None, pending
                    _wait_write(done, dest)
                if staged.direct and not ended:
                    pending = self._writer().submit(staged.write, chunk)
                    which ^= 1  # fill the other buffer meanwhile
                else:
                    _write_now(staged, chunk, dest)
                if not staged.direct and n - flushed >= WRITEBACK_STEP:
                    _start_writeback(staged.fd, flushed, n - flushed)
                    flushed = n
                if self.stop.stopped:
                    raise Stopped()
            if pending is not None:
                pending, done = None, pending
                _wait_write(done, dest)
            if size is not None and n != size:
                raise IntegrityError(f"{url}: got {n} bytes, expected {size}")
            got_sha = digest.hexdigest()
            if got_sha != sha256:
                raise IntegrityError(f"{url}: sha256 {got_sha} does not match the expected {sha256}")
            try:
                staged.commit()
            except OSError as exc:
                raise storage_error(exc, str(dest)) from exc
            return n
        except BaseException:
            if pending is not None:
                cf.wait([pending])  # the write still uses the descriptor discard() closes
            resp.abandon()  # the rest of the body, if any, is still on the wire
            staged.discard()
            raise

    def store_verified(self, dest: Path, data: bytes) -> None:
        """Put `data` (already checked by the caller) at `dest` the way downloads arrive."""
        try:
            staged = open_staged(str(dest), f"{self._tmp_prefix}{threading.get_ident()}-")
        except OSError as exc:
            raise storage_error(exc, str(dest)) from exc
        try:
            _write_now(staged, memoryview(data), dest)
            staged.commit()
        except OSError as exc:
            staged.discard()
            raise storage_error(exc, str(dest)) from exc
        except BaseException:
            staged.discard()
            raise

    def _writer(self) -> cf.ThreadPoolExecutor:
        """Threads that run direct writes while their download goes on (one write per download
        in flight at a time, so `workers` threads suffice)."""
        pool = self._writer_pool
        if pool is None:
            with self._sessions_lock:
                if self._writer_pool is None:
                    self._writer_pool = cf.ThreadPoolExecutor(self.settings.workers, thread_name_prefix="writer")
                pool = self._writer_pool
        return pool


def _wait_write(pending: "cf.Future[None]", dest: Path) -> None:
    """Wait for a background write; OS errors become StorageError."""
    try:
        pending.result()
    except OSError as exc:
        raise storage_error(exc, str(dest)) from exc


def _write_now(staged: Staged, chunk: memoryview, dest: Path) -> None:
    try:
        staged.write(chunk)
    except OSError as exc:
        raise storage_error(exc, str(dest)) from exc


#: Large downloads start kernel writeback every this many bytes, so making them durable before
#: their page is published (layout.DurabilityBarrier) finds little left to flush.
WRITEBACK_STEP = 8 << 20
_SYNC_FILE_RANGE_WRITE = 2


def _load_sync_file_range() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.sync_file_range
        func.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
        return func
    except (OSError, AttributeError):
        return None


_sync_file_range = _load_sync_file_range()


def _start_writeback(fd: int, offset: int, nbytes: int) -> None:
    """Ask the kernel to start writing this range out now (asynchronous, best effort)."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


def _version_from_filename(filename: str) -> str:
    from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return "unknown"


def _post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """POST `body` as text/xml on a new connection; returns (status, content)."""
    parts = urlsplit(url)
    conn = http11.Connection(parts.scheme, parts.hostname or "", parts.port, timeout)
    try:
        resp = conn.request(
            "POST",
            parts.path or "/",
            {"Content-Type": "text/xml", "User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            body,
        )
        return resp.status, resp.read_all()
    finally:
        conn.close()


def _serial_of(headers: Mapping[str, str]) -> int:
    """X-PyPI-Last-Serial (-1 when absent or bad); `headers`: http11's lower-case dict or
    requests' case-insensitive one."""
    try:
        return int(headers.get("x-pypi-last-serial", "-1"))
    except ValueError:
        return -1


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "..."


def file_sha256(path: Path) -> str | None:
    """sha256 of a local file, None when it does not exist."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None
    return digest.hexdigest()


__all__ = ["Upstream", "ProjectPage", "Stopped", "file_sha256", "StorageError"]
