"""The throughput ceiling: a plain download-and-hash loop over the same loopback.

Why: scenario 6 judges our large-file throughput against what the machine can do at all with
the same upstream, the same files and the same number of workers, with no mirror logic at
all: one persistent HTTP/1.1 connection per worker, 1 MiB reads, SHA-256 of every byte, nothing
written to disk. Runs as its own process (``python -m bench.plain_download LIST WORKERS``) so it is
measured exactly like the clients. LIST holds one ``url sha256`` pair per line. Exit 1 on a hash
mismatch or HTTP error. With a third argument DIR it also writes every file into DIR (plain
``write``, no fsync): a second reference that shows what the disk adds. With a fourth argument
``direct`` the writes bypass the page cache (O_DIRECT from a page-aligned buffer, the unaligned
tail buffered): the cheapest way this machine has to put the bytes on disk, a third reference.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import mmap
import os
import sys
import threading
from urllib.parse import urlsplit

CHUNK = 1 << 20


def _worker(jobs: list[tuple[str, str]], lock: threading.Lock, errors: list[str],
            totals: list[int], write_dir: str | None, direct: bool) -> None:
    conns: dict[str, http.client.HTTPConnection] = {}
    buf = memoryview(mmap.mmap(-1, CHUNK))  # page-aligned, as O_DIRECT wants
    while True:
        with lock:
            if not jobs:
                break
            url, digest = jobs.pop()
        parts = urlsplit(url)
        conn = conns.get(parts.netloc)
        if conn is None:
            conn = conns[parts.netloc] = http.client.HTTPConnection(parts.netloc, timeout=60)
        conn.request("GET", parts.path)
        resp = conn.getresponse()
        h = hashlib.sha256()
        got = 0
        fd = -1
        if write_dir:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_DIRECT if direct else 0)
            fd = os.open(os.path.join(write_dir, os.path.basename(parts.path)), flags, 0o644)
        while True:
            filled = 0
            while filled < CHUNK:
                n = resp.readinto(buf[filled:])
                if not n:
                    break
                filled += n
            if not filled:
                break
            h.update(buf[:filled])
            if fd >= 0:
                aligned = filled - filled % 4096 if direct else filled
                if aligned:
                    os.write(fd, buf[:aligned])
                if aligned < filled:  # the tail of the file: through the page cache
                    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
                    os.write(fd, buf[aligned:filled])
            got += filled
        if fd >= 0:
            os.close(fd)
        if resp.status != 200 or h.hexdigest() != digest:
            with lock:
                errors.append(f"{url}: HTTP {resp.status}, sha256 {h.hexdigest()}")
        with lock:
            totals[0] += got
    for conn in conns.values():
        conn.close()


def main(argv: list[str]) -> int:
    list_path, workers = argv[0], int(argv[1])
    write_dir = argv[2] if len(argv) > 2 else None
    direct = len(argv) > 3 and argv[3] == "direct"
    if write_dir:
        os.makedirs(write_dir, exist_ok=True)
    with open(list_path) as fh:
        jobs = [tuple(line.split()) for line in fh if line.strip()]
    lock = threading.Lock()
    errors: list[str] = []
    totals = [0]
    threads = [threading.Thread(target=_worker, args=(jobs, lock, errors, totals, write_dir, direct))
               for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"plain_download: {totals[0]} bytes, {len(errors)} errors")
    for err in errors[:5]:
        print(err, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
