"""Checkpoints: a run SIGKILLed at a random step and resumed ends bit-identical to one that
never stopped; corrupt, partial and foreign checkpoints are detected and named."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from psionic.train.checkpoint import list_checkpoints, load_latest, read_checkpoint
from psionic.train.errors import CheckpointCorrupt, CheckpointMismatch

sys.path.insert(0, str(Path(__file__).parent))
from tiny_run import make_trainer  # noqa: E402

STEPS = 20
SCRIPT = Path(__file__).parent / "tiny_run.py"
ENV = {**os.environ, "PSIONIC_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}


def _run(out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCRIPT), str(out), str(STEPS), *extra],
                            env={**ENV, "PSIONIC_TORCH_DEVICE": "cpu"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _logged_step(out: Path) -> int:
    try:
        lines = (out / "log.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    return max((json.loads(line)["step"] for line in lines[:-1]), default=0)


def _final_params(out: Path) -> dict[str, np.ndarray]:
    ckpt = load_latest(out / "checkpoints")
    assert ckpt is not None and ckpt.step == STEPS
    return ckpt.params


# On torch the run computes in bf16 / f16 products (f16 with a loss scale kept in the checkpoint),
# on the torch CPU device: CUDA kernels may sum in another order from run to run.
# The torch runs take ~30 s (torch's start-up in three processes): kept out of the default run.
SETTINGS = [
    pytest.param((), id="cpu-f32"),
    pytest.param(("--backend", "torch", "--precision", "bf16"), id="torch-bf16", marks=pytest.mark.slow),
    pytest.param(("--backend", "torch", "--precision", "f16"), id="torch-f16", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(tmp_path: Path, settings: tuple[str, ...]) -> None:
    if settings:
        pytest.importorskip("torch")
    straight = _run(tmp_path / "straight", *settings)
    digest_straight = straight.communicate(timeout=120)[0].strip()
    assert straight.returncode == 0
    kill_at = random.Random().randint(2, STEPS - 6)  # leaves the run time to still be running
    victim = _run(tmp_path / "killed", *settings)
    deadline = time.monotonic() + 120
    while _logged_step(tmp_path / "killed") < kill_at and victim.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    interrupted_at = _logged_step(tmp_path / "killed")
    assert interrupted_at < STEPS
    resumed = _run(tmp_path / "killed", "--resume", *settings)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "resumed from" in err, (kill_at, err)
    assert out.strip() == digest_straight
    a, b = _final_params(tmp_path / "straight"), _final_params(tmp_path / "killed")
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name
    receipts_a = (tmp_path / "straight" / "receipts.jsonl").read_text()
    receipts_b = (tmp_path / "killed" / "receipts.jsonl").read_text()
    assert receipts_a == receipts_b  # the same chain of per-step receipts, none duplicated
    assert len(receipts_a.splitlines()) == STEPS


def test_corrupt_and_partial_checkpoints_fall_back_to_the_previous_good_one(tmp_path: Path) -> None:
    trainer = make_trainer(str(tmp_path), 6, keep_checkpoints=4)
    trainer.run()
    folders = list_checkpoints(tmp_path / "checkpoints")
    assert [p.name for p in folders] == [f"step-{s:08d}" for s in (6, 5, 4, 3)]
    shard = folders[0] / "params-00000.safetensors"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    (folders[1] / "manifest.json").unlink()  # as if killed mid-write (never renamed, but say so)
    messages: list[str] = []
    ckpt = load_latest(tmp_path / "checkpoints", warn=messages.append)
    assert ckpt is not None and ckpt.step == 4
    assert "step-00000006" in messages[0] and "params-00000.safetensors does not match its digest" in messages[0]
    assert "step-00000005" in messages[1] and "no manifest.json" in messages[1]
    resumed = make_trainer(str(tmp_path), 6, keep_checkpoints=4)
    notes: list[str] = []
    resumed.log = notes.append
    result = resumed.run(resume=True)
    assert result.resumed_from == 4 and result.param_digest == trainer.param_digest()
    assert any("skipping it" in n for n in notes)


def test_edited_manifest_and_no_intact_checkpoint(tmp_path: Path) -> None:
    make_trainer(str(tmp_path), 2).run()
    for folder in list_checkpoints(tmp_path / "checkpoints"):
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["step"] += 1
        (folder / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(CheckpointCorrupt, match="manifest digest does not match"):
            read_checkpoint(folder)
    with pytest.raises(CheckpointCorrupt, match="no intact checkpoint"):
        load_latest(tmp_path / "checkpoints")


def test_a_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    make_trainer(str(tmp_path), 2).run()
    other = make_trainer(str(tmp_path), 2, lr=1e-2)
    with pytest.raises(CheckpointMismatch, match="another run"):
        other.run(resume=True)


def test_temporary_folders_are_never_taken_for_checkpoints(tmp_path: Path) -> None:
    make_trainer(str(tmp_path), 2).run()
    (tmp_path / "checkpoints" / ".tmp-step-00000009-abc").mkdir()
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")][0] == "step-00000002"


def test_shards_pointer_and_round_trip(tmp_path: Path) -> None:
    from psionic.train.checkpoint import Checkpoint, save_checkpoint

    rng = np.random.default_rng(0)
    params = {f"w{i}": rng.standard_normal((64, 64)).astype(np.float32) for i in range(5)}
    buffers = {name: {"exp_avg": np.zeros_like(v), "exp_avg_sq": np.ones_like(v)} for name, v in params.items()}
    state = np.random.default_rng(3).bit_generator.state
    ckpt = Checkpoint(step=7, params=params, optimizer={"steps": 7, "hyper": {"lr": 0.1}, "buffers": buffers},
                      rng={"trainer": state, "objective": {}}, data={"epoch": 1, "index": 2},
                      trainer={"tokens": 99})
    folder = save_checkpoint(tmp_path, ckpt, shard_bytes=40_000)
    shards = sorted(p.name for p in folder.glob("params-*.safetensors"))
    assert shards == [f"params-{i:05d}.safetensors" for i in range(3)]  # 16 KiB tensors, two per shard
    back = read_checkpoint(folder)
    assert json.loads((tmp_path / "latest").read_text()) == {"checkpoint": folder.name, "digest": back.digest}
    assert back.step == 7 and back.data == {"epoch": 1, "index": 2} and back.trainer == {"tokens": 99}
    assert back.rng["trainer"] == state  # 128-bit generator state, exact
    for name in params:
        assert back.params[name].tobytes() == params[name].tobytes()
        assert back.optimizer["buffers"][name]["exp_avg_sq"].tobytes() == buffers[name]["exp_avg_sq"].tobytes()
