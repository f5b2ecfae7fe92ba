"""The shared upstream: ``tests.fakepypi`` (via ``bench.fake_runner``) in its own process, driven by its control API.

Why a separate process: the fake must not share a GIL with the orchestrator, and on a 2-core
machine it competes with the client under test, so it is pinned to the last core (the clients
float). Bytes received by a client are what the fake's request log says it sent (response bodies)
between ``clear_log()`` and ``take_bytes()``; runs never overlap, so the log holds one run.
Only ever binds and talks to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import measure

REPO = Path(__file__).resolve().parent.parent
REQUEST_LOG_CAP = 100_000  # FakePyPI's default request log size (the CLI does not change it)


def _pin_and_prioritise(cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    measure.raise_priority()


class UpstreamError(RuntimeError):
    pass


@dataclass(frozen=True)
class Traffic:
    """What one client run asked of the upstream, from the fake's request log."""

    bytes: int  # response body bytes sent (compressed where gzipped)
    requests: int
    index_fetches: int  # GETs of the root index /simple/ (a reconcile or bandersnatch's change check)


class Upstream:
    def __init__(self, *, projects: int, releases: int, files: int, file_size: int,
                 index_projects: int = 0, seed: int = 0, pin: bool = True,
                 log_path: Path | None = None) -> None:
        argv = [sys.executable, "-m", "bench.fake_runner", "--host", "127.0.0.1", "--port", "0",
                "--projects", str(projects), "--releases", str(releases), "--files", str(files),
                "--file-size", str(file_size), "--seed", str(seed)]
        if index_projects:
            argv += ["--index-projects", str(index_projects)]
        self.argv = argv
        self.log_path = log_path
        self.pinned_cpus: set[int] | None = None
        if pin and (os.cpu_count() or 1) >= 2:
            self.pinned_cpus = {(os.cpu_count() or 1) - 1}
        cpus = self.pinned_cpus
        self._stderr = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            argv, cwd=REPO, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            # set before exec so every thread of the server inherits the mask
            preexec_fn=lambda: _pin_and_prioritise(cpus),
        )
        line = self.proc.stdout.readline().strip() if self.proc.stdout else ""
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise UpstreamError(f"fake upstream did not start (got {line!r}); see {log_path}")
        self.url = line.rstrip("/")

    # --------------------------------------------------------------- control
    def _call(self, method: str, endpoint: str, doc: dict | None = None, timeout: float = 600) -> dict:
        data = json.dumps(doc or {}).encode() if method == "POST" else None
        req = urllib.request.Request(f"{self.url}/_fake/{endpoint}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # loopback only
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise UpstreamError(f"fake upstream {method} {endpoint} {doc or ''}: HTTP {exc.code} {detail}") from None

    def state(self) -> dict:
        return self._call("GET", "state")

    @property
    def last_serial(self) -> int:
        return int(self.state()["last_serial"])

    def projects(self) -> dict[str, dict]:
        return self._call("GET", "projects")["projects"]

    def clear_log(self) -> None:
        self._call("POST", "clear-log")

    def take_traffic(self) -> Traffic:
        """Traffic since the last ``clear_log``; clears the log again."""
        reqs = self._call("GET", "requests")["requests"]
        self.clear_log()
        if len(reqs) >= REQUEST_LOG_CAP:
            print(f"bench: warning: request log full ({len(reqs)}), bytes undercounted",
                  file=sys.stderr)
        index = sum(1 for r in reqs if r["method"] == "GET" and r["path"] in ("/simple/", "/simple"))
        return Traffic(sum(int(r.get("bytes") or 0) for r in reqs), len(reqs), index)

    def set_wan(self, doc: dict) -> dict:
        """Switch the fake's WAN shaping (``{"profile": "wan"|"off", knob: value}``); returns it."""
        return self._call("POST", "wan", doc)["wan"]

    def cpu_seconds(self) -> float:
        """User + system CPU the fake has used so far (all threads), from /proc."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def upload(self, name: str, version: str, file_size: int | None = None) -> int:
        doc: dict = {"name": name, "version": version}
        if file_size is not None:
            doc["file_size"] = file_size
        return int(self._call("POST", "upload", doc)["last_serial"])

    def yank(self, name: str, version: str, reason: str = "bench") -> int:
        return int(self._call("POST", "yank", {"name": name, "version": version,
                                               "reason": reason})["last_serial"])

    def remove_project(self, name: str) -> int:
        return int(self._call("POST", "remove-project", {"name": name})["last_serial"])

    def warm(self, path: str, accept: str | None = None, gzip: bool = False) -> float:
        """GET a page once so a lazily built, cached page (or its gzipped copy) is not charged
        to the first client."""
        start = time.perf_counter()
        headers = {"Accept": accept} if accept else {}
        if gzip:
            headers["Accept-Encoding"] = "gzip"
        req = urllib.request.Request(self.url + path, headers=headers)
        with urllib.request.urlopen(req, timeout=600) as resp:
            while resp.read(1 << 20):
                pass
        return time.perf_counter() - start

    def corpus_paths(self) -> list[str]:
        """Every URL path a client fetches for the explicit projects: JSON pages, files and
        PEP 658 metadata."""
        paths = []
        for norm, info in self.projects().items():
            paths.append(f"/pypi/{norm}/json")
            if info["name"] != norm:
                paths.append(f"/pypi/{info['name']}/json")
            for rel in info["releases"].values():
                for f in rel["files"]:
                    paths.append(f["path"])
                    if f.get("metadata_sha256"):
                        paths.append(f["path"] + ".metadata")
        return paths

    def warm_corpus(self, workers: int = 4) -> tuple[int, float]:
        """Fetch every corpus URL once (untimed) so the fake's caches hold them."""
        paths = self.corpus_paths()
        netloc = self.url.split("//", 1)[1]
        lock = threading.Lock()
        start = time.perf_counter()

        def worker() -> None:
            conn = http.client.HTTPConnection(netloc, timeout=600)
            while True:
                with lock:
                    if not paths:
                        break
                    path = paths.pop()
                conn.request("GET", path)
                resp = conn.getresponse()
                while resp.read(1 << 20):
                    pass
            conn.close()

        total = len(paths)
        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.clear_log()
        return total, time.perf_counter() - start

    # ------------------------------------------------------------- lifecycle
    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if hasattr(self._stderr, "close"):
            self._stderr.close()

    def __enter__(self) -> "Upstream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
