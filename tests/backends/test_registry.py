from __future__ import annotations

import pytest

from psionic.backends import Backend, backend_names, get_backend, register_backend
from psionic.core.dtypes import DType
from psionic.core.errors import BackendUnavailable, UnsupportedQuantType


def test_cpu_is_registered_and_declares_its_formats() -> None:
    cpu = get_backend("cpu")
    assert "cpu" in backend_names()
    assert cpu.device == "cpu"
    for name in ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
                 "q4_k", "q5_k", "q6_k"):
        assert cpu.supports_matmul(name) and cpu.supports_matmul(DType.get(name))
        cpu.check_matmul(name)


def test_unsupported_formats_are_refused_with_a_typed_error() -> None:
    cpu = get_backend("cpu")
    assert not cpu.supports_matmul("q2_k")
    with pytest.raises(UnsupportedQuantType) as err:
        cpu.check_matmul(DType.get("q3_k"))
    assert err.value.code == "unsupported_quant_type"
    assert err.value.details["dtype"] == "q3_k" and "q3_k" in err.value.message


def test_duplicate_and_unknown_names() -> None:
    with pytest.raises(ValueError):
        register_backend(Backend("cpu", "cpu", frozenset(), "psionic.backends.cpu.ops"))
    with pytest.raises(BackendUnavailable):
        get_backend("tpu")


def test_ops_module_is_loaded_on_demand() -> None:
    ops = get_backend("cpu").ops()
    assert callable(ops.matmul) and callable(ops.get_rows)
