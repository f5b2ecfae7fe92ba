"""Comparing two root indexes row by row as bytes (index/compare.py) finds exactly the rows a
comparison of the parsed listings finds, for both key orders and for the layouts it refuses."""

from __future__ import annotations

import json
import random

from mirror_tool.index.compare import compact_rows, differing_rows, parse_row
from mirror_tool.upstream.parse import IndexListing, index_listing


def _document(rows: dict[str, int], serial: int, serial_first: bool = False, separators: tuple[str, str] = (",", ":")) -> bytes:
    projects = [{"_last-serial": s, "name": n} if serial_first else {"name": n, "_last-serial": s} for n, s in rows.items()]
    meta = {"_last-serial": serial, "api-version": "1.1"} if serial_first else {"api-version": "1.1", "_last-serial": serial}
    return json.dumps({"meta": meta, "projects": projects}, separators=separators).encode()


def test_differing_rows_equal_a_set_comparison() -> None:
    rng = random.Random(3)
    for round_ in range(200):
        mine = {f"p{rng.randrange(400)}": rng.randrange(50) for _ in range(rng.choice([0, 1, 5, 300]))}
        theirs = dict(mine)
        for _ in range(rng.choice([0, 1, 4, 30])):
            name = f"p{rng.randrange(450)}"
            if rng.random() < 0.3:
                theirs.pop(name, None)
            else:
                theirs[name] = rng.randrange(60)
        order = rng.random() < 0.5
        spacing = rng.choice([(",", ":"), (", ", ": ")])
        a, b = compact_rows(_document(theirs, 9, order, spacing)), compact_rows(_document(mine, 8, order))
        assert a is not None and b is not None, round_
        b = b.like(a)
        assert b is not None, round_
        only_theirs, only_mine = differing_rows(a, b)
        assert sorted(map(parse_row, only_theirs)) == sorted(set(theirs.items()) - set(mine.items())), round_
        assert sorted(map(parse_row, only_mine)) == sorted(set(mine.items()) - set(theirs.items())), round_


def test_other_layouts_are_parsed_as_json() -> None:
    rows = {"Foo.Bar": 5, "baz": 7}
    for doc in (_document(rows, 11), _document(rows, 11, serial_first=True), _document(rows, 11, separators=(", ", ": "))):
        serial, listing = index_listing(doc)
        assert isinstance(listing, IndexListing) and (serial, dict(listing)) == (11, rows)
    for doc in (_document(rows, 11, separators=(",", ": ")), _document({'we"ird': 1, "x": 2}, 11),
                json.dumps({"meta": {"_last-serial": 11}, "projects": [{"name": "x", "_last-serial": 1, "extra": 2}]}).encode()):
        serial, listing = index_listing(doc)
        assert not isinstance(listing, IndexListing)
        assert serial == 11 and dict(listing) == {str(p["name"]): p["_last-serial"] for p in json.loads(doc)["projects"]}
    mine = compact_rows(_document(rows, 1))
    assert mine is not None
    assert mine.like(compact_rows(_document({}, 1, serial_first=True))) is mine  # type: ignore[arg-type]
    assert mine.like(compact_rows(_document(rows, 1, serial_first=True))) is None  # type: ignore[arg-type]
