"""The root index patched in place equals the root index rendered in full, byte for byte.

Why: an incremental run no longer renders the root index; it splices its changes into the
published pages (index/root_patch.py). Any divergence (an entry in the wrong place, a separator
lost or doubled) would show on the mirror's front page, so every patch here is checked against
`render.root_json` / `render.root_html` of the same index, over random edits of random indexes.
"""

from __future__ import annotations

import random
from pathlib import Path

from mirror_tool.config import load_config
from mirror_tool.engine.publisher import Publisher
from mirror_tool.index import render
from mirror_tool.index.read import IndexEntry, read_root_index
from mirror_tool.index.root_patch import Change, patch_root_html, patch_root_json
from mirror_tool.names import normalize
from mirror_tool.storage import keys
from mirror_tool.storage.filesystem import FilesystemStorage

_PARTS = ["alpha", "Beta", "gamma", "d", "x1", "Zeta", "0", "9z"]
_SEPS = ["-", "_", ".", "--", "-_", ""]


def _name(rng: random.Random) -> str:
    parts = [rng.choice(_PARTS) for _ in range(rng.randint(1, 3))]
    out = parts[0]
    for part in parts[1:]:
        out += rng.choice(_SEPS) + part
    return out


def _index(rng: random.Random, size: int) -> dict[str, IndexEntry]:
    out: dict[str, IndexEntry] = {}
    for _ in range(size):
        name = _name(rng)
        out[normalize(name)] = IndexEntry(name, rng.randint(0, 10**6))
    return out


def _changes(rng: random.Random, index: dict[str, IndexEntry], count: int) -> dict[str, Change]:
    changes: dict[str, Change] = {}
    existing = sorted(index)
    for _ in range(count):
        roll = rng.random()
        if existing and roll < 0.3:
            changes[rng.choice(existing)] = None  # withdrawn
        elif existing and roll < 0.6:
            norm = rng.choice(existing)
            changes[norm] = IndexEntry(index[norm].name, rng.randint(0, 10**6))  # new release
        elif existing and roll < 0.7:
            norm = rng.choice(existing)
            changes[norm] = IndexEntry(norm.upper(), index[norm].serial)  # display name changed
        else:
            name = _name(rng) + rng.choice(["", "-new", "0"])
            changes[normalize(name)] = IndexEntry(name, rng.randint(0, 10**6))  # new (or known) project
    return changes


def _applied(index: dict[str, IndexEntry], changes: dict[str, Change]) -> dict[str, IndexEntry]:
    out = dict(index)
    for norm, change in changes.items():
        if change is None:
            out.pop(norm, None)
        else:
            out[norm] = change
    return out


def test_patching_equals_rendering_in_full() -> None:
    rng = random.Random(14)
    for round_ in range(150):
        index = _index(rng, rng.choice([0, 1, 2, 5, 40, 300]))
        changes = _changes(rng, index, rng.choice([0, 1, 2, 3, 10, 60]))
        expected = _applied(index, changes)
        serial = rng.randint(0, 10**7)
        assert patch_root_json(render.root_json(index, 7), changes, serial) == render.root_json(expected, serial), round_
        old_html = render.root_html(index)
        patched = patch_root_html(old_html, changes)
        assert patched == render.root_html(expected), round_
        if expected.keys() == index.keys() and all(expected[n].name == index[n].name for n in index):
            assert patched is old_html  # only serials changed: the HTML pages are not rewritten


def test_pages_in_another_layout_are_not_patched() -> None:
    entry = {"x": IndexEntry("x", 1)}
    assert patch_root_json(b'{"meta": {"api-version": "1.1", "_last-serial": 3}, "projects": []}', entry, 4) is None
    assert patch_root_json(b'{"meta":{"api-version":"1.1","_last-serial":3},"projects":[{"name":"a"}]}', entry, 4) is None
    assert patch_root_html(b"<html><body><a href='a/'>a</a></body></html>", entry) is None


def test_publisher_patches_the_published_root_without_reading_the_index(tmp_path: Path) -> None:
    """A commit after a publish patches the root pages and leaves them as a full render would;
    the index is never parsed into entries on the way."""
    conf = tmp_path / "mirror.conf"
    # No change journal: it would read each withdrawn project's page for its display name, and
    # this index's projects have no pages.
    conf.write_text(f"[mirror]\ndirectory = {tmp_path}\nmaster = http://127.0.0.1:9\njournal-retention = 0\n")
    settings = load_config(str(conf)).mirror
    storage = FilesystemStorage(tmp_path / "web", tmp_path / "tmp")
    storage.prepare()
    rng = random.Random(7)
    index = _index(rng, 200)
    storage.write(keys.root_page(keys.JSON_PAGE), render.root_json(index, 50), "application/json")
    for name in (keys.HTML_PAGE, keys.HTML_V1_PAGE):
        storage.write(keys.root_page(name), render.root_html(index), "text/html")
    publisher = Publisher(storage, settings)
    changes = _changes(rng, index, 20)
    for norm, change in changes.items():
        if change is None:
            publisher.withdraw([norm], delete_files=False)
        else:
            publisher.root.note(norm, change)
    publisher.commit(60)
    assert not publisher.root.loaded  # patched, not loaded
    expected = _applied(index, changes)
    assert storage.read(keys.root_page(keys.JSON_PAGE)) == render.root_json(expected, 60)
    for name in (keys.HTML_PAGE, keys.HTML_V1_PAGE):
        assert storage.read(keys.root_page(name)) == render.root_html(expected)
    assert read_root_index(storage) == (60, expected)

