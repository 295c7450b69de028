"""``psionic bench lora --vs torch`` on a tiny llama: both frameworks train the same adapter, step for step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.array.cpu_parallel import THREADS
from psionic.cli.main import main
from tests.serve.conftest import write_tiny_llama


@pytest.fixture(autouse=True)
def keep_thread_count():  # type: ignore[no-untyped-def]
    before = THREADS.count
    yield
    THREADS.count = before


def test_bench_lora_alternates_with_torch_peft(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("peft")
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    code = main(["bench", "lora", "--model", str(model), "--steps", "2", "--warmup", "1", "--seq", "16",
                 "--vs", "torch"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["benchmark"] == "lora" and set(report["steps_per_s"]) == {"psionic", "torch"}
    assert len(report["step_s"]["psionic"]) == 2 and len(report["losses"]["torch"]) == 3
    assert report["ratio_psionic_over_torch"] > 0
    assert report["max_loss_difference"] < 1e-4  # same weights, same starting adapter, same updates
    assert "peft" in report["versions"] and report["machine"]["cpus"]


def test_bench_lora_in_bf16_puts_psionic_torch_next_to_torch_peft(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("peft")
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    code = main(["bench", "lora", "--model", str(model), "--steps", "2", "--warmup", "1", "--seq", "16",
                 "--vs", "torch", "--precision", "bf16"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["precision"] == "bf16"
    assert report["contenders"] == {"psionic": "psionic-torch-bf16", "torch": "torch+peft-bf16"}
    assert report["ratio_psionic_over_torch"] > 0
    # Both round their products to bf16, in different places: close, not equal.
    assert 0 < report["max_loss_difference"] < 0.05
