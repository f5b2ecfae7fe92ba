"""`each`: one function over a batch of storage requests, on threads when the storage gains
from it (an object store answers each request after a round trip; a filesystem does not)."""

from __future__ import annotations

import concurrent.futures as cf
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def each(func: Callable[[T], R], items: Sequence[T], concurrency: int) -> list[R]:
    """`func` over `items`, in order; on `concurrency` threads when the storage gains from it
    (an object store: one round trip per request). Every call has returned when this returns."""
    if concurrency <= 1 or len(items) <= 1:
        return [func(item) for item in items]
    with cf.ThreadPoolExecutor(min(concurrency, len(items)), thread_name_prefix="publish") as pool:
        return list(pool.map(func, items))


__all__ = ["each"]
