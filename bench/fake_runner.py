"""``python -m bench.fake_runner ARGS``: ``python -m tests.fakepypi ARGS`` with big caches.

The root index is also kept once rendered (per serial and content type), like every other page.

Why: the fake rebuilds a file's bytes (a real zip / tar.gz with seeded padding) on every request
that misses its 64 MiB LRU, and keeps 4,096 rendered pages. At benchmark sizes (360 MB of release
files in scenario 1, 1 GB in scenario 6) that makes every run pay the fake's archive building on
the one core it is pinned to, which measures the fake rather than the clients. A real upstream
serves stored bytes from a CDN, so the bench raises both caches (the fake reads these module
constants at call time) and warms them before timing. The fake's own files are not changed.
"""

from __future__ import annotations

import sys

from tests.fakepypi import __main__ as fake_main
from tests.fakepypi import origin, store

BYTES_CACHE = 6 * 1024 * 1024 * 1024
PAGE_CACHE = 200_000
#: Render root indexes of any size once per serial and keep them (the fake streams big ones
#: afresh on every request to stay small; a CDN serves a stored copy)
SMALL_INDEX = 10**9

if __name__ == "__main__":
    store.BYTES_CACHE_LIMIT = BYTES_CACHE
    origin.PAGE_CACHE_SIZE = PAGE_CACHE
    origin.SMALL_INDEX = SMALL_INDEX
    sys.exit(fake_main.main(sys.argv[1:]))
