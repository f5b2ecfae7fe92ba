"""A bandersnatch.conf read here: its file format, its keys we read differently, ignore or refuse
(one line each, never silence), and the key table held against the 8.2.0 inventory
(docs/bandersnatch-8.2.0-keys.tsv) so the two cannot drift apart."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mirror_tool.config import load_config, parse_config_text
from mirror_tool.config.compat import STATUSES
from mirror_tool.config.compat_table import INVENTORY, inventory_facts, row_for, status_of
from mirror_tool.config.schema import all_keys
from mirror_tool.errors import ConfigError
from tests.support.mirror_env import run_cli

BASE = "[mirror]\ndirectory = /srv/pypi\nmaster = http://127.0.0.1:9\n"
#: Sections of bandersnatch 8.2.0 (the inventory's); a row there that is not ours must be in it.
THEIR_SECTIONS = {fact["section"] for fact in inventory_facts()}


def _load(text: str):  # type: ignore[no-untyped-def]
    return parse_config_text(text, Path("/etc/bandersnatch.conf"))


def test_every_inventory_key_has_a_row_with_a_status() -> None:
    facts = inventory_facts()
    assert len(facts) >= 55
    for fact in facts:
        row = row_for(fact["section"], fact["key"])
        assert row is not None, f"[{fact['section']}] {fact['key']}: no row in the key table"
        assert status_of(row) in STATUSES and status_of(row) != "ours", (fact, row.compat)


def test_every_row_says_where_it_stands_and_bandersnatch_rows_are_in_the_inventory() -> None:
    known = {(f["section"], f["key"].lower()) for f in inventory_facts()}
    for row in all_keys():
        status = status_of(row)
        assert status in STATUSES, f"[{row.section}] {row.name}: compat {row.compat!r} starts with no status"
        if status != "ours" and row.section in THEIR_SECTIONS:
            assert (row.section, row.name) in known, f"[{row.section}] {row.name} is not a bandersnatch 8.2.0 key"


def test_inventory_status_columns_are_generated_from_the_rows() -> None:
    with open(INVENTORY, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    by_key = {(r["section"], r["key"]): r for r in rows}
    assert by_key[("mirror", "keep_index_versions")]["our_status"] == "different"
    assert by_key[("mirror", "delete_missing_packages")]["our_key"] == "delete-packages"
    assert by_key[("mirror", "cleanup")]["our_status"] == "not-needed"
    assert not [r for r in rows if r["our_status"] in ("not-yet", "missing")]


def test_bandersnatch_file_format_equals_percent_and_case() -> None:
    config = _load(BASE + "diff-file = %(directory)s/diff%%s\n"
                   "[regex_project_metadata]\nnot-null:info.Classifiers =\n    Framework :: Django\n"
                   "[filter_regex]\nreleases = .*%%dev\n")
    assert config.mirror.diff_file == "/srv/pypi/diff%s"
    assert "not-null:info.Classifiers" in config.section("regex_project_metadata")  # type: ignore[operator]
    assert config.section("filter_regex")["releases"] == (".*%dev",)  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"^\[mirror\] diff-file: bad % interpolation"):
        _load(BASE + "diff-file = %(nowhere)s/x\n")
    with pytest.raises(ConfigError, match="line 4"):
        _load(BASE + "workers: 3\n")  # `:` is no delimiter there either
    assert _load(BASE + "master2 = a%4b\n".replace("master2", "root_uri").replace("a%4b", "http://h/p%40x")
                 ).mirror.root_uri == "http://h/p%40x"  # a lone % stays


@pytest.mark.parametrize(("line", "warning"), [
    ("cleanup = true", "[mirror] cleanup: ignored: this tool never writes legacy"),
    ("cleanup_todo = yes", "[mirror] cleanup_todo: ignored:"),
    ("global-timeout = 1800", "[mirror] global-timeout: limits the whole `pypi-mirror mirror` run here"),
    ("delete_missing_packages = true", "[mirror] delete_missing_packages: read as `delete-packages = true`"),
    ("[s3]\nregion_name = eu-west-1", "[s3] region_name: ignored: the [s3] keys only matter"),
])
def test_keys_read_differently_or_ignored_get_one_warning(line: str, warning: str) -> None:
    config = _load(BASE + line + "\n")
    assert [w for w in config.warnings if w.startswith(warning)], config.warnings
    assert len(config.warnings) == 1


@pytest.mark.parametrize("line", ["cleanup = false", "allow-non-https = true", "cleanup_todo = false",
                                  "delete_missing_packages = false", "global-timeout = 18000",
                                  "proxy = http://proxy.invalid:3128"])
def test_keys_whose_meaning_holds_here_are_quiet(line: str) -> None:
    assert _load(BASE + line + "\n").warnings == ()


def test_delete_missing_packages_is_read_as_delete_packages() -> None:
    assert _load(BASE + "delete_missing_packages = false\n").mirror.delete_packages is False
    assert _load(BASE).mirror.delete_packages is True
    with pytest.raises(ConfigError, match="given twice: as `delete_missing_packages` and as `delete-packages`"):
        _load(BASE + "delete_missing_packages = false\ndelete-packages = true\n")


@pytest.mark.parametrize(("text", "expected"), [
    ("proxy = socks5://127.0.0.1:1080\n", "[mirror] proxy: must be an http:// or https:// proxy URL (SOCKS is not "),
    ("[swift]\nauth_url = x\n", "[swift]: bandersnatch 8.2.0 has no Swift storage plugin"),
    ("[blacklist]\npackages = x\n", "[blacklist]: bandersnatch < 5 name, ignored by 8.2.0"),
    ("[plugins]\nenabled = exclude_platfrom\n", "[plugins] enabled: unknown plugin 'exclude_platfrom'"),
    ("diff-file = {{mirror_nowhere}}/x\n", "[mirror] diff-file: {{mirror_nowhere}} names no key"),
    ("digest_name = sha512\n", "[mirror] digest_name: must be one of sha256, md5, blake2b_256"),
    ("[versions_count_project_metadata]\nmin_versions = 5\nmax_versions = 2\n",
     "[versions_count_project_metadata] min_versions: 5 is above max_versions = 2"),
    ("[regex_project_metadata]\nmaybe:info.license = MIT\n", "[regex_project_metadata] maybe:info.license: not `[tags:]"),
    ("[latest_release]\nkeep = 2\nsort_by = size\n", "[latest_release] sort_by: must be one of version, time"),
])
def test_what_cannot_be_honoured_is_one_config_error(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(BASE + text)
    assert str(error.value).startswith(expected), str(error.value)


def test_check_config_prints_warnings_and_exits_0(tmp_path: Path) -> None:
    conf = tmp_path / "bandersnatch.conf"
    conf.write_text(BASE.replace("/srv/pypi", str(tmp_path / "m")) + "cleanup = true\n")
    result = run_cli("check-config", str(conf))
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == ("pypi-mirror: config warning: [mirror] cleanup: ignored: this tool never writes legacy "
                             "non-normalized `simple/` directories; `pypi-mirror adopt` reports any it finds\n")
    assert load_config(conf).mirror.directory == tmp_path / "m"
