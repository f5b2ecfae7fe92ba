"""Learn, from a few projects a tool really synced, how that tool writes one lazy project; then
write any number of them exactly the same way.

Why: syncing a 100,000-project mirror through each tool would take hours of the bench's budget
(bandersnatch: about 50 projects a second here), yet what a synced mirror holds per project is a
function of the project's upstream data. So each tool syncs a handful of the fake's lazy projects
into a scratch tree (``sync NAMES``), and this module turns one of them (the model) into a
template: every file below the tree that belongs to the project, with each value that differs
between projects (names, hashes, URLs, serials, times; the leaves of the upstream JSON document)
replaced by a reference to that value. Release files and core metadata are the upstream's bytes.

The template is accepted only if it reproduces every other sampled project byte for byte, path
for path and with the same modification-time rule (``TemplateError`` otherwise), so a tree
written from it is what the tool would have written, or nothing is written at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .lazy_facts import LazyFacts

Segments = tuple  # of str (literal text) and int (index into ProjectTemplate.keys)
MIN_TOKEN = 2  # shorter varying values (e.g. serial 4 of project 0) are too ambiguous to learn from


class TemplateError(RuntimeError):
    """The sampled projects cannot be reproduced from the model (one line naming the first miss)."""


@dataclass(frozen=True)
class FileRule:
    path: Segments  # relative to the tree root
    kind: str  # "text" | "file" (the release file) | "metadata" (its core metadata)
    content: Segments | None  # text files only
    mtime: str  # "write" (when written) | "upload" (the file's upload time, as bandersnatch sets it)
    mode: int  # permission bits


@dataclass(frozen=True)
class ProjectTemplate:
    keys: tuple[str, ...]
    files: tuple[FileRule, ...]

    def digest(self) -> str:
        doc = {"keys": self.keys, "files": [[r.path, r.kind, r.content, r.mtime, r.mode] for r in self.files]}
        return hashlib.sha256(json.dumps(doc).encode()).hexdigest()[:16]

    def render(self, facts: LazyFacts) -> list[tuple[str, bytes, float | None, int]]:
        """(relative path, bytes, mtime or None, mode) of every file of project ``facts``."""
        values = [facts.leaves[k] for k in self.keys]
        out = []
        for rule in self.files:
            path = fill(rule.path, values)
            if rule.kind == "file":
                data = facts.file_bytes
            elif rule.kind == "metadata":
                data = facts.metadata_bytes
            else:
                data = fill(rule.content or (), values).encode()
            out.append((path, data, facts.upload_epoch if rule.mtime == "upload" else None, rule.mode))
        return out


def fill(segments: Segments, values: list[str]) -> str:
    return "".join(s if isinstance(s, str) else values[s] for s in segments)


def _pattern(value: str) -> str:
    escaped = re.escape(value)
    if value[0].isalnum() and value[-1].isalnum():  # a number or word: never a piece of a longer one
        return rf"(?<![0-9A-Za-z]){escaped}(?![0-9A-Za-z])"
    return escaped


class Tokenizer:
    """Splits text into literals and references to the model's varying values (longest first)."""

    def __init__(self, model: LazyFacts, samples: list[LazyFacts]) -> None:
        varying = {k: v for k, v in model.leaves.items()
                   if len(v) >= MIN_TOKEN and any(s.leaves.get(k) != v for s in samples)}
        by_value: dict[str, str] = {}
        for key in sorted(varying, key=lambda k: (len(k), k)):
            by_value.setdefault(varying[key], key)
        ordered = sorted(by_value, key=len, reverse=True)
        self.keys = tuple(by_value[v] for v in ordered)
        self._index = {v: i for i, v in enumerate(ordered)}
        self._re = re.compile("|".join(f"({_pattern(v)})" for v in ordered)) if ordered else None

    def split(self, text: str) -> Segments:
        if self._re is None:
            return (text,)
        out: list = []
        pos = 0
        for m in self._re.finditer(text):
            if m.start() > pos:
                out.append(text[pos:m.start()])
            out.append(m.lastindex - 1)  # groups are in self.keys order
            pos = m.end()
        if pos < len(text):
            out.append(text[pos:])
        return tuple(out)

    def identifies(self, relpath: str, facts: LazyFacts) -> bool:
        """True when ``relpath`` names something only project ``facts`` has."""
        return any(len(facts.leaves[k]) >= 8 and facts.leaves[k] in relpath for k in self.keys)


def project_files(tree: Path, facts: LazyFacts, tok: Tokenizer) -> dict[str, Path]:
    """Files (and symlinks) below ``tree/web`` whose path names project ``facts``."""
    found = {}
    for dirpath, _dirs, names in os.walk(tree / "web"):
        for name in names:
            path = Path(dirpath) / name
            rel = "/" + str(path.relative_to(tree))
            if tok.identifies(rel, facts):
                found[rel[1:]] = path
    return found


def learn(tree: Path, samples: list[LazyFacts], tool: str) -> ProjectTemplate:
    """The template of ``tool``'s way of writing a lazy project, from its scratch ``tree`` where it
    synced every project of ``samples``; raises TemplateError when it does not reproduce them."""
    if len(samples) < 3:
        raise TemplateError(f"{tool}: need at least 3 sampled projects, got {len(samples)}")
    model = max(samples, key=lambda f: f.index)
    others = [s for s in samples if s is not model]
    tok = Tokenizer(model, others)
    rules = []
    for rel, path in sorted(project_files(tree, model, tok).items()):
        if path.is_symlink():
            raise TemplateError(f"{tool}: {rel} is a symlink; templates only know files")
        data = path.read_bytes()
        st = path.stat()
        mtime = "upload" if abs(st.st_mtime - model.upload_epoch) < 1 else "write"
        mode = st.st_mode & 0o777
        if data == model.file_bytes:
            rules.append(FileRule(tok.split(rel), "file", None, mtime, mode))
        elif data == model.metadata_bytes:
            rules.append(FileRule(tok.split(rel), "metadata", None, mtime, mode))
        else:
            try:
                text = data.decode()
            except UnicodeDecodeError:
                raise TemplateError(f"{tool}: {rel} is neither text nor an upstream file") from None
            rules.append(FileRule(tok.split(rel), "text", tok.split(text), mtime, mode))
    if not any(r.kind == "file" for r in rules):
        raise TemplateError(f"{tool}: no release file of {model.normalized} found below {tree}/web")
    template = ProjectTemplate(tok.keys, tuple(rules))
    for facts in others:
        check(template, tree, facts, tok, tool)
    return template


def check(template: ProjectTemplate, tree: Path, facts: LazyFacts, tok: Tokenizer, tool: str) -> None:
    """TemplateError unless ``template`` renders exactly what ``tree`` holds for ``facts``."""
    actual = project_files(tree, facts, tok)
    rendered = {path: (data, mtime, mode) for path, data, mtime, mode in template.render(facts)}
    if set(actual) != set(rendered):
        missing = sorted(set(actual) ^ set(rendered))[:2]
        raise TemplateError(f"{tool}: template of the model does not give {facts.normalized}'s file set "
                            f"(differs at {missing})")
    for rel, (data, mtime, mode) in rendered.items():
        real = actual[rel].read_bytes()
        if real != data:
            at = next((i for i, (a, b) in enumerate(zip(real, data)) if a != b), min(len(real), len(data)))
            raise TemplateError(f"{tool}: {rel} differs from the template at byte {at}: "
                                f"{real[max(0, at - 20):at + 20]!r} vs {data[max(0, at - 20):at + 20]!r}")
        st = actual[rel].stat()
        if mtime is not None and abs(st.st_mtime - mtime) >= 1:
            raise TemplateError(f"{tool}: {rel} has another modification time than its upload time")
        if st.st_mode & 0o777 != mode:
            raise TemplateError(f"{tool}: {rel} has mode {st.st_mode & 0o777:o}, the model {mode:o}")
