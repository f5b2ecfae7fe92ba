"""Config file -> validated `Config` (keys, types and defaults: schema.py).

Every section is parsed here, so the sync engine, the wrapper and the filters read one validated
object and never touch `configparser` themselves. Any problem raises `ConfigError` naming
`[section] key` before anything on disk is touched.
"""

from __future__ import annotations

import configparser
import ipaddress
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mirror_tool.config.compat import SECTION_HINTS, BandersnatchInterpolation, expand_references
from mirror_tool.config.schema import CORE_SECTIONS, FILTER_KEYS, KEYS, Key
from mirror_tool.config.settings import Config, FilterSettings, MirrorSettings, WrapperSettings
from mirror_tool.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/pypi-mirror.conf")
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "example.conf"


def _read_ini(text: str, path: Path) -> configparser.ConfigParser:
    """bandersnatch's reading of the file: `=` is the only delimiter (metadata-filter keys hold
    `:`), keys keep their case (those keys are paths), `%%` and `%(key)s` interpolate."""
    parser = configparser.ConfigParser(interpolation=BandersnatchInterpolation(), strict=True,
                                       empty_lines_in_values=True, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
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


def _raw(parser: configparser.ConfigParser, section: str, name: str) -> str:
    try:
        return parser.get(section, name)
    except configparser.InterpolationError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(section, name, f"bad % interpolation ({problem}); write a literal % as %%") from None


def _parse_section(parser: configparser.ConfigParser, section: str, warnings: list[str]) -> dict[str, Any]:
    """key name -> value for every row of `section`: given keys parsed, the others defaulted.

    Keys are matched without regard to case, except those a template row stands for (kept as
    written). A bandersnatch spelling (`alias_of`) gives its value to the key it stands for.
    """
    present = parser.has_section(section)
    given: dict[str, tuple[Key, str]] = {}
    for written in parser.options(section) if present else ():
        row = KEYS.lookup(section, written)
        if row is None:
            KEYS.load_providers()  # a filter class may declare more keys of a known section
            row = KEYS.lookup(section, written)
        if row is None:
            raise ConfigError(section, written, "unknown key")
        name = written if row.template else row.name
        if name in given:
            raise ConfigError(section, name, "given more than once")
        given[name] = (row, _raw(parser, section, written))
    values: dict[str, Any] = {}
    for name, (row, raw) in given.items():
        try:
            values[name] = row.type.parse(raw)
        except ValueError as exc:
            raise ConfigError(section, name, str(exc)) from None
        notice = getattr(row.type, "notice", None)
        note = notice(values[name]) if notice is not None else None
        if note:
            warnings.append(f"[{section}] {name}: {note}")
    for row in KEYS.section(section):
        if row.alias_of is not None and row.name in values:
            if row.alias_of in given:
                raise ConfigError(section, row.name, f"given twice: as `{row.name}` and as `{row.alias_of}`")
            values[row.alias_of] = values[row.name]
    for row in KEYS.section(section):
        if row.template or row.name in values:
            continue
        if row.required:
            raise ConfigError(section, row.name, "missing (required)")
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


def _check_combinations(mirror: MirrorSettings, wrapper: WrapperSettings, parser: configparser.ConfigParser) -> None:
    """Rules that span keys (each key on its own is valid by then)."""
    if mirror.digest_name != "sha256" and mirror.simple_format == "HTML":
        raise ConfigError("mirror", "digest_name", f"{mirror.digest_name} needs the JSON pages (simple-format ALL "
                          "or JSON), which keep each file's sha256 for verify")
    if mirror.diff_file:
        def lookup(section: str, option: str) -> str | None:
            for name in (option, option.replace("_", "-")):
                if parser.has_option(section, name):
                    return _raw(parser, section, name)
            return None

        try:
            expand_references(mirror.diff_file, lookup)
        except ValueError as exc:
            raise ConfigError("mirror", "diff-file", str(exc)) from None
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
                raise ConfigError(section, "", SECTION_HINTS.get(section, "unknown section"))
    if not parser.has_section("mirror"):
        raise ConfigError("mirror", "", "missing section")

    warnings: list[str] = []
    values: dict[str, dict[str, Any]] = {}
    for section in ("mirror", "wrapper", *parser.sections()):
        if section not in values:
            values[section] = _parse_section(parser, section, warnings)
    mirror = MirrorSettings(**_settings(KEYS.section("mirror"), values))
    wrapper = WrapperSettings(**_settings(KEYS.section("wrapper"), values))
    _check_combinations(mirror, wrapper, parser)

    filter_sections = frozenset(s for s in parser.sections() if s not in CORE_SECTIONS)
    filters = FilterSettings(sections=filter_sections, **_settings(FILTER_KEYS, values))
    config = Config(mirror=mirror, wrapper=wrapper, filters=filters, path=path, values=values)
    if filter_sections or parser.has_section("plugins"):  # else nothing to check (packaging stays unimported)
        from mirror_tool.filters import check_filters  # the filters' own checks: they compile themselves

        warnings += check_filters(config)
    return replace(config, warnings=tuple(dict.fromkeys(warnings))) if warnings else config


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
