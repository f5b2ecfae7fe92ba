"""The bench's meters: the whole process tree's memory is summed, and the WAN limit is the larger
of the bandwidth and the latency bound. No timings are asserted."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.limits import Wan, limit
from bench.measure import run_measured
from bench.treemem import TreePeak

# A parent that forks two children; each of the three touches 40 MiB and waits for stdin to close.
FAMILY = textwrap.dedent("""
    import os, sys
    for _ in range(2):
        if os.fork() == 0:
            break
    block = bytearray(40 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    os.write(1, b"ready\\n")
    sys.stdin.read()
""")
MIB = 1024


def test_tree_peak_sums_every_process_of_the_group() -> None:
    proc = subprocess.Popen([sys.executable, "-c", FAMILY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        for _ in range(3):
            assert proc.stdout.readline().strip() == "ready"
        peak = TreePeak(proc.pid).start()
        deadline = time.monotonic() + 30  # a wait for the poller, not a timing assert
        while peak.peak_kib < 3 * 40 * MIB and time.monotonic() < deadline:
            time.sleep(0.05)
        peak.stop()
        assert peak.peak_kib >= 3 * 40 * MIB
        assert peak.peak_processes == 3
    finally:
        proc.communicate("")


def test_run_measured_reports_the_tree_not_the_largest_process(tmp_path: Path) -> None:
    script = tmp_path / "family.py"
    script.write_text(FAMILY.replace("sys.stdin.read()", "import time; time.sleep(1.5)"))
    result = run_measured([sys.executable, str(script)], tmp_path / "family.log")
    assert result.ok
    assert result.peak_rss_kib >= 40 * MIB  # one process
    assert result.tree_rss_kib >= 2 * 40 * MIB  # at least two of the three were sampled together
    assert result.tree_rss_kib > result.peak_rss_kib


WAN = Wan(rtt=0.04, setup_rtts=2, conn_mbit=200.0, link_mbit=1000.0, gzip=True)


def test_limit_is_latency_bound_for_many_small_requests() -> None:
    got = limit(WAN, nbytes=1_000_000, requests=3000, concurrency=3)
    assert got.bound == "latency" and abs(got.seconds - (2 + 1000) * 0.04) < 1e-9
    # one request on a new https connection: TCP, TLS, then the request's own round trip
    assert abs(limit(WAN, 100, 1, 3).seconds - 3 * 0.04) < 1e-9


def test_limit_is_bandwidth_bound_for_big_files_and_counts_the_per_connection_cap() -> None:
    got = limit(WAN, nbytes=600_000_000, requests=100, concurrency=3)
    # three connections at 200 Mbit/s cannot fill the 1 Gbit/s link: 75 MB/s
    assert got.bound == "bandwidth" and abs(got.seconds - 600_000_000 / 75e6) < 1e-9
    assert abs(limit(WAN, 600_000_000, 100, 10).seconds - 600_000_000 / 125e6) < 1e-9


def test_describe_names_every_knob() -> None:
    text = WAN.describe()
    assert "40 ms" in text and "TCP + TLS" in text and "200 Mbit/s" in text and "1000 Mbit/s" in text
