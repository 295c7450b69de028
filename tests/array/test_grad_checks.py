"""Gradients of every op against central finite differences (f64) and against torch.

Each case's output is reduced as ``sum(f(x) * w)`` with fixed random weights
``w``, so every element of the Jacobian contributes.
"""

from __future__ import annotations

import numpy as np
import pytest

import psionic.array as pa
from tests.array.grad_cases import CASES, Case

LOW_PRECISION = [c for c in CASES if c.low_precision]


def _inputs(case: Case, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for shape in case.shapes:
        x = rng.standard_normal(shape)
        if case.domain == "pos":
            x = np.abs(x) + 0.5
        out.append(x)
    return out


def _weights(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(1).standard_normal(shape)


def _psionic_grads(case: Case, arrays: list[np.ndarray], dtype: str) -> tuple[np.ndarray, list[np.ndarray]]:
    xs = [pa.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    out = case.fn(*xs)
    w = pa.tensor(_weights(out.shape), dtype=dtype)
    (out * w).sum().backward()
    return out.numpy(), [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_grad_matches_finite_differences(case: Case) -> None:
    arrays = _inputs(case)
    out, grads = _psionic_grads(case, arrays, "f64")
    w = _weights(out.shape)

    def objective(values: list[np.ndarray]) -> float:
        with pa.no_grad():
            y = case.fn(*[pa.tensor(v, dtype="f64") for v in values]).numpy()
        return float((y * w).sum())

    eps = 1e-6
    for i, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for j in range(a.size):
            plus = [v.copy() for v in arrays]
            minus = [v.copy() for v in arrays]
            plus[i].flat[j] += eps
            minus[i].flat[j] -= eps
            numeric.flat[j] = (objective(plus) - objective(minus)) / (2 * eps)
        np.testing.assert_allclose(grads[i], numeric, rtol=1e-5, atol=1e-6, err_msg=f"input {i}")


def _torch_grads(case: Case, arrays: list[np.ndarray], dtype: str) -> tuple[np.ndarray, list[np.ndarray]]:
    torch = pytest.importorskip("torch")
    tdt = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[dtype]
    xs = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in arrays]
    out = case.torch_fn(*xs)
    w = torch.tensor(_weights(tuple(out.shape)), dtype=tdt)
    (out * w).sum().backward()
    return out.detach().float().numpy(), [x.grad.float().numpy() for x in xs]


def _low(arrays: list[np.ndarray], dtype: str) -> list[np.ndarray]:
    """Inputs rounded to ``dtype`` first, so both frameworks see identical values."""
    np_dtype = pa.as_dtype(dtype).numpy
    return [a.astype(np_dtype).astype(np.float64) for a in arrays]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_grad_matches_torch_f32(case: Case) -> None:
    arrays = _inputs(case, seed=2)
    out, grads = _psionic_grads(case, arrays, "f32")
    t_out, t_grads = _torch_grads(case, arrays, "f32")
    np.testing.assert_allclose(out, t_out, rtol=1e-5, atol=1e-5)
    for g, tg in zip(grads, t_grads, strict=True):
        np.testing.assert_allclose(g, tg, rtol=1e-4, atol=1e-5)


# Stated tolerances for half precision: both sides round every op's result to the
# dtype, but in different orders (numpy computes f16 ops in f32 and rounds; so does torch).
TOLERANCE = {"f16": (2e-2, 2e-2), "bf16": (1e-1, 1e-1)}


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
@pytest.mark.parametrize("case", LOW_PRECISION, ids=lambda c: c.id)
def test_grad_matches_torch_half(case: Case, dtype: str) -> None:
    arrays = _low(_inputs(case, seed=3), dtype)
    out, grads = _psionic_grads(case, arrays, dtype)
    t_out, t_grads = _torch_grads(case, arrays, dtype)
    rtol, atol = TOLERANCE[dtype]
    scale = max(1.0, float(np.abs(t_out).max()))
    np.testing.assert_allclose(out.astype(np.float32), t_out, rtol=rtol, atol=atol * scale)
    for g, tg in zip(grads, t_grads, strict=True):
        gscale = max(1.0, float(np.abs(tg).max()))
        np.testing.assert_allclose(g.astype(np.float32), tg, rtol=rtol, atol=atol * gscale)
