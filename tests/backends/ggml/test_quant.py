"""ggml's activation quantization and integer block dots against the slow references."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from psionic.backends.cpu.ggml import quant

from .ggml_reference import F32, f16, fma, hsum_float_8, quantize_q8_block


def _x(m: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((m, k)) * 10.0 ** rng.integers(-2, 2, (m, 1))).astype(np.float32)
    x[0, :32] = 0.0  # an all-zero block: d = 0, id = 0
    return x


def _f16_bytes(v: float) -> bytes:
    return np.float16(v).tobytes()


def _q4_1_rows(n: int, k: int, seed: int) -> tuple[np.ndarray, list]:
    """Random packed Q4_1 rows and their blocks (d, m, nibbles in element order)."""
    rng = np.random.default_rng(seed)
    rows, blocks = [], []
    for _ in range(n):
        raw, row_blocks = b"", []
        for _ in range(k // 32):
            d, mn = np.float16(rng.uniform(0.001, 0.05)), np.float16(rng.uniform(-0.5, 0.0))
            q = rng.integers(0, 16, 32)
            qs = bytes(int(q[j]) | (int(q[j + 16]) << 4) for j in range(16))
            raw += _f16_bytes(d) + _f16_bytes(mn) + qs
            row_blocks.append((F32(d), F32(mn), q))
        rows.append(np.frombuffer(raw, np.uint8))
        blocks.append(row_blocks)
    return np.stack(rows), blocks


def test_quantize_q8_1_matches_the_block_reference() -> None:
    x = _x(3, 96, 0)
    q, d, s = quant.quantize_q8(x, with_sum=True)
    for m in range(3):
        for b in range(3):
            rq, rd, rs, _ = quantize_q8_block(x[m, 32 * b : 32 * b + 32])
            assert q[m, 32 * b : 32 * b + 32].tolist() == rq
            assert d[m, b] == rd and s[m, b] == rs


def test_q4_1_dot_follows_vec_dot_q4_1_q8_1() -> None:
    x = _x(2, 64, 1)
    w, blocks = _q4_1_rows(3, 64, 2)
    got = quant.matmul_q4_1(x, w)
    for m in range(2):
        for n in range(3):
            lanes = np.zeros(8, np.float32)
            summs = F32(0.0)
            for b, (d, mn, qw) in enumerate(blocks[n]):
                qx, dx, sx, _ = quantize_q8_block(x[m, 32 * b : 32 * b + 32])
                summs = fma(mn, sx, summs)  # GCC contracts `summs += m * s`
                scale = F32(d * dx)
                for lane in range(8):
                    isum = sum(int(qw[4 * lane + t]) * qx[4 * lane + t] for t in range(4))
                    lanes[lane] = fma(scale, F32(isum), lanes[lane])
            assert got[m, n] == F32(hsum_float_8(lanes) + summs)


def test_q8_0_dot_follows_vec_dot_q8_0_q8_0() -> None:
    rng = np.random.default_rng(3)
    x = _x(2, 64, 4)
    raw_rows, rows = [], []
    for _ in range(3):
        raw, row = b"", []
        for _ in range(2):
            d = np.float16(rng.uniform(0.001, 0.02))
            q = rng.integers(-127, 128, 32)
            raw += _f16_bytes(d) + q.astype(np.int8).tobytes()
            row.append((F32(d), q))
        raw_rows.append(np.frombuffer(raw, np.uint8))
        rows.append(row)
    got = quant.matmul_q8_0(x, np.stack(raw_rows))
    for m in range(2):
        for n in range(3):
            lanes = np.zeros(8, np.float32)
            for b, (d, qw) in enumerate(rows[n]):
                qx, dx, _, _ = quantize_q8_block(x[m, 32 * b : 32 * b + 32])
                scale = F32(d * dx)
                for lane in range(8):
                    isum = sum(int(qw[4 * lane + t]) * qx[4 * lane + t] for t in range(4))
                    lanes[lane] = fma(scale, F32(isum), lanes[lane])
            assert got[m, n] == hsum_float_8(lanes)


def test_q8_scale_is_rounded_to_f16() -> None:
    x = np.full((1, 32), 0.1, np.float32)
    _, d, _ = quant.quantize_q8(x, with_sum=False)
    assert d[0, 0] == f16(np.float32(0.1) / np.float32(127.0))


_CACHE_PROBE = """
import json
import numpy as np
from psionic.backends.cpu.ggml import quant
x = np.ones((1, 32), np.float32)
for fn, block in ((quant.matmul_q4_1, 20), (quant.matmul_q8_0, 34), (quant.matmul_q5_0, 22)):
    fn(x, np.zeros((2, block), np.uint8))
loops = (quant._matmul_q4_1, quant._matmul_q8_0, quant._matmul_q5_0)
print(json.dumps([[sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())] for d in loops]))
"""


def test_block_matmul_loops_load_from_the_on_disk_cache_in_a_new_process() -> None:
    """Each format's loop is compiled once, then loaded by later processes (a loop built as a
    closure over its unpack kernel would be recompiled in every process)."""
    def probe() -> list[list[int]]:
        run = subprocess.run(
            [sys.executable, "-c", _CACHE_PROBE], capture_output=True, text=True, check=True,
            env={**os.environ, "NUMBA_NUM_THREADS": "1"},
        )
        return json.loads(run.stdout)

    probe()  # compiles whatever is not cached yet
    assert probe() == [[1, 0], [1, 0], [1, 0]]
