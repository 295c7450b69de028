"""llama.cpp's worker, scored by psionic.models.parity: its batch path reproduces the
SmolLM2 recording, and its other paths answer with the same shapes."""

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


@pytest.mark.parametrize("path", list(LLAMACPP_PATHS))
def test_llamacpp_against_its_own_recording(path: str) -> None:
    loaded = load_model("smollm2-135m-instruct")
    _, cases = load_fixture(FIXTURE / "public_smollm2-135m-instruct-q4_1.json")  # type: ignore[operator]
    report = llamacpp_scores(str(PEER_PYTHON), loaded, cases[:2], 2, LLAMACPP_PATHS[path])
    assert report["positions"] == sum(len(c.tokens) for c in cases[:2])
    if path == "batch":  # the path the recording was made on
        assert report["top1_agreement"] == 1.0 and report["max_top5_logit_diff"] < 1e-3
        assert report["greedy16_identical"] == 2
    else:
        assert report["top1_agreement"] > 0.9
