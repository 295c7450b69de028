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
from psionic.core.digest import digest_file


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
    assert lines[-1].startswith(f"adapter {out / 'adapter.safetensors'} sha256:")
    digest = lines[-1].split()[-1]
    assert digest == digest_file(out / "adapter.safetensors")
    tensors = load_file(out / "adapter.safetensors")
    assert len(tensors) == 2 * 2 * 30  # q and v of 30 layers, A and B each
    a = tensors["layers.0.self_attn.q_proj.lora_a"]
    assert a.shape == (2, 576) and np.isfinite(a).all()
    assert any(np.abs(v).sum() > 0 for k, v in tensors.items() if k.endswith("lora_b"))  # B moved from zero
    assert (out / "dataset.json").exists() and (out / "loss.png").exists()
    assert len((out / "receipts.jsonl").read_text().splitlines()) == 2
    assert main([*argv, "--resume", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["resumed_from"] == 2 and result["steps"] == 2 and result["adapter_digest"] == digest


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
