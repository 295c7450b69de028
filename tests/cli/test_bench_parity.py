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
