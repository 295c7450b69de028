"""Mixed precision: bf16 and f16 training on torch lowers the loss and tracks the f32 run;
f16 scales the loss, skips overflowing steps and says so; precisions a backend cannot train
in, and resumes in another precision, are refused by name.

Tolerance: after 30 steps of the tiny GPT (lr 1e-2), the eval loss of a bf16 or f16 run is
within 0.05 of the f32 run's (measured: f32 2.852, bf16 2.868, f16 2.843, from 3.873).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from psionic.train.errors import CheckpointMismatch, UnsupportedPrecision
from psionic.train.receipts import StepReceipt
from psionic.train.trainer import PRECISIONS, Budget, TrainConfig

sys.path.insert(0, str(Path(__file__).parent))
from tiny_run import make_trainer  # noqa: E402

torch = pytest.importorskip("torch")

TRACK = 0.05


@pytest.fixture(autouse=True)
def _torch_on_cpu(request: pytest.FixtureRequest) -> None:
    from psionic.backends import torch_backend

    if torch_backend.default_device() != "cpu" and request.node.get_closest_marker("gpu") is None:
        pytest.skip("these runs compare on the CPU device; the gpu-marked test covers CUDA")


def _receipts(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "receipts.jsonl").read_text().splitlines()]


def _chain_is_intact(receipts: list[dict]) -> None:
    prev = None
    for r in receipts:
        body = {k: v for k, v in r.items() if k != "digest"}
        assert StepReceipt(**body).digest == r["digest"] and r["prev"] == prev
        prev = r["digest"]


def test_bf16_and_f16_runs_lower_the_loss_and_track_f32(tmp_path: Path) -> None:
    finals = {}
    for precision in ("f32", "bf16", "f16"):
        out = tmp_path / precision
        result = make_trainer(str(out), 30, lr=1e-2, backend="torch", precision=precision,
                              checkpoint_every=0, eval_every=30, plot=False).run()
        start, final = result.eval_losses[0][1], result.eval_losses[-1][1]
        assert final < start - 0.5, precision
        finals[precision] = final
        receipts = _receipts(out)
        _chain_is_intact(receipts)
        assert {r["precision"] for r in receipts} == {precision}
        assert all(not r["skipped"] for r in receipts)
        assert [r["loss_scale"] for r in receipts][:1] == ([65536.0] if precision == "f16" else [None])
        log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        assert {e["precision"] for e in log if "loss" in e} == {precision}
        assert result.facts["precision"] == precision and result.facts["backend"] == "torch"
    assert finals["bf16"] != finals["f32"] and finals["f16"] != finals["f32"]  # it did round
    assert abs(finals["bf16"] - finals["f32"]) < TRACK
    assert abs(finals["f16"] - finals["f32"]) < TRACK


def test_f16_overflow_skips_the_step_records_it_and_backs_off(tmp_path: Path) -> None:
    trainer = make_trainer(str(tmp_path), 14, backend="torch", precision="f16", loss_scale=2.0 ** 30,
                           checkpoint_every=0, param_digest_every=1, plot=False)
    start = trainer.param_digest()
    result = trainer.run()
    receipts = _receipts(tmp_path)
    _chain_is_intact(receipts)
    skipped = [r for r in receipts if r["skipped"]]
    assert len(skipped) >= 5 and receipts[0]["skipped"]
    assert [r["loss_scale"] for r in skipped[:5]] == [2.0 ** (30 - i) for i in range(5)]
    assert all(r["params"] == start and r["grad_norm"] is None for r in skipped[:5])  # nothing moved
    assert receipts[-1]["params"] != start and not receipts[-1]["skipped"]
    assert result.facts["skipped_steps"] == len(skipped)
    assert result.facts["loss_scale"] < 2.0 ** 30


def test_a_precision_the_backend_cannot_train_in_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedPrecision, match="bf16 is not supported on the cpu backend") as e:
        TrainConfig(Budget(steps=1), precision="bf16")
    assert e.value.details == {"precision": "bf16", "backend": "cpu"}
    with pytest.raises(UnsupportedPrecision, match="unknown precision 'f8'"):
        TrainConfig(Budget(steps=1), precision="f8", backend="torch")
    assert sorted(PRECISIONS) == ["bf16", "f16", "f32"]
    TrainConfig(Budget(steps=1), precision="f16", backend="torch")


def test_resume_in_another_precision_is_refused_and_manifests_record_it(tmp_path: Path) -> None:
    first = make_trainer(str(tmp_path), 2, backend="torch", precision="bf16", plot=False).run()
    assert first.checkpoint is not None
    manifest = json.loads((first.checkpoint / "manifest.json").read_text())
    assert manifest["trainer"]["precision"] == "bf16" and manifest["trainer"]["backend"] == "torch"
    with pytest.raises(CheckpointMismatch, match="trained in bf16, this run asks for f32"):
        make_trainer(str(tmp_path), 4, backend="torch", precision="f32", plot=False).run(resume=True)


@pytest.mark.gpu
def test_bf16_training_and_quantized_products_on_cuda(tmp_path: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    sys.path.insert(0, str(Path(__file__).parents[1] / "backends"))
    from backend_samples import random_matrix

    from psionic.backends import torch_quant as Q
    from psionic.backends.reference import reference_matmul

    w = random_matrix("q4_k", 64, 512, np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((8, 512)).astype(np.float32)
    got = Q.quant_matmul(Q.asarray(x, None), w)
    assert got.is_cuda
    np.testing.assert_allclose(Q.to_numpy(got), reference_matmul(x, w), rtol=1e-3, atol=1e-3)
    result = make_trainer(str(tmp_path), 30, lr=1e-2, backend="torch", precision="bf16",
                          checkpoint_every=0, eval_every=30, plot=False).run()
    assert result.eval_losses[-1][1] < result.eval_losses[0][1] - 0.5
