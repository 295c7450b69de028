"""ggml's RMS norm, RoPE and SwiGLU against the slow references."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

from psionic.backends.cpu.ggml import elementwise as ew

from .ggml_reference import F32, fma, v_expf


def test_rms_norm_sums_in_double_in_order() -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 576)) * 5).astype(np.float32)
    w = rng.standard_normal(576).astype(np.float32)
    got = ew.rms_norm(x, w, 1e-5)
    for m in range(3):
        total = 0.0
        for v in x[m]:
            total += float(F32(v * v))
        scale = F32(F32(1.0) / np.sqrt(F32(F32(total / 576) + F32(1e-5))))
        want = np.array([F32(F32(v * scale) * c) for v, c in zip(x[m], w, strict=True)], np.float32)
        assert np.array_equal(got[m], want)


LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
for _name, _args in (("cosf", 1), ("sinf", 1), ("powf", 2)):
    getattr(LIBM, _name).restype = ctypes.c_float
    getattr(LIBM, _name).argtypes = [ctypes.c_float] * _args


def test_rope_pairs_with_fused_rotation() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 64)).astype(np.float32)
    pos = np.array([0, 1, 17, 300])
    for neox in (False, True):
        got = ew.rope(x, pos, 64, 100000.0, neox)
        theta_scale = F32(LIBM.powf(100000.0, F32(-2.0) / F32(64)))
        for i, p in enumerate(pos):
            theta = F32(p)
            for k in range(32):
                c, s = F32(LIBM.cosf(theta)), F32(LIBM.sinf(theta))
                a, b = (k, k + 32) if neox else (2 * k, 2 * k + 1)
                for h in range(2):
                    x0, x1 = x[i, h, a], x[i, h, b]
                    assert got[i, h, a] == fma(x0, c, -F32(x1 * s))
                    assert got[i, h, b] == fma(x0, s, F32(x1 * c))
                theta = F32(theta * theta_scale)


def test_swiglu_uses_ggml_exp() -> None:
    rng = np.random.default_rng(2)
    gate = (rng.standard_normal((2, 32)) * 4).astype(np.float32)
    up = rng.standard_normal((2, 32)).astype(np.float32)
    got = ew.swiglu(gate, up)
    for idx in np.ndindex(gate.shape):
        g = gate[idx]
        assert got[idx] == F32(F32(g / F32(F32(1.0) + v_expf(F32(0.0) - g))) * up[idx])


LIBM.tanhf.restype = ctypes.c_float
LIBM.tanhf.argtypes = [ctypes.c_float]


def test_gelu_table_and_clamps() -> None:
    table = ew.gelu_table()
    rng = np.random.default_rng(3)
    for index in rng.integers(0, 1 << 16, 300):
        x = F32(np.uint16(index).view(np.float16))
        if not np.isfinite(x):
            continue
        # ggml_gelu_f32 with `1 + a*x*x` contracted to fma(a*x, x, 1)
        inner = fma(F32(F32(0.044715) * x), x, F32(1.0))
        t = F32(LIBM.tanhf(F32(F32(F32(0.79788456080286535587989211986876) * x) * inner)))
        want = F32(F32(F32(0.5) * x) * F32(F32(1.0) + t))
        assert table[index] == F32(np.float16(want)), x
    gate = np.float32([[-12.0, -10.0, 0.5, 9.99, 10.0, 12.0]])
    up = np.float32([[2.0, 2.0, 2.0, 2.0, 2.0, 2.0]])
    got = ew.geglu(gate, up)
    assert got[0, 0] == 0 and got[0, 1] == 0 and got[0, 4] == 20 and got[0, 5] == 24
    assert got[0, 2] == table[np.float16(0.5).view(np.uint16)] * 2
