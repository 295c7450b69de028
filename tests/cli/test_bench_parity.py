"""`psionic bench parity`: a JSON report against the recorded fixture; bad arguments get one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.cli.main import main

FIXTURE = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/fixtures/llamacpp" for i in range(2, 5)) if p.exists()),
    None,
)


def test_the_peer_needs_its_python(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["bench", "parity", "--fixture", str(tmp_path / "f.json"), "--vs", "llama.cpp"])
    assert code == 2
    assert "--peer-python" in capsys.readouterr().err


def test_a_broken_fixture_is_refused_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "f.json"
    bad.write_text("{")
    assert main(["bench", "parity", "--fixture", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "parity fixture" in err and len(err.splitlines()) == 1


@pytest.mark.slow
@pytest.mark.skipif(FIXTURE is None, reason="shared/fixtures/llamacpp is not beside this checkout")
def test_report_on_smollm2(capsys: pytest.CaptureFixture[str]) -> None:
    fixture = FIXTURE / "public_smollm2-135m-instruct-q4_1.json"  # type: ignore[operator]
    assert main(["bench", "parity", "-m", "smollm2-135m-instruct", "--fixture", str(fixture)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fixture_matches_model"] is True
    psionic = report["psionic"]
    assert psionic["positions"] == 448 and psionic["top1_agree"] >= 436
    assert psionic["greedy16_identical"] >= 5


@pytest.mark.slow
@pytest.mark.skipif(FIXTURE is None, reason="shared/fixtures/llamacpp is not beside this checkout")
@pytest.mark.parametrize("model, fixture, positions", [
    ("smollm2-135m-instruct", "public_smollm2-135m-instruct-q4_1.json", 448),
    ("gemma3-270m", "public_gemma3-270m-q4_k_m.json", 455),
])
def test_llamacpp_numerics_reproduce_the_recordings(
    capsys: pytest.CaptureFixture[str], model: str, fixture: str, positions: int
) -> None:
    path = FIXTURE / fixture  # type: ignore[operator]
    assert main(["bench", "parity", "-m", model, "--fixture", str(path), "--numerics", "llamacpp"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["numerics"] == "llamacpp"
    psionic = report["psionic"]
    assert psionic["top1_agree"] == psionic["positions"] == positions
    assert psionic["max_top5_logit_diff"] <= 1.01e-4  # the fixture's four decimals
    assert psionic["greedy16_identical"] == 8
