"""The Tensor surface: construction, dtypes, operators, indexing and typed refusals."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import psionic.array as pa
from psionic.core.errors import BackendUnavailable, InvalidInput, UnsupportedOperation


@pytest.mark.parametrize(
    ("name", "np_dtype"),
    [("f32", np.float32), ("f16", np.float16), ("bf16", ml_dtypes.bfloat16), ("i32", np.int32),
     ("i64", np.int64), ("bool", np.bool_), ("float32", np.float32)],
)
def test_dtypes_round_trip(name: str, np_dtype: type) -> None:
    t = pa.tensor([1, 0, 1], dtype=name)
    assert t.numpy().dtype == np_dtype
    assert t.dtype.numpy == np.dtype(np_dtype)


def test_python_floats_default_to_f32_and_scalars_keep_the_tensor_dtype() -> None:
    x = pa.tensor([1.0, 2.0])
    assert x.dtype.name == "f32"
    assert (x * 2.5).dtype.name == "f32"
    h = pa.tensor([1.0], dtype="f16")
    assert (h + 1.0).dtype.name == "f16"
    assert (pa.tensor([1, 2]) * 0.5).dtype.is_floating  # numpy's promotion of int and float


def test_casts_and_comparisons() -> None:
    x = pa.tensor([1.5, -2.5, 3.0])
    assert x.cast("i32").tolist() == [1, -2, 3]
    assert (x > 0).tolist() == [True, False, True]
    assert (x == 3.0).dtype.name == "bool"
    assert (~(x > 0)).tolist() == [False, True, False]
    assert x.argmax().item() == 2


def test_reshape_permute_slice_concat_stack() -> None:
    x = pa.arange(24, dtype="f32").reshape(2, 3, 4)
    ref = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), ref.transpose(2, 0, 1))
    np.testing.assert_array_equal(x[1, :, ::2].numpy(), ref[1, :, ::2])
    np.testing.assert_array_equal(x[..., None, 1].numpy(), ref[..., None, 1])
    np.testing.assert_array_equal(pa.concat([x, x], -1).numpy(), np.concatenate([ref, ref], -1))
    np.testing.assert_array_equal(pa.stack([x, x], 0).numpy(), np.stack([ref, ref]))
    np.testing.assert_array_equal(x.flatten(1).numpy(), ref.reshape(2, 12))


def test_softmax_rows_sum_to_one_and_log_softmax_is_stable() -> None:
    x = pa.tensor([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(x.softmax(-1).sum(-1).numpy(), [1.0, 1.0], rtol=1e-6)
    assert np.isfinite(x.log_softmax(-1).numpy()).all()


def test_where_and_matmul_broadcast() -> None:
    a = pa.randn((2, 3, 4), seed=0)
    b = pa.randn((4, 5), seed=1)
    np.testing.assert_allclose((a @ b).numpy(), a.numpy() @ b.numpy(), rtol=1e-6)
    w = pa.where(a > 0, a, 0.0)
    np.testing.assert_array_equal(w.numpy(), np.where(a.numpy() > 0, a.numpy(), 0))


def test_unsupported_index_is_refused_with_a_typed_error() -> None:
    with pytest.raises(UnsupportedOperation):
        pa.tensor([1.0, 2.0])[1.5]


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(BackendUnavailable):
        pa.tensor([1.0], backend="tpu")


def test_truth_value_of_many_elements_is_ambiguous() -> None:
    with pytest.raises(InvalidInput):
        bool(pa.tensor([1.0, 2.0]))


def test_reshape_to_wrong_size_is_refused() -> None:
    with pytest.raises(InvalidInput):
        pa.zeros((2, 3)).reshape(4, 2)


def test_random_tensors_are_seeded() -> None:
    assert pa.randn((3,), seed=5).tolist() == pa.randn((3,), seed=5).tolist()
    assert pa.rand((3,), seed=5).tolist() != pa.randn((3,), seed=5).tolist()
