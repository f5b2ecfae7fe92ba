"""Fixtures of the objectstore scenario's verify step: the hosts, reached with `podman exec`."""

from __future__ import annotations

import pytest
import testinfra

from objstore import MIRRORS, SWIFT


@pytest.fixture(scope="session")
def swift_host():
    return testinfra.get_host(f"podman://{SWIFT}")


@pytest.fixture(scope="session")
def mirrors() -> dict:
    return {name: testinfra.get_host(f"podman://{name}") for name in MIRRORS}
