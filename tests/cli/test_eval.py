"""``psionic eval`` on the command line: run, check, compare, packages, and one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.cli.main import main
from psionic.environments.package import write_package
from tests.eval.conftest import sums_package, wasm_package
from tests.eval.fake_endpoint import FakeEndpoint, Script


@pytest.fixture
def sums_dir(tmp_path: Path) -> Path:
    return write_package(sums_package(), tmp_path / "sums")


def test_run_check_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str], sums_dir: Path) -> None:
    with FakeEndpoint(Script(answer=lambda body: "7")) as fake:
        args = ["eval", "run", str(sums_dir), "--model", "fake", "--endpoint", fake.url, "--no-progress",
                "--samples", "4", "--repeats", "2"]
        assert main([*args, "--out", str(tmp_path / "a"), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["aggregate"]["scored"] == 8 and summary["aggregate"]["mean_score"] in (0.0, 0.25, 0.5)
        assert main([*args, "--out", str(tmp_path / "b"), "--temperature", "0.5"]) == 0
        assert "8/8 scored" in capsys.readouterr().out
    assert main(["eval", "check", str(tmp_path / "a")]) == 0
    assert "8 exchange receipts" in capsys.readouterr().out
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c")]) == 0
    assert "no difference" in capsys.readouterr().out
    assert json.loads((tmp_path / "c" / "compare.json").read_text())["paired"] == 8


@pytest.mark.parametrize(("args", "code"), [
    (["eval", "run", "no-such-package", "--model", "x"], "package_not_found"),
    (["eval", "run", "{pkg}", "--model", "x", "--samples", "0"], "invalid_input"),
    (["eval", "run", "{wasm}", "--model", "smollm2-135m-instruct"], "invalid_input"),
    (["eval", "run", "{pkg}", "--model", "x", "--endpoint", "ftp://host"], "invalid_input"),
    (["eval", "compare", "{pkg}", "{pkg}"], "malformed_report"),
])
def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], sums_dir: Path,
                             args: list[str], code: str) -> None:
    wasm = write_package(wasm_package(), tmp_path / "wasm")
    filled = [a.format(pkg=sums_dir, wasm=wasm) for a in args]
    assert main([*filled, "--out", str(tmp_path / "o")] if filled[1] == "run" else filled) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"psionic: error: {code}:")


def test_compare_refuses_different_packages(tmp_path: Path, capsys: pytest.CaptureFixture[str], sums_dir: Path) -> None:
    wasm = write_package(wasm_package(), tmp_path / "wasm")
    with FakeEndpoint() as fake:
        assert main(["eval", "run", str(sums_dir), "-m", "f", "--endpoint", fake.url, "--no-progress",
                     "-o", str(tmp_path / "a")]) == 0
    assert main(["eval", "run", str(wasm), "-m", "tassadar:reference", "--no-progress", "-o", str(tmp_path / "b")]) == 0
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "incomparable_reports" in capsys.readouterr().err


def test_a_killed_run_resumes_without_losing_a_scored_sample(tmp_path: Path, sums_dir: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    with FakeEndpoint(Script(answer=lambda body: "3", delay_s=0.2)) as fake:
        args = ["eval", "run", str(sums_dir), "-m", "fake", "--endpoint", fake.url, "-c", "1", "-o", str(out),
                "--no-progress"]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        proc = subprocess.Popen([sys.executable, "-m", "psionic.cli.main", *args], env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            samples = out / "samples.jsonl"
            if samples.exists() and samples.read_text().count("\n") >= 2:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kept = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines() if line.endswith("}")]
        assert 2 <= len(kept) < 6 and not (out / "report.json").exists()
        asked_before = fake.script.arrivals
        assert main([*args, "--resume"]) == 0
        assert fake.script.arrivals - asked_before == 6 - len(kept)
    report = json.loads((out / "report.json").read_text())
    assert report["aggregate"]["scored"] == 6
    for record in kept:
        assert next(r for r in report["samples"] if r["key"] == record["key"]) == record
