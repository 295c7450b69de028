"""Packages by reference: a directory path, or a built-in package's name (``arithmetic``, ``arithmetic@1.0.0``).

Built-in packages live under ``psionic/eval/packages/<name>/`` and are
written by ``psionic.eval.build_packages`` from seeded generators; a test
rebuilds them and compares digests, so the shipped bytes are the
generators' output.
"""

from __future__ import annotations

from pathlib import Path

from psionic.environments.errors import PackageNotFound
from psionic.environments.package import METADATA, EnvironmentPackage, load_package

PACKAGES_DIR = Path(__file__).parent / "packages"


def builtin_names() -> list[str]:
    return sorted(p.name for p in PACKAGES_DIR.iterdir() if (p / METADATA).is_file()) if PACKAGES_DIR.is_dir() else []


def resolve_package(ref: str) -> EnvironmentPackage:
    path = Path(ref)
    if path.is_dir():
        return load_package(path)
    name, _, version = ref.partition("@")
    if name not in builtin_names():
        raise PackageNotFound(f"{ref!r} is neither a package directory nor a built-in package; built-in: {builtin_names()}",
                              ref=ref)
    pkg = load_package(PACKAGES_DIR / name)
    if version and version != pkg.version:
        raise PackageNotFound(f"built-in package {name} is version {pkg.version}, not {version}", ref=ref)
    return pkg
