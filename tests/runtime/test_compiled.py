"""Compiled plans run like eager code, reuse their arena, and are cached by digest."""

from __future__ import annotations

import numpy as np
import pytest

import psionic.array as pa
from psionic.compiler import compile_graph
from psionic.ir import trace
from psionic.runtime import CompiledFunction, Executor, PlanCache
from tests.compiler.programs import PROGRAMS


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_compiled_matches_eager(name: str) -> None:
    fn, make_args = PROGRAMS[name]
    args = make_args()
    compiled = CompiledFunction(fn, PlanCache())
    np.testing.assert_allclose(compiled(*args).numpy(), fn(*args).numpy(), rtol=1e-6, atol=1e-6)
    fresh = [pa.tensor(a.numpy() * 0.5 + 0.1) for a in args]
    np.testing.assert_allclose(compiled(*fresh).numpy(), fn(*fresh).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_compiled_on_torch_matches_cpu(name: str) -> None:
    pytest.importorskip("torch")
    fn, make_args = PROGRAMS[name]
    args = make_args()
    targs = [a.to("torch") for a in args]
    out = CompiledFunction(fn, PlanCache())(*targs)
    assert out.backend == "torch"
    np.testing.assert_allclose(out.numpy(), fn(*args).numpy(), rtol=1e-4, atol=1e-5)


def test_arena_is_allocated_once_and_outputs_are_not_overwritten() -> None:
    fn, make_args = PROGRAMS["mlp"]
    args = make_args()
    executor = Executor(compile_graph(trace(fn, *args)[0]))
    first = executor(args)[0]
    kept = first.numpy().copy()
    size = executor.arena_bytes
    assert size > 0
    executor([pa.tensor(a.numpy() + 1.0) for a in args])
    assert executor.arena_bytes == size
    np.testing.assert_array_equal(first.numpy(), kept)


def test_plan_cache_shares_plans_by_digest_and_recompiles_per_signature() -> None:
    cache = PlanCache()
    f1 = CompiledFunction(lambda x: (x * 3.0).sum(), cache)
    f2 = CompiledFunction(lambda x: (x * 3.0).sum(), cache)
    f1(pa.ones((2,)))
    f2(pa.ones((2,)))
    assert (cache.misses, cache.hits) == (1, 1)
    f1(pa.ones((2,)))  # same signature: no new trace
    assert (cache.misses, cache.hits) == (1, 1)
    f1(pa.ones((5,)))
    assert cache.misses == 2


def test_tuple_outputs() -> None:
    f = CompiledFunction(lambda x: (x.exp(), x.sum()), PlanCache())
    a, b = f(pa.zeros((3,)))
    assert a.tolist() == [1.0, 1.0, 1.0] and b.item() == 0.0


def test_compiled_training_gradient_matches_eager() -> None:
    w = pa.randn((6, 3), seed=3)
    x = pa.randn((4, 6), seed=4)

    def loss_grad(w: pa.Tensor, x: pa.Tensor) -> pa.Tensor:
        return pa.grad(lambda w_: ((x @ w_).tanh() ** 2.0).mean())(w)

    out = CompiledFunction(loss_grad, PlanCache())(w, x)
    np.testing.assert_allclose(out.numpy(), loss_grad(w, x).numpy(), rtol=1e-5, atol=1e-7)


def test_executor_and_backend_facts() -> None:
    fn, make_args = PROGRAMS["layer_norm"]
    args = make_args()
    executor = Executor(compile_graph(trace(fn, *args)[0]))
    executor(args)
    facts = executor.facts()
    assert facts["runs"] == 1 and facts["backend"] == "cpu" and facts["plan"].startswith("sha256:")
    assert facts["arena_bytes"] > 0 and facts["fused_steps"] >= 1
    cpu = pa.get_array_backend("cpu").facts()
    assert cpu["deterministic"] and "matmul" in cpu["ops"] and "bf16" in cpu["dtypes"]
