"""Which projects, releases and files the mirror keeps: one registered class per filter.

base.py defines `Filter`, `register` and the `FilterChain` that `load_filters(config)` builds from
the sections present in the config file; the modules below hold the built-in filters (bandersnatch's
section and key names). A new filter is one class decorated with `register` (and its docs).
Importing this package registers every built-in filter (the config loader imports it when it
meets a section it does not know yet).
"""

from mirror_tool.filters import projects, platforms, releases, size  # noqa: F401,I001  (registers them, in this order)
from mirror_tool.filters import requirements, prerelease, regex_project, project_metadata, metadata  # noqa: F401,I001
from mirror_tool.filters.base import Filter, FilterChain, check_filters, load_filters, register, unregister

__all__ = ["Filter", "FilterChain", "check_filters", "load_filters", "register", "unregister"]
