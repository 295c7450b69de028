"""numerics="llamacpp": llama.cpp's recorded outputs reproduced, and the mode's bookkeeping."""

from __future__ import annotations

from pathlib import Path

import pytest

from psionic.core.errors import InvalidInput, UnsupportedOperation, UnsupportedQuantType
from psionic.core.manifest import RuntimeManifest
from psionic.models.generate import model_reference
from psionic.models.ggml_forward import GGMLDecoder
from psionic.models.loader import LoadedModel, load_model
from psionic.models.numerics import numerics_for
from psionic.models.parity import (
    greedy_matches,
    load_fixture,
    psionic_greedy,
    psionic_predictions,
    score_top1,
)

FIXTURES = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/fixtures/llamacpp" for i in range(2, 5)) if p.exists()),
    None,
)
SMOLLM = "public_smollm2-135m-instruct-q4_1.json"
GEMMA = "public_gemma3-270m-q4_k_m.json"
needs_fixtures = pytest.mark.skipif(FIXTURES is None, reason="shared/fixtures/llamacpp is not beside this checkout")
# The fixture keeps logits to four decimals: a bit-identical forward differs from it by rounding only.
FIXTURE_ROUNDING = 1.01e-4


@pytest.fixture(scope="module")
def smollm_llamacpp() -> LoadedModel:
    return load_model("smollm2-135m-instruct", numerics="llamacpp")


def test_unknown_numerics_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown numerics 'f16'"):
        load_model("smollm2-135m-instruct", numerics="f16")


def test_default_manifest_is_unchanged_and_llamacpp_is_recorded() -> None:
    assert RuntimeManifest.current(determinism=numerics_for("f32").determinism()).digest == \
        RuntimeManifest.current().digest
    posture = numerics_for("llamacpp").determinism()
    assert posture["numerics"] == "llamacpp" and posture["batch_invariant"] is False


def test_receipt_reference_names_the_numerics(smollm_llamacpp: LoadedModel) -> None:
    assert model_reference(smollm_llamacpp)["numerics"] == "llamacpp"
    assert isinstance(smollm_llamacpp.model, GGMLDecoder)


def test_unverified_family_is_refused(tmp_path: Path) -> None:
    from .synthetic import hf_model, write_family_gguf

    path = tmp_path / "tiny.gguf"
    write_family_gguf(path, "qwen2", hf_model("qwen2", 1, None), quant="q8_0")
    with pytest.raises(UnsupportedOperation, match="not qwen2"):
        load_model(str(path), numerics="llamacpp")


def test_unsupported_format_is_refused(tmp_path: Path) -> None:
    """float32 weights: llama.cpp's f32 GEMM is not reproduced, so the mode refuses them."""
    from .synthetic import hf_model, write_family_gguf

    path = tmp_path / "tiny.gguf"
    write_family_gguf(path, "llama", hf_model("llama", 1, None))
    with pytest.raises(UnsupportedQuantType, match="numerics 'llamacpp' has no kernel for f32"):
        load_model(str(path), numerics="llamacpp")


@needs_fixtures
def test_first_case_matches_the_recording(smollm_llamacpp: LoadedModel) -> None:
    """One prompt, teacher-forced in one batch: every position's top-5 logits equal llama.cpp's."""
    _, cases = load_fixture(FIXTURES / SMOLLM)  # type: ignore[operator]
    score = score_top1(cases[:1], psionic_predictions(smollm_llamacpp))
    assert score.agree == score.total
    assert score.max_top5_diff <= FIXTURE_ROUNDING


@needs_fixtures
def test_f32_default_differs_on_the_same_case() -> None:
    """The default path is not llama.cpp's: the same case is further from the recording."""
    _, cases = load_fixture(FIXTURES / SMOLLM)  # type: ignore[operator]
    score = score_top1(cases[:1], psionic_predictions(load_model("smollm2-135m-instruct")))
    assert score.max_top5_diff > 10 * FIXTURE_ROUNDING


@pytest.mark.slow
@needs_fixtures
def test_smollm2_meets_the_parity_bars(smollm_llamacpp: LoadedModel) -> None:
    _, cases = load_fixture(FIXTURES / SMOLLM)  # type: ignore[operator]
    score = score_top1(cases, psionic_predictions(smollm_llamacpp))
    assert score.agree == score.total == 448
    assert score.max_top5_diff <= FIXTURE_ROUNDING
    assert greedy_matches(cases, psionic_greedy(smollm_llamacpp)) == len(cases) == 8


@needs_fixtures
def test_gemma3_first_case_matches_the_recording() -> None:
    """Q5_0, Q8_0, repacked Q4_K, tiled Q6_K, the f16 GELU table: the first prompt's
    positions all equal llama.cpp's recording."""
    loaded = load_model("gemma3-270m", numerics="llamacpp")
    _, cases = load_fixture(FIXTURES / GEMMA)  # type: ignore[operator]
    score = score_top1(cases[:1], psionic_predictions(loaded))
    assert score.agree == score.total
    assert score.max_top5_diff <= FIXTURE_ROUNDING


@pytest.mark.slow
@needs_fixtures
def test_gemma3_meets_the_parity_bars() -> None:
    loaded = load_model("gemma3-270m", numerics="llamacpp")
    _, cases = load_fixture(FIXTURES / GEMMA)  # type: ignore[operator]
    score = score_top1(cases, psionic_predictions(loaded))
    assert score.agree == score.total == 455
    assert score.max_top5_diff <= FIXTURE_ROUNDING
    assert greedy_matches(cases, psionic_greedy(loaded)) == len(cases) == 8


def test_sequences_sharing_a_step_keep_their_own_bits(smollm_llamacpp: LoadedModel) -> None:
    """A prefill of one sequence and a decode of another in one step: each gets exactly the
    logits it gets alone (llama.cpp's kernels depend on row counts, so each runs by itself)."""
    import numpy as np

    from psionic.models.decoder import Segment
    from psionic.models.kv_cache import KVCache

    cfg, model = smollm_llamacpp.config, smollm_llamacpp.model

    def cache() -> KVCache:
        return KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, 32)

    a, b = np.arange(2000, 2020), np.arange(3000, 3005)
    kv_b, kv_b_alone = cache(), cache()
    for kv in (kv_b, kv_b_alone):
        model(b[:4], [Segment(kv, 0, 4)])
    kv_a = cache()
    both = model(np.concatenate([a, b[4:]]), [Segment(kv_a, 0, 20), Segment(kv_b, 4, 1)])
    alone_a = model(a, [Segment(cache(), 0, 20)])[0]
    alone_b = model(b[4:], [Segment(kv_b_alone, 4, 1)])[0]
    assert np.array_equal(both[0], alone_a) and np.array_equal(both[1], alone_b)
