"""The config keys, declared once: one `Key` row per `[section] key`.

Everything else is derived from these rows: the parser's checks and defaults (loader.py), the
settings dataclasses' fields (settings.py, checked against the rows at import), the commented
`example.conf` and `docs/reference.md` (render.py), and the role checks (tests/test_config_schema.py:
defaults/main.yml, meta/argument_specs.yml and the config template must agree with the rows that
name a role variable).

A filter (or any plugin) adds its own section by calling `register_keys(rows)` at import; modules
listed in `PROVIDERS` are imported when the loader meets a section it does not know yet, so a
plugin's section is parsed, checked, documented and generated like the built-in ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from mirror_tool.config.values import (
    AbsolutePath,
    Boolean,
    Choice,
    HttpUrl,
    HttpUrls,
    Integer,
    Number,
    Only,
    OptionalPath,
    Regexes,
    Requirements,
    Size,
    ValueType,
    Words,
)


class _Marker:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: Default of a key that has none: the loader refuses a file without it.
REQUIRED: Final = _Marker("REQUIRED")
#: `Key.role_default` when the role's default is the tool's own default (the usual case).
SAME: Final = _Marker("SAME")


@dataclass(frozen=True)
class Key:
    """One config key.

    section, name: as written in the file (names are matched case-insensitively by configparser,
        so they are declared in lower case).
    type: a `values.ValueType`; range and choices live inside it.
    default: the value when the key is absent, or REQUIRED.
    doc: one short paragraph (example.conf comment and the reference's "meaning").
    role_var: the role variable the config template renders into this key, or None.
    role_default: SAME, or what defaults/main.yml holds instead of the tool's default (deployment
        paths, placeholders); tests hold the role to it.
    compat: how bandersnatch treats the same key (free text; "" = not stated yet).
    example: value the example file writes instead of the default (values an operator must set).
    attr: attribute of the settings object; "" = the name with `-` as `_`; None = accepted and
        parsed but kept nowhere (a bandersnatch key with nothing to do here).
    """

    section: str
    name: str
    type: ValueType
    default: Any
    doc: str
    role_var: str | None = None
    role_default: Any = SAME
    compat: str = ""
    example: str | None = None
    attr: str | None = ""

    def __post_init__(self) -> None:
        if self.name != self.name.lower():
            raise ValueError(f"[{self.section}] {self.name}: declare key names in lower case")
        if self.attr == "":
            object.__setattr__(self, "attr", self.name.replace("-", "_"))

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def compat_only(self) -> bool:
        """True for keys accepted only so a bandersnatch config loads: they change nothing."""
        return self.attr is None or isinstance(self.type, Only)


_S = Number(0, False, "s")  # seconds, > 0
_S0 = Number(0, True, "s")  # seconds, >= 0

MIRROR_KEYS: tuple[Key, ...] = (
    Key("mirror", "directory", AbsolutePath(), REQUIRED,
        "Mirror root. `web/` below it is served by nginx; the state files (`status`, `state.json`, "
        "`todo`, `stale.json`, `wrapper-state.json`, `.lock`, `tmp/`) live beside `web/`.",
        role_var="pypi_mirror_directory", role_default="/srv/pypi-mirror", example="/srv/pypi-mirror",
        compat="same; same `web/` layout"),
    Key("mirror", "master", HttpUrl(), REQUIRED,
        "Upstream base URL: the origin or a CDN in front of it. A trailing `/` is dropped.",
        role_var="pypi_mirror_master", role_default="https://upstream.invalid", example="https://upstream.invalid",
        compat="same; `http://` is accepted too (bandersnatch: https only)"),
    # Fleet (hub and replicas): docs/operations.md "Hub and replicas".
    Key("mirror", "upstream-kind", Choice(("pypi", "mirror")), "pypi",
        "What `master` is: `pypi` (PyPI or a PyPI-like upstream: XML-RPC change feed, JSON API) or "
        "`mirror` (another mirror of ours, a hub: its change journal, PEP 691 pages and files; "
        "this host is then a replica).",
        role_var="pypi_mirror_upstream_kind", compat="ours"),
    Key("mirror", "standby-hubs", HttpUrls(), (),
        "`upstream-kind = mirror`: further hubs, tried in order when `master` does not answer. "
        "Changing hub costs one index reconciliation.",
        role_var="pypi_mirror_hub", role_default=[], compat="ours"),
    Key("mirror", "fallback-upstream", HttpUrl(optional=True), "",
        "`upstream-kind = mirror`: a PyPI upstream to sync from directly when no hub answers "
        "(the serial may then run ahead of the hubs'); empty: no fallback, such a run exits 5.",
        role_var="pypi_mirror_fallback_upstream", compat="ours"),
    Key("mirror", "journal-retention", _S0, 604800.0,
        "How long the change journal under `web/changes/` keeps what each sync published, in "
        "seconds; a replica down longer than this reconciles from the index. 0: no journal.",
        role_var="pypi_mirror_journal_retention", compat="ours"),
    Key("mirror", "timeout", _S, 10.0, "Per-request timeout.",
        role_var="pypi_mirror_timeout", compat="same"),
    Key("mirror", "global-timeout", _S, 18000.0,
        "Whole-run limit of `pypi-mirror mirror`: on expiry it stops cleanly and exits 6. Not used by "
        "`pypi-mirror-run` (it has `[wrapper] time-limit`).",
        role_var="pypi_mirror_global_timeout",
        compat="different: bandersnatch limits each request coroutine; here the whole run"),
    Key("mirror", "workers", Integer(1, 64), 3,
        "Projects synced at once; each downloads its own files, one at a time.",
        role_var="pypi_mirror_workers", compat="same (bandersnatch: 1..10)"),
    Key("mirror", "worker-mode", Choice(("auto", "threads", "processes")), "auto",
        "Where projects sync: `processes` forks `workers` single-threaded worker processes (less CPU "
        "per file, every core used), `threads` keeps them in this process, `auto` picks processes "
        "when a run has more projects than `workers`.",
        role_var="pypi_mirror_worker_mode", compat="ours"),
    Key("mirror", "verifiers", Integer(1, 64), 3, "Hashing threads of `pypi-mirror verify`.",
        role_var="pypi_mirror_verifiers", compat="same"),
    Key("mirror", "stop-on-error", Boolean(), False, "Stop at the first failed project (exit 1).",
        role_var="pypi_mirror_stop_on_error", compat="same"),
    Key("mirror", "json", Boolean(), False,
        "Also save the JSON API copies `web/json/<name>` and `web/pypi/<name>/json`.",
        role_var="pypi_mirror_json", compat="same"),
    Key("mirror", "release-files", Boolean(), True,
        "Download release files; false writes index pages only, with links to the upstream's files.",
        role_var="pypi_mirror_release_files", compat="same"),
    Key("mirror", "delete-packages", Boolean(), True,
        "Delete the files of projects removed upstream and files a new page no longer lists.",
        role_var="pypi_mirror_delete_packages"),
    Key("mirror", "compare-method", Choice(("hash", "stat")), "hash",
        "How a file already on disk is checked before its download is skipped.",
        role_var="pypi_mirror_compare_method", compat="same"),
    Key("mirror", "simple-format", Choice(("ALL", "HTML", "JSON"), case=False), "ALL",
        "Which simple pages to write: `ALL` = `index.html`, `index.v1_html`, `index.v1_json`; `HTML` "
        "the first two; `JSON` only `index.v1_json` (clients not asking for JSON then get nginx's "
        "directory listing). Any case.",
        role_var="pypi_mirror_simple_format", compat="same"),
    Key("mirror", "root_uri", HttpUrl(optional=True), "",
        "If set, file links are `<root_uri>/packages/...` instead of relative links.",
        role_var="pypi_mirror_root_uri",
        compat="same, but must be an http(s) URL and has no implicit default when `release-files = false`"),
    Key("mirror", "hash-index", Only(Boolean(), False), False,
        "Accepted so a bandersnatch config loads; only `false` is implemented.",
        compat="only `false`; `true` is an error"),
    Key("mirror", "storage-backend", Only(Choice(("filesystem",)), "filesystem"), "filesystem",
        "Accepted so a bandersnatch config loads; only `filesystem` is implemented.",
        compat="only `filesystem`; anything else is an error"),
    Key("mirror", "changelog-source", Choice(("auto", "xmlrpc", "index")), "auto",
        "Change feed: `auto` reads the XML-RPC changelog and falls back to the PEP 691 `/simple/` "
        "index diff when XML-RPC answers a fault or 404; `xmlrpc` or `index` force one (`xmlrpc` "
        "failing: exit 5).",
        role_var="pypi_mirror_changelog_source", compat="ours"),
    Key("mirror", "reconcile-interval", Number(0, True, "h"), 24.0,
        "Full index-diff reconciliation at most this often, in hours (0 = every run); catches "
        "changes the feed missed.",
        role_var="pypi_mirror_reconcile_interval", compat="ours"),
    Key("mirror", "stale-retries", Integer(0, 20), 3,
        "Re-fetches of a project page whose serial is older than the change feed promised; also how "
        "often an upstream serial below the mirror's is asked again before the run stops (exit 8).",
        role_var="pypi_mirror_stale_retries", compat="ours"),
    Key("mirror", "stale-backoff", _S0, 0.5, "First wait between those re-fetches (doubles).",
        role_var="pypi_mirror_stale_backoff", compat="ours"),
    Key("mirror", "retries", Integer(0, 20), 3,
        "Retries of 5xx answers, cut connections and hash mismatches per request.",
        role_var="pypi_mirror_retries", compat="ours"),
    Key("mirror", "log-file", OptionalPath(), None,
        "Log file of `pypi-mirror` (`--log-file` overrides it); empty: stderr only. Not used by "
        "`pypi-mirror-run`.",
        role_var="pypi_mirror_log_file", role_default="{{ pypi_mirror_log_dir }}/mirror.log",
        compat="ours; bandersnatch's `log-config` is not supported"),
)

WRAPPER_KEYS: tuple[Key, ...] = (
    Key("wrapper", "log-file", OptionalPath(), None,
        "Timestamped log lines of the whole run (sync included), appended and flushed per line; "
        "empty: stdout.",
        role_var="pypi_mirror_wrapper_log_file", role_default="{{ pypi_mirror_log_dir }}/wrapper.log"),
    Key("wrapper", "time-limit", _S, 3300.0,
        "Whole-run limit: on expiry the sync stops cleanly and the run exits 6.",
        role_var="pypi_mirror_wrapper_time_limit"),
    Key("wrapper", "purge", Choice(("auto", "off")), "auto",
        "Send PURGE for stale projects' URLs before re-syncing them (`off`: only re-sync). How the "
        "`[wrapper]` keys work together: README, \"Stale serials and PURGE\".",
        role_var="pypi_mirror_purge"),
    Key("wrapper", "purge-url", HttpUrl(optional=True), "",
        "Base URL PURGEs go to; empty: `[mirror] master`.",
        role_var="pypi_mirror_purge_url"),
    Key("wrapper", "purge-key-file", OptionalPath(), None,
        "File holding the key sent as `Fastly-Key` with each PURGE; never logged. Unreadable, empty "
        "or multi-line: exit 2. The key is never sent over plain http: with a key, the PURGE target "
        "must be https (or a loopback address).",
        role_var="pypi_mirror_purge_key_file",
        role_default="{{ '/etc/pypi-mirror.purge-key' if pypi_mirror_purge_key else '' }}"),
    Key("wrapper", "purge-timeout", _S, 10.0, "Per-PURGE timeout.",
        role_var="pypi_mirror_purge_timeout"),
    Key("wrapper", "retry-attempts", Integer(0, 10), 3,
        "In-run re-syncs of stale projects after PURGE.",
        role_var="pypi_mirror_retry_attempts"),
    Key("wrapper", "retry-backoff", _S0, 2.0, "First wait between those re-syncs (doubles).",
        role_var="pypi_mirror_retry_backoff"),
    Key("wrapper", "retry-max-time", _S0, 120.0, "Bound on the in-run retry phase.",
        role_var="pypi_mirror_retry_max_time"),
    Key("wrapper", "retry-interval", _S0, 300.0,
        "First cross-run wait before a still-stale project is PURGEd and re-synced again (doubles "
        "per failed run, up to `retry-interval-max`).",
        role_var="pypi_mirror_retry_interval"),
    Key("wrapper", "retry-interval-max", _S0, 86400.0, "Cap of that wait.",
        role_var="pypi_mirror_retry_interval_max"),
    Key("wrapper", "state-file", OptionalPath(), None,
        "Cross-run retry schedule, last success and PURGE counters (JSON); empty: "
        "`<directory>/wrapper-state.json`.",
        role_var="pypi_mirror_wrapper_state_file"),
    Key("wrapper", "metrics-file", OptionalPath(), None,
        "Prometheus textfile written at the end of each run, e.g. "
        "`/var/lib/node_exporter/textfile/pypi_mirror.prom`; empty: no metrics.",
        role_var="pypi_mirror_metrics_file", role_default="{{ pypi_mirror_metrics_dir }}/pypi_mirror.prom"),
)

PLUGINS_KEYS: tuple[Key, ...] = (
    Key("plugins", "enabled", Words("plugin names"), (),
        "Accepted and ignored so a bandersnatch config loads: here a filter applies when its "
        "section is present.",
        compat="ignored: a filter applies when its section is present", attr=None),
)

#: Filter sections (bandersnatch names). They move into the filter classes, which then register
#: them with `register_keys`; a section applies when it is present in the file.
FILTER_KEYS: tuple[Key, ...] = (
    Key("allowlist", "packages", Requirements(), (),
        "Mirror only these projects; entries with a specifier keep only the matching versions of "
        "that project. No extras, markers or URLs.",
        role_var="pypi_mirror_allowlist_packages", example="\n    requests\n    numpy>=1.26",
        compat="same (both `allowlist_project` and `allowlist_release` apply); "
               "`requirements` and `requirements_path` are not supported",
        attr="allowlist_packages"),
    Key("blocklist", "packages", Requirements(), (),
        "A bare name removes the project; a name with a specifier removes the matching versions.",
        role_var="pypi_mirror_blocklist_packages", example="example-unwanted",
        compat="same", attr="blocklist_packages"),
    Key("blocklist", "platforms", Words("platform keywords"), (),
        "Exclude files built only for these platforms or Pythons: `windows`, `macos`, `linux`, "
        "`manylinux`, `musllinux`, `freebsd`, `ios`, `android`, `freethreaded`, `pypy`, `pyX`, "
        "`pyX.Y` (details in README).",
        role_var="pypi_mirror_blocklist_platforms", example="windows macos py2 py3.6 freethreaded",
        compat="same keywords plus more; `pyX.Y` works for any X.Y", attr="blocklist_platforms"),
    Key("filters", "prereleases", Boolean(), False,
        "true: exclude PEP 440 pre- and dev releases.",
        role_var="pypi_mirror_filter_prereleases", example="true",
        compat="bandersnatch's `prerelease_release` plugin", attr="prereleases"),
    Key("filter_regex", "releases", Regexes(), (),
        "Exclude versions matching any of these regexes (`re.match`: anchored at the start).",
        role_var="pypi_mirror_filter_regex_releases", example="\n    .*rc\\d+$",
        compat="same (`regex_release`); `[filter_regex] packages` is not supported", attr="release_regexes"),
    Key("latest_release", "keep", Integer(0, 1_000_000), 0,
        "Keep only the N highest versions that still have files after the other filters; 0: all.",
        role_var="pypi_mirror_latest_release_keep", example="3", compat="same", attr="latest_keep"),
    Key("size", "max_file_size", Size(), None,
        "Exclude files larger than this (files of unknown size pass); empty: no limit. An integer of "
        "bytes, or with `K`/`M`/`G`/`T` (powers of 1024, optional `B`/`iB`).",
        role_var="pypi_mirror_size_max_file_size", example="500M",
        compat="ours; bandersnatch's `[size_project_metadata]` is not supported", attr="max_file_size"),
    Key("size", "allowlist", Words("project names"), (),
        "Projects exempt from `max_file_size`.",
        role_var="pypi_mirror_size_allowlist", example="big-project", attr="size_allowlist"),
)

#: Sections whose absence changes nothing (the file must hold `[mirror]`).
CORE_SECTIONS: Final = ("mirror", "wrapper", "plugins")
#: Modules that register further keys when imported (the filter plugins).
PROVIDERS: tuple[str, ...] = ("mirror_tool.filters",)


class KeyTable:
    """Every known row, in declaration order, indexed by (section, name)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Key] = {}
        self._providers_loaded = False

    def register(self, rows: Iterable[Key]) -> None:
        """Add rows; re-registering an identical row is a no-op, a different one an error."""
        for row in rows:
            where = (row.section, row.name)
            known = self._rows.get(where)
            if known is not None and known != row:
                raise ValueError(f"[{row.section}] {row.name} is declared twice, differently")
            self._rows[where] = row

    def remove(self, rows: Iterable[Key]) -> None:
        """Forget rows (tests that register a plugin's keys clean up with this)."""
        for row in rows:
            self._rows.pop((row.section, row.name), None)

    def load_providers(self) -> None:
        """Import the PROVIDERS once, so the keys they register are known."""
        if not self._providers_loaded:
            self._providers_loaded = True
            for module in PROVIDERS:
                importlib.import_module(module)

    def rows(self) -> tuple[Key, ...]:
        return tuple(self._rows.values())

    def section(self, section: str) -> tuple[Key, ...]:
        return tuple(row for row in self._rows.values() if row.section == section)

    def sections(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.section for row in self._rows.values()))

    def find(self, section: str, name: str) -> Key | None:
        return self._rows.get((section, name))


KEYS = KeyTable()
KEYS.register(MIRROR_KEYS + WRAPPER_KEYS + PLUGINS_KEYS + FILTER_KEYS)


def register_keys(rows: Iterable[Key]) -> None:
    """Make a plugin's rows known to the loader, the generators and the role checks."""
    KEYS.register(rows)


def all_keys() -> tuple[Key, ...]:
    """Every row, the providers' included."""
    KEYS.load_providers()
    return KEYS.rows()
