"""Config file -> validated `Config` (keys, types and defaults: schema.py).

Every section is parsed here, so the sync engine, the wrapper and the filters read one validated
object and never touch `configparser` themselves. Any problem raises `ConfigError` naming
`[section] key` before anything on disk is touched.
"""

from __future__ import annotations

import configparser
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mirror_tool.config.schema import CORE_SECTIONS, FILTER_KEYS, KEYS, Key
from mirror_tool.config.settings import Config, FilterSettings, MirrorSettings, WrapperSettings
from mirror_tool.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/pypi-mirror.conf")
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "example.conf"


def _read_ini(text: str, path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=True)
    try:
        parser.read_string(text, source=str(path))
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(exc.section, exc.option, "given more than once") from None
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(exc.section, "", "section given more than once") from None
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError("", "", f"line {exc.lineno}: text before the first [section] header") from None
    except configparser.Error as exc:
        problem = " ".join(str(exc).split())
        raise ConfigError("", "", f"cannot parse: {problem}") from None
    if parser.defaults():
        raise ConfigError("DEFAULT", next(iter(parser.defaults())), "unknown key ([DEFAULT] is not used)")
    return parser


def _parse_section(section: str, present: configparser.SectionProxy | dict[str, str]) -> dict[str, Any]:
    """key name -> value for every row of `section`: given keys parsed, the others defaulted."""
    rows = KEYS.section(section)
    for name in present:
        if KEYS.find(section, name) is None:
            raise ConfigError(section, name, "unknown key")
    values: dict[str, Any] = {}
    for row in rows:
        if row.name in present:
            try:
                values[row.name] = row.type.parse(present[row.name])
            except ValueError as exc:
                raise ConfigError(section, row.name, str(exc)) from None
        elif row.required:
            raise ConfigError(section, row.name, "missing (required)")
        else:
            values[row.name] = row.default
    return values


def _settings(rows: tuple[Key, ...], values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Keyword arguments of a settings class: its rows' values by attribute (absent: defaults)."""
    return {row.attr: values[row.section][row.name] for row in rows if row.attr and row.section in values}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_combinations(mirror: MirrorSettings, wrapper: WrapperSettings) -> None:
    """Rules that span keys (each key on its own is valid by then)."""
    if wrapper.purge_key_file is not None and wrapper.purge != "off":
        target = wrapper.purge_url or mirror.master
        parts = urlsplit(target)
        if parts.scheme != "https" and not _is_loopback(parts.hostname or ""):
            source = "purge-url" if wrapper.purge_url else "[mirror] master"
            raise ConfigError("wrapper", "purge-key-file",
                              f"a Fastly-Key is never sent over plain http, and PURGEs would go to {target} "
                              f"({source}): use an https purge-url, or remove the key")


def parse_config_text(text: str, path: Path) -> Config:
    """Parse and validate config `text` (the contents of `path`)."""
    parser = _read_ini(text, path)
    known = set(KEYS.sections())
    for section in parser.sections():
        if section not in known:
            KEYS.load_providers()  # a plugin may declare it
            known = set(KEYS.sections())
            if section not in known:
                raise ConfigError(section, "", "unknown section")
    if not parser.has_section("mirror"):
        raise ConfigError("mirror", "", "missing section")

    values: dict[str, dict[str, Any]] = {}
    for section in ("mirror", "wrapper", *parser.sections()):
        if section not in values:
            values[section] = _parse_section(section, parser[section] if parser.has_section(section) else {})
    mirror = MirrorSettings(**_settings(KEYS.section("mirror"), values))
    wrapper = WrapperSettings(**_settings(KEYS.section("wrapper"), values))
    _check_combinations(mirror, wrapper)

    filter_sections = frozenset(s for s in parser.sections() if s not in CORE_SECTIONS)
    filters = FilterSettings(sections=filter_sections, **_settings(FILTER_KEYS, values))
    if filter_sections:  # nothing to check otherwise (and packaging stays unimported: fast no-op runs)
        from mirror_tool.filters import validate_filter_settings  # the filter owner's deeper checks

        validate_filter_settings(filters)
    return Config(mirror=mirror, wrapper=wrapper, filters=filters, path=path, values=values)


def load_config(path: str | Path) -> Config:
    """Read and validate the config at `path`.

    Raises FileNotFoundError when it is missing (the CLI then writes the example there) and
    ConfigError for anything wrong inside it.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ConfigError("", "", f"{path} is a directory, not a config file") from None
    except PermissionError:
        raise ConfigError("", "", f"{path}: permission denied") from None
    except UnicodeDecodeError:
        raise ConfigError("", "", f"{path} is not UTF-8 text") from None
    return parse_config_text(text, path)


def write_example_config(path: str | Path) -> None:
    """Write the commented example config to `path` (mode 0640), creating its directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = EXAMPLE_CONFIG.read_bytes()
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    tmp.chmod(0o640)
    tmp.replace(path)
