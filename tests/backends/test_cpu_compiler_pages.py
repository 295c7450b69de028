"""Releasing the compiler library's resident pages: which mappings qualify, and that
kernels keep working (and warmed-up kernels never page the compiler back in)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pytest
from backend_samples import FORMATS

from psionic.backends.cpu.compiler_pages import (
    compiler_library,
    read_smaps,
    release_compiler_pages,
    release_library_pages,
    resident_mib,
)
from psionic.backends.cpu.matmul import get_rows, matmul
from psionic.backends.cpu.warmup import warm_up
from psionic.backends.quant_matrix import QuantMatrix
from psionic.backends.reference import dequantize

SMAPS_SAMPLE = """\
7f0000000000-7f0000001000 r-xp 00000000 08:01 42   /lib/libllvmlite.so
Size:                  4 kB
Rss:                   4 kB
Shared_Clean:          4 kB
Shared_Dirty:          0 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd ex mr mw me
7f0000001000-7f0000003000 r--p 00001000 08:01 42   /lib/libllvmlite.so
Rss:                   8 kB
Private_Dirty:         8 kB
Anonymous:             8 kB
7f0000003000-7f0000004000 rw-p 00003000 08:01 42   /lib/libllvmlite.so
Rss:                   4 kB
Anonymous:             0 kB
7f0000004000-7f0000005000 rw-p 00000000 00:00 0
Rss:                   4 kB
"""

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")


def test_read_smaps_fields_and_refetchable_rule() -> None:
    maps = read_smaps(SMAPS_SAMPLE)
    assert [(m.start, m.perms, m.path) for m in maps] == [
        (0x7F0000000000, "r-xp", "/lib/libllvmlite.so"),
        (0x7F0000001000, "r--p", "/lib/libllvmlite.so"),
        (0x7F0000003000, "rw-p", "/lib/libllvmlite.so"),
        (0x7F0000004000, "rw-p", ""),
    ]
    assert maps[0].fields["Rss"] == 4 and "VmFlags" not in maps[0].fields
    # code as it lies in the file qualifies; relocated (dirty) or writable pages never do
    assert [m.refetchable for m in maps] == [True, False, False, False]


def test_release_of_a_library_not_mapped_releases_nothing() -> None:
    assert release_library_pages("/no/such/library.so") == 0.0


@linux_only
def test_kernels_compute_the_same_after_the_compiler_pages_are_released(
    make_matrix: Callable[[str, int, int], QuantMatrix],
) -> None:
    w = make_matrix("q4_1", 8, 64)
    x = np.random.default_rng(0).standard_normal((5, 64)).astype(np.float32)
    before = matmul(x, w)
    path = compiler_library()
    assert path is not None
    release_compiler_pages()
    assert resident_mib(path) < 8  # only pages the library wrote itself (relocations) remain
    np.testing.assert_array_equal(matmul(x, w), before)
    np.testing.assert_allclose(before, x @ dequantize(w).T, rtol=1e-5, atol=1e-5)


@linux_only
def test_warmed_up_kernels_never_page_the_compiler_back_in(
    make_matrix: Callable[[str, int, int], QuantMatrix],
) -> None:
    weights = [make_matrix(name, 20, 256) for name in FORMATS]
    warm_up(weights, head_dims=(16, 64))
    path = compiler_library()
    assert path is not None
    release_compiler_pages()
    base = resident_mib(path)
    rng = np.random.default_rng(1)
    for w in weights:
        for m in (1, 3, 4, 9):  # decode and prefill paths, with leftovers
            matmul(rng.standard_normal((m, 256)).astype(np.float32), w)
        get_rows(w, [3, 1])
    from psionic.backends.cpu.attention import attention
    from psionic.backends.cpu.norm import rms_norm

    rms_norm(np.ones((3, 48), np.float32), np.ones(48, np.float32), 1e-5)
    q = rng.standard_normal((2, 4, 64)).astype(np.float32)
    kv = rng.standard_normal((5, 2, 64)).astype(np.float32)
    attention(q, kv, kv, scale=0.125, window=3)
    # loading or compiling any kernel would run the LLVM linker and page in tens of MiB
    assert resident_mib(path) - base < 2
