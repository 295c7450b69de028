"""Functional transforms, grad mode, detach and checkpointing."""

from __future__ import annotations

import numpy as np
import pytest

import psionic.array as pa


def f(x: pa.Tensor, y: pa.Tensor) -> pa.Tensor:
    return ((x @ y).tanh() * x.sum()).sum()


def _xy() -> tuple[pa.Tensor, pa.Tensor]:
    return pa.randn((3, 4), dtype="f64", seed=0), pa.randn((4, 2), dtype="f64", seed=1)


def test_grad_matches_backward_and_leaves_inputs_alone() -> None:
    x, y = _xy()
    gx, gy = pa.grad(f, argnums=(0, 1))(x, y)
    assert x.grad is None and y.grad is None
    xl, yl = x.detach().requires_grad_(), y.detach().requires_grad_()
    f(xl, yl).backward()
    np.testing.assert_allclose(gx.numpy(), xl.grad.numpy())
    np.testing.assert_allclose(gy.numpy(), yl.grad.numpy())


def test_value_and_grad_returns_the_value() -> None:
    x, y = _xy()
    value, gx = pa.value_and_grad(f)(x, y)
    assert value.item() == pytest.approx(f(x, y).item())
    assert gx.shape == x.shape


def test_vjp_equals_gradient_of_weighted_output() -> None:
    x = pa.randn((3, 4), dtype="f64", seed=2)
    out, vjp_fn = pa.vjp(lambda a: a.exp() * a, x)
    cot = pa.randn(out.shape, dtype="f64", seed=3)
    (gx,) = vjp_fn(cot)
    expected = (cot.numpy() * (np.exp(x.numpy()) * (1 + x.numpy())))
    np.testing.assert_allclose(gx.numpy(), expected, rtol=1e-12)


def test_jvp_matches_finite_difference_direction() -> None:
    x, y = _xy()
    tx, ty = pa.randn(x.shape, dtype="f64", seed=4), pa.randn(y.shape, dtype="f64", seed=5)
    g = lambda a, b: (a @ b).sigmoid() * 3.0  # noqa: E731
    out, tangent = pa.jvp(g, (x, y), (tx, ty))
    eps = 1e-6
    plus = g(x + tx * eps, y + ty * eps).numpy()
    minus = g(x - tx * eps, y - ty * eps).numpy()
    np.testing.assert_allclose(tangent.numpy(), (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(out.numpy(), g(x, y).numpy())


def test_second_derivative_by_nesting_grad() -> None:
    x = pa.tensor([0.3, -1.2], dtype="f64")
    second = pa.grad(lambda a: pa.grad(lambda b: (b ** 3.0).sum())(a).sum())(x)
    np.testing.assert_allclose(second.numpy(), 6 * x.numpy())
    assert x.grad is None


def test_backward_with_create_graph_is_differentiable() -> None:
    x = pa.tensor([0.3, -1.2], dtype="f64", requires_grad=True)
    (x ** 3.0).sum().backward(create_graph=True)
    first = x.grad
    assert first is not None and first.requires_grad
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_no_grad_records_nothing() -> None:
    x = pa.tensor([1.0, 2.0], requires_grad=True)
    with pa.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.is_leaf
    assert pa.is_grad_enabled()


def test_detach_cuts_the_graph() -> None:
    x = pa.tensor([1.0, 2.0], requires_grad=True)
    y = (x.detach() * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


def test_gradients_accumulate_over_backward_calls() -> None:
    x = pa.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])


def test_checkpoint_gives_the_same_gradients_and_keeps_no_intermediates() -> None:
    x = pa.randn((4, 3), dtype="f64", seed=6, requires_grad=True)
    w = pa.randn((3, 3), dtype="f64", seed=7, requires_grad=True)

    def block(a: pa.Tensor, b: pa.Tensor) -> pa.Tensor:
        return (a @ b).tanh() @ b

    out = pa.checkpoint(block, x, w)
    assert out._node is not None and out._node.op.name == "checkpoint"
    (out * out).sum().backward()
    gx, gw = x.grad.numpy(), w.grad.numpy()
    x.grad = w.grad = None
    ref = block(x, w)
    (ref * ref).sum().backward()
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw, w.grad.numpy(), rtol=1e-12)


def test_integer_tensors_cannot_require_grad() -> None:
    from psionic.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        pa.tensor([1, 2], requires_grad=True)


def test_backward_needs_a_scalar_or_a_gradient() -> None:
    from psionic.core.errors import InvalidInput

    x = pa.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(InvalidInput):
        (x * 2.0).backward()
    (x * 2.0).backward(pa.tensor([1.0, 0.5]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0])


def test_fused_gelu_second_derivative_goes_through_the_tape() -> None:
    from psionic.array.rules import gelu_tanh_composite

    x = pa.tensor([-1.3, 0.2, 2.0], dtype="f64")
    fused = pa.grad(lambda a: pa.grad(lambda b: b.gelu_tanh().sum())(a).sum())(x)
    reference = pa.grad(lambda a: pa.grad(lambda b: gelu_tanh_composite(b).sum())(a).sum())(x)
    np.testing.assert_allclose(fused.numpy(), reference.numpy(), rtol=1e-10)


@pytest.mark.parametrize("center", [True, False])
def test_fused_normalize_second_derivative_goes_through_the_tape(center: bool) -> None:
    from psionic.array.rules import normalize_composite

    x = pa.randn((2, 5), dtype="f64", seed=8)
    w = pa.randn((2, 5), dtype="f64", seed=9)

    def second(norm):  # type: ignore[no-untyped-def]
        return pa.grad(lambda a: (pa.grad(lambda b: (norm(b) * w).sum())(a) ** 2.0).sum())(x)

    fused = second(lambda t: t.normalize(1e-5, center))
    reference = second(lambda t: normalize_composite(t, 1e-5, center))
    np.testing.assert_allclose(fused.numpy(), reference.numpy(), rtol=1e-8, atol=1e-10)


def test_checkpoint_passes_gradients_to_captured_tensors() -> None:
    x = pa.randn((3, 4), dtype="f64", seed=10, requires_grad=True)
    w = pa.randn((4, 4), dtype="f64", seed=11, requires_grad=True)
    out = pa.checkpoint(lambda a: (a @ w).sin(), x, captured=[w])
    out.sum().backward()
    gx, gw = x.grad.numpy(), w.grad.numpy()
    x.grad = w.grad = None
    (x @ w).sin().sum().backward()
    np.testing.assert_allclose(gw, w.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-12)
