"""Fault injection: the failures a mirror must survive without losing data.

A rule selects requests by exact path, path prefix or regex (none: every request except the
control API), fires for a seeded random ``fraction`` of them, optionally only ``count`` times, and
then answers an HTTP ``status`` (500/503...), cuts the connection mid-body (``cut``), serves bytes
that do not match the advertised sha256 (``bad_hash``), or only adds ``latency`` seconds (any rule
may add latency on top of its effect).
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

KINDS = ("status", "cut", "bad_hash", "latency")


@dataclass
class FaultRule:
    id: int
    kind: str
    path: str | None = None
    prefix: str | None = None
    regex: str | None = None
    status: int = 500
    fraction: float = 1.0
    count: int | None = None
    latency: float = 0.0
    hits: int = 0
    _compiled: re.Pattern | None = field(default=None, repr=False)

    def selects(self, path: str) -> bool:
        if self.path is not None and path != self.path:
            return False
        if self.prefix is not None and not path.startswith(self.prefix):
            return False
        if self._compiled is not None and not self._compiled.search(path):
            return False
        return True

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in
                ("id", "kind", "path", "prefix", "regex", "status", "fraction", "count", "latency", "hits")}


@dataclass
class FaultDecision:
    latency: float = 0.0
    status: int | None = None
    cut: bool = False
    bad_hash: bool = False
    rule_ids: list[int] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.rule_ids)


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        *,
        path: str | None = None,
        prefix: str | None = None,
        regex: str | None = None,
        status: int = 500,
        fraction: float = 1.0,
        count: int | None = None,
        latency: float = 0.0,
    ) -> int:
        if kind not in KINDS:
            raise ValueError(f"fault kind must be one of {KINDS}, not {kind!r}")
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError("fraction must be within 0..1")
        if count is not None and int(count) < 1:
            raise ValueError("count must be >= 1 (or None for unlimited)")
        if kind == "status" and not 100 <= int(status) <= 599:
            raise ValueError("status must be an HTTP status code")
        with self._lock:
            rule = FaultRule(self._next_id, kind, path, prefix, regex, int(status), float(fraction),
                             None if count is None else int(count), float(latency),
                             _compiled=re.compile(regex) if regex else None)
            self._next_id += 1
            self._rules.append(rule)
            return rule.id

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]

    def list(self) -> list[dict]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def decide(self, path: str) -> FaultDecision:
        """Which faults fire for this request; consumes ``count`` of the rules that fire."""
        decision = FaultDecision()
        if not self._rules:
            return decision
        with self._lock:
            for rule in list(self._rules):
                if not rule.selects(path):
                    continue
                if rule.fraction < 1.0 and self._rng.random() >= rule.fraction:
                    continue
                rule.hits += 1
                decision.rule_ids.append(rule.id)
                decision.latency += rule.latency
                if rule.kind == "status" and decision.status is None and not decision.cut:
                    decision.status = rule.status
                elif rule.kind == "cut" and decision.status is None:
                    decision.cut = True
                elif rule.kind == "bad_hash":
                    decision.bad_hash = True
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
        return decision


def corrupt(data: bytes) -> bytes:
    """Same length, different bytes: a hash mismatch a client can only catch by hashing."""
    if not data:
        return data
    buf = bytearray(data)
    for pos in {0, len(buf) // 2, len(buf) - 1}:
        buf[pos] ^= 0xFF
    return bytes(buf)
