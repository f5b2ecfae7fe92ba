"""pytest fixtures for the fake PyPI upstream; ``tests/conftest.py`` star-imports this module."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from .server import FakePyPI

__all__ = ["fakepypi", "fakepypi_factory"]


@pytest.fixture
def fakepypi() -> Iterator[FakePyPI]:
    """A started server with the default corpus (8 projects: every special case), stopped after."""
    server = FakePyPI().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fakepypi_factory() -> Iterator[Callable[..., FakePyPI]]:
    """``fakepypi_factory(**FakePyPI kwargs)`` -> a started server; all are stopped at teardown."""
    servers: list[FakePyPI] = []

    def make(**kwargs: Any) -> FakePyPI:
        server = FakePyPI(**kwargs).start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()
