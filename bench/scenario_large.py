"""A mirror that already holds a large registry: incremental run, daily reconcile, no-op, status,
verify; the same at every size so that the growth from 10,000 projects up shows.

Order within a size: the trees are built or reused (untimed, ``tree_build.py``), each tool runs
once untimed to catch up (a cached tree may have a reconcile due), then with the WAN profile on:
the incremental runs (each repetition the upstream gets one more batch of 50 changed projects,
then both tools sync it), the no-op runs, ours' reconcile runs, ``status``, and ``verify``.

Ours' reconcile run is the same ``pypi-mirror-run`` with the role's reconcile interval set to 0
(``reconcile-interval = 0`` in its rendered config: due on every run), which takes the code path
the daily reconcile takes once 24 hours have passed. bandersnatch 8.2.0 has no separate
reconcile: every run of it fetches and diffs the whole index, so its ordinary (no-op) run is the
figure the reconcile is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import changes
from .limits import Wan
from .report import Row
from .runner import Runner
from .tree_build import LargeMirrors, LargeSpec
from .upstream import Upstream

V1_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class LargePlan:
    spec: LargeSpec
    reps: int
    verify_reps: int  # 0: no verify at this size


def warm(up: Upstream, wan_doc: dict) -> None:
    """Untimed: the explicit corpus and the root index in every form the tools ask for."""
    up.set_wan({"profile": "off"})
    up.warm_corpus()
    for gzip in (False, True):
        up.warm("/simple/", V1_JSON, gzip=gzip)
    up.warm("/simple/", "text/html")
    up.clear_log()
    up.set_wan(wan_doc)


def large_mirror(runner: Runner, plan: LargePlan, workers: int, wan_doc: dict, pin: bool, work: Path) -> list[Row]:
    spec, log = plan.spec, runner.log
    n = f"{spec.projects // 1000}k"
    pages = " (pages only)" if spec.pages_only else ""
    rows = {
        "incremental": Row(f"inc-{n}", "incremental", f"incremental, {changes.PER_BATCH} changed projects, "
                                                      f"{spec.projects:,}-project mirror{pages}", spec.projects),
        "noop": Row(f"noop-{n}", "noop", f"no-op, {spec.projects:,}-project mirror{pages}", spec.projects),
        "reconcile": Row(f"reconcile-{n}", "reconcile", f"daily reconcile (ours) vs ordinary run (bandersnatch), "
                                                        f"{spec.projects:,}-project index{pages}", spec.projects),
        "status": Row(f"status-{n}", "status", f"status, {spec.projects:,}-project mirror{pages}", spec.projects,
                      latency_bound=False),
        "verify": Row(f"verify-{n}", "verify", f"verify, {spec.projects:,}-project mirror", spec.projects,
                      latency_bound=False),
    }
    for row in rows.values():
        row.concurrency = workers
    with Upstream(pin=pin, log_path=runner.logs / f"upstream-{spec.key}.log", **spec.upstream_kwargs()) as up:
        runner.commands.append(f"upstream {spec.key}: " + " ".join(up.argv[1:]))
        mirrors = LargeMirrors(spec, runner.tools, work, runner.logs, log)
        confs = mirrors.ensure(up)
        reconcile_confs = {t.short: t.configure(f"{spec.key}-reconcile", t.tree(spec.key), up.url,
                                                pypi_mirror_reconcile_interval=0) for t in runner.tools}
        for tool in runner.tools:
            res = tool.mirror(confs[tool.short], runner.logs / f"catchup-{tool.short}-{spec.key}.log")
            if not res.ok:
                runner.failures.append(f"{spec.key} {tool.short}: untimed catch-up run exit {res.exit_code}")
        warm(up, wan_doc)
        wan = Wan.from_doc(up.set_wan(wan_doc))
        for row in rows.values():
            row.wan = wan
        names = changes.targets(up)
        log(f"bench: {spec.key}: incremental runs")
        for rep in range(plan.reps):
            batch = int(mirrors.manifest.doc.get("batches", 0)) + 1
            up.set_wan({"profile": "off"})
            mirrors.record_batch(batch, changes.apply_batch(up, batch, names))
            warm(up, wan_doc)
            for tool in runner.order(rep):
                runner.run(rows["incremental"], tool, up,
                           lambda: tool.mirror(confs[tool.short], runner.logs / f"inc-{tool.short}-{spec.key}-{rep}.log"))
        _repeat(runner, rows["noop"], up, plan.reps, lambda tool, rep: tool.mirror(
            confs[tool.short], runner.logs / f"noop-{tool.short}-{spec.key}-{rep}.log"))
        ours = [t for t in runner.tools if t.short == "ours"]
        for rep in range(plan.reps):
            for tool in ours:
                runner.run(rows["reconcile"], tool, up, lambda: tool.mirror(
                    reconcile_confs[tool.short], runner.logs / f"reconcile-{tool.short}-{spec.key}-{rep}.log"))
        rows["reconcile"].theirs = list(rows["noop"].theirs)
        if any(s.ok and not s.index_fetches for s in rows["reconcile"].ours):
            runner.failures.append(f"{spec.key}: ours' reconcile run did not fetch the index (no reconcile happened)")
        _repeat(runner, rows["status"], up, plan.reps, lambda tool, rep: tool.status(
            confs[tool.short], runner.logs / f"status-{tool.short}-{spec.key}-{rep}.log"))
        _repeat(runner, rows["verify"], up, plan.verify_reps, lambda tool, rep: tool.verify(
            confs[tool.short], runner.logs / f"verify-{tool.short}-{spec.key}-{rep}.log"))
    runner.note("daily reconcile rows: bandersnatch's figures are the same runs as its no-op row (8.2.0 fetches "
                "and diffs the whole index on every run, so its ordinary run is its reconcile); ours is "
                "`pypi-mirror-run` with the role's reconcile interval set to 0, the path the daily reconcile takes")
    if spec.pages_only:
        runner.note(f"the {spec.projects:,}-project trees hold every project's pages but not its release files or "
                    "JSON copies (two full trees do not fit this volume's inodes); no-op, incremental and reconcile "
                    "runs of either tool never open those, and verify is not run at that size")
    return [r for r in rows.values() if r.ours or r.theirs]


def _repeat(runner: Runner, row: Row, up: Upstream, reps: int, call) -> None:  # type: ignore[no-untyped-def]
    for rep in range(reps):
        for tool in runner.order(rep):
            runner.run(row, tool, up, lambda: call(tool, rep))
