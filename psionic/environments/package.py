"""An environment package on disk: ``package.json`` plus ``tasks.jsonl``, every byte digest-bound.

``package.json`` holds the schema tag, name, version, description, kind
(``chat`` or ``tassadar``), the rubric's name, sampling defaults, the tools
a chat task may call, the most turns a session may take, and ``files``: the
``sha256`` of each file. Its ``digest`` is the canonical digest of all of
that, so one string names the package's exact content. ``load_package``
checks every field, every file digest and every task (including its
expected artifacts, through the rubric) before anything runs.

>>> import tempfile
>>> pkg = build_package("demo", "1.0.0", "chat", "exact_number", [Task("t1", 4, ({"role": "user", "content": "2+2?"},))])
>>> d = write_package(pkg, tempfile.mkdtemp())
>>> load_package(d).digest == pkg.digest
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psionic.core.digest import digest_bytes, digest_json, is_digest
from psionic.environments.errors import MalformedPackage, PackageDigestMismatch, PackageNotFound
from psionic.environments.rubrics import RUBRICS
from psionic.environments.task import KINDS, Task, dataset_tasks, task_from_dict
from psionic.environments.tools import TOOLS

SCHEMA = "psionic.environment_package.v1"
DIGEST_KIND = "environment_package"
METADATA = "package.json"
TASKS = "tasks.jsonl"
MAX_TASKS = 100_000
MAX_TURNS = 8
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_FIELDS = {"schema", "name", "version", "description", "kind", "rubric", "sampling", "tools", "max_turns",
           "files", "dataset", "digest"}
# sampling default -> (accepted types, lowest, highest)
_SAMPLING: dict[str, tuple[tuple[type[int] | type[float], ...], float, float]] = {
    "temperature": ((int, float), 0.0, 2.0),
    "top_p": ((int, float), 1e-9, 1.0),
    "max_tokens": ((int,), 1, 65536),
}


@dataclass(frozen=True, slots=True)
class EnvironmentPackage:
    name: str
    version: str
    kind: str
    rubric: str
    tasks: tuple[Task, ...]
    description: str = ""
    sampling: dict[str, Any] = field(default_factory=dict)
    tools: tuple[str, ...] = ()
    max_turns: int = 1
    path: str | None = None
    dataset: dict[str, str] | None = None  # {"manifest": relative path, "digest": the manifest's digest}

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def tasks_bytes(self) -> bytes:
        return b"".join(json.dumps(t.to_dict(), sort_keys=True, ensure_ascii=False).encode() + b"\n"
                        for t in self.tasks)

    def metadata(self) -> dict[str, Any]:
        """``package.json`` without its digest (what the digest covers)."""
        meta = {
            "schema": SCHEMA, "name": self.name, "version": self.version, "description": self.description,
            "kind": self.kind, "rubric": self.rubric, "sampling": dict(self.sampling), "tools": list(self.tools),
            "max_turns": self.max_turns, "files": {TASKS: digest_bytes(self.tasks_bytes())},
        }
        if self.dataset is not None:  # the tasks come from a digest-bound dataset instead of tasks.jsonl
            meta.update(files={}, dataset=dict(self.dataset))
        return meta

    @property
    def digest(self) -> str:
        return digest_json(DIGEST_KIND, self.metadata())

    def task_tools(self, task: Task) -> tuple[str, ...]:
        return self.tools if task.tools is None else task.tools


def build_package(name: str, version: str, kind: str, rubric: str, tasks: Sequence[Task], *,
                  description: str = "", sampling: dict[str, Any] | None = None, tools: Sequence[str] = (),
                  max_turns: int = 1, dataset: dict[str, str] | None = None) -> EnvironmentPackage:
    """A package made in Python, checked exactly as one loaded from disk."""
    pkg = EnvironmentPackage(name, version, kind, rubric, tuple(tasks), description, dict(sampling or {}),
                             tuple(tools), max_turns, dataset=dataset)
    _check_metadata(pkg.metadata())
    _check_tasks(pkg)
    return pkg


def write_package(pkg: EnvironmentPackage, directory: str | Path) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if pkg.dataset is None:
        (out / TASKS).write_bytes(pkg.tasks_bytes())
    meta = {**pkg.metadata(), "digest": pkg.digest}
    (out / METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return out


def _bad(message: str, **details: Any) -> MalformedPackage:
    return MalformedPackage(f"{METADATA}: {message}", **details)


def _check_metadata(meta: Any) -> None:
    if not isinstance(meta, dict):
        raise _bad("must be a JSON object")
    if meta.get("schema") != SCHEMA:
        raise _bad(f"schema must be {SCHEMA!r}, got {meta.get('schema')!r}", field="schema")
    unknown = set(meta) - _FIELDS
    if unknown:
        raise _bad(f"unknown fields {sorted(unknown)}", field=sorted(unknown)[0])
    for name in ("name", "version", "kind", "rubric", "files"):
        if name not in meta:
            raise _bad(f"missing field {name!r}", field=name)
    if not isinstance(meta["name"], str) or not _NAME.match(meta["name"]):
        raise _bad("name must be lower-case letters, digits, '-' or '_' (at most 64)", field="name")
    if not isinstance(meta["version"], str) or not _VERSION.match(meta["version"]):
        raise _bad("version must be MAJOR.MINOR.PATCH", field="version")
    if meta["kind"] not in KINDS:
        raise _bad(f"kind must be one of {list(KINDS)}, got {meta['kind']!r}", field="kind")
    if meta["rubric"] not in RUBRICS:
        raise _bad(f"unknown rubric {meta['rubric']!r}; known: {sorted(RUBRICS)}", field="rubric")
    if not isinstance(meta.get("description", ""), str):
        raise _bad("description must be a string", field="description")
    sampling = meta.get("sampling", {})
    if not isinstance(sampling, dict):
        raise _bad("sampling must be an object", field="sampling")
    for key, value in sampling.items():
        if key not in _SAMPLING:
            raise _bad(f"sampling {key!r} is not one of {sorted(_SAMPLING)}", field="sampling")
        kinds, low, high = _SAMPLING[key]
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= float(value) <= high:
            raise _bad(f"sampling {key!r} must be a number in [{low}, {high}]", field="sampling")
    tools = meta.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise _bad("tools must be a list of tool names", field="tools")
    for tool in tools:
        if tool not in TOOLS:
            raise _bad(f"unknown tool {tool!r}; known: {sorted(TOOLS)}", field="tools")
    if tools and meta["kind"] != "chat":
        raise _bad("only chat packages offer tools", field="tools")
    turns = meta.get("max_turns", 1)
    if isinstance(turns, bool) or not isinstance(turns, int) or not 1 <= turns <= MAX_TURNS:
        raise _bad(f"max_turns must be an integer in [1, {MAX_TURNS}]", field="max_turns")
    files, dataset = meta["files"], meta.get("dataset")
    if dataset is not None:
        if not isinstance(dataset, dict) or set(dataset) != {"manifest", "digest"} \
                or not isinstance(dataset["manifest"], str) or not is_digest(dataset["digest"]):
            raise _bad("dataset must be {'manifest': relative path, 'digest': 'sha256:...'}", field="dataset")
        if Path(dataset["manifest"]).is_absolute() or ".." in Path(dataset["manifest"]).parts:
            raise _bad("dataset manifest must be a path inside the package", field="dataset")
        if files != {}:
            raise _bad("a package whose tasks come from a dataset lists no files of its own", field="files")
    elif not isinstance(files, dict) or set(files) != {TASKS} or not is_digest(files[TASKS]):
        raise _bad(f"files must be {{{TASKS!r}: 'sha256:...'}}", field="files")


def _check_tasks(pkg: EnvironmentPackage) -> None:
    if not pkg.tasks:
        raise MalformedPackage(f"{TASKS}: the package has no tasks")
    rubric = RUBRICS[pkg.rubric]
    seen: set[str] = set()
    for i, task in enumerate(pkg.tasks):
        where = f"{TASKS} line {i + 1}"
        if task.id in seen:
            raise MalformedPackage(f"{where}: task id {task.id!r} is used twice", where=where)
        seen.add(task.id)
        for tool in pkg.task_tools(task):
            if tool not in TOOLS:
                raise MalformedPackage(f"{where}: unknown tool {tool!r}; known: {sorted(TOOLS)}", where=where)
        rubric.check_expected(task.expected, where)


def _read_tasks(raw: bytes, kind: str) -> tuple[Task, ...]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedPackage(f"{TASKS}: not UTF-8 (byte {e.start})") from None
    lines = text.splitlines()
    if len(lines) > MAX_TASKS:
        raise MalformedPackage(f"{TASKS}: more than {MAX_TASKS} tasks")
    tasks = []
    for i, line in enumerate(lines):
        if not line.strip():
            raise MalformedPackage(f"{TASKS} line {i + 1}: empty line", where=f"{TASKS} line {i + 1}")
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise MalformedPackage(f"{TASKS} line {i + 1}: not JSON ({e.msg})", where=f"{TASKS} line {i + 1}") from None
        tasks.append(task_from_dict(data, kind, i))
    return tuple(tasks)


def load_package(directory: str | Path) -> EnvironmentPackage:
    """Load and check a package directory; raise a typed error naming the first problem."""
    root = Path(directory)
    if not (root / METADATA).is_file():
        raise PackageNotFound(f"{root} is not an environment package (no {METADATA})", path=str(root))
    try:
        meta = json.loads((root / METADATA).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _bad(f"not JSON ({e})") from None
    _check_metadata(meta)
    declared = meta.get("digest")
    if not is_digest(declared):
        raise _bad("digest must be 'sha256:' and 64 hex digits", field="digest")
    if "dataset" in meta:
        pkg = EnvironmentPackage(meta["name"], meta["version"], meta["kind"], meta["rubric"],
                                 dataset_tasks(root, meta["dataset"], meta["kind"]), meta.get("description", ""),
                                 dict(meta.get("sampling", {})), tuple(meta.get("tools", [])), meta.get("max_turns", 1),
                                 str(root), dict(meta["dataset"]))
        return _checked(pkg, declared)
    try:
        raw = (root / TASKS).read_bytes()
    except OSError as e:
        raise MalformedPackage(f"{TASKS}: cannot read ({e.strerror})", path=str(root / TASKS)) from None
    actual = digest_bytes(raw)
    if actual != meta["files"][TASKS]:
        raise PackageDigestMismatch(f"{TASKS} has digest {actual}, but {METADATA} declares {meta['files'][TASKS]}",
                                    file=TASKS, expected=meta["files"][TASKS], actual=actual)
    pkg = EnvironmentPackage(meta["name"], meta["version"], meta["kind"], meta["rubric"], _read_tasks(raw, meta["kind"]),
                             meta.get("description", ""), dict(meta.get("sampling", {})), tuple(meta.get("tools", [])),
                             meta.get("max_turns", 1), str(root))
    if pkg.tasks_bytes() != raw:
        raise MalformedPackage(f"{TASKS}: not in canonical form (one task per line, keys sorted, as write_package writes)")
    return _checked(pkg, declared)


def _checked(pkg: EnvironmentPackage, declared: str) -> EnvironmentPackage:
    if pkg.digest != declared:
        raise PackageDigestMismatch(f"{METADATA} declares digest {declared}, but its content digests to {pkg.digest}",
                                    expected=declared, actual=pkg.digest)
    _check_tasks(pkg)
    return pkg
