"""Packages: round trip, digests, and a corpus of malformed packages, each refused by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from psionic.core.errors import PsionicError
from psionic.environments.package import build_package, load_package, write_package
from psionic.environments.task import Program, Task

Meta = dict[str, Any]
Lines = list[str]


def good_package(tmp_path: Path) -> Path:
    tasks = [Task("a", 4, ({"role": "user", "content": "What is 2+2?"},)),
             Task("b", 9, ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "3*3?"}))]
    pkg = build_package("demo", "1.2.3", "chat", "exact_number", tasks, sampling={"temperature": 0.0, "max_tokens": 8},
                        tools=["calculator"], max_turns=2, description="two sums")
    return write_package(pkg, tmp_path / "demo")


def test_round_trip_keeps_the_digest(tmp_path: Path) -> None:
    root = good_package(tmp_path)
    pkg = load_package(root)
    assert pkg.ref == "demo@1.2.3" and len(pkg.tasks) == 2 and pkg.tools == ("calculator",)
    assert json.loads((root / "package.json").read_text())["digest"] == pkg.digest
    # The digest names the content: a different task gives a different digest.
    other = build_package("demo", "1.2.3", "chat", "exact_number", [*pkg.tasks[:1], Task("b", 10, pkg.tasks[1].messages)],
                          sampling=pkg.sampling, tools=pkg.tools, max_turns=2, description="two sums")
    assert other.digest != pkg.digest


def _meta(fn: Callable[[Meta], None]) -> Callable[[Meta, Lines], None]:
    return lambda meta, lines: fn(meta)


def _line(i: int, fn: Callable[[dict[str, Any]], None]) -> Callable[[Meta, Lines], None]:
    def apply(meta: Meta, lines: Lines) -> None:
        data = json.loads(lines[i])
        fn(data)
        lines[i] = json.dumps(data, sort_keys=True)
    return apply


def _raw(fn: Callable[[Lines], None]) -> Callable[[Meta, Lines], None]:
    return lambda meta, lines: fn(lines)


# (case, mutation, whether to refresh digests so that the check behind them is reached, code, words)
CORPUS: list[tuple[str, Callable[[Meta, Lines], None], bool, str, str]] = [
    ("wrong schema", _meta(lambda m: m.update(schema="psionic.environment_package.v9")), True, "malformed_package", "schema"),
    ("unknown field", _meta(lambda m: m.update(colour="red")), True, "malformed_package", "colour"),
    ("missing rubric", _meta(lambda m: m.pop("rubric")), True, "malformed_package", "'rubric'"),
    ("bad name", _meta(lambda m: m.update(name="Demo Package")), True, "malformed_package", "name"),
    ("bad version", _meta(lambda m: m.update(version="1.0")), True, "malformed_package", "MAJOR.MINOR.PATCH"),
    ("unknown kind", _meta(lambda m: m.update(kind="vision")), True, "malformed_package", "kind"),
    ("unknown rubric", _meta(lambda m: m.update(rubric="vibes")), True, "malformed_package", "vibes"),
    ("unknown tool", _meta(lambda m: m.update(tools=["teleport"])), True, "malformed_package", "teleport"),
    ("bad sampling key", _meta(lambda m: m.update(sampling={"beam": 4})), True, "malformed_package", "beam"),
    ("bad temperature", _meta(lambda m: m.update(sampling={"temperature": 9})), True, "malformed_package", "temperature"),
    ("bad max_turns", _meta(lambda m: m.update(max_turns=0)), True, "malformed_package", "max_turns"),
    ("bad dataset field", _meta(lambda m: m.update(dataset={"manifest": "m.json"})), True, "malformed_package",
     "dataset must be"),
    ("dataset outside the package", _meta(lambda m: m.update(dataset={"manifest": "../m.json", "digest": "sha256:" + "0" * 64},
                                                            files={})), True, "malformed_package", "inside the package"),
    ("dataset beside tasks", _meta(lambda m: m.update(dataset={"manifest": "m.json", "digest": "sha256:" + "0" * 64})),
     True, "malformed_package", "lists no files"),
    ("bad digest", _meta(lambda m: m.update(digest="sha256:xyz")), False, "malformed_package", "digest"),
    ("stale package digest", _meta(lambda m: m.update(description="edited")), False, "package_digest_mismatch",
     "declares digest"),
    ("edited tasks", _line(0, lambda t: t.update(expected=5)), False, "package_digest_mismatch", "tasks.jsonl has digest"),
    ("not json", _raw(lambda ls: ls.__setitem__(0, "{nope")), True, "malformed_package", "line 1: not JSON"),
    ("empty line", _raw(lambda ls: ls.insert(1, "")), True, "malformed_package", "line 2: empty"),
    ("no tasks", _raw(lambda ls: ls.clear()), True, "malformed_package", "no tasks"),
    ("duplicate id", _line(1, lambda t: t.update(id="a")), True, "malformed_package", "used twice"),
    ("missing expected", _line(0, lambda t: t.pop("expected")), True, "malformed_package", "no 'expected'"),
    ("expected of the wrong type", _line(0, lambda t: t.update(expected="four")), True, "malformed_package",
     "expects a number"),
    ("unknown task field", _line(0, lambda t: t.update(image="x.png")), True, "malformed_package", "image"),
    ("bad role", _line(0, lambda t: t["messages"][0].update(role="robot")), True, "malformed_package", "robot"),
    ("last message not the user's", _line(1, lambda t: t["messages"].reverse()), True, "malformed_package",
     "last message"),
    ("task names an unknown tool", _line(0, lambda t: t.update(tools=["teleport"])), True, "malformed_package",
     "teleport"),
    ("non-canonical line", _raw(lambda ls: ls.__setitem__(0, json.dumps(json.loads(ls[0]), indent=1).replace("\n", ""))),
     True, "malformed_package", "canonical"),
]


def _refresh(root: Path, meta: Meta) -> None:
    from psionic.core.digest import digest_bytes, digest_json

    meta["files"] = {"tasks.jsonl": digest_bytes((root / "tasks.jsonl").read_bytes())}
    meta["digest"] = digest_json("environment_package", {k: v for k, v in meta.items() if k != "digest"})


@pytest.mark.parametrize(("case", "mutate", "refresh", "code", "words"), CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_packages(tmp_path: Path, case: str, mutate: Callable[[Meta, Lines], None], refresh: bool,
                            code: str, words: str) -> None:
    root = good_package(tmp_path)
    meta = json.loads((root / "package.json").read_text())
    lines = (root / "tasks.jsonl").read_text().splitlines()
    mutate(meta, lines)
    (root / "tasks.jsonl").write_text("".join(line + "\n" for line in lines))
    if refresh:
        _refresh(root, meta)
    (root / "package.json").write_text(json.dumps(meta))
    with pytest.raises(PsionicError) as err:
        load_package(root)
    assert err.value.code == code, err.value
    assert words in err.value.message, err.value.message


def test_not_a_package(tmp_path: Path) -> None:
    with pytest.raises(PsionicError) as err:
        load_package(tmp_path)
    assert err.value.code == "package_not_found"


def test_metadata_not_json(tmp_path: Path) -> None:
    root = good_package(tmp_path)
    (root / "package.json").write_bytes(b"\xff\xfe")
    with pytest.raises(PsionicError) as err:
        load_package(root)
    assert err.value.code == "malformed_package"


def test_tassadar_tasks_need_a_program(tmp_path: Path) -> None:
    task = Task("p", {"result": ["6"], "trap": None}, program=Program("(module)", "run", (1, 2)))
    pkg = build_package("wasm", "1.0.0", "tassadar", "exact_result", [task])
    assert load_package(write_package(pkg, tmp_path / "w")).tasks[0].program == task.program
    bad = tmp_path / "w" / "tasks.jsonl"
    bad.write_text(bad.read_text().replace('"wat"', '"wast"'))
    meta = json.loads((tmp_path / "w" / "package.json").read_text())
    _refresh(tmp_path / "w", meta)
    (tmp_path / "w" / "package.json").write_text(json.dumps(meta))
    with pytest.raises(PsionicError, match="unknown fields"):
        load_package(tmp_path / "w")
