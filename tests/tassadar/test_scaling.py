"""The scaling benchmark: its windows, counters, fitted slopes and files."""

from __future__ import annotations

import json

import numpy as np

from psionic.cli.main import main
from psionic.tassadar.executor.decode import default_model
from psionic.tassadar.scaling import (
    choose_workload,
    ladder,
    prompt_for,
    run_series,
    slope,
    straight_wat,
)


def test_slope_fits_power_laws() -> None:
    n = [float(v) for v in np.geomspace(1000, 1e6, 20)]
    assert slope(n, [3e-6 * v for v in n]) == 1.0
    assert slope(n, [2.0 for _ in n]) == 0.0
    assert 0.05 < slope(n, [np.log2(v) for v in n]) < 0.15  # log n over three decades: 0.1
    assert slope([10.0, 20.0], [1.0, 2.0]) is None  # too few points past the fit start


def test_series_count_linear_dot_products_and_hull_bisections() -> None:
    prompt = prompt_for(straight_wat(12), (7,), 1000)
    model = default_model()
    emitted: dict[str, list[int]] = {"linear": [], "hull": []}
    series = {m: run_series(model, prompt, m, 600.0, emitted[m]) for m in emitted}
    assert emitted["linear"] == emitted["hull"] and series["hull"].halted
    lin, hull = series["linear"], series["hull"]
    assert lin.tokens == hull.tokens == len(prompt.tokens) + len(emitted["hull"]) - 1
    assert lin.positions == sorted(lin.positions)
    # linear scores every key of every hard-max head: about heads * n per token
    heads = sum(int((lw.uniform == 0).sum()) for lw in model.layers)
    last = lin.positions[-1]
    assert 0.8 * heads * last < lin.dot_products_per_token[-1] < 1.2 * heads * last
    assert hull.dot_products_per_token[-1] < lin.dot_products_per_token[-1] / 10
    assert not lin.stopped_early


def test_budget_stops_a_series_early() -> None:
    prompt = prompt_for(straight_wat(40), (7,), 1000)
    s = run_series(default_model(), prompt, "linear", 0.0, [])
    assert s.stopped_early and s.tokens == 64 and s.trace_tokens == 0


def test_ladder_grows_to_the_workload() -> None:
    w = choose_workload(10_000)
    rungs = ladder(w, rungs=5)
    # a loop grows its step bound; a straight-line program its prompt
    lengths = [p.steps_bound if w.kind == "loop" else len(p.tokens) for _, _, p in rungs]
    assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths)
    assert rungs[-1][2] == w.prompt


def test_workload_says_what_it_is() -> None:
    w = choose_workload(10_000)
    assert w.kind == "loop" and w.args == (1111,) and w.prompt.steps_bound >= 9 * 1111


def test_cli_writes_json_and_png(tmp_path, capsys) -> None:
    out = tmp_path / "scaling"
    rc = main(["tassadar", "bench", "scaling", "--out", str(out), "--linear-budget", "0.5",
               "--hull-budget", "0.5", "--compiled-budget", "0.5", "--target-steps", "2000"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["slopes"]) == {"hull", "linear"}
    data = json.loads((out / "scaling.json").read_text())
    assert data["series"]["linear"]["stopped_early"]
    for lookup in ("hull", "linear"):
        runs = data["compiled_runs"][lookup]
        assert runs["positions"] and runs["positions"] == sorted(runs["positions"])
    n = min(len(data["compiled_runs"][k]["trace_digests"]) for k in ("hull", "linear"))
    assert data["compiled_runs"]["hull"]["trace_digests"][:n] == \
        data["compiled_runs"]["linear"]["trace_digests"][:n]
    assert (out / "scaling.png").read_bytes()[:4] == b"\x89PNG"
