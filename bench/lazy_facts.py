"""What the fake upstream serves for one of its lazily generated index projects, computed in-process.

Why in-process: a cached large mirror holds up to hundreds of thousands of these projects, and
their pages and files are pure functions of the project's number (``tests/fakepypi/lazy.py``); a
store built with the running fake's parameters gives the same JSON document, digests and bytes
without an HTTP round trip per project. The bench reads the fake's public corpus module only,
never the mirror client's code.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.fakepypi import json_api
from tests.fakepypi.corpus import build_store
from tests.fakepypi.lazy import LazyProjects
from tests.fakepypi.names import normalize
from tests.fakepypi.store import ProjectView, Store


@dataclass(frozen=True)
class LazyFacts:
    """Project ``index``: every value of its JSON API document by leaf path, its release file and
    core metadata bytes, and the file's upload time (epoch seconds)."""

    index: int
    normalized: str
    leaves: dict[str, str]
    file_bytes: bytes
    metadata_bytes: bytes
    sha256: str
    metadata_sha256: str
    upload_epoch: float


Steps = tuple  # keys and list indexes from the document's root to a leaf, then "#path" or not


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool) or isinstance(value, (dict, list)):
        return None
    return json.dumps(value)


def leaf_steps(doc: object, steps: Steps = (), name: str = "") -> dict[str, Steps]:
    """Leaf path name -> how to reach it, for every scalar leaf (strings, numbers).

    URL strings also contribute their path (``<leaf>#path``), because mirrors write file links
    relative to the tree, not with the upstream's host.
    """
    out: dict[str, Steps] = {}
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.update(leaf_steps(value, steps + (key,), f"{name}.{key}" if name else str(key)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out.update(leaf_steps(value, steps + (i,), f"{name}[{i}]"))
    elif _text(doc) is not None:
        out[name] = steps
        if isinstance(doc, str) and doc.startswith(("http://", "https://")):
            out[name + "#path"] = steps + ("#path",)
    return out


def leaf(doc: object, steps: Steps) -> str:
    value = doc
    for step in steps:
        if step == "#path":
            return urlsplit(str(value)).path
        value = value[step]  # type: ignore[index]
    text = _text(value)
    if text is None:
        raise KeyError(f"no scalar at {steps}")
    return text


class LazyCorpus:
    """The lazy part of a fake upstream started with these parameters, at ``base_url``."""

    def __init__(self, *, projects: int, releases: int, files: int, file_size: int, seed: int,
                 index_projects: int, base_url: str) -> None:
        self.store: Store = build_store(projects=projects, releases=releases, files=files,
                                        file_size=file_size, seed=seed, index_projects=index_projects)
        self.base_url = base_url
        self.count = self.store.lazy.count

    @staticmethod
    def name(i: int) -> str:
        return LazyProjects.normalized(i)

    @property
    def max_serial(self) -> int:
        """The serial after the last lazy project's last change (explicit projects come after)."""
        return self.store.lazy.max_serial

    def serial(self, i: int) -> int:
        return self.store.lazy.last_serial(i)

    def doc(self, i: int) -> tuple[dict, ProjectView]:
        """Project ``i``'s JSON API document as the fake serves it, and the store's view of it."""
        view = self.store.view(self.name(i))
        if view is None:
            raise KeyError(f"no lazy project {i} (count {self.count})")
        body = json_api.project_doc(view, self.base_url, True)
        assert body is not None  # a lazy project always has its one release
        return json.loads(body), view

    def facts(self, i: int, wanted: dict[str, Steps] | None = None) -> LazyFacts:
        """Project ``i``; ``wanted`` limits the leaves to those (all of them when None)."""
        norm = self.name(i)
        doc, view = self.doc(i)
        steps = wanted if wanted is not None else leaf_steps(doc)
        leaves = {key: leaf(doc, path) for key, path in steps.items()}
        leaves["#normalized"] = normalize(doc["info"]["name"])
        rec = view.releases[0].files[0].rec
        entry = doc["urls"][0]
        upload = dt.datetime.fromisoformat(entry["upload_time_iso_8601"].replace("Z", "+00:00"))
        return LazyFacts(i, norm, leaves, self.store.file_bytes(rec), self.store.metadata_bytes(rec),
                         entry["digests"]["sha256"], entry["core-metadata"]["sha256"], upload.timestamp())
