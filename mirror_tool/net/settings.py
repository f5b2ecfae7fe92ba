"""`HttpSettings`: everything that shapes the client's traffic, resolved once from config + environment.

Why one frozen object: the upstream protocols, the downloads and PURGE must route, trust, time out
and retry the same way; one value built at start-up (and inherited by forked workers) means no
call site reads the environment or the config on its own. Resolution rules, in one place:

- proxy: the `[mirror] proxy` key wins over the environment, NO_PROXY included (it means "all
  traffic through this proxy"); without it, HTTPS_PROXY / HTTP_PROXY (upper or lower case) by the
  URL's scheme, bypassed for hosts NO_PROXY names (suffix, `*`, IP or CIDR; an optional `:port`).
- trust: one store, the system's (what Python's ssl finds, SSL_CERT_FILE honoured) unless
  `ca-bundle` names a PEM file, which then replaces it. Verification is always on.
- hosts: requests and redirects go only to the upstream's own host and the configured download
  hosts; an entry without a port admits the default ports (80/443) only.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from mirror_tool.config.settings import MirrorSettings

MiB = 1 << 20
#: Where the file hosts default to: the upstream's own host only. Deployments whose upstream serves
#: files from another host list it in `download-hosts` (docs/operations.md says how to find it).
DEFAULT_DOWNLOAD_HOSTS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Caps:
    """Body-size caps, in bytes after decompression: what one answer may cost in memory or disk."""

    project: int = 64 * MiB  # project JSON / PEP 691 project page
    index: int = 512 * MiB  # the PEP 691 root index (700,000 projects)
    metadata: int = 16 * MiB  # a `.metadata` file (PEP 658)
    xmlrpc: int = 256 * MiB  # an XML-RPC answer (list_packages_with_serial is the largest)
    small: int = 1 * MiB  # PURGE answers, error bodies, anything else read into memory


@dataclass(frozen=True)
class RetryPolicy:
    """One policy for every call: which failures are retried, how often and after how long.

    5xx answers, connection failures (refused, reset, cut mid-body, a read that timed out), 429
    and a download whose bytes fail verification are retried up to `attempts` tries in all,
    `backoff * 2**n` seconds apart (at most `backoff_max`). A `Retry-After` (429, 503) is honoured
    when it is at most `retry_after_max` seconds; a longer one fails the call at once, since
    waiting less than asked is impolite and waiting longer would stall the run.
    """

    attempts: int = 4
    backoff: float = 0.1
    backoff_max: float = 2.0
    retry_after_max: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number `attempt` (0-based)."""
        return min(self.backoff * (2**attempt), self.backoff_max)


@dataclass(frozen=True)
class HttpSettings:
    """What every request of a run obeys; see the module docstring for how each field is chosen.

    `connections` bounds connections per client (per worker process) and host, and is also the
    default number of files of one project fetched at once; a run opens at most
    `workers x connections` connections per host, plus one for the feed in the parent.
    """

    upstream: str
    proxy: str | None = None  # the `[mirror] proxy` key: wins over the environment
    env_proxies: Mapping[str, str] = field(default_factory=dict)  # scheme -> proxy URL from the environment
    no_proxy: tuple[str, ...] = ()
    ca_bundle: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # no byte for this long ends an attempt (retried)
    deadline: float = 300.0  # connect + whole body of one document request
    download_deadline: float = 1800.0  # connect + whole body of one file download
    caps: Caps = field(default_factory=Caps)
    download_hosts: tuple[str, ...] = DEFAULT_DOWNLOAD_HOSTS
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    connections: int = 4
    user_agent: str = "pypi-mirror"

    @classmethod
    def build(cls, upstream: str, *, proxy: str | None = None, environ: Mapping[str, str] | None = None,
              **fields: object) -> "HttpSettings":
        """Settings for `upstream` with the environment's proxy variables read once (now)."""
        env = os.environ if environ is None else environ
        proxies: dict[str, str] = {}
        for scheme in ("http", "https"):
            value = env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY")
            if value:
                proxies[scheme] = value
        no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
        entries = tuple(e.strip().lower() for e in no_proxy.split(",") if e.strip())
        return cls(upstream=upstream.rstrip("/"), proxy=proxy or None, env_proxies=proxies, no_proxy=entries,
                   **fields)  # type: ignore[arg-type]

    # -- routing ------------------------------------------------------------------------------
    def proxy_for(self, url: str) -> str | None:
        """The proxy URL a request to `url` goes through, or None for a direct connection."""
        if self.proxy:
            return self.proxy
        parts = urlsplit(url)
        chosen = self.env_proxies.get(parts.scheme)
        if not chosen or _bypassed(parts.hostname or "", parts.port, self.no_proxy):
            return None
        return chosen

    # -- trust --------------------------------------------------------------------------------
    def trust_file(self) -> str:
        """The one PEM bundle that verifies every certificate (upstream, file hosts, https proxy)."""
        return self.ca_bundle or _system_bundle()

    # -- hosts --------------------------------------------------------------------------------
    @functools.cached_property
    def _upstream_origin(self) -> tuple[str, int]:
        up = urlsplit(self.upstream)
        return (up.hostname or "").lower(), up.port or (443 if up.scheme == "https" else 80)

    def host_allowed(self, url: str) -> bool:
        """True when `url` is http(s) on the upstream's own host:port or a configured download host."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if (parts.hostname, port) == self._upstream_origin:
            return True
        for entry in self.download_hosts:
            host, _, want = entry.lower().rpartition(":") if _has_port(entry) else (entry.lower(), "", "")
            if parts.hostname != host.strip("[]"):
                continue
            if (want and port == int(want)) or (not want and port in (80, 443)):
                return True
        return False


@functools.lru_cache(maxsize=1)
def _system_bundle() -> str:
    """The system's CA bundle as Python's ssl finds it (SSL_CERT_FILE honoured); looked up once."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.exists(candidate):
            return candidate
    return "/etc/ssl/certs/ca-certificates.crt"


def _has_port(entry: str) -> bool:
    """`host:port` or `[v6]:port`, not a bare IPv6 address."""
    if entry.startswith("["):
        return "]:" in entry
    return entry.count(":") == 1


def _bypassed(host: str, port: int | None, entries: tuple[str, ...]) -> bool:
    """NO_PROXY matching: `*`, exact host, domain suffix (`.example` or `example`), IP, CIDR."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in entries:
        if entry == "*":
            return True
        name = entry
        if _has_port(entry):
            name, _, want = entry.rpartition(":")
            if port is None or str(port) != want:
                continue
        name = name.strip("[]")
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False




def settings_from_config(mirror: "MirrorSettings", *, user_agent: str, upstream: str | None = None,
                         environ: Mapping[str, str] | None = None) -> HttpSettings:
    """`HttpSettings` from the `[mirror]` section (config/schema.py documents each key) and the
    environment's proxy variables, read now. `upstream` overrides `master` (the PURGE client
    talks to `purge-url`).

    `timeout` keeps bandersnatch's meaning: the connect timeout and the longest stall while
    reading; `request-deadline` / `download-deadline` bound one try as a whole. A `download-mirror`
    is a file host the operator named, so its host is allowed like the `download-hosts`.
    """
    return HttpSettings.build(
        str(upstream or mirror.master),
        proxy=mirror.proxy or None,
        environ=environ,
        ca_bundle=str(mirror.ca_bundle) if mirror.ca_bundle else None,
        connect_timeout=float(mirror.timeout),
        read_timeout=float(mirror.timeout),
        deadline=float(mirror.request_deadline),
        download_deadline=float(mirror.download_deadline),
        caps=Caps(project=mirror.max_project_json_size, index=mirror.max_index_size,
                  metadata=mirror.max_metadata_size, xmlrpc=mirror.max_xmlrpc_size),
        download_hosts=tuple(mirror.download_hosts) + _origin_of(mirror.download_mirror),
        retry=RetryPolicy(attempts=int(mirror.retries) + 1, retry_after_max=float(mirror.retry_after_max)),
        connections=int(mirror.worker_connections),
        user_agent=user_agent,
    )


def _origin_of(url: str) -> tuple[str, ...]:
    """(`host:port`,) of an http(s) URL as a download-hosts entry; () for an empty one."""
    if not url:
        return ()
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return (f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}",)


__all__ = ["Caps", "HttpSettings", "RetryPolicy", "MiB", "DEFAULT_DOWNLOAD_HOSTS", "settings_from_config"]
