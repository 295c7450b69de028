"""The shipped SmolLM2 on a built-in package, in process and behind psionic's server (slow: real model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from psionic.environments.session import plan_session
from psionic.eval.builtin import resolve_package
from psionic.eval.compare import compare_reports
from psionic.eval.report import build_report, check_report, load_report, write_report
from psionic.eval.runner import RunSettings, run_eval
from psionic.eval.subjects import EndpointChat, LocalChat
from tests.serve.conftest import smol_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def _run(pkg, subject, out: Path, settings: RunSettings) -> dict:  # type: ignore[no-untyped-def]
    identity, records = run_eval(pkg, subject, out, settings, progress=False)
    report = build_report(identity, records, len(plan_session(pkg, settings.seed, settings.samples, settings.repeats)))
    write_report(out, report)
    return report


def test_smollm2_arithmetic_local_and_served_compare_cleanly(tmp_path: Path, smol_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    pkg = resolve_package("arithmetic")
    settings = RunSettings(seed=0, samples=12, repeats=2, concurrency=8)
    local = _run(pkg, LocalChat("smollm2-135m-instruct"), tmp_path / "local", settings)
    served = _run(pkg, EndpointChat(smol_server.base_url + "/v1", smol_server.model), tmp_path / "served", settings)
    agg = local["aggregate"]
    assert agg["scored"] == 24 and agg["errors"] == 0
    assert 0.0 < agg["mean_score"] < 1.0  # the package tells this model's answers apart
    assert "mean_score_ci95_t_repeats" in agg
    for report, folder in ((local, "local"), (served, "served")):
        counts = check_report(load_report(tmp_path / folder))
        assert counts["receipts"] == counts["exchanges"] == 24
        assert report["run"]["subject"]["model"] == "smollm2-135m-instruct"
    # Any sample's proof bundle replays on the reference path: the answer was produced as the receipt says.
    from psionic.cli.verify import verify_document

    result = verify_document(local["samples"][0]["turns"][0]["bundle"], [], False)
    assert result["replay"].startswith("verified")
    c = compare_reports(local, served)
    assert c["paired"] == 24 and c["identical_answers"] == 24 and c["note"].startswith("no difference")
