from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from psionic.core.digest import (
    canonical_json,
    digest_bytes,
    digest_file,
    digest_json,
    is_digest,
)


def test_canonical_json_is_rfc8785() -> None:
    # Keys sorted by UTF-16 code units, no whitespace, ES6 number form.
    assert canonical_json({"b": 1.0, "a": [True, None, "é"], "\u20ac": 1e21}) == (
        b'{"a":[true,null,"\xc3\xa9"],"b":1,"\xe2\x82\xac":1e+21}'
    )


def test_digest_json_is_sha256_over_tag_and_canonical_bytes() -> None:
    expected = hashlib.sha256(b'psionic.example.v1\n{"a":1,"b":[2,3]}').hexdigest()
    assert digest_json("example", {"b": [2, 3], "a": 1}) == "sha256:" + expected


def test_domain_tags_separate_kinds_and_versions() -> None:
    obj = {"x": 1}
    assert digest_json("receipt", obj) != digest_json("runtime_manifest", obj)
    assert digest_json("receipt", obj) != digest_json("receipt", obj, version=2)
    with pytest.raises(ValueError):
        digest_json("Bad Kind", obj)


def test_file_and_bytes_digests_agree(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # spans several read chunks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert digest_file(path) == digest_bytes(data) == "sha256:" + hashlib.sha256(data).hexdigest()
    assert is_digest(digest_file(path))
    assert not is_digest("sha256:XYZ")
