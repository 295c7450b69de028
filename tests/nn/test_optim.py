"""Optimizers against torch.optim: single steps and several, state_dict resume, schedules."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import InvalidInput
from psionic.nn.module import Parameter
from psionic.nn.optim import SGD, Adam, AdamW
from psionic.nn.schedules import make_schedule

torch = pytest.importorskip("torch")

CONFIGS = [
    ("sgd", SGD, torch.optim.SGD, {"lr": 0.1}),
    ("sgd_momentum", SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("sgd_nesterov", SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("sgd_dampening", SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.5, "dampening": 0.3}),
    ("adam", Adam, torch.optim.Adam, {"lr": 1e-2}),
    ("adam_l2", Adam, torch.optim.Adam, {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.8, 0.99)}),
    ("adamw", AdamW, torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1}),
    ("adamw_eps", AdamW, torch.optim.AdamW, {"lr": 3e-3, "weight_decay": 0.0, "eps": 1e-6}),
]


def _grads(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]


def _run(ours, theirs, kwargs, steps: int) -> tuple[list[np.ndarray], list[np.ndarray], object]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    params = [Parameter(w.copy()) for w in init]
    t_params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in init]
    opt, t_opt = ours(params, **kwargs), theirs(t_params, **kwargs)
    for s in range(steps):
        for p, tp, g in zip(params, t_params, _grads(s), strict=True):
            p.grad = p.tensor._lift(g)
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        t_opt.step()
    return [p.data for p in params], [tp.detach().numpy() for tp in t_params], opt


@pytest.mark.parametrize(("name", "ours", "theirs", "kwargs"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_single_step_matches_torch(name: str, ours, theirs, kwargs) -> None:  # type: ignore[no-untyped-def]
    mine, ref, _ = _run(ours, theirs, kwargs, 1)
    for a, b in zip(mine, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("name", "ours", "theirs", "kwargs"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_five_steps_match_torch(name: str, ours, theirs, kwargs) -> None:  # type: ignore[no-untyped-def]
    mine, ref, _ = _run(ours, theirs, kwargs, 5)
    for a, b in zip(mine, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_state_dict_resume_is_bit_exact() -> None:
    straight, _, _ = _run(AdamW, torch.optim.AdamW, {"lr": 1e-2}, 4)
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)]
    params = [Parameter(w.copy()) for w in init]
    opt = AdamW(params, lr=1e-2)
    for s in range(2):
        for p, g in zip(params, _grads(s), strict=True):
            p.grad = p.tensor._lift(g)
        opt.step()
    saved = opt.state_dict()
    weights = [p.data.copy() for p in params]
    params2 = [Parameter(w) for w in weights]
    opt2 = AdamW(params2, lr=123.0)
    opt2.load_state_dict(saved)
    for s in range(2, 4):
        for p, g in zip(params2, _grads(s), strict=True):
            p.grad = p.tensor._lift(g)
        opt2.step()
    for a, b in zip(straight, [p.data for p in params2], strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_checks_shapes() -> None:
    opt = Adam([Parameter(np.zeros(3, np.float32))])
    state = opt.state_dict()
    state["state"] = [{"exp_avg": np.zeros(4, np.float32)}]
    with pytest.raises(InvalidInput):
        opt.load_state_dict(state)


def test_schedule_scales_the_rate_like_lambda_lr() -> None:
    sched = make_schedule("cosine", warmup=2, total=6)
    p, tp = Parameter(np.ones(2, np.float32)), torch.nn.Parameter(torch.ones(2))
    opt = SGD([p], lr=0.5, schedule=sched)
    t_opt = torch.optim.SGD([tp], lr=0.5)
    t_sched = torch.optim.lr_scheduler.LambdaLR(t_opt, sched)
    for _ in range(6):
        p.grad = p.tensor._lift(np.ones(2, np.float32))
        tp.grad = torch.ones(2)
        opt.step()
        t_opt.step()
        t_sched.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6)


def test_frozen_parameters_are_left_out() -> None:
    a, b = Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(2, np.float32), requires_grad=False)
    assert SGD([a, b], lr=1.0).params == [a]
    with pytest.raises(InvalidInput):
        SGD([b], lr=1.0)


def test_unknown_schedule_is_refused() -> None:
    with pytest.raises(InvalidInput):
        make_schedule("exponential-ish")


def test_read_only_parameters_are_refused() -> None:
    data = np.zeros(3, np.float32)
    data.flags.writeable = False
    with pytest.raises(InvalidInput, match="read-only"):
        Adam([Parameter(data)])
