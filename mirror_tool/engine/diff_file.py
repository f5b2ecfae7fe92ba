"""`diff-file`: the list of files a run wrote below `web/`, for copying to offline mirrors.

Operators of air-gapped mirrors ship only what changed: `rsync --files-from` (or a tar of the
list) after each run. The list holds absolute paths (`<directory>/web/<key>`), one per line and no
trailing newline as bandersnatch writes it, in bandersnatch's order: JSON copies, project pages
(and their `versions/` copies), the root index, then release files and `.metadata`; here also
`pypi/<name>/json` and `last-modified`, which an offline copy needs too. Deletions are not listed.
It is written at the end of every `mirror` and `sync`, also after project errors.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable

from mirror_tool.config import Config
from mirror_tool.config.compat import expand_references
from mirror_tool.errors import StorageError
from mirror_tool.storage import keys
from mirror_tool.storage.atomic import atomic_write

log = logging.getLogger("mirror_tool.mirror")

DEFAULT_NAME = "mirrored-files"


def diff_path(config: Config, started: float) -> Path | None:
    """Where this run's list goes (None: no `diff-file`)."""
    raw = config.mirror.diff_file
    if not raw:
        return None

    def lookup(section: str, option: str) -> str | None:
        values = config.values.get(section) or {}
        for name in (option, option.replace("_", "-")):
            if values.get(name) not in (None, ""):
                return str(values[name])
        return None

    path = Path(expand_references(raw, lookup))
    if not path.is_absolute():
        path = config.path.resolve().parent / path
    if path.is_dir():
        path = path / DEFAULT_NAME
    if config.mirror.diff_append_epoch:
        path = path.with_name(f"{path.name}-{int(started)}")
    return path


def _rank(key: str) -> int:
    if key.startswith(("json/", "pypi/")):
        return 0
    if key.startswith(keys.SIMPLE) and key.count("/") >= 2:
        return 1
    if key.startswith(keys.SIMPLE):
        return 2
    return 3 if key.startswith(keys.PACKAGES) else 4


def write_diff(config: Config, written: Iterable[str], started: float) -> Path | None:
    """Write the list; StorageError when it cannot be written (the run's other results stand)."""
    path = diff_path(config, started)
    if path is None:
        return None
    web = config.web_dir
    ordered = sorted(dict.fromkeys(written), key=_rank)
    data = "\n".join(f"{web}/{key}" for key in ordered).encode("utf-8", "surrogateescape")
    try:
        os.makedirs(path.parent, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {path.parent} for the diff-file: {exc.strerror or exc}") from exc
    try:
        atomic_write(path, data)
    except Exception as exc:  # ProjectError from atomic_write: one file, but the run must say so
        raise StorageError(f"cannot write the diff-file {path}: {exc}") from exc
    log.info("Wrote the list of %d files this run wrote to %s", len(ordered), path)
    return path


__all__ = ["diff_path", "write_diff"]
