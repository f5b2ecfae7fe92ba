"""The `[wrapper]`, `[object-store]`, `[plugins]` and built-in filter rows of the config schema.

Registered by `schema.py`; filters that live in `mirror_tool/filters/` register their own rows.
"""

from __future__ import annotations

from mirror_tool.config.compat import PluginNames
from mirror_tool.config.key import REQUIRED, SECONDS, SECONDS_OR_ZERO, Key
from mirror_tool.config.place_values import BucketName, HttpUrl, KeyPrefix
from mirror_tool.config.values import (
    AbsolutePath,
    Boolean,
    Choice,
    Integer,
    OptionalPath,
    Regexes,
    Requirements,
    Size,
    Token,
    Words,
)

WRAPPER_KEYS: tuple[Key, ...] = (
    Key("wrapper", "log-file", OptionalPath(), None,
        "Timestamped log lines of the whole run (sync included), appended and flushed per line; "
        "empty: stdout.",
        role_var="pypi_mirror_wrapper_log_file", role_default="{{ pypi_mirror_log_dir }}/wrapper.log"),
    Key("wrapper", "time-limit", SECONDS, 3300.0,
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
    Key("wrapper", "purge-timeout", SECONDS, 10.0, "Per-PURGE timeout.",
        role_var="pypi_mirror_purge_timeout"),
    Key("wrapper", "retry-attempts", Integer(0, 10), 3,
        "In-run re-syncs of stale projects after PURGE.",
        role_var="pypi_mirror_retry_attempts"),
    Key("wrapper", "retry-backoff", SECONDS_OR_ZERO, 2.0, "First wait between those re-syncs (doubles).",
        role_var="pypi_mirror_retry_backoff"),
    Key("wrapper", "retry-max-time", SECONDS_OR_ZERO, 120.0, "Bound on the in-run retry phase.",
        role_var="pypi_mirror_retry_max_time"),
    Key("wrapper", "retry-interval", SECONDS_OR_ZERO, 300.0,
        "First cross-run wait before a still-stale project is PURGEd and re-synced again (doubles "
        "per failed run, up to `retry-interval-max`).",
        role_var="pypi_mirror_retry_interval"),
    Key("wrapper", "retry-interval-max", SECONDS_OR_ZERO, 86400.0, "Cap of that wait.",
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
