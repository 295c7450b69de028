"""`psionic generate --adapter DIR`: the receipt names the adapter's digest and `psionic verify`
replays the generation with the adapter; a missing adapter directory is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from psionic.cli.main import main
from psionic.models.loader import load_model
from psionic.models.lora_config import AdapterConfig
from psionic.models.lora_peft import save_peft
from tests.models.lora_fixtures import random_adapter
from tests.serve.conftest import write_tiny_llama


def test_generate_with_adapter_and_verify(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    loaded = load_model(str(model))
    adapter = random_adapter(loaded.config, AdapterConfig(rank=4, targets=("q_proj", "o_proj")), seed=3, std=0.3)
    directory = save_peft(adapter, tmp_path / "adapter", loaded.config)
    bundle = tmp_path / "bundle.json"
    args = ["generate", "--json", "--model", str(model), "--raw", "--prompt", "Once upon", "--max-tokens", "5",
            "--temperature", "0.8", "--seed", "4"]
    assert main([*args, "--adapter", str(directory), "--bundle", str(bundle)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["adapter"]["digest"] == adapter.digest
    assert out["receipt"]["artifacts"]["adapter"] == adapter.digest
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] != out["tokens"]  # the adapter matters
    assert main(["verify", str(bundle)]) == 0
    assert "with adapter adapter, identical" in capsys.readouterr().out
    assert main([*args, "--adapter", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no adapter directory" in err and len(err.splitlines()) == 1
