"""Issue 14's targets, judged from one run's rows (ours against bandersnatch 8.2.0, same run,
same ``workers``, on the WAN profile)."""

from __future__ import annotations

from dataclasses import dataclass

from .report import Row, fmt_mib, fmt_s, fmt_x

#: "memory that does not grow with the number of files beyond a small per-project record"
VERIFY_KIB_PER_PROJECT = 1.0


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: not measured in this run


def _row(rows: list[Row], kind: str, size: int | None = None, largest: bool = False) -> Row | None:
    found = [r for r in rows if r.kind == kind and (size is None or r.size == size) and (r.ours or r.theirs)]
    if not found:
        return None
    return max(found, key=lambda r: r.size or 0) if largest else found[0]


def _sizes(rows: list[Row], kind: str) -> list[int]:
    return sorted({r.size for r in rows if r.kind == kind and r.size and r.ours_med("wall_s")})


def judge(rows: list[Row]) -> list[Verdict]:
    out = []
    full = _row(rows, "full")
    if full:
        sp, lim, ours = full.speedup(), full.limit(), full.ours_med("wall_s")
        of_limit = ours / lim.seconds if ours and lim and lim.seconds else None
        out.append(Verdict("Full sync: >= 4x faster, within 1.5x of the link/latency limit",
                           f"{fmt_x(sp)}; ours {fmt_s(ours)} s = {fmt_x(of_limit)} the limit "
                           f"({fmt_s(lim.seconds) if lim else '—'} s)",
                           None if sp is None or of_limit is None else sp >= 4 and of_limit <= 1.5))
        rss = full.rss_ratio()
        out.append(Verdict("Whole-tree peak RSS during a full sync: at most bandersnatch's",
                           f"ours {fmt_mib(full.ours_med('tree_rss_kib'))} MiB vs {fmt_mib(full.theirs_med('tree_rss_kib'))}"
                           f" MiB ({fmt_x(rss)})", None if rss is None else rss <= 1.0))
    inc_sizes = _sizes(rows, "incremental")
    big = _row(rows, "incremental", 100_000) or _row(rows, "incremental", largest=True)
    small = _row(rows, "incremental", inc_sizes[0]) if inc_sizes else None
    if big:
        sp = big.speedup()
        growth = (big.ours_med("wall_s") / small.ours_med("wall_s")
                  if small and small is not big and small.ours_med("wall_s") else None)
        text = f"{fmt_x(sp)} at {big.size:,}"
        if growth is not None and small:
            text += f"; ours at {big.size:,} = {fmt_x(growth)} ours at {small.size:,}"
        out.append(Verdict("Incremental run (50 changes) on the large mirror: >= 10x faster; at 100,000 "
                           "<= 1.5x its time at 10,000", text,
                           None if sp is None else sp >= 10 and (growth is None or growth <= 1.5)))
    rec = _row(rows, "reconcile", 700_000) or _row(rows, "reconcile", largest=True)
    if rec:
        ours, theirs, rss = rec.ours_med("wall_s"), rec.theirs_med("wall_s"), rec.rss_ratio()
        size_note = "" if rec.size == 700_000 else f" (largest index measured: {rec.size:,}; target is at 700,000)"
        out.append(Verdict("Daily reconcile against a 700,000-project index: faster than bandersnatch's ordinary "
                           "run, at most half its peak memory",
                           f"ours {fmt_s(ours)} s vs {fmt_s(theirs)} s; RSS {fmt_x(rss)}{size_note}",
                           None if not ours or not theirs or rss is None or rec.size != 700_000
                           else ours < theirs and rss <= 0.5))
    noops = [r for r in rows if r.kind == "noop" and r.speedup() is not None]
    if noops:
        worst = min(noops, key=lambda r: r.speedup() or 0)
        text = "; ".join(f"{fmt_x(r.speedup())} at {r.size:,}" for r in sorted(noops, key=lambda r: r.size or 0))
        out.append(Verdict("No-op through pypi-mirror-run: >= 20x faster", text, (worst.speedup() or 0) >= 20))
    ver = _row(rows, "verify", 100_000) or _row(rows, "verify", largest=True)
    if ver:
        sp = ver.speedup()
        sizes = _sizes(rows, "verify")
        per_project = None
        if len(sizes) >= 2:
            lo, hi = _row(rows, "verify", sizes[0]), _row(rows, "verify", sizes[-1])
            a, b = lo.ours_med("tree_rss_kib") if lo else None, hi.ours_med("tree_rss_kib") if hi else None
            if a and b:
                per_project = (b - a) / (sizes[-1] - sizes[0])
        text = f"{fmt_x(sp)} at {ver.size:,}"
        if per_project is not None:
            text += f"; ours' tree RSS grows {per_project * 1024:.0f} B per project ({sizes[0]:,} -> {sizes[-1]:,})"
        out.append(Verdict(f"verify of the large mirror: >= 3x faster, memory growth <= {VERIFY_KIB_PER_PROJECT:g} KiB "
                           "per project", text,
                           None if sp is None or per_project is None
                           else sp >= 3 and per_project <= VERIFY_KIB_PER_PROJECT))
    return out


def table(verdicts: list[Verdict]) -> list[str]:
    out = ["| target | measured | verdict |", "|---|---|---|"]
    for v in verdicts:
        verdict = "not measured" if v.met is None else "met" if v.met else "**MISSED**"
        out.append(f"| {v.target} | {v.measured} | {verdict} |")
    return out
