"""One attempt of one request on a libcurl easy handle: options in, status/headers/body/error out.

Why libcurl (through pycurl): it parses HTTP in C (the CPU the hand-written parser existed for),
enforces connect timeout, stall timeout and a total deadline itself, speaks to proxies (CONNECT for
https) and HTTP/2, and inflates gzip in bounded steps, handing us decompressed bytes, so a cap
counted in the write callback is a cap after decompression (docs/http-library.md has the
measurements). What stays ours: which proxy and trust store (settings.py), redirects (never
followed by libcurl: every hop's host is checked first), and what each failure means.
"""

from __future__ import annotations


import pycurl

from mirror_tool.net.errors import (
    BodyTooLarge,
    DeadlineExceeded,
    ForeignHost,
    NetError,
    ProxyError,
    TLSError,
    TransportError,
)
from mirror_tool.net.settings import HttpSettings
from mirror_tool.net.sinks import Sink


#: libcurl codes, named (pycurl exports them as E_*); grouped by what the client does with them.
_TLS_CODES = {pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CACERT_BADFILE, pycurl.E_SSL_CONNECT_ERROR,
              pycurl.E_SSL_CERTPROBLEM}
_PROXY_CODES = {pycurl.E_COULDNT_RESOLVE_PROXY}
_TIMEOUT = pycurl.E_OPERATION_TIMEDOUT
LARGE = 1 << 20  # bytes: a body this large gets a 256 KiB receive buffer


class Attempt:
    """Sets up `curl` for one try of `method url`; `status`, `headers`, `redirect_target` and
    `failure` read the result once libcurl is done with it.

    `cap` bounds the decompressed body; `expected_size` (downloads) ends a body that grows past
    the promised size at once. `gzip` asks for and inflates gzip (documents); files are requested
    as they are stored (identity), since their hash is over the stored bytes.
    """

    def __init__(self, curl: pycurl.Curl, settings: HttpSettings, method: str, url: str, *,
                 headers: dict[str, str], body: bytes | None, sink: Sink, cap: int, gzip: bool,
                 deadline: float, expected_size: int | None = None) -> None:
        self.curl = curl
        self.settings = settings
        self.method = method
        self.url = url
        self.sink = sink
        self.cap = cap
        self.expected_size = expected_size
        self.received = 0
        self.too_large: NetError | None = None
        self.sink_error: BaseException | None = None
        self.header_lines: list[str] = []
        self.proxy = settings.proxy_for(url)
        self.deadline = deadline
        self._setup(headers, body, gzip)

    def _setup(self, headers: dict[str, str], body: bytes | None, gzip: bool) -> None:
        c, s = self.curl, self.settings
        c.reset()
        c.setopt(pycurl.URL, self.url)
        c.setopt(pycurl.NOSIGNAL, 1)
        c.setopt(pycurl.FOLLOWLOCATION, 0)
        c.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        c.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(min(s.connect_timeout, self.deadline) * 1000)))
        c.setopt(pycurl.TIMEOUT_MS, max(1, int(self.deadline * 1000)))
        c.setopt(pycurl.LOW_SPEED_LIMIT, 1)  # a stall of read_timeout seconds ends the attempt
        c.setopt(pycurl.LOW_SPEED_TIME, max(1, int(s.read_timeout)))
        c.setopt(pycurl.USERAGENT, s.user_agent)
        c.setopt(pycurl.CAINFO, s.trust_file())
        c.setopt(pycurl.CAPATH, "")  # one trust store: the bundle file only
        c.setopt(pycurl.SSL_VERIFYPEER, 1)
        c.setopt(pycurl.SSL_VERIFYHOST, 2)
        # Routing is settings.py's alone: "" = direct, and an empty NOPROXY stops libcurl from reading
        # NO_PROXY from the environment itself (the `proxy` key wins over it).
        c.setopt(pycurl.PROXY, self.proxy or "")
        c.setopt(pycurl.NOPROXY, "")
        if self.proxy:
            c.setopt(pycurl.PROXY_CAINFO, s.trust_file())
        if gzip:
            c.setopt(pycurl.ACCEPT_ENCODING, "gzip")
        lines = [f"{k}: {v}" for k, v in headers.items()]
        if not gzip and not any(k.lower() == "accept-encoding" for k in headers):
            lines.append("Accept-Encoding: identity")
        c.setopt(pycurl.HTTPHEADER, lines)
        if self.method == "GET":
            c.setopt(pycurl.HTTPGET, 1)
        elif self.method == "HEAD":
            c.setopt(pycurl.NOBODY, 1)
        elif self.method == "POST":
            c.setopt(pycurl.POSTFIELDS, body or b"")
        else:
            c.setopt(pycurl.CUSTOMREQUEST, self.method)
            if body is not None:
                c.setopt(pycurl.POSTFIELDS, body)
        if not gzip and (self.expected_size is None or self.expected_size > LARGE):
            # Large files in fewer, larger pieces (fewer callbacks); documents and small files keep libcurl's
            # default buffer, since a larger one costs an allocation per transfer.
            c.setopt(pycurl.BUFFERSIZE, 256 * 1024)
        if self.url.startswith("https:"):
            # Wait for a connection being set up to the same host rather than open another: over
            # HTTP/2 (negotiated by TLS ALPN) concurrent requests then share one connection.
            c.setopt(pycurl.PIPEWAIT, 1)
        c.setopt(pycurl.HEADERFUNCTION, self._header)
        c.setopt(pycurl.WRITEFUNCTION, self._write)

    def _header(self, line: bytes) -> None:
        text = line.decode("latin-1")
        if text.startswith("HTTP/"):
            self.header_lines.clear()  # a new response (after 1xx): only the last one counts
        self.header_lines.append(text)

    def _write(self, data: bytes) -> int | None:
        self.received += len(data)
        if self.received > self.cap:
            self.too_large = BodyTooLarge(f"{self.method} {self.url}: body larger than its cap of {self.cap} bytes "
                                          "(after decompression)", self.url)
            return 0
        if self.expected_size is not None and self.received > self.expected_size:
            from mirror_tool.errors import IntegrityError

            self.sink_error = IntegrityError(f"{self.url}: more than the promised {self.expected_size} bytes")
            return 0
        try:
            self.sink.write(data)
        except BaseException as exc:  # noqa: BLE001 - carried out of libcurl, re-raised by the caller
            self.sink_error = exc
            return 0
        return None

    # -- results ------------------------------------------------------------------------------
    def status(self) -> int:
        return int(self.curl.getinfo(pycurl.RESPONSE_CODE))

    def headers(self) -> dict[str, str]:
        """The final response's headers, names lower-cased (repeated names joined with ", ")."""
        out: dict[str, str] = {}
        for line in self.header_lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            key, text = name.strip().lower(), value.strip()
            out[key] = f"{out[key]}, {text}" if key in out and key != "location" else text
        return out

    def redirect_target(self) -> str | None:
        """The absolute URL a 3xx points at (libcurl resolves relative Locations), or None."""
        target = self.curl.getinfo(pycurl.REDIRECT_URL)
        return str(target) if target else None

    def via(self) -> str:
        """` (via proxy URL)` for messages about a proxied request, else empty."""
        return f" (via proxy {_redact(self.proxy)})" if self.proxy else ""

    def failure(self, code: int, message: str) -> BaseException:
        """What a libcurl error means for this attempt (retryable ones are TransportError)."""
        if self.sink_error is not None:
            return self.sink_error
        if self.too_large is not None:
            return self.too_large
        where = f"{self.method} {self.url}"
        via = self.via()
        host = self.url.split("/")[2] if "//" in self.url else self.url
        if code in _TLS_CODES:
            return TLSError(_tls_line(host, message, self.settings), self.url)
        if self.proxy and _proxy_failure(self.curl, code, message):
            connect = int(self.curl.getinfo(pycurl.HTTP_CONNECTCODE) or 0)
            why = f"answered CONNECT with HTTP {connect}" if connect else message
            return ProxyError(f"{where}: proxy {_redact(self.proxy)} refused or unreachable: {why}", self.url)
        if code == _TIMEOUT:
            if "too slow" in message or "Connection timed out" in message or "Resolving timed out" in message:
                return TransportError(f"{where}: timed out{via}: {message}", self.url)
            return DeadlineExceeded(f"{where}: deadline of {self.deadline:g} s exceeded "
                                    f"(connect + whole body){via}", self.url)
        return TransportError(f"{where}: {message or f'libcurl error {code}'}{via}", self.url)


def _tls_line(host: str, message: str, settings: HttpSettings) -> str:
    """One line an operator can act on, for each way a certificate is refused."""
    low = message.lower()
    store = f"ca-bundle {settings.ca_bundle}" if settings.ca_bundle else "the system trust store"
    if "subject name" in low or "host name" in low or "hostname" in low:
        return f"TLS: the certificate of {host} is not valid for that host name ({message})"
    if "issuer" in low or "self-signed" in low or "self signed" in low or "unknown ca" in low:
        return (f"TLS: the certificate of {host} is not signed by a CA in {store} ({message}); "
                "a private CA goes into ca-bundle")
    if "expired" in low:
        return f"TLS: the certificate of {host} has expired ({message})"
    if "trust anchors" in low or "error setting certificate" in low or "cafile" in low or "ca cert" in low:
        return f"TLS: cannot use {store} ({message})"
    return f"TLS: handshake with {host} failed ({message})"


def _proxy_failure(curl: pycurl.Curl, code: int, message: str) -> bool:
    """True when the failure happened between us and the proxy (not behind it)."""
    if code in _PROXY_CODES or int(curl.getinfo(pycurl.HTTP_CONNECTCODE) or 0) >= 300:
        return True
    return code == pycurl.E_COULDNT_CONNECT or "CONNECT" in message or "proxy" in message.lower()


def _redact(proxy: str | None) -> str:
    """The proxy URL without its password (it goes into log lines)."""
    if not proxy or "@" not in proxy:
        return proxy or ""
    scheme, _, rest = proxy.rpartition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}" if scheme else f"***@{rest.rpartition('@')[2]}"


def refuse_foreign(method: str, url: str) -> ForeignHost:
    return ForeignHost(f"{method} {url}: refused, the host is neither the upstream nor a download host "
                       "(download-hosts)", url)


__all__ = ["Attempt", "refuse_foreign"]
