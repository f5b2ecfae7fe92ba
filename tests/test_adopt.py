"""`pypi-mirror adopt --from-bandersnatch` on trees shaped as bandersnatch 8.2.0 leaves them (its
text `todo`, string serials in the pages, a root index without per-project serials, no state of
ours), with the damage adopting must find: a wrong file, a missing file, a legacy directory, a
hash-index layout. The real bandersnatch's tree: tests/test_bandersnatch_e2e.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mirror_tool.config import Config, load_config
from mirror_tool.engine.run import run_mirror
from mirror_tool.exitcodes import ExitCode
from tests.fakepypi import FakePyPI
from tests.support.mirror_env import run_cli, write_config
from tests.test_pending_journal import run_killed_at


def _as_bandersnatch_left_it(config: Config, *, todo: str | None = None) -> None:
    """Turn a tree of ours into what bandersnatch 8.2.0 writes (docs/bandersnatch-8.2.0.md, section 7)."""
    directory, simple = config.directory, config.web_dir / "simple"
    for name in ("state.json", "stale.json", "todo"):
        (directory / name).unlink(missing_ok=True)
    (directory / "status").write_text((directory / "status").read_text().strip())
    root = json.loads((simple / "index.v1_json").read_bytes())
    root["projects"] = [{"name": p["name"]} for p in root["projects"]]
    (simple / "index.v1_json").write_text(json.dumps(root))
    for page in simple.glob("*/index.v1_json"):
        doc = json.loads(page.read_bytes())
        doc["meta"]["_last-serial"] = str(doc["meta"]["_last-serial"])
        page.write_text(json.dumps(doc))
    if todo is not None:
        (directory / "todo").write_text(todo)


def _downloads(fp: FakePyPI) -> list[str]:
    return sorted(r["path"].rsplit("/", 1)[-1] for r in fp.requests() if r["path"].startswith("/packages/"))


def test_adopt_reports_damage_and_the_next_run_fetches_only_that(fakepypi: FakePyPI, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "b.conf", tmp_path / "m", fakepypi.base_url))
    assert run_mirror(config).exit_code == ExitCode.OK
    serial = fakepypi.last_serial
    fakepypi.upload("Needs_Py", "6.0")  # a change bandersnatch had queued when it stopped
    _as_bandersnatch_left_it(config, todo=f"{fakepypi.last_serial}\nNeeds_Py {fakepypi.last_serial}")
    web = config.web_dir
    next(web.rglob("foo_bar-1.0.0.tar.gz")).write_bytes(b"bit rot")
    next(web.rglob("pre_release-1.1.0-py3-none-any.whl")).unlink()
    shutil.copytree(web / "simple" / "foo-bar", web / "simple" / "Foo.Bar")  # bandersnatch < 4.0 leftovers

    result = run_cli("adopt", "--from-bandersnatch", str(config.path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mirror_serial"] == serial and report["projects"] == 8
    assert report["wrong_hash"]["examples"] == [f"foo-bar/{next(web.rglob('foo_bar-1.0.0.tar.gz')).relative_to(web)}"]
    assert report["pages_listing_missing"]["examples"] == ["pre-release"]
    assert report["legacy_directories"]["examples"] == ["Foo.Bar"]
    assert report["queued"]["examples"] == ["foo-bar", "needs-py", "pre-release"]
    assert report["bandersnatch_todo"] == 1
    root = json.loads((web / "simple" / "index.v1_json").read_bytes())
    assert root["meta"]["_last-serial"] == serial and all(p["_last-serial"] > 0 for p in root["projects"])
    assert "Foo.Bar" not in {p["name"] for p in root["projects"]}

    fakepypi.clear_log()
    config = load_config(config.path)
    result = run_mirror(config)
    assert result.exit_code == ExitCode.OK
    assert _downloads(fakepypi) == ["foo_bar-1.0.0.tar.gz", "needs_py-6.0-py3-none-any.whl", "needs_py-6.0.tar.gz",
                                    "pre_release-1.1.0-py3-none-any.whl"]
    assert result.mirror_serial == fakepypi.last_serial


def test_first_run_adopts_a_hash_index_tree_when_told_so(fakepypi: FakePyPI, tmp_path: Path) -> None:
    conf = write_config(tmp_path / "b.conf", tmp_path / "m", fakepypi.base_url, hash_index="true")
    config = load_config(conf)
    assert run_mirror(config).exit_code == ExitCode.OK
    _as_bandersnatch_left_it(config)
    (config.web_dir / "simple" / "index.v1_json").write_text('{"meta": {"_last-serial": 1}, "projects": []}')
    flat = write_config(tmp_path / "flat.conf", tmp_path / "m", fakepypi.base_url)
    result = run_cli("-c", str(flat), "mirror")
    assert result.returncode == 2
    assert "[mirror] hash-index: the tree keeps its pages in simple/<c>/<name>/" in result.stderr
    fakepypi.clear_log()
    result = run_cli("-c", str(conf), "mirror")
    assert result.returncode == 0, result.stderr
    assert "adopting it" in result.stderr and _downloads(fakepypi) == []
    root = json.loads((config.web_dir / "simple" / "index.v1_json").read_bytes())
    assert "foo-bar" in {p["name"] for p in root["projects"]}
    assert (config.directory / "state.json").exists()


def test_a_killed_first_run_over_a_bandersnatch_tree_is_finished_not_adopted_again(fakepypi: FakePyPI,
                                                                                  tmp_path: Path) -> None:
    """`prepare` adopts first (bandersnatch's text `todo` becomes ours, `state.json` is written),
    then reads the state, then finishes the pending journal: the run after a kill does not adopt
    again and reclaims what the killed one stored for a release upstream then withdrew."""
    conf = write_config(tmp_path / "b.conf", tmp_path / "m", fakepypi.base_url)
    config = load_config(conf)
    assert run_mirror(config).exit_code == ExitCode.OK
    fakepypi.upload("Needs_Py", "6.0")
    _as_bandersnatch_left_it(config, todo=f"{fakepypi.last_serial}\nNeeds_Py {fakepypi.last_serial}")
    killed = run_killed_at("file-committed", "-c", str(conf), "mirror")
    assert "adopting it" in killed.stderr
    assert json.loads((config.directory / "todo").read_text())["projects"] == {"needs-py": fakepypi.last_serial}
    assert [p.name for p in config.web_dir.rglob("needs_py-6.0*") if not p.name.endswith(".metadata")]
    fakepypi.remove_release("Needs_Py", "6.0")
    result = run_cli("-c", str(conf), "mirror")
    assert result.returncode == 0, result.stderr
    assert "adopting it" not in result.stderr
    assert not list(config.web_dir.rglob("needs_py-6.0*"))  # stored by the killed run, listed by no page: gone
    assert "6.0" not in {f["filename"].split("-")[1] for f in json.loads(
        (config.web_dir / "simple" / "needs-py" / "index.v1_json").read_bytes())["files"]}
    assert int((config.directory / "status").read_text()) == fakepypi.last_serial
    assert not list((config.directory / "pending").iterdir()) and not (config.directory / "todo").exists()
