"""`psionic adapter inspect|merge|unmerge` on a small model: JSON out, files that load, bad input as one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from psionic.cli.main import main
from psionic.models.gguf_file import GGUFModelFile
from psionic.models.loader import load_model
from psionic.models.lora_config import AdapterConfig
from psionic.models.lora_peft import save_peft
from tests.models.lora_fixtures import random_adapter
from tests.serve.conftest import write_tiny_llama


def test_inspect_merge_unmerge(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    loaded = load_model(str(model))
    adapter = random_adapter(loaded.config, AdapterConfig(rank=4, targets=("v_proj", "up_proj")), seed=1)
    directory = save_peft(adapter, tmp_path / "adapter", loaded.config)

    assert main(["adapter", "inspect", str(directory), "--model", str(model)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["digest"] == adapter.digest and info["config"]["targets"] == ["v_proj", "up_proj"]
    assert info["layers"] == [0, 1] and info["projections"] == 4

    merged = tmp_path / "merged.gguf"
    assert main(["adapter", "merge", "--model", str(model), "--adapter", str(directory), "--out", str(merged),
                 "--dtype", "f16"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["adapter_digest"] == adapter.digest and Path(out["out"]) == merged
    assert GGUFModelFile.open(merged).tensor("blk.1.ffn_up.weight").dtype.name == "f16"
    back = tmp_path / "back.gguf"
    assert main(["adapter", "unmerge", "--model", str(merged), "--adapter", str(directory), "--out", str(back)]) == 0
    capsys.readouterr()
    restored = GGUFModelFile.open(back).tensor("blk.1.ffn_up.weight")
    original = GGUFModelFile.open(model).tensor("blk.1.ffn_up.weight")
    assert restored.dtype.name == "f32"
    np.testing.assert_allclose(restored.data, original.data, atol=2e-3)

    assert main(["adapter", "unmerge", "--model", str(model), "--adapter", str(directory), "--out", str(back)]) == 2
    assert "no adapter merged" in capsys.readouterr().err
    assert main(["adapter", "inspect", str(tmp_path / "none"), "--model", str(model)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
