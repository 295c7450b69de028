"""Time the CPU matmul kernels on one model's weight shapes and estimate whole-model speed.

Run ``python -m psionic.backends.cpu.benchmark [--threads 2] [--prompt 512]``;
it prints JSON. The default shapes are SmolLM2-135M's (30 layers of q4_1
attention and MLP weights, a q8_0 tied output matrix of 49152 x 576). The
weights are random blocks with moderate scales: speed does not depend on the
values. Per-shape figures reuse one matrix (it stays in cache); the streamed
decode figure runs a whole token over distinct weights for all 30 layers.
This is a measuring program, not a test.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from psionic.backends.cpu.matmul import get_rows, matmul
from psionic.backends.cpu.threads import set_num_threads, thread_facts
from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.dtypes import DType


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    dtype: str
    rows: int  # N, output features
    cols: int  # K, input features
    per_token: int  # how many of these one token's forward pass multiplies


SMOLLM2_135M = (
    Shape("attn_q", "q4_1", 576, 576, 30),
    Shape("attn_k", "q4_1", 192, 576, 30),
    Shape("attn_v", "q4_1", 192, 576, 30),
    Shape("attn_output", "q4_1", 576, 576, 30),
    Shape("ffn_gate", "q4_1", 1536, 576, 30),
    Shape("ffn_up", "q4_1", 1536, 576, 30),
    Shape("ffn_down", "q4_1", 576, 1536, 30),
    Shape("output", "q8_0", 49152, 576, 1),
)


def random_weight(dtype: DType, rows: int, cols: int, rng: np.random.Generator) -> QuantMatrix:
    blocks = rng.integers(0, 256, (rows * cols // dtype.block_size, dtype.type_size), np.uint8)
    scale = np.asarray(rng.uniform(-0.02, 0.02, blocks.shape[0])).astype("<f2").view(np.uint8)
    blocks[:, 0:2] = scale.reshape(-1, 2)
    if dtype.name in ("q4_1", "q5_1"):
        blocks[:, 2:4] = scale.reshape(-1, 2)
    return QuantMatrix.from_array(dtype, blocks.reshape(rows, -1))


def best_of(fn: Callable[[], object], seconds: float, min_runs: int = 3) -> float:
    """The fastest of repeated runs, after one warm-up run."""
    fn()
    best, spent, runs = float("inf"), 0.0, 0
    while runs < min_runs or spent < seconds:
        t0 = time.perf_counter()
        fn()
        took = time.perf_counter() - t0
        best, spent, runs = min(best, took), spent + took, runs + 1
    return best


def run(shapes: tuple[Shape, ...], prompt: int, seconds: float) -> dict[str, object]:
    rng = np.random.default_rng(0)
    rows = []
    decode_s = prefill_s = 0.0
    for s in shapes:
        w = random_weight(DType.get(s.dtype), s.rows, s.cols, rng)
        x1 = rng.standard_normal((1, s.cols)).astype(np.float32)
        xp = rng.standard_normal((prompt, s.cols)).astype(np.float32)
        t1 = best_of(partial(matmul, x1, w), seconds)
        tp = best_of(partial(matmul, xp, w), seconds)
        # prefill computes the output projection only for the last position
        decode_s += t1 * s.per_token
        prefill_s += (tp if s.name != "output" else t1) * s.per_token
        macs = s.rows * s.cols
        rows.append({
            "name": s.name, "dtype": s.dtype, "shape": [s.rows, s.cols],
            "m1_us": round(t1 * 1e6, 1), "m1_gmacs": round(macs / t1 / 1e9, 2),
            f"m{prompt}_ms": round(tp * 1e3, 2),
            f"m{prompt}_gmacs": round(macs * prompt / tp / 1e9, 2),
        })
    token_s = token_decode_seconds(shapes, rng, 3 * seconds)
    emb = random_weight(DType.get("q8_0"), 49152, 576, rng)
    ids = rng.integers(0, 49152, prompt)
    t_rows = best_of(lambda: get_rows(emb, ids), seconds)
    return {
        "threads": thread_facts(),
        "shapes": rows,
        f"get_rows_{prompt}_us": round(t_rows * 1e6, 1),
        "decode_matmul_ms_per_token_cached": round(decode_s * 1e3, 2),
        "decode_matmul_ms_per_token_streamed": round(token_s * 1e3, 2),
        "decode_matmul_tok_s_streamed": round(1 / token_s, 1),
        f"prefill_{prompt}_matmul_s": round(prefill_s, 3),
        "prefill_matmul_tok_s": round(prompt / prefill_s, 1),
    }


def token_decode_seconds(
    shapes: tuple[Shape, ...], rng: np.random.Generator, seconds: float
) -> float:
    """One token's matmuls in model order over distinct weights for every layer.

    Unlike the per-shape figures (which reuse one matrix, so it stays in cache),
    this streams all of a token's weight bytes, as a real decode step does.
    """
    layers = max(s.per_token for s in shapes)
    per_layer = [s for s in shapes if s.per_token == layers]
    once = [s for s in shapes if s.per_token != layers]
    weights = [
        [(s, random_weight(DType.get(s.dtype), s.rows, s.cols, rng)) for s in per_layer]
        for _ in range(layers)
    ]
    weights.append([(s, random_weight(DType.get(s.dtype), s.rows, s.cols, rng)) for s in once])
    xs = {s.cols: rng.standard_normal((1, s.cols)).astype(np.float32) for s in shapes}

    def token() -> None:
        for layer in weights:
            for s, w in layer:
                matmul(xs[s.cols], w)

    return best_of(token, seconds)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--seconds", type=float, default=0.3, help="time budget per measurement")
    args = ap.parse_args(argv)
    set_num_threads(args.threads)
    print(json.dumps(run(SMOLLM2_135M, args.prompt, args.seconds), indent=1))


if __name__ == "__main__":
    main()
