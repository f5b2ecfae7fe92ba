"""The bench's large-mirror builder: a template learned from projects our client really synced
must reproduce other projects it syncs, byte for byte, and refuse a tree it cannot reproduce.

Our client is driven through its CLI (`pypi-mirror sync`), as the bench drives it; the projects
are the fake upstream's lazily generated ones.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.lazy_facts import LazyCorpus
from bench.tree_template import TemplateError, learn, project_files

PYPI_MIRROR = str(Path(sys.executable).parent / "pypi-mirror")
UPSTREAM = {"projects": 8, "releases": 1, "files": 1, "file_size": 1024, "seed": 0, "index_projects": 8 + 120}
SAMPLES = (0, 1, 9, 10, 99)


def sync(tmp_path: Path, base_url: str, names: list[str]) -> Path:
    tree = tmp_path / "mirror"
    conf = tmp_path / "mirror.conf"
    conf.write_text(f"[mirror]\ndirectory = {tree}\nmaster = {base_url}\njson = true\nworkers = 2\n")
    proc = subprocess.run([PYPI_MIRROR, "-c", str(conf), "sync", *names], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return tree


@pytest.fixture
def synced(tmp_path: Path, fakepypi_factory):  # type: ignore[no-untyped-def]
    server = fakepypi_factory(**UPSTREAM)
    corpus = LazyCorpus(**UPSTREAM, base_url=server.base_url)
    tree = sync(tmp_path, server.base_url, [corpus.name(i) for i in (*SAMPLES, 57)])
    return tree, corpus


def test_template_reproduces_a_project_it_did_not_learn_from(synced) -> None:  # type: ignore[no-untyped-def]
    tree, corpus = synced
    template = learn(tree, [corpus.facts(i) for i in SAMPLES], "ours")
    kinds = sorted(rule.kind for rule in template.files)
    assert kinds.count("file") == 1 and kinds.count("metadata") == 1 and "text" in kinds
    unseen = corpus.facts(57)
    rendered = {path: data for path, data, _mtime, _mode in template.render(unseen)}
    real = {rel: path.read_bytes() for rel, path in project_files(tree, unseen, _tokenizer(corpus)).items()}
    assert rendered == real
    assert any(p.startswith("web/simple/lazy-pkg-0000057/") for p in rendered)


def test_template_refuses_a_tree_it_cannot_reproduce(synced) -> None:  # type: ignore[no-untyped-def]
    tree, corpus = synced
    page = tree / "web" / "simple" / corpus.name(9) / "index.html"
    page.write_text(page.read_text().replace("</body>", "<!-- edited --></body>"))
    with pytest.raises(TemplateError, match="lazy-pkg-0000009/index.html differs"):
        learn(tree, [corpus.facts(i) for i in SAMPLES], "ours")


def test_template_needs_several_samples(synced) -> None:  # type: ignore[no-untyped-def]
    tree, corpus = synced
    with pytest.raises(TemplateError, match="at least 3"):
        learn(tree, [corpus.facts(0), corpus.facts(1)], "ours")


def _tokenizer(corpus: LazyCorpus):  # type: ignore[no-untyped-def]
    from bench.tree_template import Tokenizer

    facts = [corpus.facts(i) for i in SAMPLES]
    return Tokenizer(facts[-1], facts[:-1])
