"""LoRA fine-tuning of a GGUF decoder: data to packed rows, the Trainer, the adapter file.

``train_lora`` loads the model, freezes it and attaches adapters
(``psionic.models.lora``), describes the dataset with a manifest (written to
the run folder, or read and verified when ``data`` is one), tokenizes it with
the model's tokenizer and chat template, packs the train split, and runs the
``Trainer`` on the masked next-token loss. The adapters are saved as
safetensors with their configuration in the file's metadata; the adapter
digest is the ``sha256`` of that file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save as st_save

from psionic.core.atomic import atomic_write_bytes
from psionic.core.digest import digest_file
from psionic.data.manifest import DatasetManifest, build_manifest
from psionic.data.packing import PackedRow, pack
from psionic.data.records import Example
from psionic.data.splits import SplitRule
from psionic.data.tokenize import Tokenization
from psionic.models.loader import LoadedModel, load_model
from psionic.models.lora import attach_lora
from psionic.train.objective import CausalLMObjective, decoder_logits_at
from psionic.train.trainer import Budget, TrainConfig, Trainer, TrainResult

ADAPTER_FILE = "adapter.safetensors"


@dataclass(frozen=True, slots=True)
class LoRARun:
    model: str
    data: Path
    out: Path
    steps: int = 100
    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    lr: float = 1e-3
    warmup: int = 5
    row_length: int = 256
    grad_accum: int = 1
    eval_fraction: float = 0.1
    max_eval_records: int = 32
    seed: int = 0
    checkpoint_every: int = 25
    eval_every: int = 0
    progress: bool = True


@dataclass(frozen=True, slots=True)
class PreparedData:
    manifest: DatasetManifest
    tokenization: Tokenization
    train_rows: list[PackedRow]
    eval_rows: list[PackedRow]
    eval_examples: list[Example]


@dataclass(frozen=True, slots=True)
class LoRAResult:
    train: TrainResult
    adapter: Path
    adapter_digest: str
    dataset_digest: str


def prepare_data(loaded: LoadedModel, run: LoRARun) -> PreparedData:
    tokenization = Tokenization(loaded.tokenizer, loaded.template)
    data = Path(run.data)
    if data.suffix == ".json":  # a dataset manifest: verify it and use its split rule
        manifest = DatasetManifest.load(data)
        root = data.resolve().parent
    else:
        run.out.mkdir(parents=True, exist_ok=True)
        root = run.out.resolve()
        manifest = build_manifest(data, root=root, rule=SplitRule(run.eval_fraction, run.seed),
                                  tokenization=tokenization, model=loaded.name)
        manifest.write(run.out / "dataset.json")
    split = manifest.examples(root)
    pad = loaded.tokenizer.eos_id if loaded.tokenizer.eos_id is not None else 0
    train_rows = pack([tokenization(e) for e in split["train"]], run.row_length, pad)
    evals = split["eval"][: run.max_eval_records]
    eval_rows = []
    for e in evals:
        t = tokenization(e)
        eval_rows.append(PackedRow(t.ids, t.mask, (t.digest,)))
    return PreparedData(manifest, tokenization, train_rows, eval_rows, evals)


def adapter_tensors(model: Any) -> dict[str, np.ndarray]:
    return {n: p.data for n, p in model.named_parameters() if p.requires_grad and p.is_float_array}


def save_adapter(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    """Write the adapters as safetensors (configuration in the metadata); returns the file digest."""
    # One metadata key: safetensors writes a map's keys in no fixed order, and the digest is of the bytes.
    metadata = {"psionic.lora.v1": json.dumps(meta, sort_keys=True)}
    atomic_write_bytes(path, st_save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata))
    return digest_file(path)


def attach(loaded: LoadedModel, run: LoRARun) -> list[Any]:
    return attach_lora(loaded.model, rank=run.rank, alpha=run.alpha, targets=run.targets, seed=run.seed)


def train_lora(run: LoRARun, resume: bool = False, loaded: LoadedModel | None = None,
               log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> LoRAResult:
    loaded = loaded or load_model(run.model)
    data = prepare_data(loaded, run)
    attach(loaded, run)
    lora_meta = {"rank": run.rank, "alpha": run.alpha, "targets": list(run.targets), "seed": run.seed,
                 "base_model": loaded.model_digest, "base_model_name": loaded.name}
    config = TrainConfig(
        budget=Budget(steps=run.steps), lr=run.lr, warmup=run.warmup, grad_accum=run.grad_accum,
        eval_every=run.eval_every, checkpoint_every=run.checkpoint_every, seed=run.seed,
        weight_decay=0.0, progress=run.progress,
    )
    identity = {"model": loaded.model_digest, "dataset": data.manifest.digest,
                "tokenization": data.tokenization.digest, "lora": lora_meta, "row_length": run.row_length}
    trainer = Trainer(CausalLMObjective(loaded.model, decoder_logits_at(loaded.model)), data.train_rows,
                      config, run.out, eval_rows=data.eval_rows, identity=identity, log=log)
    result = trainer.run(resume=resume)
    adapter = run.out / ADAPTER_FILE
    digest = save_adapter(adapter, adapter_tensors(loaded.model),
                          {**lora_meta, "dataset": data.manifest.digest, "step": result.step,
                           "run": result.run_digest})
    summary = {"adapter": str(adapter), "adapter_digest": digest, "dataset": data.manifest.digest,
               "run": asdict(run) | {"data": str(run.data), "out": str(run.out)}}
    atomic_write_bytes(run.out / "adapter.json", (json.dumps(summary, indent=2) + "\n").encode())
    return LoRAResult(result, adapter, digest, data.manifest.digest)
