"""`verify --repair`: re-download corrupt and missing files, verified against their page's hash.

Upstream is asked once per damaged project (its JSON API document says where each file is); a
download replaces the damaged file only once its sha256 matches the page, so a repair never
makes anything worse. Pages are not touched: a file upstream no longer has is left for the next
sync, which drops it from the page.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading

from mirror_tool.config import Config
from mirror_tool.errors import ProjectError
from mirror_tool.maintenance.inspect import Problem, ProjectCheck, VerifyReport
from mirror_tool.stop import StopToken
from mirror_tool.storage import keys
from mirror_tool.storage.base import Storage
from mirror_tool.upstream.client import Stopped
from mirror_tool.upstream.hub import open_upstream

log = logging.getLogger("mirror_tool.verify")


def repair(config: Config, storage: Storage, stop: StopToken, checks: dict[str, ProjectCheck], problems: list[Problem], report: VerifyReport) -> None:
    """Re-download the files of `problems`, project by project, on `verifiers` threads."""
    by_project: dict[str, list[Problem]] = {}
    for p in problems:
        if p.project:
            by_project.setdefault(p.project, []).append(p)
    if not by_project:
        return
    storage.prepare()
    upstream = open_upstream(config.mirror, stop)
    lock = threading.Lock()

    def repair_project(norm: str, items: list[Problem]) -> None:
        page = checks[norm].page
        assert page is not None
        try:
            answer = upstream.project_json(norm)
        except Stopped:
            return
        except ProjectError as exc:
            for p in items:
                p.detail += f"; cannot repair: {exc}"
            return
        upstream_files = {f.filename: f for f in answer.project.files} if answer.project else {}
        page_files = {f.key: f for f in page.files if f.key}
        for p in items:
            if stop.stopped:
                return
            assert p.path is not None
            is_meta = p.path.endswith(keys.METADATA_SUFFIX) and p.path not in page_files
            pf = page_files.get(p.path.removesuffix(keys.METADATA_SUFFIX) if is_meta else p.path)
            source = upstream_files.get(pf.filename) if pf else None
            if pf is None or source is None:
                p.detail += "; cannot repair: upstream no longer has this file (a sync will update the page)"
                continue
            url = source.url.split("#", 1)[0]
            if is_meta:
                url, sha, size = url + keys.METADATA_SUFFIX, pf.metadata_sha256, None
            else:
                sha = pf.sha256 or source.sha256
                size = pf.size if pf.size is not None else source.size
            if not sha:
                p.detail += "; cannot repair: no hash to verify a download against"
                continue
            key = p.path
            try:
                n = upstream.download(url, lambda: storage.stage(key, size), sha, size,
                                      cap=upstream.http.caps.metadata if is_meta else None)
            except (ProjectError, Stopped) as exc:
                p.detail += f"; cannot repair: {exc}"
                continue
            p.fixed = True
            with lock:
                report.repaired_files += 1
                report.repaired_bytes += n
            log.info("Repaired %s (%d bytes)", p.path, n)

    try:
        with cf.ThreadPoolExecutor(max_workers=max(1, config.mirror.verifiers), thread_name_prefix="repair") as pool:
            for fut in [pool.submit(repair_project, norm, items) for norm, items in sorted(by_project.items())]:
                fut.result()
    finally:
        upstream.close()


__all__ = ["repair"]
