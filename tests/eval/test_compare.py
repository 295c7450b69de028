from __future__ import annotations

from typing import Any

import pytest

from psionic.core.errors import PsionicError
from psionic.eval.compare import compare_reports, markdown
from psionic.eval.report import build_report


def _report(passes: list[bool], digest: str = "sha256:" + "a" * 64, model: str = "m") -> dict[str, Any]:
    identity = {"package": {"name": "p", "version": "1.0.0", "digest": digest, "kind": "chat", "rubric": "exact_number"},
                "subject": {"kind": "chat", "model": model, "endpoint": "in-process"}, "seed": 0, "samples": None,
                "repeats": 1, "sampling": {}}
    records = [{"key": f"t{i}#0", "task_id": f"t{i}", "repeat": 0, "seed": i, "expected": 1, "status": "scored",
                "score": {"value": float(ok), "passed": ok, "detail": "d"}, "answer": {"text": str(int(ok))},
                "turns": []} for i, ok in enumerate(passes)]
    return build_report(identity, records, len(records))


def test_mcnemar_counts_discordant_pairs() -> None:
    a = _report([True] * 10 + [False] * 10)
    b = _report([True] * 10 + [True] * 9 + [False])
    c = compare_reports(a, b)
    assert c["mcnemar"] == {"only_a_passed": 0, "only_b_passed": 9, "p": pytest.approx(2 / 512, abs=1e-6)}
    assert (c["b_better"], c["b_worse"], c["ties"]) == (9, 0, 11)
    assert c["mean_diff"] == pytest.approx(0.45) and c["note"].endswith("significant at 0.05")
    assert "t10#0" in markdown(c) and "t0#0" not in markdown(c)


def test_a_small_difference_is_not_significant() -> None:
    c = compare_reports(_report([True, False, True, False]), _report([True, True, True, False]))
    assert c["mcnemar"]["p"] == 1.0 and c["note"].endswith("not significant at 0.05")


def test_different_packages_do_not_compare() -> None:
    with pytest.raises(PsionicError) as err:
        compare_reports(_report([True]), _report([True], digest="sha256:" + "b" * 64))
    assert err.value.code == "incomparable_reports"


def test_unpaired_and_errored_samples_are_left_out() -> None:
    a, b = _report([True, True, False]), _report([True, True])
    a["samples"][1] = {**a["samples"][1], "status": "error", "error": {"code": "endpoint_error", "message": "x"}}
    c = compare_reports(a, b)
    assert c["paired"] == 1 and c["unpaired"] == ["t1#0", "t2#0"]
