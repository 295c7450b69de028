"""Checkpoints: safetensors shards plus a digest-bound manifest, written atomically.

Layout under a run's ``checkpoints/`` folder::

    step-00000012/
        params-00000.safetensors ...   trainable parameters, split into shards
        optimizer-00000.safetensors    moment buffers, named <param>/<buffer>
        manifest.json                  digests of every file, optimizer step and
                                       hyper-parameters, RNG states, data position,
                                       trainer counters, the run's identity
    latest                             {"checkpoint": "step-00000012", "digest": ...}

A checkpoint is written into a temporary folder, every file fsynced, the
folder renamed into place and the parent fsynced; only then does ``latest``
move (itself an atomic replace). Loading starts from the highest step and
checks every digest; a corrupt or partial checkpoint is reported and skipped
for the previous good one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from psionic.core.atomic import atomic_write_bytes, fsync_dir, fsync_file
from psionic.core.digest import digest_bytes, digest_json
from psionic.train.errors import CheckpointCorrupt

SCHEMA = "psionic.checkpoint.v1"
POINTER = "latest"
MANIFEST = "manifest.json"
SHARD_BYTES = 256 << 20
_NAME = re.compile(r"^step-(\d{8})$")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What a checkpoint holds, in memory."""

    step: int
    params: dict[str, np.ndarray]
    optimizer: dict[str, Any]  # steps, hyper, and per-parameter buffers by parameter name
    rng: dict[str, Any]
    data: dict[str, Any]
    trainer: dict[str, Any]  # counters (tokens, elapsed) and the run identity
    path: Path | None = None
    digest: str | None = None


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def _shards(tensors: dict[str, np.ndarray], prefix: str, limit: int) -> list[tuple[str, dict[str, np.ndarray]]]:
    shards: list[tuple[str, dict[str, np.ndarray]]] = []
    current: dict[str, np.ndarray] = {}
    size = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        if current and size + array.nbytes > limit:
            shards.append((f"{prefix}-{len(shards):05d}.safetensors", current))
            current, size = {}, 0
        current[name] = array
        size += array.nbytes
    shards.append((f"{prefix}-{len(shards):05d}.safetensors", current))
    return shards


def _jsonable_rng(state: Any) -> Any:
    """RNG states hold 128-bit integers: written as strings so canonical JSON keeps them exact."""
    if isinstance(state, dict):
        return {k: _jsonable_rng(v) for k, v in state.items()}
    if isinstance(state, bool | float | str) or state is None:
        return state
    if isinstance(state, int):
        return {"int": str(state)}
    raise TypeError(f"cannot store {type(state).__name__} in an RNG state")


def _rng_from_json(state: Any) -> Any:
    if isinstance(state, dict):
        if set(state) == {"int"}:
            return int(state["int"])
        return {k: _rng_from_json(v) for k, v in state.items()}
    return state


def _write_file(path: Path, data: bytes) -> dict[str, Any]:
    path.write_bytes(data)
    fsync_file(path)
    return {"file": path.name, "bytes": len(data), "digest": digest_bytes(data)}


def save_checkpoint(folder: str | os.PathLike[str], ckpt: Checkpoint, keep: int = 3,
                    shard_bytes: int = SHARD_BYTES) -> Path:
    """Write ``ckpt`` under ``folder`` atomically, move ``latest`` to it, keep the newest ``keep``."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(ckpt.step)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=root))
    try:
        files = {"params": [], "optimizer": []}  # type: dict[str, list[dict[str, Any]]]
        for name, tensors in _shards(ckpt.params, "params", shard_bytes):
            entry = _write_file(tmp / name, st_save(tensors))
            files["params"].append({**entry, "tensors": sorted(tensors)})
        buffers = {f"{p}/{k}": v for p, state in ckpt.optimizer["buffers"].items() for k, v in state.items()}
        for name, tensors in _shards(buffers, "optimizer", shard_bytes):
            entry = _write_file(tmp / name, st_save(tensors))
            files["optimizer"].append({**entry, "tensors": sorted(tensors)})
        body = {
            "schema": SCHEMA,
            "step": ckpt.step,
            "files": files,
            "optimizer": {"steps": ckpt.optimizer["steps"], "hyper": ckpt.optimizer["hyper"],
                          "params": sorted(ckpt.optimizer["buffers"])},
            "rng": _jsonable_rng(ckpt.rng),
            "data": ckpt.data,
            "trainer": ckpt.trainer,
        }
        manifest = {**body, "digest": digest_json("checkpoint", body)}
        _write_file(tmp / MANIFEST, json.dumps(manifest, indent=1).encode())
        fsync_dir(tmp)
        if final.exists():  # a rerun of the same step (after a resume) replaces it
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(root)
    atomic_write_bytes(root / POINTER, json.dumps(
        {"checkpoint": final.name, "digest": manifest["digest"]}).encode())
    for old in list_checkpoints(root)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(folder: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint folders under ``folder``, newest step first (temporary folders excluded)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read one checkpoint folder, checking the manifest and every file against its digest."""
    path = Path(path)

    def corrupt(problem: str) -> CheckpointCorrupt:
        return CheckpointCorrupt(f"checkpoint {path.name}: {problem}", checkpoint=str(path))

    try:
        manifest = json.loads((path / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise corrupt("no manifest.json (an interrupted write?)") from None
    except (OSError, ValueError) as e:
        raise corrupt(f"manifest unreadable ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise corrupt(f"manifest schema is not {SCHEMA}")
    body = {k: v for k, v in manifest.items() if k != "digest"}
    try:
        computed = digest_json("checkpoint", body)
    except Exception as e:  # a manifest edited into something canonical JSON cannot hold
        raise corrupt(f"manifest cannot be digested ({e})") from None
    if computed != manifest.get("digest"):
        raise corrupt("manifest digest does not match its contents")
    tensors: dict[str, dict[str, np.ndarray]] = {"params": {}, "optimizer": {}}
    try:
        for group, entries in body["files"].items():
            for entry in entries:
                try:
                    data = (path / entry["file"]).read_bytes()
                except OSError:
                    raise corrupt(f"{entry['file']} is missing") from None
                if digest_bytes(data) != entry["digest"]:
                    raise corrupt(f"{entry['file']} does not match its digest (corrupt or partial)")
                tensors[group].update(st_load(data))
        buffers: dict[str, dict[str, np.ndarray]] = {p: {} for p in body["optimizer"]["params"]}
        for key, value in tensors["optimizer"].items():
            param, buffer = key.rsplit("/", 1)
            buffers[param][buffer] = value
        return Checkpoint(
            step=int(body["step"]),
            params=tensors["params"],
            optimizer={"steps": body["optimizer"]["steps"], "hyper": body["optimizer"]["hyper"],
                       "buffers": buffers},
            rng=_rng_from_json(body["rng"]),
            data=body["data"],
            trainer=body["trainer"],
            path=path,
            digest=manifest["digest"],
        )
    except CheckpointCorrupt:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise corrupt(f"manifest is missing or mistypes a field ({type(e).__name__}: {e})") from None


def load_latest(folder: str | os.PathLike[str],
                warn: Callable[[str], None] = lambda message: None) -> Checkpoint | None:
    """The newest intact checkpoint under ``folder``; None when there is none at all.

    Each corrupt or partial checkpoint passed over is reported through ``warn``;
    if checkpoints exist but none is intact, ``CheckpointCorrupt`` says so.
    """
    candidates = list_checkpoints(folder)
    problems = []
    for path in candidates:
        try:
            ckpt = read_checkpoint(path)
        except CheckpointCorrupt as e:
            problems.append(e.message)
            warn(f"{e.message}; skipping it for the previous checkpoint")
            continue
        return ckpt
    if candidates:
        raise CheckpointCorrupt(f"no intact checkpoint in {folder}: " + "; ".join(problems),
                                checkpoint=str(folder))
    return None
