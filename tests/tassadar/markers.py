"""Skip marks for the external tools some Tassadar tests need."""

from __future__ import annotations

import shutil

import pytest

HAS_CLANG = shutil.which("clang-16") is not None and shutil.which("wasm-ld-16") is not None
HAS_WABT = shutil.which("wasm-interp") is not None

needs_clang = pytest.mark.skipif(
    not HAS_CLANG,
    reason="clang-16 and lld-16 (wasm-ld-16) are not installed: apt-get install clang-16 lld-16",
)
needs_wabt = pytest.mark.skipif(
    not HAS_WABT, reason="wabt's wasm-interp is not installed: apt-get install wabt"
)
