"""The validated config as frozen objects: what the engine, the wrapper and the filters read.

The settings classes declare field names and types only. `from_rows` takes each field's default
from the schema row of the same attribute (so defaults are stated once, in schema.py) and refuses,
at import, a field without a row or a row without a field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mirror_tool.config.schema import FILTER_KEYS, MIRROR_KEYS, REQUIRED, WRAPPER_KEYS, Key

_T = TypeVar("_T")


def from_rows(rows: tuple[Key, ...]) -> Callable[[type[_T]], type[_T]]:
    """Class decorator: a frozen keyword-only dataclass whose defaults are the rows' defaults.

    Fields assigned in the class body (e.g. with `field()`) are not config keys and are left alone.
    """

    def wrap(cls: type[_T]) -> type[_T]:
        by_attr = {row.attr: row for row in rows if row.attr}
        keyed = [name for name in cls.__dict__.get("__annotations__", {}) if name not in cls.__dict__]
        if set(keyed) != set(by_attr):
            raise TypeError(f"{cls.__name__}: fields {sorted(set(keyed) ^ set(by_attr))} "
                            "have no schema row, or rows have no field")
        for name in keyed:
            if by_attr[name].default is not REQUIRED:
                setattr(cls, name, by_attr[name].default)
        return dataclass(frozen=True, kw_only=True)(cls)

    return wrap


@from_rows(MIRROR_KEYS)
class MirrorSettings:
    """`[mirror]`: attribute names are the keys with `-` replaced by `_`."""

    directory: Path
    master: str
    upstream_kind: str
    standby_hubs: tuple[str, ...]
    fallback_upstream: str
    journal_retention: float
    timeout: float
    request_deadline: float
    download_deadline: float
    global_timeout: float
    workers: int
    worker_connections: int
    worker_mode: str
    verifiers: int
    stop_on_error: bool
    json: bool
    release_files: bool
    delete_packages: bool
    compare_method: str
    simple_format: str
    root_uri: str
    hash_index: bool
    storage_backend: str
    changelog_source: str
    reconcile_interval: float
    stale_retries: int
    stale_backoff: float
    retries: int
    retry_after_max: float
    proxy: str
    ca_bundle: Path | None
    download_hosts: tuple[str, ...]
    max_project_json_size: int
    max_index_size: int
    max_xmlrpc_size: int
    max_metadata_size: int
    log_file: Path | None
    core_metadata: bool
    digest_name: str
    keep_index_versions: int
    diff_file: str
    diff_append_epoch: bool
    log_config: Path | None
    storage_filesystem_manage_permissions: bool
    download_mirror: str
    download_mirror_no_fallback: bool


@from_rows(WRAPPER_KEYS)
class WrapperSettings:
    """`[wrapper]` (pypi-mirror-run); all keys optional."""

    log_file: Path | None
    time_limit: float
    purge: str
    purge_url: str
    purge_key_file: Path | None
    purge_timeout: float
    retry_attempts: int
    retry_backoff: float
    retry_max_time: float
    retry_interval: float
    retry_interval_max: float
    state_file: Path | None
    metrics_file: Path | None


@from_rows(FILTER_KEYS)
class FilterSettings:
    """The bandersnatch-named filter sections; empty tuples / None mean "no filter".

    `sections` lists the filter sections present in the file, so a filter can tell an absent
    section from an empty one.
    """

    allowlist_packages: tuple[str, ...]
    blocklist_packages: tuple[str, ...]
    blocklist_platforms: tuple[str, ...]
    prereleases: bool
    release_regexes: tuple[str, ...]
    latest_keep: int
    max_file_size: int | None
    size_allowlist: tuple[str, ...]
    sections: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Config:
    """A loaded config file. `values` holds every present section's parsed keys (defaults filled
    in), so a registered plugin reads its own section with `section(name)`."""

    mirror: MirrorSettings
    wrapper: WrapperSettings
    filters: FilterSettings
    path: Path
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    #: One line each: keys read with a meaning the operator should hear about (bandersnatch
    #: spellings, ignored bandersnatch keys, filter plugins that do less than 8.2.0 would). The
    #: commands log them once per run; `check-config` prints them.
    warnings: tuple[str, ...] = ()

    def section(self, name: str) -> Mapping[str, Any] | None:
        """Parsed keys of `[name]` by key name; None when the file has no such section."""
        return self.values.get(name)

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
