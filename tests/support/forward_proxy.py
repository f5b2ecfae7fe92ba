"""A real forward proxy (Debian's tinyproxy) on 127.0.0.1 for the proxy tests.

Why tinyproxy: small, a package on every Debian (scripts/setup-host.sh installs it), forwards
plain http and tunnels https with CONNECT, and can bind its outgoing connections to another
loopback address (`Bind`), which lets an upstream that accepts only that address prove a request
came through the proxy. It cannot listen on port 0, so a free port is picked just before it starts.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

OUTGOING = "127.0.0.2"  # the address the proxy connects from


class ForwardProxy:
    """`ForwardProxy(dir, connect_ports=None).start()`; `url` to use it.

    `connect_ports`: ports CONNECT may reach (None: any); a CONNECT elsewhere is refused (403).
    """

    def __init__(self, directory: Path, connect_ports: list[int] | None = None) -> None:
        binary = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
        if not Path(binary).exists():
            raise RuntimeError("tinyproxy is not installed: run scripts/setup-host.sh (apt-get install tinyproxy)")
        self.binary = binary
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.connect_ports = connect_ports
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        lines = ["User nobody", "Group nogroup", f"Port {self.port}", "Listen 127.0.0.1", f"Bind {OUTGOING}",
                 "Timeout 30", "MaxClients 32", "Allow 127.0.0.1", "LogLevel Warning",
                 "DisableViaHeader Yes"]
        lines += [f"ConnectPort {p}" for p in self.connect_ports or []]
        conf = self.dir / "tinyproxy.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self) -> "ForwardProxy":
        for _ in range(5):  # the free port may be taken between the probe and tinyproxy's bind
            self.port = free_port()
            self.proc = subprocess.Popen([self.binary, "-d", "-c", str(self._config())],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if wait_listening(self.port, self.proc):
                return self
            self.stop()
        raise RuntimeError(f"tinyproxy did not start (config: {self.dir / 'tinyproxy.conf'})")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> "ForwardProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
