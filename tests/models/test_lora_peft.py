"""PEFT interchange: adapters we export load in the peft library and compute what ours compute,
adapters peft writes load here and compute what peft computes, on small llama and gemma3 models;
malformed or unsupported adapter files are refused with a typed error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from psionic.core.errors import (
    InvalidInput,
    MalformedFile,
    MalformedJSON,
    ModelNotFound,
    TensorShapeMismatch,
)
from psionic.models.decoder import Segment
from psionic.models.kv_cache import KVCache
from psionic.models.loader import load_model
from psionic.models.lora import adapter_from_model, attach_adapter, attach_lora
from psionic.models.lora_adapter import LoRAAdapter
from psionic.models.lora_config import ALL_TARGETS, AdapterConfig
from psionic.models.lora_peft import CONFIG_FILE, WEIGHTS_FILE, load_peft, peft_key, save_peft

from .synthetic import VOCAB, hf_model, write_family_gguf

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

FAMILIES = {"llama": (2, None), "gemma3": (6, 8)}
SEQ = 12


def our_logits(loaded, ids: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    cfg = loaded.config
    kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(ids))
    return loaded.model(ids, [Segment(kv, 0, len(ids))], logit_rows=np.arange(len(ids)))  # type: ignore[no-any-return]


def randomize(model, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    for p in model.trainable_parameters():
        p.data[...] = rng.normal(0.0, 0.2, p.shape).astype(np.float32)


def setup(tmp_path: Path, family: str):  # type: ignore[no-untyped-def]
    layers, window = FAMILIES[family]
    hf = hf_model(family, layers, window)
    path = tmp_path / f"{family}.gguf"
    write_family_gguf(path, family, hf)
    return hf, load_model(str(path))


def close(ours: np.ndarray, theirs: np.ndarray) -> None:
    scale = np.abs(theirs).max()
    assert np.abs(ours - theirs).max() <= 2e-3 * scale
    assert (ours.argmax(-1) == theirs.argmax(-1)).all()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_exported_adapter_loads_in_peft_and_computes_the_same(tmp_path: Path, family: str) -> None:
    hf, loaded = setup(tmp_path, family)
    ids = np.random.default_rng(3).integers(0, VOCAB, SEQ)
    with torch.no_grad():
        base = hf(torch.tensor(ids[None])).logits[0].numpy()
    config = AdapterConfig(rank=4, alpha=8.0, dropout=0.05, targets=ALL_TARGETS, base_model=family,
                           base_digest=loaded.model_digest)
    attach_lora(loaded.model, config=config, seed=1)
    randomize(loaded.model, 2)
    adapter = adapter_from_model(loaded.model)
    ours = our_logits(loaded, ids)
    assert np.abs(ours - base).max() > 0.05 * np.abs(base).max()  # the adapter does change the output
    out = save_peft(adapter, tmp_path / "adapter", loaded.config)

    model = peft.PeftModel.from_pretrained(hf, str(out)).eval()
    state = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    keys = {k.replace(".default", "") for k in state}
    assert keys == {peft_key(layer, t, w) for (layer, t) in adapter.weights for w in "AB"}
    for key, value in state.items():
        layer, target = int(key.split(".")[4]), key.split(".")[6]
        a, b = adapter.weights[(layer, target)]
        assert tuple(value.shape) == (a.shape if ".lora_A." in key else b.shape)
    with torch.no_grad():
        theirs = model(torch.tensor(ids[None])).logits[0].numpy()
    close(ours, theirs)
    assert load_peft(out, loaded.config).digest == adapter.digest


@pytest.mark.parametrize("family", list(FAMILIES))
def test_adapter_written_by_peft_loads_here_and_computes_the_same(tmp_path: Path, family: str) -> None:
    hf, loaded = setup(tmp_path, family)
    ids = np.random.default_rng(4).integers(0, VOCAB, SEQ)
    lora = peft.LoraConfig(r=8, lora_alpha=4, target_modules=["q_proj", "k_proj", "o_proj", "up_proj"],
                           task_type="CAUSAL_LM", use_rslora=True)
    model = peft.get_peft_model(hf, lora)
    torch.manual_seed(5)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.3)
    model.save_pretrained(str(tmp_path / "from_peft"))
    with torch.no_grad():
        theirs = model.eval()(torch.tensor(ids[None])).logits[0].numpy()

    adapter = load_peft(tmp_path / "from_peft", loaded.config)
    assert adapter.config.targets == ("q_proj", "k_proj", "o_proj", "up_proj")
    assert adapter.config.scale == pytest.approx(4 / np.sqrt(8))
    attach_adapter(loaded.model, adapter)
    close(our_logits(loaded, ids), theirs)


# --- bad input: every file problem is named ---------------------------------------


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, object]:
    _, loaded = setup(tmp_path, "llama")
    attach_lora(loaded.model, rank=2, alpha=4.0, targets=("q_proj", "v_proj"), seed=0)
    randomize(loaded.model, 0)
    return save_peft(adapter_from_model(loaded.model), tmp_path / "good", loaded.config), loaded.config


def _edit_config(path: Path, **changes: object) -> None:
    data = json.loads((path / CONFIG_FILE).read_text())
    data.update(changes)
    (path / CONFIG_FILE).write_text(json.dumps(data))


@pytest.mark.parametrize("change, error, words", [
    ({"use_dora": True}, InvalidInput, "use_dora"),
    ({"bias": "all"}, InvalidInput, "bias"),
    ({"rank_pattern": {"q_proj": 4}}, InvalidInput, "rank_pattern"),
    ({"modules_to_save": ["lm_head"]}, InvalidInput, "modules_to_save"),
    ({"peft_type": "IA3"}, InvalidInput, "peft_type"),
    ({"r": "eight"}, InvalidInput, "r must be a number"),
    ({"r": 3}, Exception, "rank"),
    ({"lora_alpha": -1}, InvalidInput, "alpha"),
    ({"target_modules": ["v_proj"]}, InvalidInput, "target_modules"),
    ({"target_modules": ["q_proj", "v_proj", "embed"]}, InvalidInput, "unknown LoRA target"),
])
def test_unsupported_configs_are_refused(exported, change, error, words) -> None:  # type: ignore[no-untyped-def]
    path, cfg = exported
    _edit_config(path, **change)
    with pytest.raises(error, match=words):
        load_peft(path, cfg)


def test_file_problems_are_named(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, cfg = exported
    from safetensors.numpy import load_file, save_file

    with pytest.raises(ModelNotFound):
        load_peft(tmp_path / "nowhere", cfg)
    tensors = load_file(str(path / WEIGHTS_FILE))
    meta = {"format": "pt"}

    one = dict(tensors)
    one.pop(peft_key(0, "q_proj", "B"))
    save_file(one, str(path / WEIGHTS_FILE), metadata=meta)
    with pytest.raises(MalformedFile, match="lora_A only"):
        load_peft(path, cfg)

    save_file({**tensors, "base_model.model.lm_head.weight": np.zeros((2, 2), np.float32)},
              str(path / WEIGHTS_FILE), metadata=meta)
    with pytest.raises(MalformedFile, match="lm_head"):
        load_peft(path, cfg)

    tampered = dict(tensors)
    tampered[peft_key(1, "v_proj", "A")] = tampered[peft_key(1, "v_proj", "A")] + 1
    save_file(tampered, str(path / WEIGHTS_FILE), metadata={"format": "pt", "psionic.adapter_digest": "sha256:" + "0" * 64})
    with pytest.raises(MalformedFile, match="digest"):
        load_peft(path, cfg)

    (path / WEIGHTS_FILE).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(MalformedFile):
        load_peft(path, cfg)
    (path / CONFIG_FILE).write_text("{")
    with pytest.raises(MalformedJSON):
        load_peft(path, cfg)
    (path / WEIGHTS_FILE).unlink()
    (path / CONFIG_FILE).write_text("{}")
    with pytest.raises(InvalidInput, match="peft_type"):
        load_peft(path, cfg)


def test_adapter_for_another_model_is_refused(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, cfg = exported
    adapter = load_peft(path, cfg)
    _, other = setup(tmp_path, "gemma3")
    bound = LoRAAdapter(AdapterConfig(rank=2, alpha=4.0, targets=("q_proj", "v_proj"), base_digest="sha256:" + "1" * 64),
                        adapter.weights)
    with pytest.raises(InvalidInput, match="made for the model"):
        attach_adapter(other.model, bound, other.model_digest)
    wide = {(0, "q_proj"): (np.zeros((2, 32), np.float32), np.zeros((64, 2), np.float32))}
    with pytest.raises(TensorShapeMismatch, match="do not fit"):
        attach_adapter(other.model, LoRAAdapter(AdapterConfig(rank=2, targets=("q_proj",)), wide))
    with pytest.raises(InvalidInput, match="layer 9"):
        attach_adapter(other.model, LoRAAdapter(AdapterConfig(rank=2, targets=("q_proj",)),
                                                {(9, "q_proj"): wide[(0, "q_proj")]}))
