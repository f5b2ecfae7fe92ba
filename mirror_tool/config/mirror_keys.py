"""The `[mirror]` section's rows of the config schema (registered by `schema.py`).

Why apart: the largest section, kept out of the table's code so each stays short to read.
"""

from __future__ import annotations

from mirror_tool.config.compat import Noted, Text
from mirror_tool.config.key import REQUIRED, SECONDS, SECONDS_OR_ZERO, Key
from mirror_tool.config.place_values import Hosts, HttpUrl, HttpUrls, ProxyUrl, ReadableFile
from mirror_tool.config.values import (
    AbsolutePath,
    Boolean,
    ByteSize,
    Choice,
    Integer,
    Number,
    OptionalPath,
)

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
    Key("mirror", "journal-retention", SECONDS_OR_ZERO, 604800.0,
        "How long the change journal under `web/changes/` keeps what each sync published, in "
        "seconds; a replica down longer than this reconciles from the index. 0: no journal.",
        role_var="pypi_mirror_journal_retention", compat="ours"),
    Key("mirror", "timeout", SECONDS, 10.0,
        "Seconds a request may spend connecting, or without receiving a byte; then that try ends "
        "(and is retried, see `retries`).",
        role_var="pypi_mirror_timeout", compat="same: connect and read timeout of each request"),
    Key("mirror", "request-deadline", SECONDS, 300.0,
        "Whole-request limit of one try at a document (project JSON, index, XML-RPC, PURGE "
        "answers): connect to last byte. Ends an upstream that drips bytes; not retried.",
        role_var="pypi_mirror_request_deadline",
        compat="ours; bandersnatch's per-request total is `global-timeout`, which here limits the run"),
    Key("mirror", "download-deadline", SECONDS, 1800.0,
        "Whole-request limit of one try at a release file or `.metadata`, connect to last byte; not "
        "retried.",
        role_var="pypi_mirror_download_deadline", compat="ours"),
    Key("mirror", "global-timeout", Noted(SECONDS, 18000.0,
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
    Key("mirror", "stale-backoff", SECONDS_OR_ZERO, 0.5, "First wait between those re-fetches (doubles).",
        role_var="pypi_mirror_stale_backoff", compat="ours"),
    Key("mirror", "retries", Integer(0, 20), 3,
        "Retries of one request after a 5xx or 429 answer, a refused, reset or cut connection, a "
        "stall (`timeout`), or a file whose size or sha256 does not match; 0.1 s apart, doubling "
        "up to 2 s.",
        role_var="pypi_mirror_retries", compat="ours"),
    Key("mirror", "retry-after-max", SECONDS_OR_ZERO, 60.0,
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
