"""A tiny GPT trained on synthetic rows: the program the kill-and-resume test runs in a subprocess.

    python tests/train/tiny_run.py OUT_DIR STEPS [--resume] [--backend NAME --precision NAME]
"""

from __future__ import annotations

import sys

import numpy as np

from psionic.array import Tensor
from psionic.data.packing import PackedRow
from psionic.nn import tensor_ops as T
from psionic.nn.gpt import GPT, GPTConfig
from psionic.train.objective import CausalLMObjective
from psionic.train.trainer import Budget, TrainConfig, Trainer

VOCAB, LENGTH = 48, 24


def synthetic_rows(n: int, seed: int) -> list[PackedRow]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        start, stride = rng.integers(0, VOCAB), rng.integers(1, 3)
        ids = ((start + stride * np.arange(LENGTH)) % VOCAB).astype(np.int32)  # learnable: counting
        mask = np.zeros(LENGTH, np.bool_)
        mask[LENGTH // 2:] = True
        rows.append(PackedRow(ids, mask, (f"row{seed}.{i}",)))
    return rows


def make_trainer(out: str, steps: int, dropout: float = 0.1, **overrides) -> Trainer:  # type: ignore[no-untyped-def]
    model = GPT(GPTConfig(vocab_size=VOCAB, n_layers=2, d_model=48, n_heads=2, seq_len=LENGTH), seed=0)
    model.rng = np.random.default_rng(7)  # dropout on the logits: resume must restore its state too

    def logits_at(ids: np.ndarray, pos: np.ndarray, documents: np.ndarray) -> Tensor:
        # One example per row, so a micro-batch of joined rows is a (B, LENGTH) batch.
        batch = Tensor(ids.reshape(-1, LENGTH), dtype="i64", backend=model.array_backend)
        logits = model(batch).reshape(-1, VOCAB)[pos]
        return T.dropout(logits, dropout, model.rng) if model.training else logits

    objective = CausalLMObjective(model, logits_at)
    settings = dict(budget=Budget(steps=steps), lr=3e-3, warmup=2, grad_accum=2, clip_norm=1.0,
                    checkpoint_every=1, eval_every=4, param_digest_every=1, progress=False, plot=False)
    settings.update(overrides)
    config = TrainConfig(**settings)  # type: ignore[arg-type]
    return Trainer(objective, synthetic_rows(20, 0), config, out, eval_rows=synthetic_rows(3, 1))


if __name__ == "__main__":
    out_dir, n_steps = sys.argv[1], int(sys.argv[2])
    chosen = {k: sys.argv[sys.argv.index(f"--{k}") + 1] for k in ("backend", "precision") if f"--{k}" in sys.argv}
    result = make_trainer(out_dir, n_steps, **chosen).run(resume="--resume" in sys.argv)
    print(result.param_digest)
