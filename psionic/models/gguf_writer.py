"""Write GGUF files: metadata plus float or block-quantized tensors.

Used to make small synthetic models of any family (for oracle tests against
other implementations) and to write derived models (for example a base model
with an adapter merged in). Quantization goes through the ``gguf`` package's
reference quantizers. Python values map to GGUF types: bool, int (u32, or i64
when negative or large), float (f32), str, and lists of one of those.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.gguf")
>>> write_gguf(path, "llama", {"llama.block_count": 1}, {"w": np.ones((2, 32), np.float32)})
>>> os.path.getsize(path) > 0
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gguf
import numpy as np

from psionic.core.dtypes import DType

_WRITER_OWNED = {"general.architecture"}


@dataclass(frozen=True, slots=True)
class RawTensor:
    """Tensor bytes already in a GGUF storage format: ``data`` is uint8 (rows, row_bytes)."""

    dtype: DType
    shape: tuple[int, ...]  # numpy order
    data: np.ndarray


def quantize(array: np.ndarray, dtype: DType | str) -> RawTensor:
    """Quantize a float array (last axis a whole number of blocks) to ``dtype``."""
    dt = DType.get(dtype) if isinstance(dtype, str) else dtype
    if dt.ggml_type is None:
        raise ValueError(f"{dt.name} has no GGML type id to write")
    qtype = gguf.GGMLQuantizationType(dt.ggml_type)
    data = gguf.quants.quantize(np.ascontiguousarray(array, dtype=np.float32), qtype)
    return RawTensor(dt, tuple(array.shape), data)


def _add_value(writer: gguf.GGUFWriter, key: str, value: Any) -> None:
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        if 0 <= value < 2**32:
            writer.add_uint32(key, value)
        else:
            writer.add_int64(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, (list, tuple)):
        writer.add_array(key, list(value))
    else:
        raise TypeError(f"metadata {key!r}: cannot write a {type(value).__name__}")


def write_gguf(
    path: str | os.PathLike[str],
    architecture: str,
    metadata: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray | RawTensor],
) -> None:
    """Write a GGUF v3 file. Float arrays keep their dtype (f32, f16); RawTensors are written as is."""
    writer = gguf.GGUFWriter(os.fspath(path), architecture)
    for key, value in metadata.items():
        if key not in _WRITER_OWNED:
            _add_value(writer, key, value)
    for name, tensor in tensors.items():
        if isinstance(tensor, RawTensor):
            assert tensor.dtype.ggml_type is not None  # every block-quant type has a GGML id
            # gguf takes quantized shapes in bytes per row and converts them itself.
            writer.add_tensor(
                name,
                tensor.data,
                raw_shape=tensor.data.shape,
                raw_dtype=gguf.GGMLQuantizationType(tensor.dtype.ggml_type),
            )
        else:
            writer.add_tensor(name, np.ascontiguousarray(tensor))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
