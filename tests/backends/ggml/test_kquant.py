"""ggml's Q8_K quantization, K-quant matmuls (vec_dot, tiled, repacked gemm/gemv) and Q5_0,
against slow references that follow the registers."""

from __future__ import annotations

import numpy as np

from psionic.backends.cpu.ggml import kquant, quant

from .ggml_reference import F32, fma, hsum_float_8, quantize_q8_block


def _x(m: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, k)) * 10.0 ** rng.integers(-2, 2, (m, 1))).astype(np.float32)


def _rows(n: int, nb: int, block: int, halves: list[int], seed: int) -> np.ndarray:
    """Random K-quant rows with sane f16 scales at byte offsets ``halves`` of each block."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, (n, nb, block), dtype=np.uint8)
    for at in halves:
        raw[:, :, at : at + 2] = np.float16(rng.uniform(1e-3, 2e-2, (n, nb))).view(np.uint8).reshape(n, nb, 2)
    return raw.reshape(n, nb * block)


def _nearest_int(v: np.float32) -> int:
    """ggml's nearest_int: add 1.5 * 2**23 and read the mantissa."""
    bits = int(np.float32(v + np.float32(12582912.0)).view(np.int32))
    return (bits & 0x007FFFFF) - 0x00400000


_Q8_K_MEMO: dict[bytes, tuple[list[int], np.float32, list[int]]] = {}


def _q8_k(x: np.ndarray) -> tuple[list[int], np.float32, list[int]]:
    key = x.tobytes()
    if key not in _Q8_K_MEMO:
        _Q8_K_MEMO[key] = _q8_k_block(x)
    return _Q8_K_MEMO[key]


def _q8_k_block(x: np.ndarray) -> tuple[list[int], np.float32, list[int]]:
    amax, mx = F32(0.0), F32(0.0)
    for v in x:
        if abs(v) > amax:
            amax, mx = abs(v), v
    iscale = F32(F32(-127.0) / mx)
    q = [min(127, _nearest_int(F32(iscale * v))) for v in x]
    return q, F32(F32(1.0) / iscale), [sum(q[16 * j : 16 * j + 16]) for j in range(16)]


def _q6_k_block(row: np.ndarray, b: int) -> tuple[list[int], list[int], np.float32]:
    """ggml's Q6_K layout: 128 ql bytes, 64 qh bytes, 16 int8 scales, f16 d; values 0..63."""
    blk = row[210 * b : 210 * b + 210].astype(np.int64)
    q = [0] * 256
    for half in range(2):
        for i in range(32):
            ql0, ql1, qh = blk[64 * half + i], blk[64 * half + i + 32], blk[128 + 32 * half + i]
            q[128 * half + i] = (ql0 & 15) | ((qh & 3) << 4)
            q[128 * half + i + 32] = (ql1 & 15) | (((qh >> 2) & 3) << 4)
            q[128 * half + i + 64] = (ql0 >> 4) | (((qh >> 4) & 3) << 4)
            q[128 * half + i + 96] = (ql1 >> 4) | (((qh >> 6) & 3) << 4)
    scales = [int(np.int8(np.uint8(v))) for v in blk[192:208]]
    return q, scales, F32(row[210 * b + 208 : 210 * b + 210].view(np.float16)[0])


def test_q8_k_quantization() -> None:
    x = _x(2, 512, 0)
    q, d, bsums = kquant.quantize_q8_k(x)
    for m in range(2):
        for b in range(2):
            rq, rd, rs = _q8_k(x[m, 256 * b : 256 * b + 256])
            assert q[m, 256 * b : 256 * b + 256].tolist() == rq
            assert d[m, b] == rd and bsums[m, 16 * b : 16 * b + 16].tolist() == rs


def _q6_k_reference(x: np.ndarray, w: np.ndarray, tiled: bool) -> np.ndarray:
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    for m in range(x.shape[0]):
        for n in range(w.shape[0]):
            lanes, total = np.zeros(8, np.float32), F32(0.0)
            for b in range(x.shape[1] // 256):
                qx, dx, bs = _q8_k(x[m, 256 * b : 256 * b + 256])
                qw, sc, dw = _q6_k_block(w[n], b)
                if tiled:  # one exact integer per super-block, then (s1 * d_w) * d_x + acc, fused
                    s1 = sum(sc[s] * (sum(qw[16 * s + t] * qx[16 * s + t] for t in range(16)) - 32 * bs[s])
                             for s in range(16))
                    total = fma(F32(F32(s1) * dw), dx, total)
                    continue
                d = F32(dx * dw)
                for lane in range(8):  # maddubs pairs, madd by the 16-byte scales, per 32-byte vector
                    isum = 0
                    for v in range(8):
                        for t in range(4):
                            e = 32 * v + 4 * lane + t
                            isum += sc[e // 16] * qw[e] * qx[e]
                    isum -= 32 * (bs[2 * lane] * sc[2 * lane] + bs[2 * lane + 1] * sc[2 * lane + 1])
                    lanes[lane] = fma(d, F32(isum), lanes[lane])
            out[m, n] = total if tiled else hsum_float_8(lanes)
    return out


def test_q6_k_vec_dot_and_tiled() -> None:
    w = _rows(2, 2, 210, [208], 1)
    for rows in (3, 8):
        x = _x(rows, 512, rows)
        assert np.array_equal(kquant.matmul_q6_k(x, w), _q6_k_reference(x, w, tiled=rows >= 8))


def _q4_k_block(row: np.ndarray, b: int) -> tuple[list[int], list[int], list[int], np.float32, np.float32]:
    blk = row[144 * b : 144 * b + 144].astype(np.int64)
    d, dmin = (F32(v) for v in row[144 * b : 144 * b + 4].view(np.float16))
    s = blk[4:16]
    sc = [s[j] & 63 if j < 4 else (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4) for j in range(8)]
    mn = [s[j + 4] & 63 if j < 4 else (s[j + 4] >> 4) | ((s[j] >> 6) << 4) for j in range(8)]
    q = []
    for p in range(4):
        chunk = blk[16 + 32 * p : 48 + 32 * p]
        q += [int(c & 15) for c in chunk] + [int(c >> 4) for c in chunk]
    return q, sc, mn, d, dmin


def _q4_k_reference(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    rows = x.shape[0]
    gemm_rows = rows - rows % 4 if rows > 3 else 0
    out = np.empty((rows, w.shape[0]), np.float32)
    for m in range(rows):
        for n in range(w.shape[0]):
            acc, mins = F32(0.0), F32(0.0)
            for b in range(x.shape[1] // 256):
                qx, dx, bs = _q8_k(x[m, 256 * b : 256 * b + 256])
                qw, sc, mn, d, dmin = _q4_k_block(w[n], b)
                pairs = [(sum(sc[j] * sum(qw[32 * j + t] * qx[32 * j + t] for t in range(32)) for j in (2 * p, 2 * p + 1)),
                          sum(mn[j] * (bs[2 * j] + bs[2 * j + 1]) for j in (2 * p, 2 * p + 1))) for p in range(4)]
                if m >= gemm_rows:  # gemv: one fma per super-block
                    pairs = [(sum(s for s, _ in pairs), sum(v for _, v in pairs))]
                for s, v in pairs:
                    acc = fma(F32(s), F32(d * dx), acc)
                    mins = fma(F32(v), F32(dmin * dx), mins)
            out[m, n] = F32(acc - mins)
    return out


def test_q4_k_repacked_gemm_and_gemv() -> None:
    w = _rows(2, 2, 144, [0, 2], 2)
    x = _x(6, 512, 3)  # rows 0-3 in a gemm group, rows 4-5 by gemv
    assert np.array_equal(kquant.matmul_q4_k_repacked(x, w), _q4_k_reference(x, w))


def test_q5_0_dot() -> None:
    w = _rows(3, 2, 22, [0], 4)
    x = _x(2, 64, 5)
    got = quant.matmul_q5_0(x, w)
    for m in range(2):
        for n in range(3):
            lanes = np.zeros(8, np.float32)
            for b in range(2):
                blk = w[n, 22 * b : 22 * b + 22]
                d = F32(blk[:2].view(np.float16)[0])
                qh = int(blk[2:6].view(np.uint32)[0])
                qw = [((int(blk[6 + (e & 15)]) >> (4 * (e >> 4))) & 15 | ((qh >> e) & 1) << 4) - 16 for e in range(32)]
                qx, dx, _, _ = quantize_q8_block(x[m, 32 * b : 32 * b + 32])
                for lane in range(8):
                    isum = sum(qw[4 * lane + t] * qx[4 * lane + t] for t in range(4))
                    lanes[lane] = fma(F32(d * dx), F32(isum), lanes[lane])
            assert got[m, n] == hsum_float_8(lanes)
