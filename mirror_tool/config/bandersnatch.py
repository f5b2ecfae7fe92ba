"""The bandersnatch 8.2.0 keys that are not keys of ours: read as another key, or only explained.

Every row's `compat` text starts with its status (`compat.STATUSES`); docs/reference.md's
compatibility table and docs/bandersnatch-8.2.0-keys.tsv come from these rows and the rows of the
keys we implement. Explanation rows are registered weakly (schema.KeyTable.register): when a part
of the tool implements one of these keys, its row replaces the explanation.
"""

from __future__ import annotations

from mirror_tool.config.compat import ALWAYS, Ignored, Noted, Text
from mirror_tool.config.schema import Key
from mirror_tool.config.values import Boolean, Integer

#: Keys read as one of ours (they act).
ALIASES: tuple[Key, ...] = (
    Key("mirror", "delete_missing_packages", Noted(Boolean(), False,
        "read as `delete-packages = true`, which also deletes files dropped from pages and projects removed "
        "from upstream's index"), False,
        "bandersnatch's spelling, read as `delete-packages` when that key is absent.",
        alias_of="delete-packages",
        compat="renamed: `delete-packages` (default true here; bandersnatch's default false keeps everything, "
               "and `false` here does the same); this spelling is read as it"),
    Key("mirror", "keep-index-versions", Noted(Integer(0, 1000), ALWAYS,
        "bandersnatch 8.2.0 never reads this spelling (it reads `keep_index_versions`); here it acts like "
        "`keep_index_versions`"), 0,
        "The spelling of bandersnatch's defaults.conf, which 8.2.0 never reads; read as `keep_index_versions`.",
        alias_of="keep_index_versions",
        compat="different: bandersnatch 8.2.0 ignores this spelling (it reads `keep_index_versions`); "
               "read here as `keep_index_versions`, with one warning"),
)

_S3 = ("the [s3] keys only matter with `storage-backend = s3`, which this version does not have "
       "(`storage-backend` must be `filesystem`)")

#: Keys accepted (or refused) only to say so: they change nothing here.
EXPLAINED: tuple[Key, ...] = (
    Key("mirror", "allow-non-https", Ignored(Boolean(), (True, False), "http masters are always accepted"), False,
        "Accepted and ignored: `http://` masters are always accepted here.",
        compat="not needed: `http://` masters are always accepted here (bandersnatch needs this key, and "
               "still refuses them in `verify` and `delete`)"),
    Key("mirror", "cleanup", Ignored(Boolean(), (False,),
        "this tool never writes legacy non-normalized `simple/` directories; `pypi-mirror adopt` reports any it "
        "finds"), False,
        "Accepted and ignored: legacy non-normalized `simple/` directories are never written here.",
        compat="not needed: legacy non-normalized `simple/` directories are never written here; `adopt` "
               "reports any it finds"),
    Key("mirror", "cleanup_todo", Ignored(Boolean(), (False,),
        "`todo` never keeps a project whose JSON answers 404 here (it is removed)"), False,
        "Accepted and ignored: `todo` never keeps a project whose JSON answers 404 here.",
        compat="not needed: `todo` never keeps a project whose JSON answers 404 here (it is removed)"),
    *(Key("s3", name, Ignored(Text(), (), _S3), "",
          "bandersnatch's S3 storage setting; ignored (one warning): this version stores on a filesystem only.",
          compat="not supported: no object-store backend in this version (`storage-backend` must be `filesystem`)")
      for name in ("region_name", "aws_access_key_id", "aws_secret_access_key", "endpoint_url", "signature_version",
                   "max_attempts", "verify_concurrency", "config_param_<name>")),
)

__all__ = ["ALIASES", "EXPLAINED"]
