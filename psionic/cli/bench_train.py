"""``psionic bench train``: one forward+backward+AdamW step of a small GPT, psionic vs torch.

Both frameworks run the same model (psionic's ``nn.gpt.GPT``, and a torch twin
loaded with its weights), the same batch and the same optimizer settings, in
one process, alternating step by step at the same thread count. The report
gives steps/s for each, their ratio, the first-step losses (they must agree),
and the per-op dispatch overhead of psionic's eager Tensor and of torch.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from psionic.cli.bench_steps import alternate, machine
from psionic.core.manifest import library_versions


def register_train(kinds: argparse._SubParsersAction) -> None:
    b = kinds.add_parser("train", help="small-GPT training step: psionic cpu vs torch CPU, steps/s")
    b.add_argument("--layers", type=int, default=6)
    b.add_argument("--width", type=int, default=384)
    b.add_argument("--heads", type=int, default=6)
    b.add_argument("--seq", type=int, default=256)
    b.add_argument("--batch", type=int, default=8)
    b.add_argument("--vocab", type=int, default=4096)
    b.add_argument("--steps", type=int, default=3, help="timed steps per framework")
    b.add_argument("--warmup", type=int, default=1)
    b.add_argument("--threads", type=int, default=int(os.environ.get("PSIONIC_NUM_THREADS", 2)))
    b.add_argument("--no-torch", action="store_true", help="run psionic only")
    b.set_defaults(func=run_train)


def torch_twin(model: Any) -> Any:
    """A torch module computing exactly what ``psionic.nn.gpt.GPT`` computes, with its weights."""
    import torch
    import torch.nn.functional as F

    cfg = model.config
    params = torch.nn.ParameterDict({
        name.replace(".", "__"): torch.nn.Parameter(torch.from_numpy(np.array(p.data, copy=True)))
        for name, p in model.named_parameters()
    })
    head_dim = cfg.d_model // cfg.n_heads
    freqs = torch.from_numpy(cfg.rope_base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))

    def rope(x: Any) -> Any:  # (B, T, H, D), halves rotated (neox)
        angles = torch.arange(x.shape[1], dtype=torch.float64)[:, None] * freqs[None, :]
        cos, sin = angles.cos().float()[:, None, :], angles.sin().float()[:, None, :]
        a, b = x[..., : head_dim // 2], x[..., head_dim // 2:]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], -1)

    class TwinGPT(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.p = params

        def w(self, name: str) -> Any:
            return self.p[name.replace(".", "__")]

        def forward(self, ids: Any) -> Any:
            x = F.embedding(ids, self.w("tok.weight"))
            bsz, t, d = x.shape
            mask = torch.ones(t, t, dtype=torch.bool).triu(1)
            for i in range(cfg.n_layers):
                pre = f"blocks.{i}."
                h = F.layer_norm(x, (d,), self.w(pre + "ln1.weight"), self.w(pre + "ln1.bias"), cfg.norm_eps)
                q, k, v = (F.linear(h, self.w(pre + f"attn.{n}_proj.weight")).view(bsz, t, cfg.n_heads, head_dim)
                           for n in "qkv")
                q, k = rope(q).transpose(1, 2), rope(k).transpose(1, 2)
                scores = (q @ k.transpose(-1, -2)) * head_dim ** -0.5
                att = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v.transpose(1, 2)
                x = x + F.linear(att.transpose(1, 2).reshape(bsz, t, d), self.w(pre + "attn.o_proj.weight"))
                h = F.layer_norm(x, (d,), self.w(pre + "ln2.weight"), self.w(pre + "ln2.bias"), cfg.norm_eps)
                h = F.gelu(F.linear(h, self.w(pre + "mlp.up.weight"), self.w(pre + "mlp.up.bias")), approximate="tanh")
                x = x + F.linear(h, self.w(pre + "mlp.down.weight"), self.w(pre + "mlp.down.bias"))
            x = F.layer_norm(x, (d,), self.w("ln_f.weight"), self.w("ln_f.bias"), cfg.norm_eps)
            return x @ self.w("tok.weight").T

    return TwinGPT()


def dispatch_overhead(n: int = 1000, repeats: int = 7) -> dict[str, float]:
    """Microseconds per op on 1-element tensors (the best of ``repeats`` batches of ``n``, so a
    busy machine inflates it least), and psionic's cost above the raw numpy ufunc."""
    import psionic.array as pa

    def per_op(fn: Any) -> float:
        fn()
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            best = min(best, (time.perf_counter() - t0) / n * 1e6)
        return best

    a, b = pa.tensor([1.0]), pa.tensor([2.0])
    ga = pa.tensor([1.0], requires_grad=True)
    raw_a, raw_b = a.numpy(), b.numpy()
    out = {
        "numpy_add_us": per_op(lambda: np.add(raw_a, raw_b)),
        "psionic_add_us": per_op(lambda: a + b),
        "psionic_add_recording_grad_us": per_op(lambda: ga + b),
    }
    out["psionic_dispatch_overhead_us"] = out["psionic_add_us"] - out["numpy_add_us"]
    try:
        import torch

        ta, tb = torch.ones(1), torch.ones(1)
        tg = torch.ones(1, requires_grad=True)
        out["torch_add_us"] = per_op(lambda: ta + tb)
        out["torch_add_recording_grad_us"] = per_op(lambda: tg + tb)
    except ImportError:
        pass
    return {k: round(v, 2) for k, v in out.items()}


def count_ops(step: Any) -> dict[str, int]:
    """How many ops of each kind one call of ``step`` dispatches (watching ``apply``)."""
    from collections import Counter

    from psionic.array.tensor import TRACE

    seen: Counter[str] = Counter()
    TRACE.hook = lambda name, inputs, attrs, out: seen.update((name,))
    try:
        step()
    finally:
        TRACE.hook = None
    return dict(seen.most_common())



def run_train(args: argparse.Namespace) -> int:
    import psionic.array as pa
    from psionic.array.cpu_parallel import set_num_threads
    from psionic.nn.gpt import GPT, GPTConfig
    from psionic.nn.optim import AdamW

    set_num_threads(args.threads)
    cfg = GPTConfig(vocab_size=args.vocab, n_layers=args.layers, d_model=args.width,
                    n_heads=args.heads, seq_len=args.seq)
    model = GPT(cfg, seed=0)
    rng = np.random.default_rng(1)
    ids_np = rng.integers(0, cfg.vocab_size, (args.batch, args.seq))
    targets_np = rng.integers(0, cfg.vocab_size, (args.batch, args.seq))
    ids, targets = pa.tensor(ids_np), pa.tensor(targets_np)
    opt = AdamW(model.trainable_parameters(), lr=3e-4, weight_decay=0.1)

    def psionic_step() -> float:
        opt.zero_grad()
        loss = model.loss(ids, targets)
        loss.backward()
        opt.step()
        return float(loss.item())

    steps: dict[str, Any] = {"psionic": psionic_step}
    if not args.no_torch:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(args.threads)
        twin = torch_twin(model)
        t_opt = torch.optim.AdamW(twin.parameters(), lr=3e-4, weight_decay=0.1)
        t_ids, t_targets = torch.from_numpy(ids_np), torch.from_numpy(targets_np)

        def torch_step() -> float:
            t_opt.zero_grad()
            loss = F.cross_entropy(twin(t_ids).reshape(-1, cfg.vocab_size), t_targets.reshape(-1))
            loss.backward()
            t_opt.step()
            return float(loss.item())

        steps["torch"] = torch_step
    timings = alternate(steps, args.warmup, args.steps)
    report: dict[str, Any] = {
        "benchmark": "train",
        "machine": machine(),
        "versions": library_versions(("numpy", "torch", "psionic")),
        "threads": args.threads,
        "config": {"layers": args.layers, "width": args.width, "heads": args.heads, "seq": args.seq,
                   "batch": args.batch, "vocab": args.vocab, "params": sum(
                       int(np.prod(p.shape)) for p in model.parameters())},
        **timings.summary(),
        "dispatch": dispatch_overhead(),
    }
    ops = count_ops(psionic_step)
    n_ops = sum(ops.values())
    report["psionic_ops_per_step"] = n_ops
    report["psionic_ops_by_name"] = ops
    report["psionic_dispatch_ms_per_step"] = round(
        n_ops * report["dispatch"]["psionic_dispatch_overhead_us"] / 1000, 2)
    if "torch" in timings.times:
        report["ratio_psionic_over_torch"] = round(
            report["steps_per_s"]["psionic"] / report["steps_per_s"]["torch"], 3)
    print(json.dumps(report, indent=2))
    return 0
