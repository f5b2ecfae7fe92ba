"""Project-name and version helpers.

Standard library only: the fake upstream also runs inside bare containers that have just
``python3``, so ``packaging`` is not available and the small subset of PEP 440 / PEP 503 that the
corpus uses is implemented here.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-_.]+")
_VERSION = re.compile(
    r"^(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>a|b|rc|alpha|beta|c|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev>\d*))?$",
    re.IGNORECASE,
)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}


def normalize(name: str) -> str:
    """PEP 503 normalization, the key under which every project page lives."""
    return _SEPARATORS.sub("-", name).lower()


def dist_name(name: str) -> str:
    """Distribution name as it appears in wheel / sdist file names and ``.dist-info`` dirs."""
    return normalize(name).replace("-", "_")


def module_name(name: str) -> str:
    """A valid Python identifier for the one importable module a fake wheel ships."""
    ident = re.sub(r"[^0-9a-zA-Z_]", "_", normalize(name))
    return ident if not ident[0].isdigit() else f"m_{ident}"


def version_key(version: str) -> tuple:
    """Sort key good enough for PEP 440 versions the corpus and tests use.

    Unparseable versions sort first (as legacy versions did) so they never become "latest".
    """
    match = _VERSION.match(version.strip())
    if not match:
        return (-1, (), 0, 0, 0, 0, version)
    release = tuple(int(p) for p in match["release"].split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    # (pre-kind, pre-number): a final release sorts after every prerelease of it.
    if match["pre_l"]:
        pre = (_PRE_ORDER[match["pre_l"].lower()], int(match["pre_n"] or 0))
    elif match["dev"] is not None and match["post"] is None:
        pre = (-1, 0)  # 1.0.dev1 < 1.0a1
    else:
        pre = (9, 0)
    post = int(match["post"] or 0) + 1 if match["post"] is not None else 0
    dev = int(match["dev"] or 0) if match["dev"] is not None else 1 << 62
    return (int(match["epoch"] or 0), release, pre, post, dev, 0, "")


def is_prerelease(version: str) -> bool:
    """True for a/b/rc/dev versions, which Warehouse never picks as a project's ``info.version``."""
    match = _VERSION.match(version.strip())
    return bool(match and (match["pre_l"] or match["dev"] is not None))
