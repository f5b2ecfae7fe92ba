"""The `[wrapper]` settings resolved into what one run needs (paths, the PURGE key).

`config.py` parses and validates the section; here empty values get their documented defaults
(state file beside `web/`, PURGE to `[mirror] master`) and the key file is read, so a bad key file
is a config error before the lock or the mirror is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mirror_tool.config import Config
from mirror_tool.errors import ConfigError
from mirror_tool.wrapper.purge import read_key


@dataclass(frozen=True)
class RunSettings:
    """Resolved `[wrapper]` values. `purge_key` is secret: never log this object."""

    log_file: Path | None
    time_limit: float
    purge: str
    purge_url: str
    purge_key: str | None
    purge_timeout: float
    retry_attempts: int
    retry_backoff: float
    retry_max_time: float
    retry_interval: float
    retry_interval_max: float
    state_file: Path
    metrics_file: Path | None
    lock_file: Path

    def __repr__(self) -> str:  # keep the key out of any accidental repr in a log line
        key = "set" if self.purge_key else "none"
        return f"RunSettings(purge={self.purge!r}, purge_url={self.purge_url!r}, key={key})"


def _path_or_none(value: object) -> Path | None:
    if value is None:
        return None
    text = str(value).strip()
    return Path(text) if text else None


def resolve(config: Config) -> RunSettings:
    """Build RunSettings from a loaded Config; raises ConfigError for an unreadable key file."""
    wrapper = config.wrapper
    key_file = _path_or_none(wrapper.purge_key_file)
    key: str | None = None
    if key_file is not None and wrapper.purge != "off":
        try:
            key = read_key(key_file)
        except OSError as exc:
            raise ConfigError("wrapper", "purge-key-file", f"cannot read {key_file}: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError("wrapper", "purge-key-file", f"{key_file}: {exc}") from None
    return RunSettings(
        log_file=_path_or_none(wrapper.log_file),
        time_limit=float(wrapper.time_limit),
        purge=str(wrapper.purge),
        purge_url=(str(wrapper.purge_url or "").strip() or str(config.mirror.master)).rstrip("/"),
        purge_key=key,
        purge_timeout=float(wrapper.purge_timeout),
        retry_attempts=int(wrapper.retry_attempts),
        retry_backoff=float(wrapper.retry_backoff),
        retry_max_time=float(wrapper.retry_max_time),
        retry_interval=float(wrapper.retry_interval),
        retry_interval_max=float(wrapper.retry_interval_max),
        state_file=Path(config.wrapper_state_path),
        metrics_file=_path_or_none(wrapper.metrics_file),
        lock_file=Path(config.lock_path),
    )
