"""Samples, rows and their medians, and the Markdown tables of ``bench/RESULTS.md``."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .limits import Limit, Wan, limit


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    tree_rss_kib: int  # peak of the whole process tree, summed
    rss_kib: int  # largest single process
    bytes_rx: int | None
    requests: int | None
    index_fetches: int | None
    ok: bool
    upstream_cpu_s: float | None = None
    load1: float | None = None


@dataclass
class Row:
    """One scenario at one size: both tools' samples and what bounds them."""

    key: str
    kind: str  # full | incremental | reconcile | noop | verify | status
    title: str
    size: int | None = None  # projects in the mirror (large scenarios)
    ours: list[Sample] = field(default_factory=list)
    theirs: list[Sample] = field(default_factory=list)
    note: str = ""
    wan: Wan | None = None
    concurrency: int = 1
    latency_bound: bool = True  # False: local work (verify, status), no network limit applies

    @staticmethod
    def med(samples: list[Sample], attr: str) -> float | None:
        values = [getattr(s, attr) for s in samples if s.ok and getattr(s, attr) is not None]
        return statistics.median(values) if values else None

    def ours_med(self, attr: str) -> float | None:
        return self.med(self.ours, attr)

    def theirs_med(self, attr: str) -> float | None:
        return self.med(self.theirs, attr)

    def speedup(self) -> float | None:
        ours, theirs = self.ours_med("wall_s"), self.theirs_med("wall_s")
        return theirs / ours if ours and theirs else None

    def rss_ratio(self) -> float | None:
        ours, theirs = self.ours_med("tree_rss_kib"), self.theirs_med("tree_rss_kib")
        return ours / theirs if ours and theirs else None

    def limit(self) -> Limit | None:
        if self.wan is None or not self.latency_bound:
            return None
        counts = [(self.med(s, "bytes_rx"), self.med(s, "requests")) for s in (self.ours, self.theirs)]
        counts = [(b, r) for b, r in counts if b is not None and r is not None]
        if not counts:
            return None
        return limit(self.wan, int(min(b for b, _ in counts)), int(min(r for _, r in counts)), self.concurrency)


def fmt_s(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def fmt_mib(kib: float | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f}"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "—"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:.1f} {unit}"
    return f"{b:.0f} B"


def fmt_x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def fmt_load(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def _n(samples: list[Sample]) -> str:
    return f"{sum(s.ok for s in samples)}/{len(samples)}"


def main_table(rows: list[Row]) -> list[str]:
    out = ["| scenario | ours s | bandersnatch s | speedup | limit s (bound) | ours / limit | bandersnatch / limit "
           "| ours CPU s | bandersnatch CPU s | ours tree RSS MiB | bandersnatch tree RSS MiB | RSS ours/theirs "
           "| ours requests, bytes | bandersnatch requests, bytes | n | load |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lim = r.limit()
        ow, tw = r.ours_med("wall_s"), r.theirs_med("wall_s")
        per = lambda w: fmt_x(w / lim.seconds) if (w and lim and lim.seconds) else "—"  # noqa: E731
        traffic = lambda s: (f"{fmt_s(r.med(s, 'requests')).split('.')[0]}, {fmt_bytes(r.med(s, 'bytes_rx'))}"  # noqa: E731
                             if r.med(s, "requests") is not None else "—")
        out.append(
            f"| {r.title} | {fmt_s(ow)} | {fmt_s(tw)} | {fmt_x(r.speedup())} "
            f"| {fmt_s(lim.seconds) + f' ({lim.bound})' if lim else '—'} | {per(ow)} | {per(tw)} "
            f"| {fmt_s(r.ours_med('cpu_s'))} | {fmt_s(r.theirs_med('cpu_s'))} "
            f"| {fmt_mib(r.ours_med('tree_rss_kib'))} | {fmt_mib(r.theirs_med('tree_rss_kib'))} | {fmt_x(r.rss_ratio())} "
            f"| {traffic(r.ours)} | {traffic(r.theirs)} | {_n(r.ours)} + {_n(r.theirs)} "
            f"| {fmt_load(r.med(r.ours + r.theirs, 'load1'))} |")
    return out


def growth_table(rows: list[Row]) -> list[str]:
    """Each large-mirror scenario across sizes: median wall time (and tree RSS) per size."""
    sizes = sorted({r.size for r in rows if r.size})
    if len(sizes) < 2:
        return []
    kinds = [k for k in ("incremental", "reconcile", "noop", "verify", "status") if any(r.kind == k for r in rows)]
    head = " | ".join(f"{s:,}" for s in sizes)
    out = [f"| scenario | tool | {head} | {sizes[-1]:,} / {sizes[0]:,} |",
           "|---|---|" + "---|" * (len(sizes) + 1)]
    for kind in kinds:
        for label, side in (("ours", "ours"), ("bandersnatch", "theirs")):
            cells, walls = [], []
            for size in sizes:
                row = next((r for r in rows if r.kind == kind and r.size == size), None)
                samples = getattr(row, side) if row else []
                wall, rss = Row.med(samples, "wall_s"), Row.med(samples, "tree_rss_kib")
                walls.append(wall)
                cells.append(f"{fmt_s(wall)} s, {fmt_mib(rss)} MiB" if wall is not None else "—")
            if all(w is None for w in walls):
                continue
            growth = fmt_x(walls[-1] / walls[0]) if walls[0] and walls[-1] else "—"
            out.append(f"| {kind} | {label} | {' | '.join(cells)} | {growth} |")
    return out
