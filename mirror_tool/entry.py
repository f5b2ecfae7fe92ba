"""Entry point of `pypi-mirror`: the no-op fast path first, the full CLI otherwise.

Kept apart from cli.py so that a run which turns out to be a no-op never imports argparse,
logging, the config parser or the sync engine (see noop_fastpath.py for why that matters).
"""

from __future__ import annotations


def main(argv: "list[str] | None" = None) -> int:  # no `typing` import: it costs a no-op ~5 ms
    from mirror_tool.noop_fastpath import try_noop

    code = try_noop(None if argv is None else list(argv))
    if code is not None:
        return code
    from mirror_tool.cli import main as full_main

    return full_main(argv)
