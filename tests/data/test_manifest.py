"""Dataset manifests: digest-bound, round-trip, verified file by file; a changed, missing or
edited file is a typed error naming it; a corpus of malformed manifests is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.data.errors import DatasetDigestMismatch, MalformedDataset, MalformedManifest
from psionic.data.manifest import SCHEMA, DatasetManifest, build_manifest
from psionic.data.splits import SplitRule


def _dataset(folder: Path, n: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"prompt": f"{i} + 1 =", "completion": str(i + 1)}) for i in range(n)]
    (folder / "part1.jsonl").write_text("\n".join(lines[: n // 2]) + "\n")
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "part2.jsonl").write_text("\n".join(lines[n // 2:]) + "\n")
    (folder / "notes.txt").write_text("not part of the dataset")
    return folder


def test_folder_manifest_lists_files_splits_and_round_trips(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "ds")
    m = build_manifest(data, root=tmp_path, rule=SplitRule(0.25, seed=3))
    assert [f.path for f in m.files] == ["ds/part1.jsonl", "ds/sub/part2.jsonl"]
    assert all(f.records == 20 and f.kind == "completion" for f in m.files)
    assert m.splits["train"].records + m.splits["eval"].records == 40
    assert 0 < m.splits["eval"].records < 20
    out = tmp_path / "manifest.json"
    m.write(out)
    again = DatasetManifest.load(out)
    assert again == m and again.digest == m.digest and again.to_dict()["schema"] == SCHEMA
    assert again.verify(tmp_path) == ["ds/part1.jsonl", "ds/sub/part2.jsonl"]
    split = again.examples(tmp_path)
    assert len(split["eval"]) == m.splits["eval"].records


def test_splits_depend_on_content_and_seed_not_on_order(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "a")
    m1 = build_manifest(data, root=tmp_path, rule=SplitRule(0.3, seed=1))
    other = tmp_path / "b.jsonl"
    lines = []
    for f in sorted(data.rglob("*.jsonl")):
        lines += f.read_text().splitlines()
    other.write_text("\n".join(reversed(lines)) + "\n")
    m2 = build_manifest(other, root=tmp_path, rule=SplitRule(0.3, seed=1))
    assert m1.splits["eval"].records == m2.splits["eval"].records
    evals1 = {e.digest for e in m1.examples(tmp_path)["eval"]}
    evals2 = {e.digest for e in m2.examples(tmp_path)["eval"]}
    assert evals1 == evals2
    m3 = build_manifest(other, root=tmp_path, rule=SplitRule(0.3, seed=2))
    assert {e.digest for e in m3.examples(tmp_path)["eval"]} != evals2


def test_a_changed_file_is_named(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "ds")
    m = build_manifest(data, root=tmp_path)
    with (data / "sub" / "part2.jsonl").open("a") as f:
        f.write('{"prompt": "x", "completion": "y"}\n')
    with pytest.raises(DatasetDigestMismatch) as info:
        m.verify(tmp_path)
    assert info.value.details["file"] == "ds/sub/part2.jsonl" and "ds/sub/part2.jsonl" in info.value.message
    assert info.value.code == "dataset_digest_mismatch"
    (data / "part1.jsonl").unlink()
    with pytest.raises(DatasetDigestMismatch, match="part1.jsonl: listed in the manifest but missing"):
        m.verify(tmp_path)


def test_an_edited_manifest_fails_its_own_digest(tmp_path: Path) -> None:
    m = build_manifest(_dataset(tmp_path / "ds"), root=tmp_path)
    d = m.to_dict()
    d["splits"]["train"]["records"] += 1
    with pytest.raises(DatasetDigestMismatch, match="recorded digest"):
        DatasetManifest.from_dict(d)


def _valid(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    return build_manifest(_dataset(tmp_path / "ds"), root=tmp_path).to_dict()


BAD_MANIFESTS = {
    "not_object": lambda d: [d],
    "wrong_schema": lambda d: {**d, "schema": "psionic.dataset_manifest.v0"},
    "no_files": lambda d: {k: v for k, v in d.items() if k != "files"},
    "file_without_digest": lambda d: {**d, "files": [{**d["files"][0], "digest": "abc"}]},
    "absolute_path": lambda d: {**d, "files": [{**d["files"][0], "path": "/etc/passwd"}]},
    "bad_split_rule": lambda d: {**d, "split_rule": {"method": "random"}},
    "records_not_int": lambda d: {**d, "splits": {"train": {"records": "many"}}},
}


@pytest.mark.parametrize("name", sorted(BAD_MANIFESTS))
def test_malformed_manifest_corpus(tmp_path: Path, name: str) -> None:
    broken = BAD_MANIFESTS[name](_valid(tmp_path))
    with pytest.raises((MalformedManifest, DatasetDigestMismatch)) as info:
        DatasetManifest.from_dict(broken, "m.json")
    assert "m.json" in info.value.message


def test_unreadable_and_non_json_manifests(tmp_path: Path) -> None:
    with pytest.raises(MalformedManifest, match="cannot read"):
        DatasetManifest.load(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(MalformedManifest, match="not JSON"):
        DatasetManifest.load(bad)


def test_a_folder_without_jsonl_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(MalformedDataset, match="no .jsonl files"):
        build_manifest(tmp_path, root=tmp_path)
