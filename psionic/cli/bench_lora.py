"""``psionic bench lora``: LoRA training steps/s on a GGUF model, psionic vs torch + peft on CPU.

Both sides train the same adapter on the same model: psionic on the GGUF file
with its quantized weights frozen in place; torch on a transformers twin
holding those weights decoded to float32 (``models.peers.hf_llama``), with
peft's LoRA layers whose A starts equal to ours (B starts at zero on both).
One step is forward + backward + AdamW on one sequence of ``--seq`` tokens.
Steps alternate between the two, at the same thread count; the report gives
steps/s for each, their ratio, the per-step losses (they must agree), CPU
seconds per step and the machine's load.

``--precision bf16`` compares mixed precision: psionic on its torch backend
(``psionic-torch-bf16``: bf16 products over the packed quantized weights, f32
master adapters) against torch + peft under ``torch.autocast`` in bf16, on the
same device (CUDA when present, else CPU). The losses then agree only to
bf16's rounding.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from psionic.cli.bench_steps import alternate, machine
from psionic.core.manifest import library_versions


def register_lora(kinds: argparse._SubParsersAction) -> None:
    b = kinds.add_parser("lora", help="LoRA training steps/s: psionic vs torch + peft (CPU)")
    b.add_argument("-m", "--model", default="smollm2-135m-instruct")
    b.add_argument("--seq", type=int, default=128, help="tokens per training sequence")
    b.add_argument("--rank", type=int, default=8)
    b.add_argument("--alpha", type=float, default=16.0)
    b.add_argument("--targets", default="q_proj,v_proj", help="comma-separated projections to adapt")
    b.add_argument("--lr", type=float, default=1e-3)
    b.add_argument("--steps", type=int, default=3, help="timed steps per framework")
    b.add_argument("--warmup", type=int, default=1)
    b.add_argument("--threads", type=int, default=int(os.environ.get("PSIONIC_NUM_THREADS", 2)))
    b.add_argument("--vs", choices=["torch"], help="also run torch + peft, alternating")
    b.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                   help="f32: psionic on its cpu backend; bf16: psionic on its torch backend, "
                        "torch + peft under autocast")
    b.set_defaults(func=run_lora)



# --precision -> (psionic's backend, the contenders' names in the report)
SIDES = {"f32": ("cpu", "psionic-cpu-f32", "torch+peft-f32"),
         "bf16": ("torch", "psionic-torch-bf16", "torch+peft-bf16")}


def psionic_stepper(loaded: Any, config: Any, ids: np.ndarray, lr: float, backend: str = "cpu",
                    precision: str = "f32") -> tuple[Callable[[], float], Any]:
    from psionic.array.backend import get_array_backend
    from psionic.models.lora import attach_lora, next_token_loss
    from psionic.nn.optim import AdamW

    adapters = attach_lora(loaded.model, config=config, seed=0)
    loaded.model.to_backend(backend)
    loaded.model.train()
    opt = AdamW(loaded.model.trainable_parameters(), lr=lr, weight_decay=0.0)
    autocast = get_array_backend(backend).autocast

    def step() -> float:
        opt.zero_grad()
        with autocast(precision):
            loss = next_token_loss(loaded.model, ids)
            loss.backward()
        opt.step()
        return float(loss.item())

    return step, adapters


def torch_stepper(loaded: Any, config: Any, adapters: list[Any], ids: np.ndarray, lr: float,
                  precision: str = "f32", device: str = "cpu") -> Callable[[], float]:
    import contextlib

    import peft
    import torch

    from psionic.models.peers.hf_llama import hf_llama

    twin = hf_llama(loaded)
    model: Any = peft.get_peft_model(twin, peft.LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.targets), task_type="CAUSAL_LM"))
    # Start from our A (B is zero on both sides), so the two runs take the same steps.
    ours = iter(adapters)
    layers: Any = model.base_model.model.model.layers
    with torch.no_grad():
        for layer in range(loaded.config.n_layers):
            for target in config.targets:
                module = layers[layer]
                lora = getattr(getattr(module, "self_attn" if target[0] in "qkvo" else "mlp"), target)
                lora.lora_A["default"].weight.copy_(torch.from_numpy(np.array(next(ours).lora_a.data)))
    model.to(device).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    t_ids = torch.from_numpy(ids[None].astype(np.int64)).to(device)
    kind = torch.device(device).type

    def autocast() -> Any:
        if precision == "f32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=kind, dtype=torch.bfloat16)

    def step() -> float:
        opt.zero_grad()
        with autocast():
            loss = model(input_ids=t_ids, labels=t_ids).loss
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def run_lora(args: argparse.Namespace) -> int:
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    os.environ["PSIONIC_NUM_THREADS"] = str(args.threads)
    from psionic.array.cpu_parallel import set_num_threads
    from psionic.models.loader import load_model
    from psionic.models.lora_config import AdapterConfig

    set_num_threads(args.threads)
    config = AdapterConfig(rank=args.rank, alpha=args.alpha,
                           targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()))
    loaded = load_model(args.model)
    ids = np.random.default_rng(0).integers(0, loaded.config.vocab_size, args.seq)
    backend, ours_name, peer_name = SIDES[args.precision]
    device = "cpu"
    if backend == "torch" or args.vs == "torch":
        import torch

        torch.set_num_threads(args.threads)
    if backend == "torch":
        from psionic.backends.torch_backend import default_device

        device = default_device()
    ours, adapters = psionic_stepper(loaded, config, ids, args.lr, backend, args.precision)
    steps: dict[str, Callable[[], float]] = {"psionic": ours}
    if args.vs == "torch":
        steps["torch"] = torch_stepper(loaded, config, adapters, ids, args.lr, args.precision, device)
    timings = alternate(steps, args.warmup, args.steps)
    report: dict[str, Any] = {
        "benchmark": "lora",
        "machine": machine(),
        "versions": library_versions(("numpy", "numba", "torch", "transformers", "peft", "psionic")),
        "threads": args.threads,
        "precision": args.precision,
        "device": device,
        "contenders": {"psionic": ours_name, **({"torch": peer_name} if args.vs == "torch" else {})},
        "config": {"model": loaded.name, "model_digest": loaded.model_digest, "seq": args.seq,
                   **config.to_record(), "lr": args.lr,
                   "trainable_params": sum(p.data.size for p in loaded.model.trainable_parameters())},
        **timings.summary(),
    }
    if "torch" in timings.times:
        report["ratio_psionic_over_torch"] = round(
            report["steps_per_s"]["psionic"] / report["steps_per_s"]["torch"], 3)
        report["max_loss_difference"] = round(max(
            abs(a - b) for a, b in zip(timings.losses["psionic"], timings.losses["torch"], strict=True)), 6)
    print(json.dumps(report, indent=2))
    return 0
