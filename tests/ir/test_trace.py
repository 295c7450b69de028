"""Tracing: graphs, canonical text, digests, constants, and the interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import psionic.array as pa
from psionic.core.errors import InvalidInput
from psionic.ir import evaluate, trace
from psionic.ir.graph import format_attr


def f(x: pa.Tensor, y: pa.Tensor) -> pa.Tensor:
    return ((x @ y).relu() + 1.0).sum(-1)


def test_same_program_gives_same_text_and_digest() -> None:
    g1, _ = trace(f, pa.randn((2, 3), seed=0), pa.randn((3, 4), seed=1))
    g2, _ = trace(f, pa.randn((2, 3), seed=5), pa.randn((3, 4), seed=6))
    assert g1.text() == g2.text() and g1.digest() == g2.digest()
    g3, _ = trace(f, pa.randn((5, 3), seed=0), pa.randn((3, 4), seed=1))
    assert g3.digest() != g1.digest()


def test_captured_tensors_become_constants_by_value() -> None:
    w = pa.randn((3, 3), seed=2)
    g1, _ = trace(lambda x: x @ w, pa.ones((1, 3)))
    assert [n.op for n in g1.nodes] == ["input", "const", "matmul"]
    w2 = pa.randn((3, 3), seed=3)
    g2, _ = trace(lambda x: x @ w2, pa.ones((1, 3)))
    assert g1.digest() != g2.digest()


def test_traced_gradient_program_evaluates_like_eager() -> None:
    df = pa.grad(lambda x: (x.sin() * x).sum())
    x = pa.randn((5,), seed=4)
    graph, eager = trace(df, x)
    (out,) = evaluate(graph, [x])
    np.testing.assert_allclose(out.numpy(), eager.numpy(), rtol=1e-6)
    other = pa.randn((5,), seed=9)
    np.testing.assert_allclose(evaluate(graph, [other])[0].numpy(), df(other).numpy(), rtol=1e-6)


def test_interpreter_checks_input_signature() -> None:
    graph, _ = trace(lambda x: x * 2.0, pa.ones((2,)))
    with pytest.raises(InvalidInput):
        evaluate(graph, [pa.ones((3,))])


def test_traces_do_not_nest() -> None:
    with pytest.raises(InvalidInput):
        trace(lambda x: trace(lambda y: y, x)[1], pa.ones((1,)))


def test_attribute_text_is_canonical() -> None:
    assert format_attr((slice(1, None, 2), None, Ellipsis, 3)) == "(1::2,none,...,3)"
    assert format_attr((4,)) == "(4,)" and format_attr(True) == "true"
    assert format_attr(pa.float16) == "f16"


def test_ops_with_uncanonical_attributes_are_refused() -> None:
    from psionic.backends.quant_matrix import QuantMatrix
    from psionic.core.dtypes import DType
    from psionic.core.errors import UnsupportedOperation

    w = QuantMatrix.from_array(DType.get("f32"), np.eye(32, dtype=np.float32))
    with pytest.raises(UnsupportedOperation):
        trace(lambda x: pa.apply("quant_matmul", x, weight=w), pa.ones((1, 32)))


def test_moving_between_backends_is_refused_while_tracing() -> None:
    from psionic.core.errors import UnsupportedOperation

    with pytest.raises(UnsupportedOperation):
        trace(lambda x: x.to("torch") * 2.0, pa.ones((2,)))
