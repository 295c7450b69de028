"""llama.cpp's worker, scored by psionic.models.parity: its default path (one batch, q4_k
weights repacked) reproduces both recordings, and its other paths answer in the same shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from psionic.models.loader import load_model
from psionic.models.parity import LLAMACPP_PATHS, llamacpp_scores, load_fixture

PEER_PYTHON = Path.home() / ".cache/psionic-peers/llamacpp-0.3.36/bin/python"
FIXTURE = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/fixtures/llamacpp" for i in range(2, 5)) if p.exists()),
    None,
)
pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(not PEER_PYTHON.exists(), reason="llama.cpp peer not built"),
    pytest.mark.skipif(FIXTURE is None, reason="shared/fixtures/llamacpp is not beside this checkout"),
]


FIXTURES = {
    "smollm2-135m-instruct": "public_smollm2-135m-instruct-q4_1.json",
    "gemma3-270m": "public_gemma3-270m-q4_k_m.json",
}


@pytest.mark.parametrize("model", list(FIXTURES))
@pytest.mark.parametrize("path", list(LLAMACPP_PATHS))
def test_llamacpp_against_its_own_recording(model: str, path: str) -> None:
    loaded = load_model(model)
    _, cases = load_fixture(FIXTURE / FIXTURES[model])  # type: ignore[operator]
    report = llamacpp_scores(str(PEER_PYTHON), loaded, cases[:2], 2, LLAMACPP_PATHS[path])
    assert report["positions"] == sum(len(c.tokens) for c in cases[:2])
    if path == "batch":  # the path the recording was made on
        assert report["top1_agreement"] == 1.0 and report["max_top5_logit_diff"] < 1e-3
        assert report["greedy16_identical"] == 2
    else:
        assert report["top1_agreement"] > 0.9
