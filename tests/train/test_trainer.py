"""The trainer: budgets, gradient accumulation, clipping, schedules, evaluation, logs, receipts,
the plot, and an honest refusal of precisions the backend cannot train in."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from psionic.core.errors import InvalidInput, UnsupportedOperation
from psionic.train.receipts import StepReceipt
from psionic.train.trainer import Budget, TrainConfig

sys.path.insert(0, str(Path(__file__).parent))
from tiny_run import make_trainer, synthetic_rows  # noqa: E402


def test_a_run_logs_receipts_evals_and_a_plot(tmp_path: Path) -> None:
    result = make_trainer(str(tmp_path), 8, eval_every=4, param_digest_every=3, checkpoint_every=0,
                          plot=True).run()
    assert result.step == 8 and result.stopped_by == "steps" and result.tokens == 8 * 2 * 24
    receipts = [json.loads(line) for line in (tmp_path / "receipts.jsonl").read_text().splitlines()]
    assert [r["step"] for r in receipts] == list(range(1, 9))
    prev = None
    for r in receipts:
        digest = r.pop("digest")
        assert StepReceipt(**r).digest == digest and r["prev"] == prev
        prev = digest
        assert (r["params"] is not None) == (r["step"] % 3 == 0)
        assert r["data"].startswith("sha256:") and r["grad_norm"] > 0
    assert receipts[-1]["params"] is None and receipts[5]["params"] != receipts[2]["params"]
    assert [s for s, _ in result.eval_losses] == [0, 4, 8]
    assert result.plot is not None and result.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "run.json").read_text())
    assert summary["param_digest"] == result.param_digest and summary["checkpoint"].endswith("step-00000008")


def test_training_lowers_the_eval_loss(tmp_path: Path) -> None:
    result = make_trainer(str(tmp_path), 30, lr=1e-2, checkpoint_every=0, eval_every=30, plot=False).run()
    first = make_trainer(str(tmp_path / "b"), 1, checkpoint_every=0, plot=False).evaluate()
    assert first is not None and result.eval_losses[-1][1] < first - 0.2


def test_token_budget_and_clipping(tmp_path: Path) -> None:
    trainer = make_trainer(str(tmp_path), 100, budget=Budget(tokens=100), schedule="constant",
                           clip_norm=1e-3, checkpoint_every=0, plot=False)
    result = trainer.run()
    assert result.stopped_by == "tokens" and result.step == 3 and result.tokens == 144
    grads = [p.grad.numpy() for _, p in trainer.named]
    norm = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
    assert norm == pytest.approx(1e-3, rel=1e-3)  # the last step's gradients were clipped to the limit


def test_gradient_accumulation_weighs_every_target_token_alike(tmp_path: Path) -> None:
    accum = make_trainer(str(tmp_path / "a"), 1, grad_accum=2, shuffle=False, optimizer="sgd", lr=0.1,
                         warmup=0, schedule="constant", clip_norm=None, checkpoint_every=0, plot=False)
    manual = make_trainer(str(tmp_path / "m"), 1, grad_accum=2, shuffle=False, optimizer="sgd", lr=0.1,
                          warmup=0, schedule="constant", clip_norm=None, checkpoint_every=0, plot=False)
    accum.run()
    rows = synthetic_rows(20, 0)[:2]
    total = sum(r.loss_tokens for r in rows)
    manual.objective.set_training(True)  # the same dropout draws, from the same seeded generator
    loss = manual.objective.loss(rows[0], 1 / total) + manual.objective.loss(rows[1], 1 / total)
    loss.backward()
    manual.optimizer.step()
    for (name, a), (_, b) in zip(accum.named, manual.named, strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-7, err_msg=name)


def test_refusals() -> None:
    with pytest.raises(UnsupportedOperation, match="bf16 is not supported on the cpu backend"):
        TrainConfig(Budget(steps=1), precision="bf16")
    with pytest.raises(InvalidInput, match="needs steps, tokens or seconds"):
        Budget()
    with pytest.raises(InvalidInput, match="needs a step budget"):
        TrainConfig(Budget(seconds=5.0), schedule="cosine")
    with pytest.raises(InvalidInput, match="unknown optimizer"):
        TrainConfig(Budget(steps=1), optimizer="lion")


def test_a_wall_time_budget_stops_the_run(tmp_path: Path) -> None:
    result = make_trainer(str(tmp_path), 10_000, budget=Budget(seconds=0.5), schedule="constant",
                          checkpoint_every=0, plot=False).run()
    assert result.stopped_by == "seconds" and 0 < result.step < 10_000


def test_a_micro_batch_of_rows_equals_accumulating_them(tmp_path: Path) -> None:
    settings = dict(shuffle=False, optimizer="sgd", lr=0.1, warmup=0, schedule="constant", clip_norm=None,
                    checkpoint_every=0, plot=False, dropout=0.0)
    batched = make_trainer(str(tmp_path / "b"), 2, batch_size=3, grad_accum=1, **settings)
    accumulated = make_trainer(str(tmp_path / "a"), 2, batch_size=1, grad_accum=3, **settings)
    rb, ra = batched.run(), accumulated.run()
    assert rb.tokens == ra.tokens == 2 * 3 * 24
    for (name, b), (_, a) in zip(batched.named, accumulated.named, strict=True):
        np.testing.assert_allclose(b.data, a.data, rtol=1e-5, atol=1e-6, err_msg=name)
    steps_b = [json.loads(line) for line in (tmp_path / "b" / "receipts.jsonl").read_text().splitlines()]
    steps_a = [json.loads(line) for line in (tmp_path / "a" / "receipts.jsonl").read_text().splitlines()]
    assert [r["data"] for r in steps_b] == [r["data"] for r in steps_a]  # the same rows per step
    assert rb.facts["batch_size"] == 3


def test_resume_with_a_larger_budget_continues_and_records_the_change(tmp_path: Path) -> None:
    common = dict(schedule="constant", checkpoint_every=2, param_digest_every=1, plot=False)
    straight = make_trainer(str(tmp_path / "s"), 8, **common).run()
    short = make_trainer(str(tmp_path / "x"), 4, **common).run()
    assert short.step == 4
    extended = make_trainer(str(tmp_path / "x"), 8, **common).run(resume=True)
    assert extended.resumed_from == 4 and extended.step == 8 and extended.stopped_by == "steps"
    assert extended.param_digest == straight.param_digest  # a constant schedule: the same 8 steps
    chain = [json.loads(line) for line in (tmp_path / "x" / "receipts.jsonl").read_text().splitlines()]
    change = chain[4]
    assert change["kind"] == "budget_change" and change["step"] == 4
    assert change["budget_from"]["steps"] == 4 and change["budget_to"]["steps"] == 8
    assert chain[5]["prev"] == change["digest"] and change["prev"] == chain[3]["digest"]
    assert [r["step"] for r in chain] == [1, 2, 3, 4, 4, 5, 6, 7, 8]
    # Killed after the change and resumed from the step-4 checkpoint: the change is not doubled.
    for name in ("step-00000006", "step-00000008"):
        shutil.rmtree(tmp_path / "x" / "checkpoints" / name)
    (tmp_path / "x" / "checkpoints" / "latest").unlink()
    again = make_trainer(str(tmp_path / "x"), 8, **common).run(resume=True)
    assert again.param_digest == straight.param_digest
    assert (tmp_path / "x" / "receipts.jsonl").read_text().count("budget_change") == 1
    tokens = make_trainer(str(tmp_path / "x"), 8, budget=Budget(steps=8, tokens=10_000), **common)
    assert tokens.run(resume=True).step == 8  # a budget that adds a token limit is another change
    assert (tmp_path / "x" / "receipts.jsonl").read_text().count("budget_change") == 2
