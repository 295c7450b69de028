"""Layers import downward only: walk every module and check every import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import psionic
from psionic.layers import ALLOWED_IMPORTS, ROOT_MODULES, layer_of, may_import

PACKAGE = Path(psionic.__file__).parent


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Absolute names of the psionic modules that ``path`` imports, with line numbers."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from psionic import serve` names a layer through the package root.
            if target == "psionic":
                found += [
                    (node.lineno, f"psionic.{a.name}")
                    for a in node.names
                    if a.name in ALLOWED_IMPORTS
                ]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value))
            elif isinstance(arg, ast.JoinedStr) and arg.values:
                head = arg.values[0]
                if isinstance(head, ast.Constant):
                    found.append((node.lineno, str(head.value).rstrip(".")))
    return [(line, name) for line, name in found if name.split(".")[0] == "psionic"]


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_subpackage_is_a_known_layer() -> None:
    for child in PACKAGE.iterdir():
        if child.is_dir() and (child / "__init__.py").exists():
            assert child.name in ALLOWED_IMPORTS, f"{child.name} is not in the layer map"
        elif child.suffix == ".py":
            assert child.stem in ROOT_MODULES, f"{child.name} sits at the root outside any layer"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    importer = module_name(path)
    bad = [
        f"line {line}: {importer} imports {name}"
        for line, name in imports_of(path)
        if not may_import(importer, name)
    ]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_the_walker_sees_an_upward_import(tmp_path: Path) -> None:
    fake = PACKAGE / "core" / "_upward_probe.py"
    fake.write_text("from psionic.serve import api\nimport psionic.cli.main\n")
    try:
        names = [n for _, n in imports_of(fake)]
        assert names == ["psionic.serve", "psionic.cli.main"]
        assert not any(may_import("psionic.core._upward_probe", n) for n in names)
    finally:
        fake.unlink()


def test_relative_and_root_imports_are_resolved() -> None:
    assert layer_of("psionic.serve.api") == "serve"
    assert layer_of("psionic") is None
    assert may_import("psionic.cli.main", "psionic.core.errors")
    assert not may_import("psionic.core.errors", "psionic.models.catalog")
    assert not may_import("psionic.tassadar.x", "psionic.models.gguf")
    assert may_import("psionic.tassadar.x", "psionic.nn.module")
