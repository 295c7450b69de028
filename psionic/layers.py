"""The layer map: which psionic subpackages each layer may import.

A module imports only from its own layer or from the layers listed for it
here; ``tests/test_layers.py`` walks the package and enforces this. Listed from
the ground floor up (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

_FOUNDATION = ("core",)
_FRAMEWORK = ("core", "backends", "array", "ir", "compiler", "runtime", "nn")

ALLOWED_IMPORTS: dict[str, tuple[str, ...]] = {
    "core": (),
    "backends": ("core",),
    "array": ("core", "backends"),
    "ir": ("core", "backends", "array"),
    "compiler": ("core", "backends", "array", "ir"),
    "runtime": ("core", "backends", "array", "ir", "compiler"),
    "nn": ("core", "backends", "array", "ir", "compiler", "runtime"),
    "models": _FRAMEWORK,
    "data": (*_FRAMEWORK, "models"),
    "environments": (*_FRAMEWORK, "models", "data"),
    "serve": (*_FRAMEWORK, "models", "data", "environments"),
    "train": (*_FRAMEWORK, "models", "data", "environments"),
    # Tassadar stands beside models and uses only what lies below them.
    "tassadar": _FRAMEWORK,
    "eval": (*_FRAMEWORK, "models", "data", "environments", "serve", "train", "tassadar"),
    "sandbox": (*_FRAMEWORK,),
    "cluster": (*_FRAMEWORK, "models", "serve", "train"),
    "router": (*_FRAMEWORK, "models", "serve", "cluster"),
    "cli": (
        *_FRAMEWORK, "models", "data", "environments", "serve", "train", "eval", "tassadar",
        "sandbox", "cluster", "router",
    ),
}

# Top-level modules of the package that are not layers and import only the standard library.
ROOT_MODULES = ("__init__", "layers")


def layer_of(module: str) -> str | None:
    """``psionic.serve.api`` -> ``serve``; the package root -> None."""
    parts = module.split(".")
    if parts[0] != "psionic" or len(parts) < 2 or parts[1] in ROOT_MODULES:
        return None
    return parts[1]


def may_import(importer: str, imported: str) -> bool:
    """Whether module ``importer`` may import module ``imported``."""
    src, dst = layer_of(importer), layer_of(imported)
    if dst is None:
        return True
    if src is None:
        return False
    return src == dst or dst in ALLOWED_IMPORTS[src]
