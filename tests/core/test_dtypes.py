from __future__ import annotations

import gguf
import ml_dtypes
import numpy as np
import pytest

from psionic.core.dtypes import DType
from psionic.core.errors import UnknownDType


def test_quant_layouts_match_gguf() -> None:
    quants = [d for d in DType.all() if d.is_quantized]
    assert len(quants) >= 11
    for d in quants:
        qtype = gguf.GGMLQuantizationType(d.ggml_type)
        assert qtype.name.lower() == d.name
        assert gguf.GGML_QUANT_SIZES[qtype] == (d.block_size, d.type_size), d.name


def test_array_dtypes_with_a_ggml_id_match_gguf() -> None:
    for d in DType.all():
        if d.ggml_type is None or d.is_quantized:
            continue
        qtype = gguf.GGMLQuantizationType(d.ggml_type)
        assert qtype.name.lower() == d.name
        assert gguf.GGML_QUANT_SIZES[qtype] == (1, d.itemsize)


def test_lookup_by_name_ggml_and_numpy() -> None:
    assert DType.get("BF16").numpy == np.dtype(ml_dtypes.bfloat16)
    assert DType.from_ggml(14).name == "q6_k"
    assert DType.from_numpy(np.float16).name == "f16"
    assert DType.get("q4_1").bytes_for(64) == 40


def test_errors_are_typed() -> None:
    with pytest.raises(UnknownDType, match="q9_9"):
        DType.get("q9_9")
    with pytest.raises(UnknownDType):
        DType.from_ggml(9999)
    with pytest.raises(ValueError, match="whole number"):
        DType.get("q8_0").bytes_for(33)
    with pytest.raises(TypeError):
        _ = DType.get("q8_0").itemsize


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        DType.register(DType("f32", "float", 1, 4, None, np.dtype(np.float32)))
