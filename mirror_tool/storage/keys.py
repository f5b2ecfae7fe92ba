"""The key of every object in the tree (bandersnatch-compatible layout; docs/design.md).

```
simple/index.html  index.v1_html  index.v1_json          root index
simple/<normalized>/index.html  index.v1_html  index.v1_json
packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>         (+ <filename>.metadata)
pypi/<normalized>/json   json/<normalized>                JSON copies (json = true)
last-modified
```
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from mirror_tool.errors import UnsafeName
from mirror_tool.names import check_filename, check_hex_digest

#: The three forms of a simple page: PEP 503 HTML (twice, for bandersnatch compatibility), PEP 691 JSON.
HTML_PAGE, HTML_V1_PAGE, JSON_PAGE = "index.html", "index.v1_html", "index.v1_json"
PAGE_NAMES = (HTML_PAGE, HTML_V1_PAGE, JSON_PAGE)
SIMPLE = "simple/"
PACKAGES = "packages/"
LAST_MODIFIED = "last-modified"
METADATA_SUFFIX = ".metadata"

_URL_PATH_RE = re.compile(r"/packages/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{60})/([^/]+)$")


def root_page(name: str) -> str:
    return SIMPLE + name


def project_page(normalized: str, name: str) -> str:
    return f"{SIMPLE}{normalized}/{name}"


#: `keep_index_versions` copies: `simple/<name>/versions/index_<serial>_<UTC stamp>.<ext>`.
VERSIONS_DIR = "versions"
PAGE_VERSION_EXT = {HTML_PAGE: "html", HTML_V1_PAGE: "v1_html", JSON_PAGE: "v1_json"}
PAGE_VERSION_RE = re.compile(r"^index_(\d+)_([^/]+)\.(html|v1_html|v1_json)$")


def page_versions_prefix(normalized: str) -> str:
    return f"{SIMPLE}{normalized}/{VERSIONS_DIR}/"


def page_version(normalized: str, page: str, serial: int, stamp: str) -> str:
    """The key of one kept copy of a project page (bandersnatch's `keep_index_versions` names)."""
    return f"{page_versions_prefix(normalized)}index_{serial}_{stamp}.{PAGE_VERSION_EXT[page]}"


def json_copies(normalized: str) -> tuple[str, str]:
    """`pypi/<name>/json` and `json/<name>`: the JSON API document, as `json = true` keeps it."""
    return f"pypi/{normalized}/json", f"json/{normalized}"


def metadata(key: str) -> str:
    """The PEP 658 `.metadata` sibling of a stored wheel."""
    return key + METADATA_SUFFIX


def package(filename: str, blake2b_256: str | None, url: str) -> str:
    """`packages/<b2[0:2]>/<b2[2:4]>/<b2[4:]>/<filename>`.

    The blake2b digest from the project JSON decides the directory; without one, the URL path must
    already have that shape. Either way the result is validated component by component.
    """
    check_filename(filename)
    if blake2b_256:
        b2 = check_hex_digest(blake2b_256, "blake2b_256")
        return f"packages/{b2[0:2]}/{b2[2:4]}/{b2[4:]}/{filename}"
    match = _URL_PATH_RE.search(unquote(urlsplit(url).path))
    if not match or match.group(4) != filename:
        raise UnsafeName(f"refused file {filename!r}: no blake2b digest and URL path {url!r}")
    return f"packages/{match.group(1)}/{match.group(2)}/{match.group(3)}/{filename}"


def is_safe(key: str) -> bool:
    """A relative key that cannot climb out of `web/`."""
    return bool(key) and not key.startswith("/") and "\x00" not in key and ".." not in key.split("/")
