"""The network layer's failures, as subclasses of the project's error classes (mirror_tool/errors.py).

Why subclasses: the engine already knows what a `ProjectError` (the project fails, the run goes on)
and a `RetryableError` mean, and exit codes ride on those classes. Every message is one line that
names the URL and the cause an operator can act on (which CA, which proxy, which cap). A request
on the change feed that fails is turned into `UpstreamUnreachable` by the caller (`feed_error`),
since only the caller knows the request was the feed.

`Stopped` is not an error: the run's stop token fired (SIGTERM, time limit) and the request was
abandoned; callers unwind and the run ends with the token's exit code.
"""

from __future__ import annotations

from mirror_tool.errors import MirrorError, ProjectError, RetryableError, UpstreamUnreachable


class Stopped(Exception):
    """The stop token fired while a request was in flight or waiting to be retried."""


class NetError(ProjectError):
    """A request failed for good (after the retries the policy allows)."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(" ".join(message.split()))
        self.url = url


class TransportError(NetError, RetryableError):
    """No complete answer: refused, reset, cut mid-body, a read that timed out, DNS."""


class HTTPStatusError(NetError, RetryableError):
    """An unwanted status (5xx after the retries, or a download answered 4xx)."""

    def __init__(self, message: str, url: str = "", status: int = 0) -> None:
        super().__init__(message, url)
        self.status = status


class RateLimited(HTTPStatusError):
    """429 (or 503) with a `Retry-After` beyond the policy's bound, or still limited after the retries."""


class TLSError(NetError):
    """The server's certificate was refused: unknown CA, wrong host name, expired; or a bad ca-bundle."""


class ProxyError(NetError):
    """The proxy could not be reached or refused the request (a CONNECT answered non-2xx)."""


class DeadlineExceeded(NetError):
    """The request's total deadline (connect + whole body) passed; not retried."""


class BodyTooLarge(NetError):
    """The body grew past its cap (after decompression); not retried."""


class ForeignHost(NetError):
    """A URL or redirect pointed at a host that is neither the upstream nor a download host."""


def feed_error(exc: MirrorError) -> UpstreamUnreachable:
    """The change feed's view of a failed request: the run cannot go on without it (exit 5).

    No usable answer (refused, reset, DNS, a proxy or TLS refusal, 5xx or 429 after the retries)
    reads "upstream unreachable"; an answer this layer refused (past its cap or its deadline, a
    redirect to a foreign host) "change feed failed".
    """
    reached = isinstance(exc, (BodyTooLarge, DeadlineExceeded, ForeignHost))
    return UpstreamUnreachable(f"{'change feed failed' if reached else 'upstream unreachable'}: {exc}")


__all__ = [
    "Stopped", "NetError", "TransportError", "HTTPStatusError", "RateLimited", "TLSError", "ProxyError",
    "DeadlineExceeded", "BodyTooLarge", "ForeignHost", "feed_error",
]
