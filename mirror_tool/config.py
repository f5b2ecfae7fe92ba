"""Config file parsing and validation (schema: docs/design.md, "Config file").

Every section of the file is parsed here into frozen dataclasses, so the sync engine, the wrapper
and the filters read one validated object and never touch `configparser` themselves. Any problem
raises `ConfigError` naming `[section] key` before anything on disk is touched.
"""

from __future__ import annotations

import configparser
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from mirror_tool.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/pypi-mirror.conf")
EXAMPLE_CONFIG = Path(__file__).with_name("example.conf")


@dataclass(frozen=True)
class MirrorSettings:
    """`[mirror]`: attribute names are the keys with `-` replaced by `_`."""

    directory: Path
    master: str
    timeout: float = 10.0
    global_timeout: float = 18000.0
    workers: int = 3
    worker_mode: str = "auto"
    verifiers: int = 3
    stop_on_error: bool = False
    json: bool = False
    release_files: bool = True
    delete_packages: bool = True
    compare_method: str = "hash"
    simple_format: str = "ALL"
    root_uri: str = ""
    hash_index: bool = False
    storage_backend: str = "filesystem"
    changelog_source: str = "auto"
    reconcile_interval: float = 24.0
    stale_retries: int = 3
    stale_backoff: float = 0.5
    retries: int = 3
    log_file: Path | None = None


@dataclass(frozen=True)
class WrapperSettings:
    """`[wrapper]` (pypi-mirror-run); all keys optional."""

    log_file: Path | None = None
    time_limit: float = 3300.0
    purge: str = "auto"
    purge_url: str = ""
    purge_key_file: Path | None = None
    purge_timeout: float = 10.0
    retry_attempts: int = 3
    retry_backoff: float = 2.0
    retry_max_time: float = 120.0
    retry_interval: float = 300.0
    retry_interval_max: float = 86400.0
    state_file: Path | None = None
    metrics_file: Path | None = None


@dataclass(frozen=True)
class FilterSettings:
    """The bandersnatch-named filter sections; empty tuples / None mean "no filter".

    `sections` lists the filter sections present in the file, so a filter can tell an absent
    section from an empty one.
    """

    allowlist_packages: tuple[str, ...] = ()
    blocklist_packages: tuple[str, ...] = ()
    blocklist_platforms: tuple[str, ...] = ()
    prereleases: bool = False
    release_regexes: tuple[str, ...] = ()
    latest_keep: int = 0
    max_file_size: int | None = None
    size_allowlist: tuple[str, ...] = ()
    sections: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Config:
    mirror: MirrorSettings
    wrapper: WrapperSettings
    filters: FilterSettings
    path: Path

    @property
    def directory(self) -> Path:
        return self.mirror.directory

    @property
    def web_dir(self) -> Path:
        return self.mirror.directory / "web"

    @property
    def lock_path(self) -> Path:
        return self.mirror.directory / ".lock"

    @property
    def wrapper_state_path(self) -> Path:
        return self.wrapper.state_file or self.mirror.directory / "wrapper-state.json"


# ---------------------------------------------------------------------------------------------
# Value parsers: each takes the raw string and returns the value or raises ValueError(problem).

_BOOLS = {"1": True, "yes": True, "true": True, "on": True, "0": False, "no": False, "false": False, "off": False}


def _bool(raw: str) -> bool:
    try:
        return _BOOLS[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"not a boolean: {raw!r} (use true/false, yes/no, on/off, 1/0)") from None


def _float(lo: float, lo_inclusive: bool, unit: str = "") -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"not a number: {raw!r}") from None
        if not math.isfinite(value) or value < lo or (value == lo and not lo_inclusive):
            op = ">=" if lo_inclusive else ">"
            raise ValueError(f"must be a number {op} {lo:g}{unit}, got {raw!r}")
        return value

    return parse


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"not an integer: {raw!r}") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be an integer in {lo}..{hi}, got {value}")
        return value

    return parse


def _choice(*choices: str, case: bool = True) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        for c in choices:
            if value == c or (not case and value.lower() == c.lower()):
                return c
        raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")

    return parse


def _abs_dir(raw: str) -> Path:
    value = raw.strip()
    if not value:
        raise ValueError("must not be empty")
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    path = Path(value)
    if not path.is_absolute():
        raise ValueError(f"must be an absolute path, got {value!r}")
    return path


def _opt_path(raw: str) -> Path | None:
    value = raw.strip()
    if not value:
        return None
    if "\x00" in value:
        raise ValueError("contains a NUL byte")
    return Path(value)


def _http_url(raw: str) -> str:
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _opt_http_url(raw: str) -> str:
    return _http_url(raw) if raw.strip() else ""


def _only(expected: Any, parse: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def check(raw: str) -> Any:
        value = parse(raw)
        if value != expected:
            raise ValueError(f"only {what} is supported, got {raw.strip()!r}")
        return value

    return check


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item for item in raw.split() if item)


def _regex_list(raw: str) -> tuple[str, ...]:
    items = tuple(line.strip() for line in raw.splitlines() if line.strip())
    for item in items:
        try:
            re.compile(item)
        except re.error as exc:
            raise ValueError(f"invalid regex {item!r}: {exc}") from None
    return items


_SIZE_RE = re.compile(r"^(\d+)\s*([KMGT]?)i?B?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _size(raw: str) -> int | None:
    value = raw.strip()
    if not value:
        return None
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f"not a size (e.g. 500M, 2G, 1048576): {value!r}")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]


def _requirements(raw: str) -> tuple[str, ...]:
    from packaging.requirements import InvalidRequirement, Requirement

    items = tuple(line.strip() for line in raw.splitlines() if line.strip() and not line.strip().startswith("#"))
    out: list[str] = []
    for item in items:
        for token in ([item] if any(c in item for c in "<>=!~") else item.split()):
            try:
                Requirement(token)
            except InvalidRequirement as exc:
                raise ValueError(f"not a project name or requirement: {token!r} ({exc})") from None
            out.append(token)
    return tuple(out)


# section -> key -> (attribute, parser, default-or-REQUIRED)
_REQUIRED = object()

_MIRROR_KEYS: dict[str, tuple[str, Callable[[str], Any], Any]] = {
    "directory": ("directory", _abs_dir, _REQUIRED),
    "master": ("master", _http_url, _REQUIRED),
    "timeout": ("timeout", _float(0, False, " s"), 10.0),
    "global-timeout": ("global_timeout", _float(0, False, " s"), 18000.0),
    "workers": ("workers", _int(1, 64), 3),
    "worker-mode": ("worker_mode", _choice("auto", "threads", "processes"), "auto"),
    "verifiers": ("verifiers", _int(1, 64), 3),
    "stop-on-error": ("stop_on_error", _bool, False),
    "json": ("json", _bool, False),
    "release-files": ("release_files", _bool, True),
    "delete-packages": ("delete_packages", _bool, True),
    "compare-method": ("compare_method", _choice("hash", "stat"), "hash"),
    "simple-format": ("simple_format", _choice("ALL", "HTML", "JSON", case=False), "ALL"),
    "root_uri": ("root_uri", _opt_http_url, ""),
    "hash-index": ("hash_index", _only(False, _bool, "false"), False),
    "storage-backend": ("storage_backend", _only("filesystem", _choice("filesystem"), "filesystem"), "filesystem"),
    "changelog-source": ("changelog_source", _choice("auto", "xmlrpc", "index"), "auto"),
    "reconcile-interval": ("reconcile_interval", _float(0, True, " h"), 24.0),
    "stale-retries": ("stale_retries", _int(0, 20), 3),
    "stale-backoff": ("stale_backoff", _float(0, True, " s"), 0.5),
    "retries": ("retries", _int(0, 20), 3),
    "log-file": ("log_file", _opt_path, None),
}

_WRAPPER_KEYS: dict[str, tuple[str, Callable[[str], Any], Any]] = {
    "log-file": ("log_file", _opt_path, None),
    "time-limit": ("time_limit", _float(0, False, " s"), 3300.0),
    "purge": ("purge", _choice("auto", "off"), "auto"),
    "purge-url": ("purge_url", _opt_http_url, ""),
    "purge-key-file": ("purge_key_file", _opt_path, None),
    "purge-timeout": ("purge_timeout", _float(0, False, " s"), 10.0),
    "retry-attempts": ("retry_attempts", _int(0, 10), 3),
    "retry-backoff": ("retry_backoff", _float(0, True, " s"), 2.0),
    "retry-max-time": ("retry_max_time", _float(0, True, " s"), 120.0),
    "retry-interval": ("retry_interval", _float(0, True, " s"), 300.0),
    "retry-interval-max": ("retry_interval_max", _float(0, True, " s"), 86400.0),
    "state-file": ("state_file", _opt_path, None),
    "metrics-file": ("metrics_file", _opt_path, None),
}

# (section, key) -> (FilterSettings attribute, parser)
_FILTER_KEYS: dict[tuple[str, str], tuple[str, Callable[[str], Any]]] = {
    ("allowlist", "packages"): ("allowlist_packages", _requirements),
    ("blocklist", "packages"): ("blocklist_packages", _requirements),
    ("blocklist", "platforms"): ("blocklist_platforms", _list),
    ("filters", "prereleases"): ("prereleases", _bool),
    ("filter_regex", "releases"): ("release_regexes", _regex_list),
    ("latest_release", "keep"): ("latest_keep", _int(0, 1_000_000)),
    ("size", "max_file_size"): ("max_file_size", _size),
    ("size", "allowlist"): ("size_allowlist", _list),
}
_FILTER_SECTIONS = {section for section, _ in _FILTER_KEYS}
#: `[plugins] enabled` is accepted (and ignored) so a bandersnatch config can be copied as is:
#: our filters apply when their section is present.
_PLUGINS_KEYS = {"enabled"}
_KNOWN_SECTIONS = {"mirror", "wrapper", "plugins"} | _FILTER_SECTIONS



def _parse_section(
    parser: configparser.ConfigParser,
    section: str,
    keys: dict[str, tuple[str, Callable[[str], Any], Any]],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    present = parser[section] if parser.has_section(section) else {}
    for key in present:
        if key not in keys:
            raise ConfigError(section, key, "unknown key")
    for key, (attr, parse, default) in keys.items():
        if key in present:
            try:
                values[attr] = parse(present[key])
            except ValueError as exc:
                raise ConfigError(section, key, str(exc)) from None
        elif default is _REQUIRED:
            raise ConfigError(section, key, "missing (required)")
        else:
            values[attr] = default
    return values


def parse_config_text(text: str, path: Path) -> Config:
    """Parse and validate config `text` (the contents of `path`)."""
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
    for section in parser.sections():
        if section not in _KNOWN_SECTIONS:
            raise ConfigError(section, "", "unknown section")
    if not parser.has_section("mirror"):
        raise ConfigError("mirror", "", "missing section")

    mirror = MirrorSettings(**_parse_section(parser, "mirror", _MIRROR_KEYS))
    wrapper = WrapperSettings(**_parse_section(parser, "wrapper", _WRAPPER_KEYS))
    if parser.has_section("plugins"):
        for key in parser["plugins"]:
            if key not in _PLUGINS_KEYS:
                raise ConfigError("plugins", key, "unknown key")

    filter_values: dict[str, Any] = {}
    present_sections = frozenset(s for s in parser.sections() if s in _FILTER_SECTIONS)
    for section in present_sections:
        for key in parser[section]:
            spec = _FILTER_KEYS.get((section, key))
            if spec is None:
                raise ConfigError(section, key, "unknown key")
            attr, parse = spec
            try:
                filter_values[attr] = parse(parser[section][key])
            except ValueError as exc:
                raise ConfigError(section, key, str(exc)) from None
    filters = FilterSettings(sections=present_sections, **filter_values)
    if present_sections:  # nothing to check otherwise (and packaging stays unimported: fast no-op runs)
        from mirror_tool.filters import validate_filter_settings  # the filter owner's deeper checks

        validate_filter_settings(filters)
    return Config(mirror=mirror, wrapper=wrapper, filters=filters, path=path)


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
