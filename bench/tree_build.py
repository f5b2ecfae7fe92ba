"""Large already-synced mirrors, one per tool, built once (untimed) and cached under bench/.work.

A large mirror of ``projects`` projects mirrors a fake upstream with ``explicit`` ordinary projects
(the special cases plus the ones incremental runs change) padded with lazily generated ones. Per
tool, per size:

1. the tool syncs a handful of lazy projects into a scratch tree (``sync NAMES``, its own code);
2. ``tree_template.learn`` turns them into a template, accepted only if it reproduces every
   sampled project byte for byte;
3. every lazy project is written from the template (release files and core metadata are the
   upstream's bytes), with ``status`` at the last lazy serial, the tool's own ``generation``, and
   for ours a root index listing the lazy projects (it reads its registry from there);
4. the tool's own ordinary run (ours: ``pypi-mirror-run``) catches up with the explicit
   projects and rewrites the root index and the state files itself.

The cache is keyed by the upstream's parameters; a tree is reused while the template its tool
produces now is the one it was built from (``manifest.json``), and rebuilt when the tool writes
projects differently. Change batches applied by earlier bench runs are replayed on the new
upstream (``changes.py``) so the tree is exactly caught up.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import changes
from .lazy_facts import LazyCorpus, LazyFacts, leaf_steps
from .tools import Tool
from .tree_template import ProjectTemplate, learn
from .upstream import Upstream

Log = Callable[[str], None]
SAMPLES = (0, 1, 2, 9, 10, 11, 99, 100, 101, 998, 999, 1000, 9999, 10000, 99999, 100000)


@dataclass(frozen=True)
class LargeSpec:
    """Parameters of a large mirror's upstream (and so of its cache key)."""

    projects: int  # total in the index
    explicit: int = 60  # 8 special cases + the projects change batches touch
    releases: int = 1
    files: int = 2
    file_size: int = changes.FILE_SIZE
    seed: int = 0
    pages_only: bool = False  # lazy projects get their pages only (no release files, JSON copies)

    @property
    def key(self) -> str:
        return (f"large-n{self.projects}-e{self.explicit}-r{self.releases}-f{self.files}"
                f"-s{self.file_size}-seed{self.seed}" + ("-pages" if self.pages_only else ""))

    def upstream_kwargs(self) -> dict:
        return {"projects": self.explicit, "releases": self.releases, "files": self.files,
                "file_size": self.file_size, "seed": self.seed, "index_projects": self.projects}


class BuildError(RuntimeError):
    """A large mirror could not be built or reused (one line)."""


class Manifest:
    """``<work>/trees/<key>/manifest.json``: per tool the template digest and whether the tree is
    complete; the change batches applied and the upstream serial they led to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc: dict = json.loads(path.read_text()) if path.exists() else {"tools": {}, "batches": 0}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.doc, indent=1))
        os.replace(tmp, self.path)

    def tool(self, short: str) -> dict:
        return self.doc["tools"].setdefault(short, {})


def _write(root: str, rel: str, data: bytes, mtime: float | None, mode: int) -> None:
    path = os.path.join(root, rel)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


_corpus: LazyCorpus | None = None


_wanted: dict | None = None


def _init_worker(kwargs: dict, wanted: dict) -> None:
    global _corpus, _wanted
    _corpus = LazyCorpus(**kwargs)
    _wanted = wanted


def _facts(i: int) -> LazyFacts:
    assert _corpus is not None
    return _corpus.facts(i, _wanted)


class LargeMirrors:
    """Builds or reuses the large mirrors of one size for every tool."""

    def __init__(self, spec: LargeSpec, tools: list[Tool], work: Path, logs: Path, log: Log) -> None:
        self.spec = spec
        self.tools = tools
        self.logs = logs
        self.log = log
        self.manifest = Manifest(work / "trees" / spec.key / "manifest.json")

    def tree_name(self) -> str:
        return self.spec.key

    def ensure(self, up: Upstream) -> dict[str, Path]:
        """Trees for every tool, caught up with ``up``; returns each tool's config path."""
        corpus_args = {**self.spec.upstream_kwargs(), "base_url": up.url}
        corpus = LazyCorpus(**corpus_args)
        self._replay(up)
        samples = [corpus.facts(i) for i in SAMPLES if i < corpus.count]
        confs, stale = {}, []
        for tool in self.tools:
            template, scratch = self._template(tool, up, samples)
            entry = self.manifest.tool(tool.short)
            confs[tool.short] = tool.configure(self.tree_name(), tool.tree(self.tree_name()), up.url)
            if entry.get("digest") == template.digest() and entry.get("complete") and \
                    tool.tree(self.tree_name()).exists():
                self.log(f"bench: {self.spec.key}: reusing {tool.short}'s cached tree")
                continue
            stale.append((tool, template, scratch))
        if stale:
            self._build(stale, corpus_args, corpus, up, confs)
        return confs

    def _replay(self, up: Upstream) -> None:
        batches = int(self.manifest.doc.get("batches", 0))
        if not batches:
            return
        names = changes.targets(up)
        for b in range(1, batches + 1):
            changes.apply_batch(up, b, names)
        if up.last_serial != self.manifest.doc.get("serial"):
            raise BuildError(f"replaying {batches} change batches gave serial {up.last_serial}, the cache "
                             f"recorded {self.manifest.doc.get('serial')}; delete {self.manifest.path.parent}")
        self.log(f"bench: {self.spec.key}: replayed {batches} change batches, serial {up.last_serial}")

    def record_batch(self, batch: int, serial: int) -> None:
        """A change batch is about to be synced by the tools: the cache holds it from now on."""
        self.manifest.doc["batches"] = batch
        self.manifest.doc["serial"] = serial
        self.manifest.save()

    def _template(self, tool: Tool, up: Upstream, samples: list[LazyFacts]) -> tuple[ProjectTemplate, Path]:
        name = f"sample-{self.spec.key}"
        tool.remove(name)
        conf = tool.configure(name, tool.tree(name), up.url)
        res = tool.sync(conf, [f.normalized for f in samples], self.logs / f"sample-{tool.short}-{self.spec.key}.log")
        if not res.ok:
            raise BuildError(f"{tool.short} sync of the sample projects exit {res.exit_code} (log {res.log_path})")
        return learn(tool.tree(name), samples, tool.short), tool.tree(name)

    def _build(self, stale: list, corpus_args: dict, corpus: LazyCorpus, up: Upstream,
               confs: dict[str, Path]) -> None:
        names = ", ".join(t.short for t, _, _ in stale)
        self.log(f"bench: {self.spec.key}: writing {corpus.count:,} lazy projects for {names} (untimed, cached)")
        roots = []
        for tool, _template, _scratch in stale:
            tool.remove(self.tree_name())
            entry = self.manifest.tool(tool.short)
            entry.clear()
            self.manifest.save()
            roots.append(str(tool.tree(self.tree_name())))
        start = time.monotonic()
        step = max(1, corpus.count // 10)
        keys = {k for _t, template, _s in stale for k in template.keys if not k.startswith("#")}
        steps = leaf_steps(corpus.doc(0)[0])
        wanted = {k: steps[k] for k in keys}
        with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1, _init_worker,
                                                      (corpus_args, wanted)) as pool:
            for i, facts in enumerate(pool.imap(_facts, range(corpus.count), chunksize=256)):
                for (_tool, template, _s), root in zip(stale, roots):
                    for rel, data, mtime, mode in template.render(facts):
                        if not self.spec.pages_only or rel.startswith("web/simple/"):
                            _write(root, rel, data, mtime, mode)
                if (i + 1) % step == 0:
                    self.log(f"bench:   {i + 1:,} / {corpus.count:,} ({time.monotonic() - start:.0f}s)")
        for (tool, template, scratch), root in zip(stale, roots):
            self._seed_state(tool, Path(root), scratch, corpus)
            res = tool.mirror(confs[tool.short], self.logs / f"finish-{tool.short}-{self.spec.key}.log")
            if not res.ok:
                raise BuildError(f"{tool.short}'s first run on the built {self.spec.key} tree exit "
                                 f"{res.exit_code} (log {res.log_path})")
            listed = json.loads((Path(root) / "web/simple/index.v1_json").read_bytes())["projects"]
            lazy = sum(1 for p in listed if p["name"].lower().startswith("lazy"))
            if lazy != corpus.count:
                raise BuildError(f"{tool.short}'s built {self.spec.key} tree lists {lazy} of the "
                                 f"{corpus.count} lazy projects")
            entry = self.manifest.tool(tool.short)
            entry.update({"digest": template.digest(), "complete": True, "built": time.time(),
                          "build_seconds": round(time.monotonic() - start)})
            self.manifest.doc["serial"] = up.last_serial
            self.manifest.save()
            self.log(f"bench: {self.spec.key}: {tool.short}'s tree is complete ({len(listed):,} projects)")

    def _seed_state(self, tool: Tool, root: Path, scratch: Path, corpus: LazyCorpus) -> None:
        """What the tool keeps beside the pages of a mirror at the last lazy serial: its own
        ``generation`` file, ``status``, and (ours) the root index it reads its registry from."""
        gen = scratch / "generation"
        os.makedirs(root, exist_ok=True)
        _write(str(root), "generation", gen.read_bytes(), None, gen.stat().st_mode & 0o777)
        _write(str(root), "status", str(corpus.max_serial).encode(), None, 0o644)
        if tool.short == "ours":
            doc = {"meta": {"api-version": "1.1", "_last-serial": corpus.max_serial},
                   "projects": [{"name": corpus.store.lazy.display(i), "_last-serial": corpus.serial(i)}
                                for i in range(corpus.count)]}
            _write(str(root), "web/simple/index.v1_json", json.dumps(doc, separators=(",", ":")).encode(),
                   None, 0o644)
