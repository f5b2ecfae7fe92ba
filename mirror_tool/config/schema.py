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

from mirror_tool.config.compat import Noted, PluginNames, Text
from mirror_tool.config.values import (
    AbsolutePath,
    Boolean,
    BucketName,
    ByteSize,
    Choice,
    Hosts,
    HttpUrl,
    HttpUrls,
    Integer,
    KeyPrefix,
    Number,
    Only,
    OptionalPath,
    ProxyUrl,
    ReadableFile,
    Regexes,
    Requirements,
    Size,
    Token,
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
    alias_of: another key of the section this one is read as (bandersnatch spellings): its value
        applies when that key is absent; both given is an error.
    A name holding `<...>` is a template: it stands for every key of its section that no other row
    names (`<[tags:]dotted.path>` in the metadata-filter sections), kept under the name as written.
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
    alias_of: str | None = None

    def __post_init__(self) -> None:
        if self.name != self.name.lower():
            raise ValueError(f"[{self.section}] {self.name}: declare key names in lower case")
        if self.attr == "":
            keeps = not (self.template or self.alias_of or self.explains_only)
            object.__setattr__(self, "attr", self.name.replace("-", "_") if keeps else None)

    @property
    def template(self) -> bool:
        """True for a row standing for every otherwise unnamed key of its section."""
        return "<" in self.name

    def matches(self, name: str) -> bool:
        """Whether the key `name` (as written) is this template's."""
        head = self.name.split("<", 1)[0]
        return self.template and name.lower().startswith(head) and len(name) > len(head)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def compat_only(self) -> bool:
        """True for keys accepted only so a bandersnatch config loads: they change nothing."""
        from mirror_tool.config.compat import explanation

        return isinstance(self.type, Only) or explanation(self.type)

    @property
    def explains_only(self) -> bool:
        """True for rows that exist only to explain a bandersnatch key (accepted or refused)."""
        from mirror_tool.config.compat import explanation

        return explanation(self.type)


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
        compat="different: required here (bandersnatch defaults to the public index); `http://` needs no "
               "`allow-non-https`"),
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
    Key("mirror", "timeout", _S, 10.0,
        "Seconds a request may spend connecting, or without receiving a byte; then that try ends "
        "(and is retried, see `retries`).",
        role_var="pypi_mirror_timeout", compat="same: connect and read timeout of each request"),
    Key("mirror", "request-deadline", _S, 300.0,
        "Whole-request limit of one try at a document (project JSON, index, XML-RPC, PURGE "
        "answers): connect to last byte. Ends an upstream that drips bytes; not retried.",
        role_var="pypi_mirror_request_deadline",
        compat="ours; bandersnatch's per-request total is `global-timeout`, which here limits the run"),
    Key("mirror", "download-deadline", _S, 1800.0,
        "Whole-request limit of one try at a release file or `.metadata`, connect to last byte; not "
        "retried.",
        role_var="pypi_mirror_download_deadline", compat="ours"),
    Key("mirror", "global-timeout", Noted(_S, 18000.0,
        "limits the whole `pypi-mirror mirror` run here (exit 6 when it expires), not each request as in "
        "bandersnatch; `pypi-mirror-run` uses `[wrapper] time-limit` instead"), 18000.0,
        "Whole-run limit of `pypi-mirror mirror`: on expiry it stops cleanly and exits 6. Not used by "
        "`pypi-mirror-run` (it has `[wrapper] time-limit`).",
        role_var="pypi_mirror_global_timeout",
        compat="different: bandersnatch (default 1800) limits each request; here the whole `pypi-mirror mirror` "
               "run (exit 6)"),
    Key("mirror", "workers", Integer(1, 64), 3,
        "Projects synced at once (worker processes or threads); each downloads its own files.",
        role_var="pypi_mirror_workers", compat="same; 1..64 here (bandersnatch: 1..10)"),
    Key("mirror", "worker-connections", Integer(1, 64), 4,
        "Connections each worker opens at most, and so how many files of one project it downloads "
        "at once. A run opens at most `workers` x `worker-connections` connections, plus one for "
        "the change feed.",
        role_var="pypi_mirror_worker_connections", compat="ours"),
    Key("mirror", "worker-mode", Choice(("auto", "threads", "processes")), "auto",
        "Where projects sync: `threads` keeps them in this process (the least memory; `auto` picks "
        "it: syncs wait on the network), `processes` forks `workers` single-threaded worker "
        "processes (less CPU per file and every core used, for CPU-bound hosts or an upstream on "
        "the LAN; each process holds its own copy of the program in memory).",
        role_var="pypi_mirror_worker_mode", compat="ours"),
    Key("mirror", "verifiers", Integer(1, 64), 3, "Hashing threads of `pypi-mirror verify`.",
        role_var="pypi_mirror_verifiers", compat="same"),
    Key("mirror", "stop-on-error", Boolean(), False, "Stop at the first failed project (exit 1).",
        role_var="pypi_mirror_stop_on_error", compat="same"),
    Key("mirror", "json", Boolean(), False,
        "Also save the JSON API copies `web/json/<name>` and `web/pypi/<name>/json`.",
        role_var="pypi_mirror_json",
        compat="different: the copies list what this mirror holds, with file URLs pointing here (compact JSON); "
               "bandersnatch saves upstream's document unfiltered"),
    Key("mirror", "release-files", Boolean(), True,
        "Download release files; false writes index pages only, with links to the upstream's files.",
        role_var="pypi_mirror_release_files", compat="same"),
    Key("mirror", "delete-packages", Boolean(), True,
        "Delete the files of projects removed upstream and files a new page no longer lists.",
        role_var="pypi_mirror_delete_packages",
        compat="ours: bandersnatch never deletes during `mirror`; its `delete_missing_packages` is read as this key"),
    Key("mirror", "compare-method", Choice(("hash", "stat")), "hash",
        "How a file already on disk is checked before its download is skipped.",
        role_var="pypi_mirror_compare_method",
        compat="different: `stat` compares sizes only (bandersnatch: size and mtime, then the hash)"),
    Key("mirror", "simple-format", Choice(("ALL", "HTML", "JSON"), case=False), "ALL",
        "Which simple pages to write: `ALL` = `index.html`, `index.v1_html`, `index.v1_json`; `HTML` "
        "the first two; `JSON` only `index.v1_json` (clients not asking for JSON then get nginx's "
        "directory listing). Any case.",
        role_var="pypi_mirror_simple_format", compat="same"),
    Key("mirror", "root_uri", HttpUrl(optional=True), "",
        "If set, file links are `<root_uri>/packages/...` instead of relative links.",
        role_var="pypi_mirror_root_uri",
        compat="different: must be an http(s) URL; no implicit default when `release-files = false` (links "
               "then point at upstream's file URLs)"),
    Key("mirror", "hash-index", Boolean(), False,
        "Project pages under `simple/<first character>/<name>/` instead of `simple/<name>/` (for huge trees on "
        "filesystems that dislike big directories). Clients still ask for `/simple/<name>/`: the web server must "
        "rewrite it (the role's vhost does when `pypi_mirror_hash_index` is true).",
        role_var="pypi_mirror_hash_index", compat="same; the role's nginx vhost carries the rewrite"),
    Key("mirror", "storage-backend", Choice(("filesystem", "s3")), "filesystem",
        "Where the tree lives: `filesystem` = files below `<directory>/web`; `s3` = objects in the "
        "bucket of `[object-store]` (S3 API: Swift with s3api, Ceph RGW, MinIO, AWS S3). The state "
        "files stay in `directory` either way.",
        role_var="pypi_mirror_storage_backend",
        compat="different: same two names, but with `s3` the bucket is set in `[object-store]` (bandersnatch's "
               "`[s3]` keys are not read; see their rows)"),
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
        "Retries of one request after a 5xx or 429 answer, a refused, reset or cut connection, a "
        "stall (`timeout`), or a file whose size or sha256 does not match; 0.1 s apart, doubling "
        "up to 2 s.",
        role_var="pypi_mirror_retries", compat="ours"),
    Key("mirror", "retry-after-max", _S0, 60.0,
        "Longest `Retry-After` (429, 503) that is waited for before retrying; an answer asking for "
        "longer fails that request at once.",
        role_var="pypi_mirror_retry_after_max", compat="ours"),
    Key("mirror", "proxy", ProxyUrl(), "",
        "HTTP proxy for every request of the mirror (https through it with CONNECT), "
        "`http://[user:password@]host:port`. Set, it wins over `HTTPS_PROXY`, `HTTP_PROXY` and "
        "`NO_PROXY` from the environment; empty, those are honoured. SOCKS is not supported.",
        role_var="pypi_mirror_proxy",
        compat="same; http(s) proxies only (a SOCKS URL is a config error), `ALL_PROXY` is not read"),
    Key("mirror", "ca-bundle", ReadableFile(), None,
        "PEM file of the CAs that verify every certificate (upstream, download hosts, an https "
        "proxy), replacing the system's trust store; empty: the system's. Certificates are always "
        "verified.",
        role_var="pypi_mirror_ca_bundle", compat="ours"),
    Key("mirror", "download-hosts", Hosts(), (),
        "Hosts besides `master`'s own that release files may come from or redirect to (`host` for "
        "ports 80/443, or `host:port`). A file elsewhere fails its project with one line naming "
        "the host; list the host the upstream serves its files from (the host of any `url` in a "
        "project's JSON).",
        role_var="pypi_mirror_download_hosts", compat="ours"),
    Key("mirror", "max-project-json-size", ByteSize(1024), 64 << 20,
        "Cap of one project's JSON document (JSON API or PEP 691 page) after decompression; "
        "larger fails that project.",
        role_var="pypi_mirror_max_project_json_size", compat="ours"),
    Key("mirror", "max-index-size", ByteSize(1024), 512 << 20,
        "Cap of the PEP 691 root index after decompression; larger fails the change feed (exit 5).",
        role_var="pypi_mirror_max_index_size", compat="ours"),
    Key("mirror", "max-xmlrpc-size", ByteSize(1024), 256 << 20,
        "Cap of one XML-RPC answer after decompression; larger fails the change feed (exit 5).",
        role_var="pypi_mirror_max_xmlrpc_size", compat="ours"),
    Key("mirror", "max-metadata-size", ByteSize(1024), 16 << 20,
        "Cap of one `.metadata` file; larger fails that project.",
        role_var="pypi_mirror_max_metadata_size", compat="ours"),
    Key("mirror", "log-file", OptionalPath(), None,
        "Log file of `pypi-mirror` (`--log-file` overrides it); empty: stderr only. Not used by "
        "`pypi-mirror-run`.",
        role_var="pypi_mirror_log_file", role_default="{{ pypi_mirror_log_dir }}/mirror.log",
        compat="ours; bandersnatch logs to stderr (and has `log-config`, also read here)"),
    Key("mirror", "core-metadata", Boolean(), True,
        "Store the `<file>.metadata` siblings (PEP 658/714) upstream advertises and advertise them in the pages; "
        "false: neither (pip then downloads whole wheels to resolve).",
        role_var="pypi_mirror_core_metadata", compat="same"),
    Key("mirror", "digest_name", Choice(("sha256", "md5", "blake2b_256")), "sha256",
        "The hash named in file links (`#<name>=<hex>`) and in the PEP 691 `hashes` (which keep `sha256` too). "
        "Downloads and files on disk are always checked with sha256. A name other than sha256 needs the JSON "
        "pages (`simple-format` ALL or JSON).",
        role_var="pypi_mirror_digest_name",
        compat="different: only the digests upstream's JSON API gives; bandersnatch 8.2.0 re-downloads every "
               "re-checked file when this is not sha256, here files are checked with sha256 whatever it names"),
    Key("mirror", "keep_index_versions", Integer(0, 1000), 0,
        "Keep the last N copies of each project page in `simple/<name>/versions/` (`index_<serial>_<UTC "
        "time>.html`, `.v1_html`, `.v1_json`), the current one included, to roll a page back; 0: none. The pages "
        "themselves stay regular files.",
        role_var="pypi_mirror_keep_index_versions",
        compat="different: copies, not absolute symlinks (works on any storage and behind nginx's "
               "`disable_symlinks`); the oldest go first by serial, not by file-name order"),
    Key("mirror", "diff-file", Text(), "",
        "After each `mirror` and `sync`, write here the list of files that run wrote below `web/` (absolute "
        "paths, one per line), for copying to offline mirrors. `{{mirror_directory}}` style references to other "
        "keys are expanded; a directory gets `/mirrored-files`. Empty: off.",
        role_var="pypi_mirror_diff_file",
        compat="same; the list also holds `pypi/<name>/json` and `last-modified`, and a reference to an unset "
               "key is a config error (bandersnatch falls back to `<directory>/mirrored-files`)"),
    Key("mirror", "diff-append-epoch", Boolean(), False,
        "Append `-<epoch seconds of the run's start>` to the `diff-file` name, so runs keep their own lists.",
        role_var="pypi_mirror_diff_append_epoch", compat="same"),
    Key("mirror", "log-config", OptionalPath(), None,
        "A `logging.config.fileConfig` file applied by both commands after their own log setup (loggers "
        "`mirror_tool` and `pypi-mirror-run`); empty: none.",
        compat="different: loggers the file does not name keep logging (bandersnatch disables them)"),
    Key("mirror", "storage-filesystem-manage-permissions", Boolean(), True,
        "false: pages and files get the permissions the umask and default ACLs give instead of 0644, for trees "
        "whose permissions are managed outside the mirror.",
        compat="different: here it decides every file's mode; in bandersnatch 8.2.0 only how two copies are made"),
    Key("mirror", "download-mirror", HttpUrl(optional=True), "",
        "Fetch each release file (and its `.metadata`) first from `<download-mirror><path of the upstream file "
        "URL>` (a nearer mirror of this tool or of bandersnatch), then from upstream; every download is checked "
        "against upstream's sha256. Project metadata always comes from `master`. Empty: off.",
        role_var="pypi_mirror_download_mirror",
        compat="same; a trailing `/` is dropped (bandersnatch joins it into `//packages/...`)"),
    Key("mirror", "download-mirror-no-fallback", Boolean(), False,
        "Only the download mirror: a file it lacks or serves wrong fails its project instead of coming from "
        "upstream.",
        role_var="pypi_mirror_download_mirror_no_fallback", compat="same"),
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

#: `[object-store]`: read when `[mirror] storage-backend` is not `filesystem` (storage/s3.py).
OBJECT_STORE_KEYS: tuple[Key, ...] = (
    Key("object-store", "endpoint", HttpUrl(optional=True), "",
        "S3 endpoint URL (path-style requests go to `<endpoint>/<bucket>/<key>`); empty: AWS's "
        "endpoint for `region`.",
        role_var="pypi_mirror_object_store_endpoint",
        compat="ours: bandersnatch has `[s3] endpoint_url`"),
    Key("object-store", "bucket", BucketName(), REQUIRED,
        "Bucket (Swift container) holding the tree; it must exist. Several mirrors may share one "
        "bucket with different `prefix`es.",
        role_var="pypi_mirror_object_store_bucket", role_default="", example="pypi-mirror",
        compat="ours: bandersnatch takes the bucket from the first component of `directory`"),
    Key("object-store", "prefix", KeyPrefix(), "",
        "Key prefix of every object (`mirror01/` puts `mirror01/simple/...`); empty: the bucket's root.",
        role_var="pypi_mirror_object_store_prefix",
        compat="ours: bandersnatch takes the prefix from the rest of `directory`"),
    Key("object-store", "region", Token("region"), "us-east-1",
        "Region requests are signed for (SigV4): Swift's s3api `location`, Ceph's zonegroup, AWS's "
        "bucket region.",
        role_var="pypi_mirror_object_store_region",
        compat="ours: bandersnatch has `[s3] region_name`"),
    Key("object-store", "addressing-style", Choice(("path", "virtual")), "path",
        "`path`: `<endpoint>/<bucket>/<key>` (works everywhere); `virtual`: `<bucket>.<endpoint host>` "
        "(needs wildcard DNS; AWS's preference).",
        role_var="pypi_mirror_object_store_addressing_style", compat="ours"),
    Key("object-store", "credentials-file", AbsolutePath(), REQUIRED,
        "The access key and secret, never written in this file: an AWS shared-credentials file "
        "(`[default]` with `aws_access_key_id` and `aws_secret_access_key`). It must belong to the "
        "user running the mirror and be readable by nobody else (mode 0400 or 0600); missing, "
        "unsafe or refused credentials: exit 9.",
        role_var="pypi_mirror_object_store_credentials_file",
        role_default="/etc/pypi-mirror.object-store-credentials",
        example="/etc/pypi-mirror.object-store-credentials",
        compat="ours: bandersnatch has `[s3] aws_access_key_id` / `aws_secret_access_key` inline"),
)

PLUGINS_KEYS: tuple[Key, ...] = (
    Key("plugins", "enabled", PluginNames(), None,
        "bandersnatch's filter plugins to run, one name per line, or `all`. With a `[plugins]` section only the "
        "listed plugins run; without one, every filter section present applies. `all` runs every plugin that is "
        "configured: an allowlist release plugin without its list filters nothing (bandersnatch 8.2.0 then "
        "mirrors no files; a warning says so).",
        role_var="pypi_mirror_plugins_enabled",
        compat="same: only the listed plugins run (one per line); different for `all` and for an allowlist release "
               "plugin without its list: nothing filtered instead of no files", attr=None),
)

#: Filter sections (bandersnatch names). They move into the filter classes, which then register
#: them with `register_keys`; a section applies when it is present in the file.
FILTER_KEYS: tuple[Key, ...] = (
    Key("allowlist", "packages", Requirements(), (),
        "Mirror only these projects; entries with a specifier keep only the matching versions of "
        "that project. No extras, markers or URLs.",
        role_var="pypi_mirror_allowlist_packages", example="\n    requests\n    numpy>=1.26",
        compat="same: `allowlist_project` and `allowlist_release` (without `[plugins]` both apply when the "
               "section is present); also the exemption list of the size and version-count plugins",
        attr="allowlist_packages"),
    Key("blocklist", "packages", Requirements(), (),
        "A bare name removes the project; a name with a specifier removes the matching versions.",
        role_var="pypi_mirror_blocklist_packages", example="example-unwanted",
        compat="same: `blocklist_project` and `blocklist_release`", attr="blocklist_packages"),
    Key("blocklist", "platforms", Words("platform keywords"), (),
        "Exclude files built only for these platforms or Pythons: `windows`, `macos`, `linux`, "
        "`manylinux`, `musllinux`, `freebsd`, `ios`, `android`, `freethreaded`, `pypy`, `pyX`, "
        "`pyX.Y` (details in README).",
        role_var="pypi_mirror_blocklist_platforms", example="windows macos py2 py3.6 freethreaded",
        compat="different: keywords match wheel tags, not substrings (`py2` keeps `py2.py3` wheels, `pyX.Y` "
               "keeps abi3 ones, `linux` also matches plain `linux_*`); more keywords; unknown ones are errors",
        attr="blocklist_platforms"),
    Key("filters", "prereleases", Boolean(), False,
        "true: exclude PEP 440 pre- and dev releases.",
        role_var="pypi_mirror_filter_prereleases", example="true",
        compat="ours: bandersnatch's `prerelease_release` plugin (also read here) is limited by "
               "`[filter_prerelease]`", attr="prereleases"),
    Key("filter_regex", "releases", Regexes(), (),
        "Exclude versions matching any of these regexes (`re.match`: anchored at the start).",
        role_var="pypi_mirror_filter_regex_releases", example="\n    .*rc\\d+$",
        compat="same (`regex_release`)", attr="release_regexes"),
    Key("latest_release", "keep", Integer(0, 1_000_000), 0,
        "Keep only the N highest versions that still have files after the other filters; 0: all.",
        role_var="pypi_mirror_latest_release_keep", example="3",
        compat="different: exactly N versions that still have files after the other filters, upstream's latest "
               "(`info.version`) always among them; bandersnatch counts in JSON order and may keep fewer",
        attr="latest_keep"),
    Key("size", "max_file_size", Size(), None,
        "Exclude files larger than this (files of unknown size pass); empty: no limit. An integer of "
        "bytes, or with `K`/`M`/`G`/`T` (powers of 1024, optional `B`/`iB`).",
        role_var="pypi_mirror_size_max_file_size", example="500M",
        compat="ours: single files (bandersnatch's `[size_project_metadata]`, also read here, limits whole "
               "projects)", attr="max_file_size"),
    Key("size", "allowlist", Words("project names"), (),
        "Projects exempt from `max_file_size`.",
        role_var="pypi_mirror_size_allowlist", example="big-project", compat="ours", attr="size_allowlist"),
)

#: Sections whose absence changes nothing (the file must hold `[mirror]`).
CORE_SECTIONS: Final = ("mirror", "wrapper", "plugins")
#: Sections that are not filters (`[object-store]` is read only with an object-store backend).
NON_FILTER_SECTIONS: Final = (*CORE_SECTIONS, "object-store")
#: Modules that register further keys when imported (the filter plugins).
PROVIDERS: tuple[str, ...] = ("mirror_tool.filters",)


class KeyTable:
    """Every known row, in declaration order, indexed by (section, name)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Key] = {}
        self._weak: set[tuple[str, str]] = set()
        self._providers_loaded = False

    def register(self, rows: Iterable[Key], *, weak: bool = False) -> None:
        """Add rows; re-registering an identical row is a no-op, a different one an error.

        `weak` rows (bandersnatch keys declared only to explain them) give way: a weak row is not
        added where a row exists, and a normal row replaces a weak one.
        """
        for row in rows:
            where = (row.section, row.name)
            known = self._rows.get(where)
            if known is not None and weak:
                continue
            if known is not None and known != row and where not in self._weak:
                raise ValueError(f"[{row.section}] {row.name} is declared twice, differently")
            self._rows[where] = row
            if weak:
                self._weak.add(where)
            else:
                self._weak.discard(where)

    def remove(self, rows: Iterable[Key]) -> None:
        """Forget rows (tests that register a plugin's keys clean up with this)."""
        for row in rows:
            self._rows.pop((row.section, row.name), None)
            self._weak.discard((row.section, row.name))

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

    def lookup(self, section: str, name: str) -> Key | None:
        """The row for the key `name` as written: by its lower-case name, else the section's
        template row that matches it."""
        row = self._rows.get((section, name.lower()))
        if row is not None and not row.template:
            return row
        return next((r for r in self.section(section) if r.matches(name)), None)


KEYS = KeyTable()
KEYS.register(MIRROR_KEYS + WRAPPER_KEYS + OBJECT_STORE_KEYS + PLUGINS_KEYS + FILTER_KEYS)


def register_keys(rows: Iterable[Key], *, weak: bool = False) -> None:
    """Make a plugin's rows known to the loader, the generators and the role checks (`weak`:
    rows that only explain a bandersnatch key and give way to a real row of the same name)."""
    KEYS.register(rows, weak=weak)


def all_keys() -> tuple[Key, ...]:
    """Every row, the providers' included."""
    KEYS.load_providers()
    return KEYS.rows()


# bandersnatch spellings read as keys of ours, and the bandersnatch keys that only get explained
# (bandersnatch.py imports Key from here, so it comes last).
from mirror_tool.config.bandersnatch import ALIASES, EXPLAINED  # noqa: E402

KEYS.register(ALIASES)
KEYS.register(EXPLAINED, weak=True)
