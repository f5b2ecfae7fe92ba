"""A local PyPI upstream (Warehouse origin + CDN) for tests, benches and test hosts.

Standard library only. See README.md in this directory.
"""

from .server import FakePyPI
from .wan import OFF, WAN, WanProfile

__all__ = ["FakePyPI", "OFF", "WAN", "WanProfile"]
