"""Warehouse's legacy JSON API (``/pypi/<name>/json`` and ``/pypi/<name>/<version>/json``)."""

from __future__ import annotations

import datetime as dt
import json

from .names import is_prerelease, version_key
from .simple_pages import iso_time
from .store import FileView, ProjectView, ReleaseView


def _plain_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def file_entry(f: FileView, base_url: str, core_metadata: bool) -> dict:
    entry: dict = {
        "comment_text": "",
        "digests": {"blake2b_256": f.blake2b_256, "md5": f.md5, "sha256": f.sha256},
        "downloads": -1,
        "filename": f.filename,
        "has_sig": False,
        "md5_digest": f.md5,
        "packagetype": f.rec.packagetype,
        "python_version": f.rec.python_version,
        "requires_python": f.requires_python or None,
        "size": f.size,
        "upload_time": _plain_time(f.rec.upload_time),
        "upload_time_iso_8601": iso_time(f.rec.upload_time),
        "url": base_url + f.path,
        "yanked": f.yanked,
        "yanked_reason": f.yanked_reason or None,
    }
    if core_metadata:
        meta = {"sha256": f.metadata_sha256} if f.metadata_sha256 else False
        entry["core-metadata"] = meta
        entry["data-dist-info-metadata"] = meta
    return entry


def latest_release(view: ProjectView) -> ReleaseView | None:
    """Warehouse's choice for ``info``: newest non-yanked final release, else newest of any."""
    if not view.releases:
        return None
    ranked = sorted(view.releases, key=lambda r: (not r.yanked, not is_prerelease(r.version), version_key(r.version)))
    return ranked[-1]


def _info(view: ProjectView, release: ReleaseView, base_url: str) -> dict:
    return {
        "author": "",
        "author_email": "",
        "bugtrack_url": None,
        "classifiers": list(release.classifiers),
        "description": "",
        "description_content_type": None,
        "docs_url": None,
        "download_url": "",
        "downloads": {"last_day": -1, "last_month": -1, "last_week": -1},
        "dynamic": None,
        "home_page": "",
        "keywords": "",
        "license": release.license,
        "license_expression": None,
        "license_files": None,
        "maintainer": "",
        "maintainer_email": "",
        "name": view.display,
        "package_url": f"{base_url}/project/{view.display}/",
        "platform": None,
        "project_url": f"{base_url}/project/{view.display}/",
        "project_urls": None,
        "provides_extra": None,
        "release_url": f"{base_url}/project/{view.display}/{release.version}/",
        "requires_dist": None,
        "requires_python": release.requires_python or None,
        "summary": release.summary,
        "version": release.version,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def project_doc(view: ProjectView, base_url: str, core_metadata: bool) -> bytes | None:
    """Body of ``/pypi/<name>/json``; None (-> 404) when the project has no releases."""
    latest = latest_release(view)
    if latest is None:
        return None
    doc = {
        "info": _info(view, latest, base_url),
        "last_serial": view.last_serial,
        "releases": {r.version: [file_entry(f, base_url, core_metadata) for f in r.files] for r in view.releases},
        "urls": [file_entry(f, base_url, core_metadata) for f in latest.files],
        "vulnerabilities": [],
    }
    return json.dumps(doc).encode()


def release_doc(view: ProjectView, version: str, base_url: str, core_metadata: bool) -> bytes | None:
    """Body of ``/pypi/<name>/<version>/json``; None (-> 404) for an unknown version."""
    for release in view.releases:
        if release.version == version:
            doc = {
                "info": _info(view, release, base_url),
                "last_serial": view.last_serial,
                "urls": [file_entry(f, base_url, core_metadata) for f in release.files],
                "vulnerabilities": [],
            }
            return json.dumps(doc).encode()
    return None
