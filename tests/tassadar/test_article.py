"""``psionic tassadar article``: the report folder, and that its numbers come from the run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from psionic.cli.main import main
from psionic.core.errors import InvalidInput, Refusal
from psionic.tassadar import trace as tr
from psionic.tassadar.article import QUICK, article, check_long_run, model_shape
from psionic.tassadar.executor.decode import default_model
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.run import run_program
from psionic.tassadar.scaling import loop_wat
from psionic.tassadar.workloads import get

BAD_LONG_RUNS = ("loop:", "loop:abc", "loop:0", "loop:-5", "no_such_workload", "")


@pytest.mark.parametrize("spec", BAD_LONG_RUNS)
def test_bad_long_run_specs_are_named(spec: str) -> None:
    with pytest.raises(InvalidInput):
        check_long_run(spec)


def test_cli_refuses_a_bad_long_run_in_one_line(tmp_path: Path, capsys) -> None:
    assert main(["tassadar", "article", "--quick", "--out", str(tmp_path),
                 "--long-run", "loop:zero"]) == 2
    assert "loop:zero" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()  # refused before anything ran


def test_model_shape_is_counted_from_the_weights() -> None:
    m = default_model()
    shape = model_shape()
    assert (shape["layers"], shape["width"], shape["heads"], shape["ffn_units"]) == (
        m.n_layers, m.width, m.n_heads, m.n_units)


@pytest.mark.slow
def test_tiny_article_writes_a_report_of_this_run(tmp_path: Path) -> None:
    refused = "trap_div_zero"  # whatever the executor says about it is what the report says
    config = replace(QUICK, workloads=("const_arith", refused), linear_token_cap=40,
                     scaling_steps=200, scaling_numpy_budget_s=1.0,
                     scaling_linear_budget_s=1.0, scaling_compiled_budget_s=3.0,
                     long_runs=("loop:900",), long_run_timeout_s=120.0)
    result = article(tmp_path, config)
    for name in ("report.md", "report.json", "throughput.png", "scaling.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["totals"] == result["totals"]
    md = (tmp_path / "report.md").read_text()

    rows = {r["workload"]: r for r in on_disk["workloads"]}
    w = get("const_arith")
    program = load(w.path)
    ref = Machine(program.program, w.inputs).run(w.entry, list(w.args))
    row = rows["const_arith"]
    assert row["status"] == "exact"
    assert (row["steps"], row["tokens"]) == (ref.steps, len(ref.tokens))
    assert row["trace_digest"] == tr.trace_digest(ref.tokens)
    # rates are this run's counts over this run's clocks
    assert row["hull_tokens_per_s"] == round(row["tokens"] / row["hull_decode_seconds"])
    assert row["linear_tokens"] == 40 and row["linear_partial"]
    assert row["linear_tokens_per_s"] == round(40 / row["linear_decode_seconds"])
    assert f"| const_arith | exact | {ref.steps:,} | {len(ref.tokens):,} |" in md

    other = load(get(refused).path)
    try:
        run_program(other, "run", list(get(refused).args), decode="hull")
        want = "exact"
    except Refusal as e:
        want = e.code
    got = rows[refused]
    assert (got["refusal"]["code"] if got["status"] == "refused" else got["status"]) == want

    (long,) = on_disk["long_runs"]
    loop_ref = Machine(load_wat(loop_wat()).program).run("run", [100])
    assert long["status"] == "exact" and long["steps"] == loop_ref.steps
    assert long["tokens"] == len(loop_ref.tokens) and long["peak_rss_gib"] > 0
    assert long["tokens_per_s"] == round(long["tokens"] / long["wall_seconds"])
    assert on_disk["model"] == model_shape()
    assert on_disk["scaling"]["compiled_runs_equal_reference_trace"]["hull"]
    assert all(on_disk["scaling"]["compiled_runs_equal_reference_trace"]["hull"])
