"""Consistency checks of a mirror tree, shared by every suite that touches a mirror.

`assert_tree_consistent(directory)` is the invariant the mirror promises at every instant: every
link in every simple page (HTML and JSON) resolves to an existing file whose sha256 matches the
link, every advertised `.metadata` exists with its hash, and the root index lists only projects
whose pages exist.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

_A_RE = re.compile(r"<a\s+([^>]*)>([^<]*)</a>")
_ATTR_RE = re.compile(r'([a-z-]+)="([^"]*)"')
_SERIAL_RE = re.compile(r"<!--SERIAL (\d+)-->")


@dataclass
class ProjectPages:
    """What one project's pages list: filename -> sha256, plus the page serials."""

    name: str
    files: dict[str, str] = field(default_factory=dict)
    yanked: dict[str, str | None] = field(default_factory=dict)  # filename -> reason ("" none)
    metadata: set[str] = field(default_factory=set)  # filenames with core metadata advertised
    requires_python: dict[str, str] = field(default_factory=dict)
    serial: int | None = None
    display_name: str = ""


@dataclass
class TreeReport:
    projects: dict[str, ProjectPages] = field(default_factory=dict)
    root_projects: dict[str, str] = field(default_factory=dict)  # normalized -> display name
    files_checked: int = 0


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _resolve(web: Path, page_url: str, href: str, root_uri: str) -> Path | None:
    """Local path an href points to, None if it points outside the mirror (upstream links)."""
    if root_uri and href.startswith(root_uri.rstrip("/") + "/"):
        rel = href[len(root_uri.rstrip("/")) + 1:]
        return web / unquote(rel)
    target = urljoin(page_url, href)
    parts = urlsplit(target)
    if parts.netloc != "mirror.test":
        return None
    path = unquote(parts.path)
    assert ".." not in path.split("/"), f"href {href!r} climbs out of the mirror"
    return web / path.lstrip("/")


def _check_file(path: Path | None, sha: str, where: str, report: TreeReport) -> None:
    assert path is not None, f"{where}: link points outside the mirror"
    assert path.is_file(), f"{where}: listed file {path} is missing"
    got = sha256_of(path)
    assert got == sha, f"{where}: {path} has sha256 {got}, the page says {sha}"
    report.files_checked += 1


def read_project_html(web: Path, norm: str, page: str = "index.html", root_uri: str = "", check: bool = True,
                      report: TreeReport | None = None) -> ProjectPages:
    report = report or TreeReport()
    text = (web / "simple" / norm / page).read_text(encoding="utf-8")
    page_url = f"http://mirror.test/simple/{norm}/"
    out = ProjectPages(norm)
    title = re.search(r"<title>Links for (.*)</title>", text)
    out.display_name = html.unescape(title.group(1)) if title else ""
    match = _SERIAL_RE.search(text)
    out.serial = int(match.group(1)) if match else None
    for attrs_text, label in _A_RE.findall(text):
        attrs = {k: html.unescape(v) for k, v in _ATTR_RE.findall(attrs_text)}
        href, _, frag = attrs["href"].partition("#")
        assert frag.startswith("sha256="), f"{norm}/{page}: link {href!r} without #sha256="
        sha = frag[len("sha256="):]
        filename = html.unescape(label)
        out.files[filename] = sha
        if "data-yanked" in attrs:
            out.yanked[filename] = attrs["data-yanked"]
        if "data-requires-python" in attrs:
            out.requires_python[filename] = attrs["data-requires-python"]
        local = _resolve(web, page_url, href, root_uri)
        if check:
            if local is None and not root_uri:
                continue  # release-files = false: upstream link
            _check_file(local, sha, f"{norm}/{page}", report)
        meta = attrs.get("data-core-metadata")
        if meta is not None:
            assert attrs.get("data-dist-info-metadata") == meta, f"{norm}: metadata attributes disagree"
            out.metadata.add(filename)
            if check and local is not None:
                _check_file(local.with_name(local.name + ".metadata"), meta[len("sha256="):], f"{norm}/{page} metadata", report)
    return out


def read_project_json(web: Path, norm: str, root_uri: str = "", check: bool = True,
                      report: TreeReport | None = None) -> ProjectPages:
    report = report or TreeReport()
    doc = json.loads((web / "simple" / norm / "index.v1_json").read_bytes())
    assert doc["meta"]["api-version"].startswith("1."), f"{norm}: bad api-version"
    assert isinstance(doc["meta"]["_last-serial"], int), f"{norm}: _last-serial is not an int"
    assert doc["name"] == norm, f"{norm}: JSON name {doc['name']!r}"
    assert isinstance(doc["versions"], list)
    out = ProjectPages(norm, serial=doc["meta"]["_last-serial"])
    page_url = f"http://mirror.test/simple/{norm}/"
    for f in doc["files"]:
        sha = f["hashes"]["sha256"]
        out.files[f["filename"]] = sha
        for key in ("size", "yanked"):
            assert key in f, f"{norm}: JSON file entry without {key}"
        if f["yanked"] is not False:
            out.yanked[f["filename"]] = "" if f["yanked"] is True else f["yanked"]
        if f.get("requires-python"):
            out.requires_python[f["filename"]] = f["requires-python"]
        local = _resolve(web, page_url, f["url"], root_uri)
        if check:
            if local is None and not root_uri:
                continue
            _check_file(local, sha, f"{norm}/index.v1_json", report)
            assert local.stat().st_size == f["size"], f"{norm}: size of {f['filename']} differs from the page"
        meta = f.get("core-metadata")
        if meta:
            out.metadata.add(f["filename"])
            if check and local is not None:
                _check_file(local.with_name(local.name + ".metadata"), meta["sha256"], f"{norm} JSON metadata", report)
    return out


def assert_tree_consistent(directory: Path | str, root_uri: str = "", *, settled: bool = True) -> TreeReport:
    """Assert the mirror invariant for the tree below `directory`; returns what the pages list.

    Per format (what one client sees: pip reads the JSON pages, older clients the HTML ones),
    at every instant: every page lists only existing files with the page's sha256, and the root
    index lists only projects whose page in that format exists. `settled` (no run in progress):
    also the formats agree with each other. A run writes a project's JSON and HTML pages, and the
    root's JSON and HTML index, one file after the other, so an observer during a run can see
    one format ahead of the other: that is not a broken link, and it is checked only at rest.
    """
    web = Path(directory) / "web"
    report = TreeReport()
    simple = web / "simple"
    if not simple.is_dir():
        return report
    # The root index first: the mirror publishes pages before listing them, so a root read before
    # the directories can only list projects whose pages already exist.
    roots = read_root_indexes(web)
    if settled and len(roots) == 2:
        assert set(roots["html"]) == set(roots["json"]), "root index.html and index.v1_json list different projects"
    for pdir in sorted(p for p in simple.iterdir() if p.is_dir()):
        norm = pdir.name
        assert not norm.startswith("."), f"stray directory {pdir}"
        views = []
        for page in ("index.html", "index.v1_html"):
            if (pdir / page).exists():
                views.append(read_project_html(web, norm, page, root_uri, report=report))
        if (pdir / "index.v1_json").exists():
            views.append(read_project_json(web, norm, root_uri, report=report))
        if not views:
            continue  # pages being written for the first time (only a temporary yet): the root check below
        first = views[0]
        for other in views[1:] if settled else ():
            assert other.files == first.files, f"{norm}: pages list different files"
            assert other.serial == first.serial, f"{norm}: pages carry different serials"
            assert other.metadata == first.metadata, f"{norm}: pages advertise different metadata"
        merged = views[-1]
        merged.display_name = next((v.display_name for v in views if v.display_name), "")
        report.projects[norm] = merged
    report.root_projects = roots.get("json", roots.get("html", {}))
    for kind, listed in roots.items():
        page = "index.v1_json" if kind == "json" else "index.html"
        for norm in listed:
            if (simple / norm / page).exists():
                continue
            # Withdrawn since the root was read (the root goes first, then the pages)?
            assert norm not in read_root_indexes(web).get(kind, {}), f"root index lists {norm} but its {page} is missing"
    return report


def read_root_indexes(web: Path) -> dict[str, dict[str, str]]:
    """{"html": {normalized: display name}, "json": {...}} for each root index that exists."""
    out: dict[str, dict[str, str]] = {}
    hpath = web / "simple" / "index.html"
    jpath = web / "simple" / "index.v1_json"
    try:
        text = hpath.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = None
    if text is not None:
        html_index: dict[str, str] = {}
        for attrs_text, label in _A_RE.findall(text):
            attrs = dict(_ATTR_RE.findall(attrs_text))
            html_index[unquote(attrs["href"]).strip("/")] = html.unescape(label)
        out["html"] = html_index
    try:
        raw = jpath.read_bytes()
    except FileNotFoundError:
        raw = None
    if raw is not None:
        doc = json.loads(raw)
        for p in doc["projects"]:
            assert isinstance(p["_last-serial"], int)
        out["json"] = {_normalize(p["name"]): p["name"] for p in doc["projects"]}
    return out


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def files_on_disk(directory: Path | str) -> set[str]:
    """Every file below web/packages, as `packages/...` relative paths."""
    web = Path(directory) / "web"
    pk = web / "packages"
    if not pk.exists():
        return set()
    return {str(p.relative_to(web)) for p in pk.rglob("*") if p.is_file()}


def assert_no_orphans(directory: Path | str, root_uri: str = "") -> None:
    """Every file under packages/ is listed by some page (after a clean, complete sync)."""
    report = assert_tree_consistent(directory, root_uri)
    web = Path(directory) / "web"
    listed: set[str] = set()
    for norm, pages in report.projects.items():
        doc_path = web / "simple" / norm / "index.v1_json"
        hrefs: list[str] = []
        if doc_path.exists():
            hrefs = [f["url"] for f in json.loads(doc_path.read_bytes())["files"]]
        else:
            text = (web / "simple" / norm / "index.html").read_text()
            hrefs = [html.unescape(dict(_ATTR_RE.findall(a))["href"]).split("#")[0] for a, _ in _A_RE.findall(text)]
        for href in hrefs:
            local = _resolve(web, f"http://mirror.test/simple/{norm}/", href, root_uri)
            if local is not None:
                rel = str(local.relative_to(web))
                listed.add(rel)
                listed.add(rel + ".metadata")
    orphans = files_on_disk(directory) - listed
    assert not orphans, f"files no page lists: {sorted(orphans)[:5]}"


def assert_no_temporaries(directory: Path | str) -> None:
    """After a run that ended (cleanly or not, then resumed): no temporary page or download left."""
    root = Path(directory)
    leftovers = [p for p in (root / "web").rglob(".*.tmp")]
    if (root / "tmp").exists():
        leftovers += list((root / "tmp").iterdir())
    assert not leftovers, f"temporary files left: {leftovers[:5]}"
