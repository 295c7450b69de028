"""``psionic train lora`` on SmolLM2: a two-step run ends with the adapter path and digest, the
adapter file holds every LoRA matrix, ``--resume`` continues from the checkpoint, and bad
input is one line with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from psionic.cli.main import main
from psionic.models.loader import load_model
from psionic.models.lora_peft import load_peft


def _data(path: Path) -> Path:
    rows = [{"prompt": f"Q: {a} plus {b}?\nA:", "completion": f" {a + b}"} for a in range(4) for b in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_train_lora_end_to_end_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _data(tmp_path / "sums.jsonl")
    out = tmp_path / "run"
    argv = ["train", "lora", "--model", "smollm2-135m-instruct", "--data", str(data), "--steps", "2",
            "--rank", "2", "--row-length", "48", "--checkpoint-every", "1", "--out", str(out),
            "--eval-fraction", "0.2", "--no-progress"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(f"adapter {out / 'adapter'} sha256:")
    digest = lines[-1].split()[-1]
    loaded = load_model("smollm2-135m-instruct")
    adapter = load_peft(out / "adapter", loaded.config)  # the PEFT layout, read back
    assert adapter.digest == digest and adapter.config.base_digest == loaded.model_digest
    assert adapter.config.rank == 2 and adapter.config.targets == ("q_proj", "v_proj")
    tensors = load_file(out / "adapter" / "adapter_model.safetensors")
    assert len(tensors) == 2 * 2 * 30  # q and v of 30 layers, A and B each
    a = tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]
    assert a.shape == (2, 576) and np.isfinite(a).all()
    assert any(np.abs(v).sum() > 0 for k, v in tensors.items() if "lora_B" in k)  # B moved from zero
    assert (out / "dataset.json").exists() and (out / "loss.png").exists()
    assert len((out / "receipts.jsonl").read_text().splitlines()) == 2
    assert main([*argv, "--resume", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["resumed_from"] == 2 and result["steps"] == 2 and result["adapter_digest"] == digest
    # A larger budget on resume: the run goes on to it, and the receipt chain records the change.
    more = [("3" if a == "2" and argv[i - 1] == "--steps" else a) for i, a in enumerate(argv)]
    assert main([*more, "--resume", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["resumed_from"] == 2 and result["steps"] == 3 and result["adapter_digest"] != digest
    chain = [json.loads(line) for line in (out / "receipts.jsonl").read_text().splitlines()]
    assert [r.get("kind", "step") for r in chain] == ["step", "step", "budget_change", "step"]
    assert chain[2]["budget_from"]["steps"] == 2 and chain[2]["budget_to"]["steps"] == 3


def test_bad_data_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"messages": "oops"}\n')
    assert main(["train", "lora", "--model", "smollm2-135m-instruct", "--data", str(bad),
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "malformed_dataset" in err[0] and "bad.jsonl:2:" in err[0]


def test_a_manifest_whose_data_changed_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _data(tmp_path / "sums.jsonl")
    manifest = tmp_path / "sums.manifest.json"
    assert main(["data", "manifest", str(data), "-o", str(manifest)]) == 0
    with data.open("a") as f:
        f.write(json.dumps({"prompt": "Q: 9 plus 9?\nA:", "completion": " 18"}) + "\n")
    capsys.readouterr()
    assert main(["train", "lora", "--model", "smollm2-135m-instruct", "--data", str(manifest),
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dataset_digest_mismatch: sums.jsonl" in err[0]


def test_a_token_budget_stops_before_the_step_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _data(tmp_path / "sums.jsonl")
    assert main(["train", "lora", "--model", "smollm2-135m-instruct", "--data", str(data), "--steps", "5",
                 "--max-tokens", "60", "--rank", "2", "--row-length", "48", "--out", str(tmp_path / "o"),
                 "--no-progress", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["stopped_by"] == "tokens" and result["steps"] == 2 and result["tokens"] == 96


@pytest.mark.slow  # ~25 s: SmolLM2 on torch
def test_train_lora_on_torch_in_bf16_writes_a_peft_adapter(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    data = _data(tmp_path / "sums.jsonl")
    out = tmp_path / "run"
    argv = ["train", "lora", "--model", "smollm2-135m-instruct", "--data", str(data), "--steps", "2",
            "--rank", "2", "--row-length", "48", "--batch-size", "2", "--backend", "torch",
            "--precision", "bf16", "--out", str(out), "--no-progress", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["precision"] == "bf16" and result["backend"] == "torch" and result["batch_size"] == 2
    assert result["tokens"] == 2 * 2 * 48 and np.isfinite(result["final_loss"])
    loaded = load_model("smollm2-135m-instruct")
    adapter = load_peft(out / "adapter", loaded.config)
    assert adapter.digest == result["adapter_digest"]
    tensors = load_file(out / "adapter" / "adapter_model.safetensors")
    assert any(np.abs(v).sum() > 0 for k, v in tensors.items() if "lora_B" in k)
    receipts = [json.loads(line) for line in (out / "receipts.jsonl").read_text().splitlines()]
    assert [r["precision"] for r in receipts] == ["bf16", "bf16"]
    manifest = json.loads((out / "checkpoints" / "step-00000002" / "manifest.json").read_text())
    assert manifest["trainer"]["precision"] == "bf16"
    # Resuming in f32 what ran in bf16 is refused by name, in one line.
    as_f32 = [("f32" if a == "bf16" else a) for a in argv if a != "--json"]
    assert main([*as_f32, "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint_mismatch" in err[0] and "trained in bf16" in err[0]


# Bad backend / precision / batch settings: each one line naming the problem, exit 2, no model loaded.
BAD_SETTINGS = [
    (["--precision", "f16"], "unsupported_precision: training in f16 is not supported on the cpu backend"),
    (["--precision", "fp8", "--backend", "torch"], "unsupported_precision: unknown precision 'fp8'"),
    (["--backend", "tpu"], "backend_unavailable: no backend named 'tpu'"),
    (["--batch-size", "0"], "invalid_input: --steps, --rank, --batch-size and --grad-accum"),
    (["--grad-accum", "0"], "invalid_input: --steps, --rank, --batch-size and --grad-accum"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_SETTINGS)
def test_bad_training_settings_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            extra: list[str], message: str) -> None:
    assert main(["train", "lora", "--model", "smollm2-135m-instruct", "--data", str(_data(tmp_path / "d.jsonl")),
                 "--out", str(tmp_path / "o"), "--no-progress", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
