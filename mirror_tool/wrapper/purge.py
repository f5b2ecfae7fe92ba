"""PURGE of a stale project's CDN URLs.

The CDN keeps serving a page with an old `X-PyPI-Last-Serial` until its TTL runs out; a `PURGE`
request for each URL drops the cached copy so the next fetch reaches the origin. The CDN may
refuse anonymous PURGE (401): the first refusal ends PURGEs for the whole run with one log line,
instead of one error per URL. The optional `Fastly-Key` is sent as a header and never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from mirror_tool.names import is_valid_project_name, normalize
from mirror_tool.stop import StopToken

if TYPE_CHECKING:
    from mirror_tool.net import HttpSettings

log = logging.getLogger(__name__)

NOT_PERMITTED_LINE = "PURGE not permitted by upstream; set a key or wait for the CDN TTL"
KEY_HEADER = "Fastly-Key"
#: 401 is what the CDN answers to an anonymous or wrong-key PURGE; 403 is treated the same.
_UNAUTHORIZED = {401, 403}


def project_purge_paths(name: str, fetched: Iterable[str] = ()) -> list[str]:
    """URL paths to PURGE for one project, in a stable order without duplicates.

    `/pypi/<name>/json`, `/pypi/<normalized>/json`, `/simple/<normalized>/`, then every other
    path the sync fetched for it (from stale.json). Paths that are not absolute paths on the
    upstream are skipped: PURGE only ever goes to the configured upstream.
    """
    paths: list[str] = []
    if is_valid_project_name(name):
        normalized = normalize(name)
        paths += [f"/pypi/{name}/json", f"/pypi/{normalized}/json", f"/simple/{normalized}/"]
    for path in fetched:
        if isinstance(path, str) and path.startswith("/") and not path.startswith("//"):
            paths.append(path)
    seen: set[str] = set()
    return [p for p in paths if not (p in seen or seen.add(p))]


def read_key(path: Path) -> str:
    """The PURGE key from `purge-key-file` (whitespace stripped). Raises OSError / ValueError."""
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise ValueError("file is empty")
    if any(ch in key for ch in "\r\n\0"):
        raise ValueError("key must be a single line")
    return key


@dataclass
class PurgeReport:
    """What one run's PURGE phase did."""

    sent: int = 0
    failed: int = 0
    unauthorized: int = 0
    not_permitted: bool = False
    urls: list[str] = field(default_factory=list)


class Purger:
    """Sends PURGE requests to one upstream base URL through the one HTTP layer: the same proxy,
    trust store and retry policy as the sync (5xx and 429 with `Retry-After` are retried), each
    PURGE bounded by `purge-timeout` from connect to its last byte, all of it ended by `stop`."""

    def __init__(self, http: "HttpSettings", timeout: float, stop: StopToken, key: str | None = None) -> None:
        from mirror_tool.net import Client  # only a run with stale projects to PURGE needs it

        self.base_url = http.upstream
        self.timeout = timeout
        self._key = key
        self._client = Client(http, stop)
        self.report = PurgeReport()

    def close(self) -> None:
        self._client.close()

    def url_for(self, path: str) -> str:
        return self.base_url + path

    def purge_project(self, name: str, fetched: Iterable[str], stop: StopToken) -> bool:
        """PURGE every URL of one project. False once PURGE is refused or the run must stop."""
        from mirror_tool.net import Stopped

        for path in project_purge_paths(name, fetched):
            if self.report.not_permitted or stop.stopped:
                return False
            try:
                self._purge_one(self.url_for(path))
            except Stopped:
                return False
        return not self.report.not_permitted

    def _purge_one(self, url: str) -> None:
        from mirror_tool.net import NetError

        headers = {KEY_HEADER: self._key} if self._key else {}
        try:
            response = self._client.request("PURGE", url, headers=headers, deadline=self.timeout)
        except NetError as exc:  # after the retries; the message names the URL, never the key
            self.report.failed += 1
            log.warning("PURGE failed: %s", exc)
            return
        if response.status in _UNAUTHORIZED:
            self.report.unauthorized += 1
            self.report.not_permitted = True
            log.error("%s (HTTP %d for %s)", NOT_PERMITTED_LINE, response.status, url)
        elif 200 <= response.status < 300:
            self.report.sent += 1
            self.report.urls.append(url)
            log.info("PURGE %s: HTTP %d", url, response.status)
        else:
            self.report.failed += 1
            log.warning("PURGE failed: PURGE %s: HTTP %d", url, response.status)
