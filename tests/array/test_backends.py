"""Backend selection by name: torch agrees with the cpu reference within stated tolerances.

Tolerances: f32 results agree to rtol 1e-4 / atol 1e-5 (different summation
orders in reductions and matmul); on CUDA, TF32 is off by torch's default for
matmul in float32 and the same tolerance holds.
"""

from __future__ import annotations

import numpy as np
import pytest

import psionic.array as pa
from psionic.backends import backend_names, get_backend
from psionic.core.errors import UnsupportedOperation
from tests.array.grad_cases import CASES, Case

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-4, 1e-5


def _run(case: Case, backend: str) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(11)
    arrays = []
    for shape in case.shapes:
        a = rng.standard_normal(shape).astype(np.float32)
        arrays.append(np.abs(a) + 0.5 if case.domain == "pos" else a)
    xs = [pa.tensor(a, requires_grad=True, backend=backend) for a in arrays]
    out = case.fn(*xs)
    assert out.backend == backend
    w = pa.tensor(np.random.default_rng(1).standard_normal(out.shape).astype(np.float32), backend=backend)
    (out * w).sum().backward()
    return out.numpy(), [x.grad.numpy() for x in xs]


def test_both_backends_are_registered() -> None:
    assert {"cpu", "torch"} <= set(backend_names())
    assert get_backend("torch").supports_matmul("bf16")
    assert get_backend("torch").supports_matmul("q4_k")
    assert not get_backend("torch").supports_matmul("q2_k")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_torch_backend_matches_cpu(case: Case) -> None:
    out, grads = _run(case, "cpu")
    t_out, t_grads = _run(case, "torch")
    np.testing.assert_allclose(t_out, out, rtol=RTOL, atol=ATOL)
    for g, tg in zip(grads, t_grads, strict=True):
        np.testing.assert_allclose(tg, g, rtol=RTOL, atol=ATOL)


def test_mixing_backends_is_refused_and_to_moves_with_gradients() -> None:
    a = pa.tensor([1.0, 2.0], requires_grad=True)
    b = pa.tensor([3.0, 4.0], backend="torch")
    with pytest.raises(UnsupportedOperation):
        _ = a + b
    (a.to("torch") * b).sum().backward()
    assert a.grad is not None and a.grad.backend == "cpu"
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


def test_quantized_products_and_their_gradients_agree_across_backends() -> None:
    from psionic.backends.quant_matrix import QuantMatrix
    from psionic.core.dtypes import DType

    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (24 * 2, 34), dtype=np.uint8)
    blocks[:, 0:2] = rng.uniform(-0.02, 0.02, (48, 1)).astype("<f2").view(np.uint8)
    w = QuantMatrix.from_array(DType.get("q8_0"), blocks.reshape(24, 68))
    x0 = rng.standard_normal((5, 64)).astype(np.float32)
    results = {}
    for backend in ("cpu", "torch"):
        x = pa.tensor(x0, requires_grad=True, backend=backend)
        ids = pa.tensor(np.array([2, 23, 2]), dtype="i64", backend=backend)
        y = pa.apply("quant_matmul", x, weight=w)
        rows = pa.apply("quant_rows", ids, weight=w)
        (y.tanh().sum() + 0.0 * rows.sum()).backward()
        results[backend] = (y.numpy(), rows.numpy(), x.grad.numpy())
    for cpu, tor in zip(results["cpu"], results["torch"], strict=True):
        np.testing.assert_allclose(tor, cpu, rtol=RTOL, atol=ATOL)


def test_a_backend_refuses_a_dtype_it_does_not_hold() -> None:
    with pytest.raises(UnsupportedOperation):
        pa.tensor([1.0], dtype="f8_e4m3")


@pytest.mark.gpu
def test_torch_backend_runs_on_cuda() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = pa.randn((64, 32), seed=0, requires_grad=True, backend="torch")
    assert x.device == "cuda" and x._data.is_cuda
    w = pa.randn((32, 16), seed=1, backend="torch")
    loss = ((x @ w).tanh().softmax(-1) * 3.0).sum()
    loss.backward()
    xc = pa.tensor(x.numpy(), requires_grad=True)
    ((xc @ pa.tensor(w.numpy())).tanh().softmax(-1) * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xc.grad.numpy(), rtol=RTOL, atol=ATOL)
    for case in CASES:
        out, grads = _run(case, "cpu")
        t_out, t_grads = _run(case, "torch")
        np.testing.assert_allclose(t_out, out, rtol=RTOL, atol=ATOL, err_msg=case.id)
