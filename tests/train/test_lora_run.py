"""LoRA runs on SmolLM2: the train layer's data binding and exact resume on the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from psionic.train.checkpoint import list_checkpoints
from psionic.train.errors import CheckpointMismatch
from psionic.train.lora import LoRARun, train_lora


def _run(tmp_path: Path, out: str, steps: int) -> LoRARun:
    data = tmp_path / "sums.jsonl"
    if not data.exists():
        data.write_text("".join(json.dumps({"prompt": f"{a}+{b}=", "completion": str(a + b)}) + "\n"
                                for a in range(5) for b in range(4)))
    return LoRARun("smollm2-135m-instruct", data, tmp_path / out, steps=steps, rank=2, row_length=40,
                   checkpoint_every=2, progress=False)


@pytest.mark.slow
def test_lora_resume_on_smollm2_is_bit_identical(tmp_path: Path) -> None:
    straight = train_lora(_run(tmp_path, "straight", 4))
    split = _run(tmp_path, "split", 4)
    train_lora(split)
    # Cut the run back to its step-2 checkpoint, as a kill during step 3 or 4 would leave it.
    for folder in list_checkpoints(split.out / "checkpoints"):
        if folder.name != "step-00000002":
            shutil.rmtree(folder)
    resumed = train_lora(split, resume=True)
    assert resumed.train.resumed_from == 2
    assert resumed.train.param_digest == straight.train.param_digest
    assert resumed.adapter_digest == straight.adapter_digest


@pytest.mark.slow
def test_changed_data_refuses_to_resume(tmp_path: Path) -> None:
    run = _run(tmp_path, "a", 2)
    train_lora(run)
    with run.data.open("a") as f:
        f.write(json.dumps({"prompt": "9+9=", "completion": "18"}) + "\n")
    with pytest.raises(CheckpointMismatch, match="another run"):
        train_lora(run, resume=True)
