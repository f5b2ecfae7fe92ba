"""Configuration: the key table (schema.py), the loader, `check-config` and the generators.

The public names below are what the rest of the package imports; schema details stay inside.
"""

from __future__ import annotations

from mirror_tool.config.loader import (
    DEFAULT_CONFIG_PATH,
    EXAMPLE_CONFIG,
    load_config,
    parse_config_text,
    write_example_config,
)
from mirror_tool.config.settings import Config, FilterSettings, MirrorSettings, WrapperSettings
from mirror_tool.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EXAMPLE_CONFIG",
    "Config",
    "ConfigError",
    "FilterSettings",
    "MirrorSettings",
    "WrapperSettings",
    "load_config",
    "parse_config_text",
    "write_example_config",
]
