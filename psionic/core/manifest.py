"""RuntimeManifest: the facts about a runtime that decide its numerics.

A manifest names the backend and device, the versions of every library that
can change a number, thread counts and the determinism posture. Its identity
digest is what receipts point at, so two runs with the same digest ran on the
same kind of runtime.

>>> m = RuntimeManifest.current(backend="cpu")
>>> m.digest == RuntimeManifest.from_dict(m.to_dict()).digest
True
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from psionic.core.digest import digest_json
from psionic.core.errors import MalformedReceipt

SCHEMA = "psionic.runtime_manifest.v1"

# Libraries whose versions can change a result; read from package metadata so
# that building a manifest imports none of them.
NUMERIC_LIBRARIES = (
    "psionic",
    "numpy",
    "numba",
    "ml_dtypes",
    "gguf",
    "tokenizers",
    "llguidance",
    "torch",
    "wasmtime",
)


def library_versions(names: tuple[str, ...] = NUMERIC_LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names``; absent libraries are left out."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def available_cpus() -> int:
    """CPUs this process may run on (affinity-aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def thread_settings() -> dict[str, int]:
    """Thread counts that the kernels will use, as the environment sets them."""
    cpus = available_cpus()
    threads = {"available_cpus": cpus}
    for var in ("PSIONIC_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var)
        if value and value.isdigit():
            threads[var.lower()] = int(value)
    threads.setdefault("psionic_num_threads", cpus)
    return threads


@dataclass(frozen=True, slots=True)
class RuntimeManifest:
    """What a result was computed on. ``digest`` covers every field."""

    backend: str
    device: str
    versions: dict[str, str]
    threads: dict[str, int]
    determinism: dict[str, Any]
    platform: dict[str, str] = field(default_factory=dict)

    @classmethod
    def current(
        cls,
        backend: str = "cpu",
        device: str = "cpu",
        determinism: dict[str, Any] | None = None,
        extra_versions: dict[str, str] | None = None,
    ) -> RuntimeManifest:
        """The manifest of this process for ``backend`` on ``device``."""
        versions = library_versions()
        versions.update(extra_versions or {})
        posture = determinism or {
            "posture": "deterministic",
            "batch_invariant": True,
            "note": "fixed reduction order; results do not depend on batch composition",
        }
        return cls(
            backend=backend,
            device=device,
            versions=versions,
            threads=thread_settings(),
            determinism=posture,
            platform={
                "system": platform.system(),
                "machine": platform.machine(),
                "python_implementation": sys.implementation.name,
            },
        )

    def body(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "backend": self.backend,
            "device": self.device,
            "versions": dict(self.versions),
            "threads": dict(self.threads),
            "determinism": dict(self.determinism),
            "platform": dict(self.platform),
        }

    @property
    def digest(self) -> str:
        return digest_json("runtime_manifest", self.body())

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "digest": self.digest}

    @classmethod
    def from_dict(cls, data: Any) -> RuntimeManifest:
        """Parse and check a manifest; a wrong field raises ``MalformedReceipt``."""
        if not isinstance(data, dict):
            raise MalformedReceipt("runtime manifest must be a JSON object")
        if data.get("schema") != SCHEMA:
            raise MalformedReceipt(
                f"runtime manifest schema must be {SCHEMA!r}, got {data.get('schema')!r}"
            )
        for name, kind in (
            ("backend", str),
            ("device", str),
            ("versions", dict),
            ("threads", dict),
            ("determinism", dict),
            ("platform", dict),
        ):
            if not isinstance(data.get(name), kind):
                raise MalformedReceipt(
                    f"runtime manifest field {name!r} must be {kind.__name__}", field=name
                )
        return cls(
            backend=data["backend"],
            device=data["device"],
            versions=dict(data["versions"]),
            threads=dict(data["threads"]),
            determinism=dict(data["determinism"]),
            platform=dict(data["platform"]),
        )
