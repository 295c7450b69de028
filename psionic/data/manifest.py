"""Dataset manifests: a versioned, digest-bound description of a dataset.

A manifest lists every source file (path relative to the manifest, size,
``sha256`` digest, record count and kind), the split rule and each split's
size, and, when the dataset was tokenized, the tokenizer and chat-template
digests with token counts per split. Its own digest covers all of that, so a
training receipt or an eval report can name the exact data by one string.
``verify`` rehashes every file; a changed file is a ``DatasetDigestMismatch``
naming it.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.jsonl").write_text('{"prompt": "1+1=", "completion": "2"}\\n')
>>> m = build_manifest(d / "a.jsonl", root=d)
>>> [(f.path, f.records) for f in m.files], m.splits["train"].records + m.splits["eval"].records
([('a.jsonl', 1)], 1)
>>> DatasetManifest.from_dict(m.to_dict()).digest == m.digest
True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psionic.core.atomic import atomic_write_bytes
from psionic.core.digest import digest_file, digest_json, is_digest
from psionic.core.errors import InvalidInput
from psionic.data.errors import DatasetDigestMismatch, MalformedDataset, MalformedManifest
from psionic.data.records import Example, read_jsonl
from psionic.data.splits import SPLITS, SplitRule, split_records
from psionic.data.tokenize import Tokenization

SCHEMA = "psionic.dataset_manifest.v1"
RECORD_SUFFIXES = (".jsonl",)


@dataclass(frozen=True, slots=True)
class ManifestFile:
    path: str  # POSIX, relative to the manifest's directory
    bytes: int
    digest: str
    records: int | None  # None for a file that is not a JSONL dataset
    kind: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "digest": self.digest,
                "records": self.records, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class SplitSize:
    records: int
    tokens: int | None = None
    loss_tokens: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "tokens": self.tokens, "loss_tokens": self.loss_tokens}


@dataclass(frozen=True, slots=True)
class DatasetManifest:
    name: str
    files: tuple[ManifestFile, ...]
    split_rule: SplitRule
    splits: dict[str, SplitSize]
    tokenization: dict[str, Any] | None = None  # tokenizer / chat_template digests, model name
    schema: str = field(default=SCHEMA)

    def body(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "name": self.name,
            "files": [f.to_dict() for f in self.files],
            "split_rule": self.split_rule.to_dict(),
            "splits": {k: v.to_dict() for k, v in self.splits.items()},
            "tokenization": self.tokenization,
        }

    @property
    def digest(self) -> str:
        return digest_json("dataset_manifest", self.body())

    @property
    def kind(self) -> str | None:
        kinds = {f.kind for f in self.files if f.kind}
        return kinds.pop() if len(kinds) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "digest": self.digest}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def write(self, path: str | os.PathLike[str]) -> None:
        atomic_write_bytes(path, self.to_json().encode())

    @classmethod
    def from_dict(cls, data: Any, source: str = "manifest") -> DatasetManifest:
        def bad(problem: str) -> MalformedManifest:
            return MalformedManifest(f"{source}: {problem}", file=source)

        if not isinstance(data, dict):
            raise bad("a manifest is a JSON object")
        if data.get("schema") != SCHEMA:
            raise bad(f"schema {data.get('schema')!r} is not {SCHEMA!r}")
        try:
            files = tuple(
                ManifestFile(str(f["path"]), int(f["bytes"]), str(f["digest"]),
                             None if f["records"] is None else int(f["records"]), f["kind"])
                for f in data["files"]
            )
            manifest = cls(
                name=str(data["name"]),
                files=files,
                split_rule=SplitRule.from_dict(data["split_rule"]),
                splits={str(k): SplitSize(int(v["records"]), v.get("tokens"), v.get("loss_tokens"))
                        for k, v in data["splits"].items()},
                tokenization=data.get("tokenization"),
            )
        except (KeyError, TypeError, ValueError, AttributeError, InvalidInput) as e:
            raise bad(f"missing or ill-typed field ({type(e).__name__}: {e})") from None
        for f in files:
            if not is_digest(f.digest):
                raise bad(f"file {f.path!r} has no valid digest")
            if Path(f.path).is_absolute():
                raise bad(f"file path {f.path!r} must be relative to the manifest")
        recorded = data.get("digest")
        if recorded != manifest.digest:
            raise DatasetDigestMismatch(
                f"{source}: the manifest's contents do not match its recorded digest "
                f"(recorded {recorded}, computed {manifest.digest})",
                file=source, expected=recorded, actual=manifest.digest,
            )
        return manifest

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DatasetManifest:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise MalformedManifest(f"{path}: cannot read: {e.strerror}", file=str(path)) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise MalformedManifest(f"{path}: not JSON: {e}", file=str(path)) from None
        return cls.from_dict(data, str(path))

    def verify(self, root: str | os.PathLike[str]) -> list[str]:
        """Rehash every file under ``root``; the verified paths, or the first mismatch raised."""
        checked = []
        for f in self.files:
            path = Path(root) / f.path
            if not path.is_file():
                raise DatasetDigestMismatch(f"{f.path}: listed in the manifest but missing",
                                            file=f.path, expected=f.digest, actual=None)
            actual = digest_file(path)
            if actual != f.digest:
                raise DatasetDigestMismatch(
                    f"{f.path}: digest {actual} does not match the manifest's {f.digest}",
                    file=f.path, expected=f.digest, actual=actual,
                )
            checked.append(f.path)
        return checked

    def examples(self, root: str | os.PathLike[str]) -> dict[str, list[Example]]:
        """Verify, read every JSONL file, and split the records by the manifest's rule."""
        self.verify(root)
        records: list[Example] = []
        for f in self.files:
            if f.records is not None:
                records.extend(read_jsonl(Path(root) / f.path, source=f.path))
        split = split_records(records, self.split_rule)
        for name, size in self.splits.items():
            if len(split.get(name, [])) != size.records:
                raise MalformedManifest(
                    f"split {name!r} has {len(split.get(name, []))} records, the manifest says {size.records}",
                    split=name,
                )
        return split


def source_files(path: Path, exclude: Path | None = None) -> list[Path]:
    """The files a dataset at ``path`` consists of: the file itself, or a folder's JSONL files."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise MalformedDataset(f"{path}: no such file or folder", file=str(path))
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in RECORD_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(path).parts)
                   and (exclude is None or p.resolve() != exclude.resolve()))
    if not found:
        raise MalformedDataset(f"{path}: no {'/'.join(RECORD_SUFFIXES)} files in this folder", file=str(path))
    return found


def build_manifest(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    rule: SplitRule | None = None,
    tokenization: Tokenization | None = None,
    model: str | None = None,
    name: str | None = None,
) -> DatasetManifest:
    """Describe the dataset at ``path`` (a file or folder); paths are stored relative to ``root``."""
    path = Path(path)
    root = Path(root) if root is not None else Path.cwd()
    rule = rule or SplitRule()
    files, records = [], []
    for p in source_files(path):
        rel = Path(os.path.relpath(p.resolve(), root.resolve())).as_posix()
        examples = read_jsonl(p, source=rel) if p.suffix in RECORD_SUFFIXES else None
        kind = examples[0].kind if examples else None
        files.append(ManifestFile(rel, p.stat().st_size, digest_file(p),
                                  len(examples) if examples is not None else None, kind))
        records.extend(examples or [])
    split = split_records(records, rule)
    sizes: dict[str, SplitSize] = {}
    for split_name in SPLITS:
        items = split[split_name]
        if tokenization is None:
            sizes[split_name] = SplitSize(len(items))
            continue
        tokenized = [tokenization(e) for e in items]
        sizes[split_name] = SplitSize(len(items), sum(len(t) for t in tokenized),
                                      sum(t.loss_tokens for t in tokenized))
    tok = None if tokenization is None else {**tokenization.identity(), "model": model}
    return DatasetManifest(name or path.resolve().stem, tuple(files), rule, sizes, tok)
