"""The `mirror` dialect: the upstream is a hub, another mirror of ours served by nginx.

A hub has no XML-RPC and no JSON API of its own; what it has is static: the change journal
(`changes/`, format in index/journal.py), the PEP 691 pages carrying `_last-serial`, the root
index `simple/index.v1_json` with every project's `_last-serial`, the files and their `.metadata`
(and the JSON API copies when it keeps them). This client reads those and hands the engine the
same records as the PyPI dialect, so the sync engine, the publisher and the checks are shared.
Files are downloaded from the hub and verified against the sha256 its page lists.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit

from mirror_tool.errors import FeedUnavailable, ProjectError, UpstreamUnreachable
from mirror_tool.index import journal as fmt
from mirror_tool.stop import StopToken
from mirror_tool.net import HttpSettings, Response
from mirror_tool.upstream.client import SIMPLE_JSON, ProjectAnswer, Upstream, http_settings
from mirror_tool.upstream.parse import display_name, from_simple

if TYPE_CHECKING:
    from mirror_tool.config import MirrorSettings

log = logging.getLogger("mirror_tool.upstream")


class HubUnusable(UpstreamUnreachable):
    """No hub answered with a change journal (exit 5, like an unreachable upstream)."""


class HubUpstream(Upstream):
    """Talks to the first hub of `master` + `standby-hubs` that answers; thread-safe like Upstream."""

    def __init__(self, settings: "MirrorSettings", stop: StopToken, *, master: str | None = None,
                 http: HttpSettings | None = None) -> None:
        hubs = [settings.master.rstrip("/"), *(h.rstrip("/") for h in settings.standby_hubs)]
        super().__init__(http or hub_http_settings(settings, hubs), stop)
        self.master = master or hubs[0]
        self.hubs = hubs
        self.settings = settings
        #: normalized -> display name, learned from the journal and the root index (a PEP 691
        #: page carries only the normalized name).
        self.display_names: dict[str, str] = {}
        self._hub_chosen = master is not None

    def sibling(self, stop: StopToken) -> "HubUpstream":
        """A client for a worker process: same hub, same names, its own connections."""
        other = HubUpstream(self.settings, stop, master=self.master, http=self.http)
        other.display_names = self.display_names
        return other

    # -- the journal ---------------------------------------------------------------------------------
    def find_head(self) -> fmt.Head:
        """The head of the first hub that answers with one; that hub becomes `master`."""
        problems = []
        for hub in self.hubs:
            try:
                head = self._head(hub)
            except UpstreamUnreachable as exc:
                problems.append(str(exc))
                continue
            if hub != self.master:
                log.warning("Hub %s answers: syncing from it (%s)", hub, "; ".join(problems) or "preferred")
            self.master = hub
            self._hub_chosen = True
            return head
        raise HubUnusable("no hub answers: " + "; ".join(problems))

    def _head(self, hub: str) -> fmt.Head:
        url = f"{hub}/{fmt.HEAD}"
        try:
            status, body = self._fetch(url, "application/json")
        except ProjectError as exc:
            raise UpstreamUnreachable(f"hub {hub} unreachable: {exc}") from None
        if status == 404:
            raise UpstreamUnreachable(f"hub {hub} has published no change journal yet ({url}: 404)")
        if status != 200:
            raise UpstreamUnreachable(f"GET {url}: HTTP {status}")
        try:
            return fmt.parse_head(body)
        except ValueError as exc:
            raise UpstreamUnreachable(f"GET {url}: {exc}") from None

    def segment_list(self) -> fmt.SegmentList:
        return fmt.parse_segments(self._journal_document(fmt.SEGMENTS) or b"")

    def segment(self, segment: fmt.Segment) -> list[tuple[int, str]] | None:
        """The segment's rows; None when the hub no longer has it (closed or pruned meanwhile)."""
        raw = self._journal_document(segment.key)
        return None if raw is None else fmt.parse_lines(raw)

    def _journal_document(self, key: str) -> bytes | None:
        url = f"{self.master}/{key}"
        try:
            status, body = self._fetch(url, None)
        except ProjectError as exc:
            raise UpstreamUnreachable(f"hub {self.master} unreachable: {exc}") from None
        if status == 404:
            return None
        if status != 200:
            raise UpstreamUnreachable(f"GET {url}: HTTP {status}")
        return body

    def _fetch(self, url: str, accept: str | None) -> tuple[int, bytes]:
        """GET a document on the hub: (status, body). A failure after the retries (5xx included)
        is the net layer's NetError, a ProjectError."""
        r: Response = self.client.get(url, headers={"Accept": accept} if accept else None, cap=self.http.caps.project)
        return r.status, r.body

    # -- what the PyPI dialect has and a hub does not -------------------------------------------------
    def xmlrpc(self, method: str, *args: object) -> object:
        raise FeedUnavailable(f"a hub has no XML-RPC ({method}): it publishes a change journal")

    def simple_index(self) -> tuple[int, dict[str, int]]:
        serial, listing = super().simple_index()
        for name in listing:
            self.display_names.setdefault(_normalized(name), name)
        return serial, listing

    # -- projects --------------------------------------------------------------------------------------
    def project(self, normalized: str) -> ProjectAnswer:
        """The hub's PEP 691 page (404: the hub withdrew the project), plus its JSON API copy when
        this mirror keeps them."""
        if not self._hub_chosen:  # `sync NAME` and `verify --repair` read no head first: pick the hub now
            try:
                self.find_head()
            except HubUnusable as exc:
                raise ProjectError(str(exc)) from None
        path = f"/simple/{quote(normalized, safe='')}/"
        url = self.master + path
        status, body = self._fetch(url, SIMPLE_JSON)
        if status == 404:
            return ProjectAnswer(None, -1, [path])
        if status != 200:
            raise ProjectError(f"GET {url}: HTTP {status}")
        try:
            project = from_simple(normalized, json.loads(body), url, -1)
        except ValueError:
            raise ProjectError(f"GET {url}: not a PEP 691 JSON project page") from None
        raw_json = self._json_copy(normalized) if self.settings.json else None
        name = self.display_names.get(normalized)
        if name is None and raw_json is not None:
            try:
                name = display_name(json.loads(raw_json)["info"]["name"], normalized)
            except (ValueError, KeyError, TypeError):
                name = None
        project = replace(project, name=name or project.name, raw_json=raw_json, source="mirror")
        return ProjectAnswer(project, project.serial, [path])

    #: `verify --repair` asks for the project's files: on a hub they are on its page.
    project_json = project

    def _json_copy(self, normalized: str) -> bytes | None:
        """The hub's JSON API copy, its file URLs made absolute like the page's (the publisher
        keeps the entries whose URL is a file it stored, and points them at its own tree)."""
        path = f"/pypi/{quote(normalized, safe='')}/json"
        url = self.master + path
        status, body = self._fetch(url, "application/json")
        if status == 404:
            return None
        if status != 200:
            raise ProjectError(f"GET {url}: HTTP {status}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise ProjectError(f"GET {url}: invalid JSON") from None
        if not isinstance(doc, dict):
            raise ProjectError(f"GET {url}: JSON is not an object")
        releases = doc.get("releases")
        lists = list(releases.values()) if isinstance(releases, dict) else []
        if isinstance(doc.get("urls"), list):
            lists.append(doc["urls"])
        for items in lists:
            for item in items if isinstance(items, list) else ():
                if isinstance(item, dict) and isinstance(item.get("url"), str):
                    item["url"] = urljoin(url, item["url"])
        return json.dumps(doc, separators=(",", ":")).encode("utf-8")


def _normalized(name: str) -> str:
    from mirror_tool.names import normalize

    return normalize(name)


def open_upstream(settings: "MirrorSettings", stop: StopToken, *, like: Upstream | None = None) -> Upstream:
    """The client `[mirror]` describes: a hub client for `upstream-kind = mirror`, else PyPI's.

    `like`: a client whose hub or fallback upstream a worker process must talk to as well."""
    if isinstance(like, HubUpstream):
        return like.sibling(stop)
    if like is not None:
        return Upstream(like.http, stop)
    if settings.upstream_kind == "mirror":
        return HubUpstream(settings, stop)
    return Upstream.for_mirror(settings, stop)


def hub_http_settings(settings: "MirrorSettings", hubs: list[str]) -> HttpSettings:
    """The run's HTTP settings with every hub's host allowed (failover changes `master`)."""
    http = http_settings(settings, upstream=hubs[0])
    extra = tuple(_origin(hub) for hub in hubs[1:])
    return replace(http, download_hosts=http.download_hosts + extra) if extra else http


def _origin(url: str) -> str:
    """`host:port` of a hub URL, a `download-hosts` entry."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


__all__ = ["HubUnusable", "HubUpstream", "hub_http_settings", "open_upstream"]
