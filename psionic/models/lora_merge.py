"""Merge a LoRA adapter into a new GGUF file, and take it out again.

``merge_adapter`` writes a copy of a GGUF model in which every adapted
projection is ``W + scale * B A``: W decoded exactly as the matmul kernels
decode it, the sum formed in float64 and stored as F32 (default) or F16. F32
keeps the merged model equal to base + adapter up to float32 rounding of the
weights (the logits then differ only by the order of float32 sums); F16 halves
the size and adds F16 rounding (relative 2^-11 per weight). Every other tensor
is copied byte for byte, quantized ones included. The metadata records the
adapter digest, the base file's digest, and each merged tensor's original type.

``unmerge_adapter`` subtracts the same update from a merged file and stores
each tensor in its original type again where the ``gguf`` package can
quantize to it (Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 and float types); K-quant tensors
stay F32 (holding the base weights to float32 rounding). It refuses an adapter
whose digest is not the one the file records.

>>> merge_adapter("base.gguf", adapter, "merged.gguf")  # doctest: +SKIP
>>> unmerge_adapter("merged.gguf", adapter, "base-again.gguf")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from psionic.backends.cpu.matmul import get_rows
from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.digest_cache import cached_file_digest
from psionic.core.errors import InvalidInput
from psionic.models.families import family_for
from psionic.models.gguf_file import GGUFModelFile, TensorInfo
from psionic.models.gguf_writer import RawTensor, quantize, write_gguf
from psionic.models.lora_adapter import Key, LoRAAdapter
from psionic.models.lora_config import TARGETS
from psionic.models.lora_delta import LoRAWeights

META_ADAPTER = "psionic.lora.adapter_digest"
META_BASE = "psionic.lora.base_digest"
META_MERGED = "psionic.lora.merged_tensors"
META_TYPES = "psionic.lora.merged_types"
MERGE_DTYPES = ("f32", "f16")
REQUANTIZABLE = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "f16", "bf16", "f32"}
_OUR_KEYS = (META_ADAPTER, META_BASE, META_MERGED, META_TYPES)


def tensor_name(layer: int, target: str) -> str:
    return f"blk.{layer}.{TARGETS[target].gguf}.weight"


def decoded(info: TensorInfo) -> np.ndarray:
    """A 2-D weight as float32, decoded exactly as the matmul kernels decode it."""
    matrix = QuantMatrix.from_array(info.dtype, np.ascontiguousarray(info.data))
    return get_rows(matrix, np.arange(matrix.rows))


def _passthrough(info: TensorInfo) -> np.ndarray | RawTensor:
    if info.dtype.is_quantized:
        return RawTensor(info.dtype, info.shape, np.ascontiguousarray(info.data))
    return np.ascontiguousarray(info.data)


def _store(weights: np.ndarray, dtype: str) -> np.ndarray | RawTensor:
    if dtype == "f32":
        return weights.astype(np.float32)
    if dtype == "f16":
        return weights.astype(np.float16)
    return quantize(weights.astype(np.float32), dtype)


def _deltas(adapter: LoRAAdapter) -> dict[str, tuple[Key, LoRAWeights]]:
    return {tensor_name(layer, target): ((layer, target), LoRAWeights.create(a, b, adapter.config.scale))
            for (layer, target), (a, b) in adapter.weights.items()}


def _check_shapes(file: GGUFModelFile, deltas: dict[str, tuple[Key, LoRAWeights]]) -> None:
    for name, ((layer, target), w) in deltas.items():
        info = file.tensor(name)
        if info.shape != (w.out_features, w.in_features):
            raise InvalidInput(
                f"adapter layer {layer} {target} is ({w.out_features}, {w.in_features}); "
                f"{name} in {file.path} is {info.shape}", param="adapter",
            )


def _write(path: str | os.PathLike[str], file: GGUFModelFile, metadata: dict[str, Any],
           replaced: dict[str, np.ndarray | RawTensor]) -> None:
    tensors = {name: replaced[name] if name in replaced else _passthrough(info)
               for name, info in file.tensors.items()}
    meta = {k: v for k, v in metadata.items() if not k.startswith("GGUF.")}
    meta.pop("general.alignment", None)
    write_gguf(path, file.architecture, meta, tensors)


def merge_adapter(base_path: str | os.PathLike[str], adapter: LoRAAdapter,
                  out_path: str | os.PathLike[str], dtype: str = "f32") -> Path:
    """Write ``out_path``: the base model with the adapter added into its projections."""
    if dtype not in MERGE_DTYPES:
        raise InvalidInput(f"merged tensors are written as one of {MERGE_DTYPES}, not {dtype!r}", param="dtype")
    file = GGUFModelFile.open(base_path)
    if file.meta(META_ADAPTER) is not None:
        raise InvalidInput(f"{base_path} already has an adapter merged in ({file.meta(META_ADAPTER)})",
                           param="model")
    base_digest = cached_file_digest(Path(base_path))
    if adapter.config.base_digest and adapter.config.base_digest != base_digest:
        raise InvalidInput(
            f"adapter was made for the model with digest {adapter.config.base_digest}, not {base_digest}",
            param="adapter",
        )
    family_for(file.architecture).config_from_gguf(file)  # a model we can run, or a typed refusal
    deltas = _deltas(adapter)
    _check_shapes(file, deltas)
    replaced: dict[str, np.ndarray | RawTensor] = {}
    types = []
    for name, (_, w) in deltas.items():
        info = file.tensor(name)
        replaced[name] = _store(decoded(info).astype(np.float64) + w.dense(), dtype)
        types.append(info.dtype.name)
    metadata = dict(file.metadata)
    metadata.update({META_ADAPTER: adapter.digest, META_BASE: base_digest,
                     META_MERGED: list(deltas), META_TYPES: types})
    _write(out_path, file, metadata, replaced)
    return Path(out_path)


def unmerge_adapter(merged_path: str | os.PathLike[str], adapter: LoRAAdapter,
                    out_path: str | os.PathLike[str]) -> Path:
    """Write ``out_path``: the merged model with the adapter taken out again."""
    file = GGUFModelFile.open(merged_path)
    recorded = file.meta(META_ADAPTER)
    if recorded is None:
        raise InvalidInput(f"{merged_path} has no adapter merged in", param="model")
    if recorded != adapter.digest:
        raise InvalidInput(
            f"{merged_path} has adapter {recorded} merged in, not {adapter.digest}", param="adapter"
        )
    names, types = list(file.require(META_MERGED)), list(file.require(META_TYPES))
    deltas = _deltas(adapter)
    if sorted(names) != sorted(deltas) or len(types) != len(names):
        raise InvalidInput(f"{merged_path}: the merged tensors do not match the adapter's", param="adapter")
    _check_shapes(file, deltas)
    replaced: dict[str, np.ndarray | RawTensor] = {}
    for name, original in zip(names, types, strict=True):
        weights = decoded(file.tensor(name)).astype(np.float64) - deltas[name][1].dense()
        target = original if original in REQUANTIZABLE else "f32"
        replaced[name] = _store(weights, target)
    metadata = {k: v for k, v in file.metadata.items() if k not in _OUR_KEYS}
    _write(out_path, file, metadata, replaced)
    return Path(out_path)
