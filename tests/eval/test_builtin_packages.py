"""The built-in packages: reproducible from their generators, loadable, digest-bound, and exact where they claim."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from psionic.core.errors import PsionicError
from psionic.environments.package import load_package
from psionic.eval.build_packages import BUILDERS, build_all
from psionic.eval.builtin import PACKAGES_DIR, builtin_names, resolve_package


def test_the_shipped_packages_are_what_the_generators_write(tmp_path: Path) -> None:
    rebuilt = build_all(tmp_path)
    assert sorted(rebuilt) == builtin_names() == sorted(BUILDERS)
    for name, digest in rebuilt.items():
        assert resolve_package(name).digest == digest, name
        for f in (tmp_path / name).rglob("*"):
            if f.is_file():
                assert f.read_bytes() == (PACKAGES_DIR / name / f.relative_to(tmp_path / name)).read_bytes(), f


def test_resolve_by_name_version_and_path() -> None:
    assert resolve_package("arithmetic@1.0.0").name == "arithmetic"
    assert resolve_package(str(PACKAGES_DIR / "tool-calls")).tools == ("get_weather", "get_capital")
    with pytest.raises(PsionicError, match="not 9.9.9"):
        resolve_package("arithmetic@9.9.9")


def test_arithmetic_comes_from_its_dataset_manifest() -> None:
    pkg = resolve_package("arithmetic")
    assert pkg.dataset is not None and pkg.dataset["manifest"] == "dataset/manifest.json"
    assert len(pkg.tasks) == 48 and isinstance(pkg.tasks[0].expected, int)
    assert pkg.tasks[0].messages[0]["content"].endswith("Answer with just the number.")


def _copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(PACKAGES_DIR / "arithmetic", tmp_path / "arithmetic"))


def test_a_dataset_that_does_not_match_its_manifest(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    data = root / "dataset" / "arithmetic.jsonl"
    data.write_text(data.read_text().replace('"completion": "', '"completion": "1', 1))
    with pytest.raises(PsionicError) as err:
        load_package(root)
    assert err.value.code == "dataset_digest_mismatch" and "arithmetic.jsonl" in err.value.message


def test_a_manifest_that_is_not_the_declared_one(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    from psionic.data.manifest import build_manifest

    manifest = root / "dataset" / "manifest.json"
    # A manifest that is sound in itself, but not the one the package names.
    build_manifest(root / "dataset" / "arithmetic.jsonl", root=root / "dataset", name="renamed").write(manifest)
    with pytest.raises(PsionicError) as err:
        load_package(root)
    assert err.value.code == "dataset_digest_mismatch" and "the package declares" in err.value.message
    data = json.loads(manifest.read_text())
    data["name"] = "edited"
    manifest.write_text(json.dumps(data))
    with pytest.raises(PsionicError) as err:
        load_package(root)
    assert err.value.code == "dataset_digest_mismatch"  # the manifest's own digest no longer matches


def test_a_missing_dataset_file(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "dataset" / "arithmetic.jsonl").unlink()
    with pytest.raises(PsionicError, match="missing") as err:
        load_package(root)
    assert err.value.code == "dataset_digest_mismatch"


def test_tassadar_expectations_agree_with_the_reference_interpreter() -> None:
    from psionic.tassadar.ingress import load_wat
    from psionic.tassadar.run import run_program

    pkg = resolve_package("tassadar")
    for task in pkg.tasks:
        assert task.program is not None
        report = run_program(load_wat(task.program.wat), task.program.entry, task.program.args)
        assert [str(v) for v in report.result] == task.expected["result"], task.id
