"""Config parsing: every documented key and default, every error class, the example file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror_tool.config import (
    EXAMPLE_CONFIG,
    Config,
    ConfigError,
    load_config,
    parse_config_text,
)

BASE = "[mirror]\ndirectory = /srv/m\nmaster = http://127.0.0.1:9\n"


def parse(text: str) -> Config:
    return parse_config_text(text, Path("/x.conf"))


def test_defaults_match_the_design_table() -> None:
    cfg = parse(BASE)
    m = cfg.mirror
    assert (m.directory, m.master) == (Path("/srv/m"), "http://127.0.0.1:9")
    assert (m.timeout, m.global_timeout, m.workers, m.verifiers) == (10.0, 18000.0, 3, 3)
    assert (m.stop_on_error, m.json, m.release_files, m.delete_packages) == (False, False, True, True)
    assert (m.compare_method, m.simple_format, m.root_uri) == ("hash", "ALL", "")
    assert (m.hash_index, m.storage_backend, m.changelog_source) == (False, "filesystem", "auto")
    assert (m.reconcile_interval, m.stale_retries, m.stale_backoff, m.retries, m.log_file) == (24.0, 3, 0.5, 3, None)
    w = cfg.wrapper
    assert (w.time_limit, w.purge, w.purge_url, w.purge_timeout) == (3300.0, "auto", "", 10.0)
    assert (w.retry_attempts, w.retry_backoff, w.retry_max_time) == (3, 2.0, 120.0)
    assert (w.retry_interval, w.retry_interval_max, w.state_file, w.metrics_file) == (300.0, 86400.0, None, None)
    assert cfg.lock_path == Path("/srv/m/.lock")
    assert cfg.wrapper_state_path == Path("/srv/m/wrapper-state.json")
    f = cfg.filters
    assert f.allowlist_packages == () and f.max_file_size is None and f.latest_keep == 0 and not f.sections


def test_every_key_parsed() -> None:
    cfg = parse(
        BASE
        + """timeout = 2.5
global-timeout = 60
workers = 8
verifiers = 2
stop-on-error = yes
json = on
release-files = 0
delete-packages = false
compare-method = stat
simple-format = json
root_uri = https://mirror.invalid/
hash-index = no
storage-backend = filesystem
changelog-source = index
reconcile-interval = 0
stale-retries = 0
stale-backoff = 0
retries = 5
log-file = /var/log/m.log

[wrapper]
log-file = /var/log/w.log
time-limit = 100
purge = off
purge-url = http://127.0.0.1:1
purge-key-file = /etc/key
purge-timeout = 3
retry-attempts = 1
retry-backoff = 0
retry-max-time = 5
retry-interval = 10
retry-interval-max = 20
state-file = /tmp/s.json
metrics-file = /tmp/m.prom

[plugins]
enabled = allowlist_project

[allowlist]
packages =
    requests
    numpy>=1.26
[blocklist]
packages = evil
platforms = windows py2.7 freethreaded
[filters]
prereleases = true
[filter_regex]
releases =
    .*rc\\d+$
[latest_release]
keep = 2
[size]
max_file_size = 500M
allowlist = big
"""
    )
    m = cfg.mirror
    assert (m.timeout, m.global_timeout, m.workers, m.verifiers) == (2.5, 60.0, 8, 2)
    assert (m.stop_on_error, m.json, m.release_files, m.delete_packages) == (True, True, False, False)
    assert (m.compare_method, m.simple_format, m.root_uri) == ("stat", "JSON", "https://mirror.invalid")
    assert (m.changelog_source, m.reconcile_interval, m.stale_retries, m.retries) == ("index", 0.0, 0, 5)
    assert m.log_file == Path("/var/log/m.log")
    w = cfg.wrapper
    assert (w.time_limit, w.purge, w.purge_url, w.purge_key_file) == (100.0, "off", "http://127.0.0.1:1", Path("/etc/key"))
    assert (w.retry_attempts, w.retry_interval_max, w.state_file) == (1, 20.0, Path("/tmp/s.json"))
    assert cfg.wrapper_state_path == Path("/tmp/s.json")
    f = cfg.filters
    assert f.allowlist_packages == ("requests", "numpy>=1.26")
    assert f.blocklist_packages == ("evil",)
    assert f.blocklist_platforms == ("windows", "py2.7", "freethreaded")
    assert f.prereleases is True
    assert f.release_regexes == (r".*rc\d+$",)
    assert f.latest_keep == 2
    assert f.max_file_size == 500 * 1024**2
    assert f.size_allowlist == ("big",)
    assert f.sections == {"allowlist", "blocklist", "filters", "filter_regex", "latest_release", "size"}


def test_example_config_is_valid() -> None:
    """(That it documents every key, and is generated from the schema: test_config_schema.py.)"""
    cfg = load_config(EXAMPLE_CONFIG)
    assert cfg.mirror.master.startswith("https://upstream.invalid")


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (BASE + "colour = blue\n", "[mirror] colour", "unknown key"),
        (BASE + "workers = many\n", "[mirror] workers", "not an integer"),
        (BASE + "workers = 0\n", "[mirror] workers", "1..64"),
        (BASE + "workers = 65\n", "[mirror] workers", "1..64"),
        (BASE + "timeout = -1\n", "[mirror] timeout", "> 0"),
        (BASE + "timeout = nan\n", "[mirror] timeout", "> 0"),
        (BASE + "json = maybe\n", "[mirror] json", "not a boolean"),
        (BASE + "compare-method = md5\n", "[mirror] compare-method", "hash, stat"),
        (BASE + "simple-format = XML\n", "[mirror] simple-format", "ALL, HTML, JSON"),
        (BASE + "changelog-source = rss\n", "[mirror] changelog-source", "auto, xmlrpc, index"),
        (BASE + "hash-index = maybe\n", "[mirror] hash-index", "not a boolean"),
        (BASE + "storage-backend = swift\n", "[mirror] storage-backend", "filesystem"),
        (BASE + "root_uri = ftp://x\n", "[mirror] root_uri", "http(s) URL"),
        (BASE + "stale-retries = 21\n", "[mirror] stale-retries", "0..20"),
        ("[mirror]\ndirectory = srv/m\nmaster = http://127.0.0.1:9\n", "[mirror] directory", "absolute"),
        ("[mirror]\ndirectory = /srv/m\nmaster = ftp://127.0.0.1/\n", "[mirror] master", "http(s) URL"),
        ("[mirror]\ndirectory = /srv/m\nmaster = 127.0.0.1\n", "[mirror] master", "http(s) URL"),
        ("[mirror]\nmaster = http://127.0.0.1:9\n", "[mirror] directory", "missing"),
        ("[mirror]\ndirectory = /srv/m\n", "[mirror] master", "missing"),
        ("[wrapper]\ntime-limit = 5\n", "[mirror]", "missing section"),
        (BASE + "[wrapper]\npurge = sometimes\n", "[wrapper] purge", "auto, off"),
        (BASE + "[wrapper]\ntime-limit = 0\n", "[wrapper] time-limit", "> 0"),
        (BASE + "[wrapper]\nretry-attempts = 11\n", "[wrapper] retry-attempts", "0..10"),
        (BASE + "[wrapper]\npurge-url = nope\n", "[wrapper] purge-url", "http(s) URL"),
        (BASE + "[wrapper]\nbogus = 1\n", "[wrapper] bogus", "unknown key"),
        (BASE + "[mirrors]\nx = 1\n", "[mirrors]", "unknown section"),
        (BASE + "[plugins]\nother = 1\n", "[plugins] other", "unknown key"),
        (BASE + "[allowlist]\npackages = -bad-\n", "[allowlist] packages", "not a project name"),
        (BASE + "[allowlist]\nproject = x\n", "[allowlist] project", "unknown key"),
        (BASE + "[blocklist]\nplatforms = amiga\n", "[blocklist] platforms", "unknown platform"),
        (BASE + "[filters]\nprereleases = perhaps\n", "[filters] prereleases", "not a boolean"),
        (BASE + "[filter_regex]\nreleases = (unclosed\n", "[filter_regex] releases", "invalid regex"),
        (BASE + "[latest_release]\nkeep = -1\n", "[latest_release] keep", "integer"),
        (BASE + "[size]\nmax_file_size = huge\n", "[size] max_file_size", "not a size"),
        (BASE + "workers = 3\nworkers = 4\n", "[mirror] workers", "more than once"),
        (BASE + "proxy = socks5://127.0.0.1:1080\n", "[mirror] proxy", "SOCKS is not supported"),
        (BASE + "proxy = proxy.internal:3128\n", "[mirror] proxy", "http:// or https://"),
        (BASE + "proxy = http://p:port\n", "[mirror] proxy", "bad port"),
        (BASE + "ca-bundle = ca.pem\n", "[mirror] ca-bundle", "absolute"),
        (BASE + "ca-bundle = /nonexistent/ca.pem\n", "[mirror] ca-bundle", "cannot read /nonexistent/ca.pem"),
        (BASE + "ca-bundle = /\n", "[mirror] ca-bundle", "cannot read /"),
        (BASE + "download-hosts = https://files.test\n", "[mirror] download-hosts", "not a host"),
        (BASE + "download-hosts = files.test:99999\n", "[mirror] download-hosts", "not a host"),
        (BASE + "download-hosts = files/test\n", "[mirror] download-hosts", "not a host"),
        (BASE + "max-project-json-size = 10\n", "[mirror] max-project-json-size", "at least 1K"),
        (BASE + "max-index-size =\n", "[mirror] max-index-size", "must not be empty"),
        (BASE + "worker-connections = 0\n", "[mirror] worker-connections", "1..64"),
        (BASE + "request-deadline = 0\n", "[mirror] request-deadline", "> 0"),
        (BASE + "retry-after-max = -1\n", "[mirror] retry-after-max", ">= 0"),
        ("directory = /x\n[mirror]\n", "line 1", "before the first [section]"),
    ],
)
def test_config_errors_name_the_key_and_problem(text: str, where: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    message = str(info.value)
    assert message.startswith(where), message
    assert problem in message, message
    assert "\n" not in message


def test_a_proxy_password_never_reaches_the_error_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse(BASE + "proxy = socks5://mirror:hunter2@127.0.0.1:1080\n")
    assert "hunter2" not in str(info.value) and "***@127.0.0.1" in str(info.value)


def test_network_keys(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    m = parse(BASE + f"proxy = http://u:p@proxy.internal:3128\nca-bundle = {bundle}\n"
              "download-hosts = Files.Test\n  [::1]:8443 127.0.0.1:80\nmax-metadata-size = 1G\n").mirror
    assert (m.proxy, m.ca_bundle) == ("http://u:p@proxy.internal:3128", bundle)
    assert m.download_hosts == ("files.test", "[::1]:8443", "127.0.0.1:80")
    assert m.max_metadata_size == 1 << 30


def test_sizes_and_lists() -> None:
    cfg = parse(BASE + "[size]\nmax_file_size = 2G\n")
    assert cfg.filters.max_file_size == 2 * 1024**3
    cfg = parse(BASE + "[size]\nmax_file_size = 1048576\n")
    assert cfg.filters.max_file_size == 1048576
    cfg = parse(BASE + "[blocklist]\npackages =\n  a b\n  c\n")
    assert cfg.filters.blocklist_packages == ("a", "b", "c")


def test_bandersnatch_style_config_is_accepted() -> None:
    """A bandersnatch [mirror] section with the shared keys loads unchanged."""
    text = """[mirror]
directory = /srv/pypi
master = https://upstream.invalid
json = false
timeout = 10
global-timeout = 18000
workers = 3
hash-index = false
stop-on-error = false
storage-backend = filesystem
verifiers = 3
compare-method = hash
release-files = true
delete-packages = true
simple-format = ALL

[plugins]
enabled =
    blocklist_project

[blocklist]
packages =
    example1
"""
    cfg = parse(text)
    assert cfg.mirror.directory == Path("/srv/pypi")
    assert cfg.filters.blocklist_packages == ("example1",)


def test_load_config_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "nope.conf")


def test_load_config_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
