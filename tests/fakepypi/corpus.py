"""A deterministic corpus: the same seed and sizes always give the same projects, files, hashes
and serials, so tests can be written against known special cases.

The first projects are the special cases a mirror must get right (they are included as far as
``projects`` allows, in this order); the rest are generic projects with seeded names mixing case
and ``._-``:

====  ===================  ==========================================================
0     ``Foo.Bar``          plain project, dotted mixed-case display name
1     ``foo_bar-baz``      underscores and dashes; its oldest release is yanked (no reason)
2     ``Dup_Name``         created, uploaded, removed, then re-created as ``dup.name``
                           (both normalize to ``dup-name``; the changelog keeps both spellings)
3     ``Pre.Release``      latest version is the prerelease ``2.0.0rc1``
4     ``Yanked-Pkg``       latest release yanked with reason ``broken build``
5     ``Plat_Wheels``      manylinux / win_amd64 / macOS wheels besides the pure wheel and sdist
6     ``Empty.Project``    created, never released (JSON API 404, empty simple page)
7     ``Needs_Py``         ``requires_python`` ``>=3.8``; its latest release needs ``<3``
====  ===================  ==========================================================

Core metadata for the metadata filters: ``Foo.Bar`` is ``license = "MIT"`` with the classifiers
``CLASSIFIERS_MIT``; ``Plat_Wheels`` has ``CLASSIFIERS_GPL``; the others have none.
"""

from __future__ import annotations

import random

from .store import Store

SPECIAL_NAMES = ["Foo.Bar", "foo_bar-baz", "dup.name", "Pre.Release", "Yanked-Pkg", "Plat_Wheels",
                 "Empty.Project", "Needs_Py"]
_EXTRA_PLATFORMS = ["manylinux", "win", "mac", "manylinux_2_28_aarch64", "musllinux_1_1_x86_64",
                    "macosx_10_9_x86_64", "win32"]
CLASSIFIERS_MIT = ["License :: OSI Approved :: MIT License", "Programming Language :: Python :: 3"]
CLASSIFIERS_GPL = ["License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
                   "Programming Language :: Python :: 3"]
_WORDS = ["alpha", "beta", "gamma", "delta", "omega", "zeta", "kappa", "sigma", "theta", "lambda"]
_TEMPLATES = ["{W}{i}.Pkg", "{w}{i}_pkg-x", "{U}-{i}-Lib", "{w}.{i}.tools", "Py{W}_{i}", "{w}-{i}"]


def _kinds(files: int) -> list[str]:
    """Per-release file kinds for ``files`` files: wheel, sdist, then platform wheels."""
    kinds = ["wheel", "sdist"][: max(1, files)]
    kinds += _EXTRA_PLATFORMS[: max(0, files - 2)]
    return kinds


def generic_names(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    names = []
    for i in range(count):
        word = rng.choice(_WORDS)
        template = _TEMPLATES[i % len(_TEMPLATES)]
        names.append(template.format(W=word.capitalize(), w=word, U=word.upper(), i=i))
    return names


def build_store(
    *,
    projects: int = 8,
    releases: int = 3,
    files: int = 2,
    file_size: int = 2048,
    seed: int = 0,
    index_projects: int = 0,
    core_metadata: bool = True,
) -> Store:
    """Build the corpus. ``index_projects`` pads the index with lazy projects up to that total."""
    releases = max(1, releases)
    store = Store(seed=seed, file_size=file_size, core_metadata=core_metadata,
                  lazy_count=max(0, index_projects - projects))
    kinds = _kinds(files)
    versions = [f"1.{k}.0" for k in range(releases)]
    specials = min(projects, len(SPECIAL_NAMES))
    for idx in range(specials):
        _build_special(store, idx, versions, kinds)
    for i, name in enumerate(generic_names(projects - specials, seed)):
        vers = list(versions)
        if i % 4 == 1:
            vers[-1] = "2.0.0rc1"
        for version in vers:
            store.upload(name, version, files=kinds)
        if i % 5 == 2 and len(vers) > 1:
            store.yank(name, vers[0], "")
    store.synthetic_clock = False
    return store


def _build_special(store: Store, idx: int, versions: list[str], kinds: list[str]) -> None:
    name = SPECIAL_NAMES[idx]
    if idx == 0:
        for v in versions:
            store.upload(name, v, files=kinds, classifiers=CLASSIFIERS_MIT, license="MIT")
    elif idx == 1:
        for v in versions:
            store.upload(name, v, files=kinds)
        store.yank(name, versions[0], "")
    elif idx == 2:
        store.upload("Dup_Name", "0.1.0", files=kinds)
        store.remove_project("Dup_Name")
        for v in versions:
            store.upload(name, v.replace("1.", "2.", 1), files=kinds)
    elif idx == 3:
        for v in versions:
            store.upload(name, v, files=kinds)
        store.upload(name, "2.0.0rc1", files=kinds)
    elif idx == 4:
        for v in versions:
            store.upload(name, v, files=kinds)
        store.upload(name, "9.0.0", files=kinds, yanked="broken build")
    elif idx == 5:
        for v in versions:
            store.upload(name, v, files=list(dict.fromkeys(kinds + ["manylinux", "win", "mac"])),
                         classifiers=CLASSIFIERS_GPL, license="GPL-3.0")
    elif idx == 6:
        store.create_project(name)
    elif idx == 7:
        for v in versions:
            store.upload(name, v, files=kinds, requires_python=">=3.8")
        store.upload(name, "5.0.0", files=kinds, requires_python="<3")
