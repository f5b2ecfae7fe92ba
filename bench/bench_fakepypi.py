"""Throughput of the fake PyPI upstream: small keep-alive GETs per second on loopback.

Why a bench and not a test: speed is never asserted in tests. The peer, measured in the same run,
is a static file server serving the very same bytes pre-rendered to disk: nginx (one worker, the
server the mirrors themselves use) when installed, else the standard library's threaded
``http.server`` (HTTP/1.1, Nagle off like ours). The ratio says what the dynamic origin
(negotiation, serials, CDN pins, fault hooks, request log) costs over static serving. Both run
in their own process so client and server do not share a GIL; client worker processes each keep
one HTTP/1.1 connection open and loop over a mix of simple pages (HTML and PEP 691 JSON), JSON
API documents and ``.metadata`` files.

Run from the repo root: ``python bench/bench_fakepypi.py [--seconds 5] [--clients 2] [--peer auto]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
V1_JSON = "application/vnd.pypi.simple.v1+json"

Workload = list[tuple[str, str]]  # (path, Accept)


def _get(host: str, port: int, path: str, accept: str) -> bytes:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", path, headers={"Accept": accept})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit(f"bench: GET {path}: HTTP {resp.status}")
        return body
    finally:
        conn.close()


def _worker(args: tuple[str, int, Workload, float]) -> int:
    host, port, paths, seconds = args
    conn = http.client.HTTPConnection(host, port, timeout=30)
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for path, accept in paths:
            conn.request("GET", path, headers={"Accept": accept})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise SystemExit(f"bench: {path}: HTTP {resp.status}")
            done += 1
    conn.close()
    return done


def _measure(host: str, port: int, paths: Workload, clients: int, seconds: float) -> float:
    start = time.perf_counter()
    with multiprocessing.Pool(clients) as pool:
        counts = pool.map(_worker, [(host, port, paths, seconds)] * clients)
    return sum(counts) / (time.perf_counter() - start)


def _workloads(host: str, port: int, projects: int) -> tuple[Workload, Workload, dict[str, bytes]]:
    """(fakepypi workload, peer workload, peer files relative path -> bytes)."""
    index = json.loads(_get(host, port, "/_fake/projects", "application/json"))["projects"]
    ours: Workload = []
    peer: Workload = []
    files: dict[str, bytes] = {}
    for norm, info in list(index.items())[:projects]:
        page = f"/simple/{norm}/"
        ours.append((page, "text/html"))
        peer.append((page, "text/html"))
        files[f"simple/{norm}/index.html"] = _get(host, port, page, "text/html")
        ours.append((page, V1_JSON))
        peer.append((page + "index.json", V1_JSON))
        files[f"simple/{norm}/index.json"] = _get(host, port, page, V1_JSON)
        if info["releases"]:
            api = f"/pypi/{norm}/json"
            ours.append((api, "application/json"))
            peer.append((api, "application/json"))
            files[api.lstrip("/")] = _get(host, port, api, "application/json")
            for rel in info["releases"].values():
                for f in rel["files"]:
                    if f["metadata_sha256"]:
                        meta = f["path"] + ".metadata"
                        ours.append((meta, "*/*"))
                        peer.append((meta, "*/*"))
                        files[meta.lstrip("/")] = _get(host, port, meta, "*/*")
    return ours, peer, files


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("bench: peer server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench: peer server did not start")


STDLIB_PEER = """
import http.server, sys
http.server.SimpleHTTPRequestHandler.protocol_version = "HTTP/1.1"
http.server.SimpleHTTPRequestHandler.disable_nagle_algorithm = True
http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=sys.argv[2], **k)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def _nginx_peer(tmp: str, www: str, port: int) -> list[str]:
    user = "user root;" if os.geteuid() == 0 else ""
    temp = {name: Path(tmp, name) for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    conf = Path(tmp, "nginx.conf")
    conf.write_text(f"""
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  types {{ text/html html; application/json json; }}
  default_type application/octet-stream;
  keepalive_requests 100000000;
  client_body_temp_path {temp["body"]}; proxy_temp_path {temp["proxy"]};
  fastcgi_temp_path {temp["fastcgi"]}; uwsgi_temp_path {temp["uwsgi"]}; scgi_temp_path {temp["scgi"]};
  server {{ listen 127.0.0.1:{port}; root {www}; index index.html; }}
}}
""")
    return [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per server (5)")
    parser.add_argument("--clients", type=int, default=2, help="client processes, one connection each (2)")
    parser.add_argument("--projects", type=int, default=10, help="projects in the workload (10)")
    parser.add_argument("--peer", choices=["auto", "nginx", "stdlib"], default="auto",
                        help="static peer: nginx if installed (auto), or the stdlib http.server")
    args = parser.parse_args()
    peer_kind = args.peer
    if peer_kind == "auto":
        peer_kind = "nginx" if shutil.which("nginx") else "stdlib"

    ours_proc = subprocess.Popen([sys.executable, "-m", "tests.fakepypi", "--projects", "20"],
                                 cwd=ROOT, stdout=subprocess.PIPE, text=True)
    peer_proc: subprocess.Popen | None = None
    try:
        url = urlsplit(ours_proc.stdout.readline().strip())  # type: ignore[union-attr]
        host, port = url.hostname or "127.0.0.1", url.port or 0
        ours, peer, files = _workloads(host, port, args.projects)
        ours_rate = _measure(host, port, ours, args.clients, args.seconds)
        ours_proc.terminate()
        ours_proc.wait(timeout=10)

        with tempfile.TemporaryDirectory(prefix="bench-fakepypi-") as tmp:
            www = Path(tmp, "www")
            for rel, data in files.items():
                target = www / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            peer_port = _free_port()
            if peer_kind == "nginx":
                argv = _nginx_peer(tmp, str(www), peer_port)
            else:
                argv = [sys.executable, "-c", STDLIB_PEER, str(peer_port), str(www)]
            peer_proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _wait_listening(peer_port, peer_proc)
            peer_rate = _measure("127.0.0.1", peer_port, peer, args.clients, args.seconds)
            peer_proc.terminate()
            peer_proc.wait(timeout=10)
    finally:
        for proc in (ours_proc, peer_proc):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
    print(f"workload: {len(ours)} URLs (simple HTML + JSON, JSON API, .metadata), "
          f"{args.clients} keep-alive clients, {args.seconds:g} s each")
    print(f"fakepypi:            {ours_rate:8.0f} GET/s")
    print(f"peer ({peer_kind}):{' ' * (13 - len(peer_kind))}{peer_rate:8.0f} GET/s (same bytes, static files)")
    print(f"ratio fakepypi/peer: {ours_rate / peer_rate:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
