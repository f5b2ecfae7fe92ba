"""Typed records of a project and its release files: the one shape every layer passes around.

Why one shape: upstream answers in three dialects (the JSON API, PEP 691 simple pages, XML-RPC)
and the mirror reads its own published pages back for verify, delete and reconciliation. Before
these records each consumer reshaped answers into fake JSON-API dicts and kept its own file
dataclass (three of them). Now the upstream client, the page reader, the filters, the sync engine
and the publisher all speak `Project` and `ReleaseFile`; nothing downstream knows which API (or
which page) a record came from beyond `Project.source`.

Records are immutable; derive a changed copy with `dataclasses.replace` or `Project.with_files`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    """One distribution file of a release, as upstream promises it or as a page of ours lists it."""

    filename: str
    #: Where the bytes come from: the absolute upstream URL (no fragment). For a file read back
    #: from one of our own pages, the href as published there.
    url: str
    sha256: str
    #: The release this file belongs to ("" when it cannot be told, e.g. an odd file name on a page).
    version: str
    size: int | None = None
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    #: ISO 8601 upload time as upstream gives it (None when the source has none, e.g. HTML pages).
    upload_time: str | None = None
    #: PEP 658/714: sha256 of the `<filename>.metadata` sibling upstream advertises.
    metadata_sha256: str | None = None
    blake2b_256: str | None = None
    #: md5 upstream gives (only pages that name it, `digest_name = md5`, need it).
    md5: str | None = None
    #: Storage key below `web/` where the mirror keeps the file (`packages/aa/bb/<rest>/<filename>`);
    #: None when it is not stored locally (`release-files = false`) or not decided yet.
    key: str | None = None
    #: The `.metadata` sibling is stored and verified (only then do our pages advertise it).
    has_metadata: bool = False

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


@dataclass(frozen=True, slots=True)
class Project:
    """A project with the files the mirror should hold (or holds) for it."""

    #: Display name as upstream spells it (e.g. `Foo.Bar`).
    name: str
    #: PEP 503 normalized name (e.g. `foo-bar`): the key of everything else.
    normalized: str
    #: `X-PyPI-Last-Serial` / `_last-serial` of the answer or page (-1: unknown).
    serial: int
    #: Every release version, including releases without files, in PEP 440 order where parseable.
    versions: tuple[str, ...]
    files: tuple[ReleaseFile, ...]
    #: The JSON API `info` mapping (empty when another API answered): metadata filters read it.
    info: Mapping[str, Any] = field(default_factory=dict)
    #: Which dialect answered: "json" (JSON API), "simple" (PEP 691), "page" (one of our pages).
    source: str = "json"
    #: The JSON API document exactly as served (for `json = true` copies); None for other sources.
    raw_json: bytes | None = None

    def with_files(self, files: Iterable[ReleaseFile], versions: Iterable[str] | None = None) -> "Project":
        """A copy holding `files` (and `versions`, when given)."""
        changes: dict[str, Any] = {"files": tuple(files)}
        if versions is not None:
            changes["versions"] = tuple(versions)
        return replace(self, **changes)


__all__ = ["Project", "ReleaseFile"]
