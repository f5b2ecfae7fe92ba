"""A local PyPI upstream (Warehouse origin + CDN) for tests, benches and test hosts.

Standard library only. See README.md in this directory.
"""

from .server import FakePyPI

__all__ = ["FakePyPI"]
