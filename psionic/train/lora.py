"""LoRA fine-tuning of a GGUF decoder: data to packed rows, the Trainer, the adapter file.

``train_lora`` loads the model, freezes it and attaches adapters
(``psionic.models.lora``), describes the dataset with a manifest (written to
the run folder, or read and verified when ``data`` is one), tokenizes it with
the model's tokenizer and chat template, packs the train split, and runs the
``Trainer`` on the masked next-token loss. The adapter is exported in PEFT's
layout (``adapter_config.json``, ``adapter_model.safetensors``) with
``psionic.models.lora_peft``; its digest is the adapter's content digest
(config and every matrix), the one serving receipts carry.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from psionic.core.atomic import atomic_write_bytes
from psionic.data.manifest import DatasetManifest, build_manifest
from psionic.data.packing import PackedRow, pack
from psionic.data.records import Example
from psionic.data.splits import SplitRule
from psionic.data.tokenize import Tokenization
from psionic.models.loader import LoadedModel, load_model
from psionic.models.lora import AdapterConfig, LoRALinear, adapter_from_model, attach_lora
from psionic.models.lora_peft import save_peft
from psionic.train.objective import CausalLMObjective, decoder_logits_at
from psionic.train.trainer import Budget, TrainConfig, Trainer, TrainResult

ADAPTER_DIR = "adapter"


@dataclass(frozen=True, slots=True)
class LoRARun:
    model: str
    data: Path
    out: Path
    steps: int = 100
    max_tokens: int | None = None
    max_seconds: float | None = None
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    lr: float = 1e-3
    warmup: int = 5
    row_length: int = 256
    grad_accum: int = 1
    batch_size: int = 1
    backend: str = "cpu"
    precision: str = "f32"
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


def adapter_config(loaded: LoadedModel, run: LoRARun) -> AdapterConfig:
    return AdapterConfig(rank=run.rank, alpha=run.alpha, dropout=run.dropout, targets=run.targets,
                         base_model=loaded.name, base_digest=loaded.model_digest)


def attach(loaded: LoadedModel, run: LoRARun) -> list[LoRALinear]:
    return attach_lora(loaded.model, seed=run.seed, config=adapter_config(loaded, run))


def train_lora(run: LoRARun, resume: bool = False, loaded: LoadedModel | None = None,
               log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> LoRAResult:
    config = TrainConfig(  # first: a precision the backend refuses costs no model load
        budget=Budget(steps=run.steps, tokens=run.max_tokens, seconds=run.max_seconds),
        lr=run.lr, warmup=run.warmup, grad_accum=run.grad_accum, batch_size=run.batch_size,
        backend=run.backend, precision=run.precision,
        eval_every=run.eval_every, checkpoint_every=run.checkpoint_every, seed=run.seed,
        weight_decay=0.0, progress=run.progress,
    )
    loaded = loaded or load_model(run.model)
    data = prepare_data(loaded, run)
    config_record = adapter_config(loaded, run).to_record()
    attach(loaded, run)
    identity = {"model": loaded.model_digest, "dataset": data.manifest.digest,
                "tokenization": data.tokenization.digest, "lora": config_record, "seed": run.seed,
                "row_length": run.row_length}
    trainer = Trainer(CausalLMObjective(loaded.model, decoder_logits_at(loaded.model)), data.train_rows,
                      config, run.out, eval_rows=data.eval_rows, identity=identity, log=log)
    result = trainer.run(resume=resume)
    adapter = adapter_from_model(loaded.model)
    folder = save_peft(adapter, run.out / ADAPTER_DIR, loaded.config)
    summary = {"adapter": str(folder), "adapter_digest": adapter.digest, "dataset": data.manifest.digest,
               "train_run": result.run_digest, "step": result.step, "param_digest": result.param_digest,
               "run": asdict(run) | {"data": str(run.data), "out": str(run.out)}}
    atomic_write_bytes(run.out / "adapter.json", (json.dumps(summary, indent=2) + "\n").encode())
    return LoRAResult(result, folder, adapter.digest, data.manifest.digest)
