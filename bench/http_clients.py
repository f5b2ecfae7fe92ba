"""The measured loops of `bench/http_libs.py`: one per HTTP library, the same work for each.

Runs in a throwaway virtualenv that holds the candidate libraries (never the project's own), as
`python bench/http_clients.py LIB WORKLOAD URLFILE --procs P --conc C`. Like a sync, the work is
split over P forked processes (`workers`), each running C requests at a time (per-project file
concurrency) in the way that library offers: threads over a bounded pool for the synchronous
ones, tasks on an event loop for aiohttp, one multi handle for pycurl. Documents ask for gzip and
are decompressed; files ask for the identity encoding and are streamed in 1 MiB pieces. Prints one
JSON line: requests, body bytes received (after decompression), errors. The parent measures wall
and CPU time (user+sys of this process and its children, from wait4).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Callable

CHUNK = 1 << 20
DOC_HEADERS = {"Accept": "application/json", "Accept-Encoding": "gzip"}
FILE_HEADERS = {"Accept-Encoding": "identity"}


def _threads(urls: list[str], conc: int, fetch: Callable[[str], int]) -> tuple[int, int]:
    """Run `fetch` over `urls` with `conc` threads; returns (bytes, errors)."""
    lock = threading.Lock()
    todo = list(reversed(urls))
    total = [0, 0]

    def loop() -> None:
        while True:
            with lock:
                if not todo:
                    return
                url = todo.pop()
            try:
                n = fetch(url)
            except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                print(f"error {url}: {exc!r}", file=sys.stderr)
                n = -1
            with lock:
                if n < 0:
                    total[1] += 1
                else:
                    total[0] += n

    threads = [threading.Thread(target=loop) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return total[0], total[1]


def run_urllib3(urls: list[str], conc: int, files: bool) -> tuple[int, int]:
    import urllib3

    pool = urllib3.PoolManager(maxsize=conc, block=True, retries=False,
                               timeout=urllib3.Timeout(connect=10, read=60))
    headers = FILE_HEADERS if files else DOC_HEADERS

    def fetch(url: str) -> int:
        resp = pool.request("GET", url, headers=headers, preload_content=False)
        n = 0
        try:
            for chunk in resp.stream(CHUNK, decode_content=True):
                n += len(chunk)
        finally:
            resp.release_conn()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}")
        return n

    return _threads(urls, conc, fetch)


def run_niquests(urls: list[str], conc: int, files: bool) -> tuple[int, int]:
    import niquests

    session = niquests.Session(pool_maxsize=conc, disable_http3=True)
    headers = FILE_HEADERS if files else DOC_HEADERS

    def fetch(url: str) -> int:
        with session.get(url, headers=headers, stream=True, timeout=(10, 60)) as resp:
            if resp.status_code != 200:
                raise RuntimeError(f"HTTP {resp.status_code}")
            return sum(len(c) for c in resp.iter_content(CHUNK))

    return _threads(urls, conc, fetch)


def run_httpx(urls: list[str], conc: int, files: bool) -> tuple[int, int]:
    import httpx

    client = httpx.Client(limits=httpx.Limits(max_connections=conc), timeout=httpx.Timeout(60, connect=10))
    headers = FILE_HEADERS if files else DOC_HEADERS

    def fetch(url: str) -> int:
        with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code != 200:
                raise RuntimeError(f"HTTP {resp.status_code}")
            return sum(len(c) for c in resp.iter_bytes(CHUNK))

    return _threads(urls, conc, fetch)


def run_net(urls: list[str], conc: int, files: bool) -> tuple[int, int]:
    """Our layer (mirror_tool/net on pycurl): documents through get_many, files through download_many."""
    from urllib.parse import urlsplit

    from mirror_tool.net import BufferSink, Client, DownloadJob, HttpSettings

    parts = urlsplit(urls[0])
    client = Client(HttpSettings.build(f"{parts.scheme}://{parts.netloc}", environ={}, connections=conc))
    if not files:
        pages = client.get_many(urls, headers={"Accept": "application/json"}, concurrency=conc)
        ok = [p for p in pages if not isinstance(p, BaseException) and p.status == 200]
        return sum(len(p.body) for p in ok), len(pages) - len(ok)  # type: ignore[union-attr]

    class Counter(BufferSink):
        def __init__(self) -> None:
            self.n = 0

        def write(self, data: bytes) -> None:
            self.n += len(data)

        def restart(self) -> None:
            self.n = 0

    jobs = [DownloadJob(url, Counter()) for url in urls]
    results = client.download_many(jobs, conc)
    bad = sum(isinstance(r, BaseException) for r in results)
    return sum(j.sink.n for j in jobs), bad  # type: ignore[attr-defined]


def run_aiohttp(urls: list[str], conc: int, files: bool) -> tuple[int, int]:
    import asyncio

    import aiohttp

    headers = FILE_HEADERS if files else DOC_HEADERS

    async def main() -> tuple[int, int]:
        total = [0, 0]
        todo = list(reversed(urls))
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=60)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc), timeout=timeout) as session:

            async def worker() -> None:
                while todo:
                    url = todo.pop()
                    try:
                        async with session.get(url, headers=headers) as resp:
                            n = 0
                            async for chunk in resp.content.iter_chunked(CHUNK):
                                n += len(chunk)
                            if resp.status != 200:
                                raise RuntimeError(f"HTTP {resp.status}")
                        total[0] += n
                    except Exception as exc:  # noqa: BLE001
                        print(f"error {url}: {exc!r}", file=sys.stderr)
                        total[1] += 1

            await asyncio.gather(*(worker() for _ in range(conc)))
        return total[0], total[1]

    return asyncio.run(main())


def run_pycurl(urls: list[str], conc: int, files: bool) -> tuple[int, int]:
    """One CurlMulti per process with `conc` reused easy handles (its connection cache)."""
    import pycurl

    multi = pycurl.CurlMulti()
    multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, conc)
    todo = list(reversed(urls))
    total = [0, 0]
    free: list[pycurl.Curl] = []
    for _ in range(conc):
        c = pycurl.Curl()
        c.setopt(pycurl.CONNECTTIMEOUT, 10)
        c.setopt(pycurl.LOW_SPEED_LIMIT, 1)
        c.setopt(pycurl.LOW_SPEED_TIME, 60)
        c.setopt(pycurl.NOSIGNAL, 1)
        if files:
            c.setopt(pycurl.HTTPHEADER, ["Accept-Encoding: identity"])
        else:
            c.setopt(pycurl.HTTPHEADER, ["Accept: application/json"])
            c.setopt(pycurl.ACCEPT_ENCODING, "gzip")
        free.append(c)
    counts: dict[int, int] = {}

    def start(c: pycurl.Curl, url: str) -> None:
        key = id(c)
        counts[key] = 0

        def write(data: bytes) -> None:
            counts[key] += len(data)

        c.setopt(pycurl.URL, url)
        c.setopt(pycurl.WRITEFUNCTION, write)
        multi.add_handle(c)

    while todo or len(free) < conc:
        while todo and free:
            start(free.pop(), todo.pop())
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, ok, failed = multi.info_read()
            for c in ok:
                multi.remove_handle(c)
                if c.getinfo(pycurl.RESPONSE_CODE) == 200:
                    total[0] += counts[id(c)]
                else:
                    total[1] += 1
                free.append(c)
            for c, _code, msg in failed:
                multi.remove_handle(c)
                print(f"error: {msg}", file=sys.stderr)
                total[1] += 1
                free.append(c)
            if not queued:
                break
        if (todo and free) or not (todo or len(free) < conc):
            continue  # handles freed by this perform start at once, not after a select
        multi.select(0.1)
    return total[0], total[1]


LIBS = {"urllib3": run_urllib3, "aiohttp": run_aiohttp, "pycurl": run_pycurl, "httpx": run_httpx,
        "niquests": run_niquests, "net": run_net}


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("lib", choices=sorted(LIBS))
    p.add_argument("workload", choices=["docs", "files"])
    p.add_argument("urlfile")
    p.add_argument("--procs", type=int, default=3)
    p.add_argument("--conc", type=int, default=4)
    args = p.parse_args(argv)
    with open(args.urlfile, encoding="utf-8") as fh:
        urls = [line.strip() for line in fh if line.strip()]
    run = LIBS[args.lib]
    pids = []
    read_fds = []
    for i in range(args.procs):
        share = urls[i :: args.procs]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            got, errors = run(share, args.conc, args.workload == "files")
            os.write(w, json.dumps([len(share), got, errors]).encode())
            os._exit(0)
        os.close(w)
        pids.append(pid)
        read_fds.append(r)
    requests = received = errors = 0
    for pid, r in zip(pids, read_fds):
        with os.fdopen(r, "rb") as fh:
            doc = json.loads(fh.read() or b"[0, 0, 1]")
        os.waitpid(pid, 0)
        requests += doc[0]
        received += doc[1]
        errors += doc[2]
    print(json.dumps({"requests": requests, "bytes": received, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
