"""`Client`: every HTTP request of the mirror (protocols, downloads, PURGE) goes through here.

Why one loop for everything: a single request and a batch of downloads run the same code, a
libcurl multi handle driven from the calling thread. That gives each guarantee once: the stop token
is looked at every `POLL` seconds whatever the sockets do, so SIGTERM or the time limit ends
in-flight requests at once; every hop of a redirect is checked against the allowed hosts before it
is requested; one retry policy (5xx, connection failures, 429 with Retry-After, failed
verification) with its waits interruptible by the stop token; N downloads of one project share
the handle's bounded connection cache (and HTTP/2 multiplexing where the server offers it)
without threads.

Safe in forked workers and in threads: each thread of each process gets its own multi handle and
easy handles (created lazily; a child never touches handles inherited from its parent).
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Callable, Sequence

import pycurl

from mirror_tool.errors import IntegrityError, RetryableError
from mirror_tool.exitcodes import ExitCode
from mirror_tool.net.errors import HTTPStatusError, NetError, RateLimited, Stopped
from mirror_tool.net.settings import HttpSettings
from mirror_tool.net.sinks import BufferSink, Sink
from mirror_tool.net.transfer import Attempt, refuse_foreign
from mirror_tool.stop import StopToken

log = logging.getLogger("mirror_tool.net")

POLL = 0.1  # seconds between looks at the stop token while requests are in flight
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
#: Files have no size cap of their own: the promised size (expected_size) bounds them.
NO_CAP = 1 << 62


@dataclass
class Response:
    """A document: status, headers (lower-case names), decompressed body, final URL, hops taken."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    redirects: list[str] = field(default_factory=list)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Downloaded:
    """A file streamed into its sink: final URL, bytes, hops taken."""

    url: str
    size: int
    redirects: list[str] = field(default_factory=list)


@dataclass
class DownloadJob:
    """One file for `download_many`: `verify()` (optional) raises IntegrityError to have it fetched again;
    `done(downloaded)` (optional) runs as soon as that file is verified, while the others are still
    in flight (e.g. commit it: a batch then holds open only the writers of files in flight), and
    an exception it raises becomes that file's result."""

    url: str
    sink: Sink
    expected_size: int | None = None
    verify: Callable[[], None] | None = None
    cap: int | None = None
    done: Callable[[Downloaded], None] | None = None


@dataclass
class _Job:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    sink: Sink
    cap: int
    gzip: bool
    deadline: float
    follow: bool
    download: bool = False
    expected_size: int | None = None
    verify: Callable[[], None] | None = None
    done: Callable[[Downloaded], None] | None = None
    tries: int = 0
    ready_at: float = 0.0
    redirects: list[str] = field(default_factory=list)
    attempt: Attempt | None = None
    run_deadline_first: bool = False  # this try's deadline is the run's time limit, not the request's
    result: Response | Downloaded | None = None
    error: BaseException | None = None


class _ThreadState:
    """One thread's libcurl handles in one process."""

    def __init__(self, settings: HttpSettings) -> None:
        self.pid = os.getpid()
        self.multi = pycurl.CurlMulti()
        self.multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, settings.connections)
        self.multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, settings.connections)
        self.multi.setopt(pycurl.M_MAXCONNECTS, settings.connections)
        self.free: list[pycurl.Curl] = []

    def curl(self) -> pycurl.Curl:
        return self.free.pop() if self.free else pycurl.Curl()


#: Handles a forked child inherited: never used nor freed there (freeing could close or shut down
#: TLS sessions the parent still uses), only kept from the garbage collector.
_INHERITED: list[_ThreadState] = []


class Client:
    """The mirror's HTTP client; `stop` (the run's StopToken) aborts everything in flight when it fires."""

    def __init__(self, settings: HttpSettings, stop: StopToken | None = None) -> None:
        self.settings = settings
        self.stop = stop
        self._local = threading.local()

    # -- public API ---------------------------------------------------------------------------
    def get(self, url: str, *, headers: dict[str, str] | None = None, cap: int | None = None,
            deadline: float | None = None, gzip: bool = True) -> Response:
        """GET a document into memory, following redirects within the allowed hosts.

        Any status the retry policy does not retry is returned (404 and friends: the caller
        decides); 5xx/429 that outlast the retries raise HTTPStatusError/RateLimited.
        """
        return self.request("GET", url, headers=headers, cap=cap, deadline=deadline, gzip=gzip, follow_redirects=True)

    def request(self, method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
                cap: int | None = None, deadline: float | None = None, gzip: bool = True,
                follow_redirects: bool = False) -> Response:
        """Any method (POST for XML-RPC, PURGE): the answer read into memory, at most `cap` bytes."""
        job = _Job(method, url, dict(headers or {}), body, BufferSink(), cap or self.settings.caps.small, gzip,
                   deadline or self.settings.deadline, follow_redirects)
        self._run([job], 1)
        return self._outcome(job)  # type: ignore[return-value]

    def get_many(self, urls: Sequence[str], *, headers: dict[str, str] | None = None, cap: int | None = None,
                 concurrency: int | None = None, deadline: float | None = None) -> list[Response | BaseException]:
        """GET several documents at once (e.g. the next projects' JSON while files download);
        results in order, each a `Response` or the error it ended with; a stop raises Stopped."""
        jobs = [_Job("GET", url, dict(headers or {}), None, BufferSink(), cap or self.settings.caps.small, True,
                     deadline or self.settings.deadline, True) for url in urls]
        self._run(jobs, self._limit(concurrency))
        return [j.error if j.error is not None else j.result for j in jobs]  # type: ignore[misc]

    def download(self, url: str, sink: Sink, *, expected_size: int | None = None,
                 verify: Callable[[], None] | None = None, cap: int | None = None,
                 deadline: float | None = None) -> Downloaded:
        """Stream a file into `sink` (never to disk here); only 200 is success.

        A retry calls `sink.restart()` first. After the whole body, `verify()` may raise
        IntegrityError, which counts as a failed try (fetched again while tries remain).
        """
        result = self.download_many([DownloadJob(url, sink, expected_size, verify, cap)], 1, deadline=deadline)[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def download_many(self, jobs: Sequence[DownloadJob], concurrency: int | None = None, *,
                      deadline: float | None = None) -> list[Downloaded | BaseException]:
        """Fetch up to `concurrency` (default `connections`) files at once; results in job order.

        Each entry is a `Downloaded` or the error that file ended with; a stop raises Stopped.
        """
        internal = [
            _Job("GET", j.url, {}, None, j.sink, j.cap or NO_CAP, False,
                 deadline or self.settings.download_deadline, True, True, j.expected_size, j.verify, j.done)
            for j in jobs
        ]
        self._run(internal, self._limit(concurrency))
        return [j.error if j.error is not None else j.result for j in internal]  # type: ignore[misc]

    def _limit(self, concurrency: int | None) -> int:
        """Requests in flight at once: as asked, never more than the connection cap."""
        return max(1, min(concurrency or self.settings.connections, self.settings.connections))

    def close(self) -> None:
        """Free this thread's handles (idle connections close)."""
        state = getattr(self._local, "state", None)
        if state is not None and state.pid == os.getpid():
            for curl in state.free:
                curl.close()
            state.multi.close()
        elif state is not None:
            _INHERITED.append(state)  # the parent's: never freed here
        self._local.state = None

    # -- the loop -----------------------------------------------------------------------------
    def _state(self) -> _ThreadState:
        state = getattr(self._local, "state", None)
        if state is None or state.pid != os.getpid():
            if state is not None:
                _INHERITED.append(state)
            state = self._local.state = _ThreadState(self.settings)
        return state

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.stopped

    def _run(self, jobs: list[_Job], limit: int) -> None:
        state = self._state()
        multi = state.multi
        ready: deque[_Job] = deque(jobs)  # may start now, in order
        delayed: list[tuple[float, int, _Job]] = []  # waiting out a retry's backoff (heap)
        active: dict[int, tuple[_Job, pycurl.Curl]] = {}
        try:
            while ready or delayed or active:
                if self._stopped():
                    raise Stopped("stopped while requests were in flight")
                now = time.monotonic()
                while delayed and delayed[0][0] <= now:
                    ready.append(heapq.heappop(delayed)[2])
                while ready and len(active) < limit:
                    job = ready.popleft()
                    curl = self._start(job, state)
                    if curl is not None:
                        multi.add_handle(curl)
                        active[id(curl)] = (job, curl)
                while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                    pass
                while True:
                    waiting, done, failed = multi.info_read()
                    for curl, code, message in [(c, 0, "") for c in done] + list(failed):
                        job, _ = active.pop(id(curl))
                        multi.remove_handle(curl)
                        state.free.append(curl)
                        if self._finish(job, code, message):
                            if job.ready_at <= time.monotonic():
                                ready.append(job)
                            else:
                                heapq.heappush(delayed, (job.ready_at, id(job), job))
                    if not waiting:
                        break
                if ready and len(active) < limit:
                    continue  # start them now: a select first would idle them for a round trip
                if active:
                    wait_ms = multi.timeout()  # libcurl's own next timer (-1: none)
                    multi.select(POLL if wait_ms < 0 else min(POLL, wait_ms / 1000))
                elif delayed:
                    self._sleep(min(POLL, max(0.0, delayed[0][0] - time.monotonic())))
        except BaseException as exc:
            for job, curl in active.values():
                multi.remove_handle(curl)
                state.free.append(curl)
                job.error = job.error or (exc if isinstance(exc, Stopped) else Stopped(str(exc)))
            raise

    def _sleep(self, seconds: float) -> None:
        if self.stop is not None:
            self.stop.wait(seconds)
        else:
            time.sleep(seconds)

    def _start(self, job: _Job, state: _ThreadState) -> pycurl.Curl | None:
        """Prepare the next try of `job`; None (and `job.error`) when its URL may not be requested."""
        if not self.settings.host_allowed(job.url):
            job.error = refuse_foreign(job.method, job.url)
            log.warning("%s", job.error)
            return None
        deadline = job.deadline
        remaining = self.stop.remaining() if self.stop is not None else None
        job.run_deadline_first = remaining is not None and remaining < deadline
        if remaining is not None:
            deadline = max(0.001, min(deadline, remaining))
        curl = state.curl()
        job.attempt = Attempt(curl, self.settings, job.method, job.url, headers=job.headers, body=job.body,
                              sink=job.sink, cap=job.cap, gzip=job.gzip, deadline=deadline,
                              expected_size=job.expected_size)
        return curl

    def _finish(self, job: _Job, code: int, message: str) -> bool:
        """Judge one finished try; True when the job goes back into the queue (redirect, retry)."""
        att = job.attempt
        assert att is not None
        if code or att.sink_error is not None or att.too_large is not None:
            if code == pycurl.E_OPERATION_TIMEDOUT and job.run_deadline_first and self.stop is not None:
                # libcurl ended it at the run's time limit, a moment before the token's own clock
                self.stop.set(ExitCode.TIMEOUT)
            if self._stopped():
                raise Stopped("stopped while requests were in flight")
            return self._failed(job, att.failure(code, message))
        status = att.status()
        headers = att.headers()
        target = att.redirect_target() if status in _REDIRECTS and job.follow else None
        if target is not None:
            return self._redirect(job, status, target)
        if status == 429 or status >= 500:
            return self._retry_status(job, status, headers)
        if job.download:
            if status != 200:
                job.error = HTTPStatusError(f"GET {job.url}: HTTP {status}{att.via()}", job.url, status)
                return False
            if job.expected_size is not None and att.received != job.expected_size:
                return self._failed(job, IntegrityError(f"{job.url}: got {att.received} bytes, "
                                                        f"expected {job.expected_size}"))
            if job.verify is not None:
                try:
                    job.verify()
                except IntegrityError as exc:
                    return self._failed(job, exc)
            job.result = Downloaded(job.url, att.received, list(job.redirects))
            if job.done is not None:
                try:
                    job.done(job.result)
                except Exception as exc:  # noqa: BLE001 - the caller's own error, this file's outcome
                    job.result, job.error = None, exc
            return False
        body = job.sink.getvalue() if isinstance(job.sink, BufferSink) else b""
        job.result = Response(status, headers, body, job.url, list(job.redirects))
        return False

    def _redirect(self, job: _Job, status: int, target: str) -> bool:
        if len(job.redirects) >= MAX_REDIRECTS:
            job.error = NetError(f"{job.method} {job.url}: more than {MAX_REDIRECTS} redirects", job.url)
            return False
        if not self.settings.host_allowed(target):
            job.error = refuse_foreign(job.method, target)
            log.warning("%s (redirected from %s)", job.error, job.url)
            return False
        job.redirects.append(target)
        job.url = target
        if status == 303:
            job.method, job.body = "GET", None
        job.sink.restart()
        job.ready_at = 0.0
        return True

    def _retry_status(self, job: _Job, status: int, headers: dict[str, str]) -> bool:
        after = retry_after(headers.get("retry-after"))
        bound = self.settings.retry.retry_after_max
        if after is not None and after > bound:
            job.error = RateLimited(f"{job.method} {job.url}: HTTP {status} asks to wait {after:.0f} s, "
                                    f"more than the {bound:.0f} s the retry policy allows", job.url, status)
            return False
        cls = RateLimited if status == 429 else HTTPStatusError
        via = job.attempt.via() if job.attempt is not None else ""
        return self._failed(job, cls(f"{job.method} {job.url}: HTTP {status}{via}", job.url, status), after)

    def _failed(self, job: _Job, exc: BaseException, wait: float | None = None) -> bool:
        """Retry `job` after `exc` when the policy allows, else make `exc` its outcome."""
        policy = self.settings.retry
        retryable = isinstance(exc, (RetryableError, IntegrityError))
        job.tries += 1
        if not retryable or job.tries >= policy.attempts:
            if retryable and policy.attempts > 1:
                exc.args = (f"{exc} (after {job.tries} tries)",)
            job.error = exc
            return False
        delay = max(wait or 0.0, policy.delay(job.tries - 1))
        log.debug("retrying %s in %.2f s after: %s", job.url, delay, exc)
        job.sink.restart()
        job.ready_at = time.monotonic() + delay
        return True

    def _outcome(self, job: _Job) -> Response | Downloaded:
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return job.result


def retry_after(value: str | None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


__all__ = ["Client", "Downloaded", "DownloadJob", "Response", "retry_after", "POLL"]
