"""Shared pytest fixtures: the local PyPI upstream (see tests/fakepypi/README.md)."""

from tests.fakepypi.fixtures import *  # noqa: F401,F403
