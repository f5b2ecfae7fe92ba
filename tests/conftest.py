"""Shared pytest fixtures: the local PyPI upstream (see tests/fakepypi/README.md) and a real Swift."""

from tests.fakepypi.fixtures import *  # noqa: F401,F403
from tests.support.swift import swift, swift_bucket  # noqa: F401
