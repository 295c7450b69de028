"""``psionic bench train`` on a tiny GPT: the report's structure, and both frameworks' losses agree."""

from __future__ import annotations

import json

import pytest

from psionic.array.cpu_parallel import THREADS
from psionic.cli.main import main


@pytest.fixture(autouse=True)
def keep_thread_count():  # type: ignore[no-untyped-def]
    before = THREADS.count
    yield
    THREADS.count = before


def test_bench_train_reports_both_frameworks(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    code = main(["bench", "train", "--layers", "1", "--width", "32", "--heads", "2", "--seq", "16",
                 "--batch", "2", "--vocab", "64", "--steps", "1", "--threads", "1"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["benchmark"] == "train" and report["threads"] == 1
    assert set(report["steps_per_s"]) == {"psionic", "torch"}
    assert report["ratio_psionic_over_torch"] > 0
    ours, theirs = report["losses"]["psionic"], report["losses"]["torch"]
    assert len(ours) == 2 and ours == pytest.approx(theirs, rel=1e-4)
    assert report["dispatch"]["psionic_add_us"] > 0
    assert report["psionic_ops_per_step"] == sum(report["psionic_ops_by_name"].values()) > 50
    assert report["psionic_ops_by_name"]["matmul"] >= 3 * 6  # 6 projections, forward and back


def test_bench_train_without_torch_runs_psionic_only(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "train", "--layers", "1", "--width", "16", "--heads", "2", "--seq", "8",
                 "--batch", "1", "--vocab", "32", "--steps", "1", "--warmup", "0", "--no-torch"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["steps_per_s"]) == {"psionic"} and "ratio_psionic_over_torch" not in report
