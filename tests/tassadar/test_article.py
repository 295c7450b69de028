"""``psionic tassadar article``: the report folder, and that its numbers come from the run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from psionic.cli.main import main
from psionic.core.errors import InvalidInput, Refusal
from psionic.tassadar import trace as tr
from psionic.tassadar.article import (
    BAR_TOKENS_PER_S,
    QUICK,
    against_bar,
    article,
    bar_sentence,
    check_long_run,
    measure_workload,
    model_shape,
)
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


def test_long_runs_are_held_against_the_bar_only_when_exact() -> None:
    row = {"run": "sudoku_inkala_c", "status": "exact", "tokens_per_s": 24_000,
           "decode_tokens_per_s": 33_000, "load_average": [3.5, 3.0, 2.5]}
    row["bar"] = against_bar(row)
    assert row["bar"] == {"tokens_per_s": BAR_TOKENS_PER_S, "wall_ratio": 0.8,
                          "emission_ratio": 1.1, "met_wall": False, "met_emission": True}
    said = bar_sentence(row, 2)
    assert "24,000 tokens/s end to end (0.80x the bar, not met)" in said
    assert "33,000 over the emission (1.10x, met)" in said and "load average 3.5 on 2" in said
    refused = {"run": "sudoku_inkala_c", "status": "refused"}
    assert bar_sentence(refused, 2) == "no rate claimed (refused)"
    timed_out = {**row, "status": "timed_out"}
    assert bar_sentence(timed_out, 2) == "no rate claimed (timed_out)"


def test_workloads_past_the_corpus_cap_are_counted_not_decoded() -> None:
    w = get("sum_loop")
    ref = Machine(load(w.path).program, w.inputs).run(w.entry, list(w.args))
    row = measure_workload("sum_loop", linear_cap=40, token_cap=len(ref.tokens) - 1)
    assert row["status"] == "past_cap" and "hull_tokens" not in row
    assert (row["steps"], row["tokens"], row["token_cap"]) == (
        ref.steps, len(ref.tokens), len(ref.tokens) - 1)


def test_linear_is_not_timed_past_the_prompt_cap() -> None:
    row = measure_workload("const_arith", linear_cap=40, linear_prompt_cap=1)
    assert row["status"] == "exact" and row["linear_skipped"]
    assert row["linear_tokens"] == 0 and row["linear_tokens_per_s"] is None
    assert row["prompt_tokens"] > 1


def test_cli_refuses_a_negative_corpus_cap_in_one_line(tmp_path: Path, capsys) -> None:
    assert main(["tassadar", "article", "--quick", "--out", str(tmp_path),
                 "--corpus-token-cap", "-1"]) == 2
    assert "--corpus-token-cap -1" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def test_model_shape_is_counted_from_the_weights() -> None:
    m = default_model()
    shape = model_shape()
    assert (shape["layers"], shape["width"], shape["heads"], shape["ffn_units"]) == (
        m.n_layers, m.width, m.n_heads, m.n_units)


@pytest.mark.slow
def test_tiny_article_writes_a_report_of_this_run(tmp_path: Path) -> None:
    refused = "trap_div_zero"  # whatever the executor says about it is what the report says
    config = replace(QUICK, workloads=("const_arith", refused, "sum_loop"), linear_token_cap=40,
                     corpus_token_cap=10_000,
                     scaling_steps=200, scaling_numpy_budget_s=1.0,
                     scaling_linear_budget_s=1.0, scaling_compiled_budget_s=3.0,
                     long_runs=("loop:900", "sudoku_c"), long_run_timeout_s=300.0)
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
    assert rows["sum_loop"]["status"] == "past_cap" and on_disk["totals"]["past_cap"] == 1
    assert "| sum_loop | not decoded: past the corpus cap of 10,000 tokens |" in md

    other = load(get(refused).path)
    try:
        run_program(other, "run", list(get(refused).args), decode="hull")
        want = "exact"
    except Refusal as e:
        want = e.code
    got = rows[refused]
    assert (got["refusal"]["code"] if got["status"] == "refused" else got["status"]) == want

    long, sudoku = on_disk["long_runs"]
    loop_ref = Machine(load_wat(loop_wat()).program).run("run", [100])
    assert long["status"] == "exact" and long["steps"] == loop_ref.steps
    assert long["tokens"] == len(loop_ref.tokens) and long["peak_rss_gib"] > 0
    assert long["tokens_per_s"] == round(long["tokens"] / long["wall_seconds"])
    # a C long run: its input through the prompt, its grid in the trace the reference checked
    s = get("sudoku_c")
    s_ref = Machine(load(s.path).program, s.inputs).run()
    assert sudoku["status"] == "exact" and sudoku["result"] == list(s_ref.result)
    assert (sudoku["steps"], sudoku["tokens"]) == (s_ref.steps, len(s_ref.tokens))
    assert sudoku["trace_digest"] == tr.trace_digest(s_ref.tokens)
    assert sudoku["bar"] == against_bar(sudoku) and sudoku["peak_rss_gib"] > 0
    assert f"- sudoku_c: {bar_sentence(sudoku, on_disk['machine']['cpus'])}" in md
    assert on_disk["model"] == model_shape()
    assert on_disk["scaling"]["compiled_runs_equal_reference_trace"]["hull"]
    assert all(on_disk["scaling"]["compiled_runs_equal_reference_trace"]["hull"])
