"""Loading a real model binds its kernels up front and leaves the compiler's pages released."""

from __future__ import annotations

import sys

import pytest

from psionic.backends.cpu.compiler_pages import compiler_library, resident_mib
from psionic.models.generate import generate
from psionic.models.loader import load_model
from psionic.models.sampling import SamplingParams


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_generating_after_load_never_pages_the_compiler_back_in() -> None:
    loaded = load_model("smollm2-135m-instruct")
    path = compiler_library()
    assert path is not None
    after_load = resident_mib(path)
    assert after_load < 8  # code pages released; only pages the library relocated remain
    prompt = loaded.tokenizer.encode("The capital of France is")
    result = generate(loaded, prompt * 2, SamplingParams(temperature=0.0, max_tokens=4))
    assert len(result.tokens) == 4
    # prefill (a multi-row step) and decode ran on kernels bound at load: no linking
    assert resident_mib(path) - after_load < 2
