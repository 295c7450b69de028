"""``psionic tassadar article --out DIR``: the article's claims, measured in one run, as a report.

Percepta's "Can LLMs Be Computers?" claims that a transformer with
hand-set weights executes WebAssembly exactly by greedy decoding, that 2-D
hard-max heads over a convex hull make each token O(log n), that a trace costs
a few tokens per step, and that such a model runs million-step programs
(a hard Sudoku, a 10x10 Hungarian matching). This module measures each claim
on Psionic's executor in one run and writes ``report.md``, ``report.json``,
``throughput.png`` and ``scaling.png``:

- every corpus workload: steps and tokens of the reference interpreter, the
  compiled hull decode's trace compared with it ("exact" or the executor's
  typed refusal, never a list of which programs work), tokens/s of hull and
  of brute-force (linear) lookups in the same compiled engine and their ratio;
- the per-token cost against trace length (``scaling.py``) with its slopes;
- the model's shape beside the published one;
- the long runs, each in its own process (its peak resident memory is its
  own), checked against the reference interpreter afterwards, and their
  tokens/s against the article's bar of 30,000 (Arto Inkala's Sudoku is the
  bar's own workload).

Only the published shape and the bar are constants here; every other number
comes from this run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from psionic.core.errors import InvalidInput, PsionicError, Refusal
from psionic.core.manifest import RuntimeManifest
from psionic.tassadar.executor.decode import ExecutorOutcome

PUBLISHED = {"layers": 7, "width": 36, "heads": 18, "head_dim": 2,
             "source": "Percepta, \"Can LLMs Be Computers?\" (March 2026): published shape"}
LOOP = "loop"  # a long run of the scaling benchmark's counting loop, ``loop:STEPS``
BAR_TOKENS_PER_S = 30_000  # the article's speed bar for its long runs (tokens/s on a CPU)


@dataclass(frozen=True, slots=True)
class ArticleConfig:
    workloads: tuple[str, ...] | None = None  # None: every corpus workload not marked slow
    linear_token_cap: int = 2_000  # linear emission is timed over at most this many tokens
    # corpus workloads whose reference trace is longer are listed, not decoded (0: no cap);
    # the default decodes all of them (the eight million-token C programs add about four
    # minutes on 2 cores)
    corpus_token_cap: int = 0
    # linear lookups prefill the prompt in O(n^2): past this many prompt tokens (sudoku_c's
    # unrolled solver lays out about 96,000) linear is not timed
    linear_prompt_cap: int = 30_000
    scaling_steps: int = 104_857  # the scaling ladder's longest loop
    scaling_numpy_budget_s: float = 20.0  # per attention mode, numpy engine
    scaling_linear_budget_s: float = 30.0  # compiled linear ladder
    scaling_compiled_budget_s: float = 120.0  # compiled hull ladder
    long_runs: tuple[str, ...] = (f"{LOOP}:1048575", "sudoku_inkala_c", "hungarian_c")
    long_run_timeout_s: float = 600.0


DEFAULT = ArticleConfig()
QUICK = replace(DEFAULT, workloads=("const_arith", "sum_loop", "fib_iter", "trap_div_zero"),
                linear_token_cap=3_000, scaling_steps=3_000, scaling_numpy_budget_s=3.0,
                scaling_linear_budget_s=5.0, scaling_compiled_budget_s=20.0,
                long_runs=(f"{LOOP}:20000",), long_run_timeout_s=120.0)


def model_shape() -> dict[str, Any]:
    """The executor's size, counted from the loaded weights."""
    from psionic.tassadar.executor.decode import default_model

    m = default_model()
    hardmax = sum(int(np.sum(lw.uniform == 0)) for lw in m.layers)
    tensors = m.tensors()
    return {"layers": m.n_layers, "width": m.width, "heads": m.n_heads, "hardmax_heads": hardmax,
            "uniform_heads": m.n_heads - hardmax, "head_dim": int(m.layers[0].wq.shape[1]),
            "ffn_units": m.n_units, "vocab_in": int(m.embedding.shape[0]),
            "vocab_out": int(m.unembedding.shape[0]),
            "parameters": int(sum(t.size for t in tensors.values())),
            "nonzero_parameters": int(sum(np.count_nonzero(t) for t in tensors.values()))}


def _refusal(e: PsionicError) -> dict[str, str]:
    return {"code": e.code, "message": e.message}


def warm_up() -> None:
    """Load (or compile) every engine's kernels once, so no timed run pays for it."""
    from psionic.tassadar.executor import compiled
    from psionic.tassadar.executor.decode import default_model
    from psionic.tassadar.ingress import load_wat
    from psionic.tassadar.run import run_program
    from psionic.tassadar.scaling import loop_wat, prompt_for, token_budget

    run_program(load_wat(loop_wat()), "run", [3], decode="hull")
    prompt = prompt_for(loop_wat(), (3,), 64)
    compiled.run(compiled.compiled_model(default_model()), prompt.tokens, token_budget(prompt),
                 "linear")


def measure_workload(name: str, linear_cap: int, token_cap: int = 0,
                     linear_prompt_cap: int = 0) -> dict[str, Any]:
    """One corpus workload: hull decode, then linear (capped), then the reference; past
    ``token_cap`` reference tokens (when not 0) only the reference's counts, past
    ``linear_prompt_cap`` prompt tokens (when not 0) no linear decode."""
    from psionic.tassadar.entry import resolve_entry
    from psionic.tassadar.executor import compiled
    from psionic.tassadar.executor.decode import default_model
    from psionic.tassadar.executor.prompt import lay_out
    from psionic.tassadar.ingress import load
    from psionic.tassadar.interpreter import Limits
    from psionic.tassadar.run import run_program
    from psionic.tassadar.workloads import get

    w = get(name)
    row: dict[str, Any] = {"workload": name, "language": w.language, "note": w.note}
    try:
        program = load(w.path)
    except PsionicError as e:  # e.g. no C compiler on this machine
        return {**row, "status": "not_loaded", "refusal": _refusal(e)}
    if token_cap:
        length = run_program(program, w.entry, w.args, w.inputs, "reference")
        if length.tokens > token_cap:
            return {**row, "status": "past_cap", "steps": length.steps, "tokens": length.tokens,
                    "token_cap": token_cap}
    try:
        hull = run_program(program, w.entry, w.args, w.inputs, "hull")
    except Refusal as e:
        ref = run_program(program, w.entry, w.args, w.inputs, "reference")
        return {**row, "status": "refused", "refusal": _refusal(e), "steps": ref.steps,
                "tokens": ref.tokens}
    out = hull.outcome
    assert isinstance(out, ExecutorOutcome)  # the hull decode mode runs the executor
    hull_tps = hull.tokens / out.decode_seconds if out.decode_seconds else None
    # the same engine with brute-force lookups, over at most ``linear_cap`` emitted tokens
    limits = Limits()
    prompt = lay_out(program.program, resolve_entry(program.program.module, w.entry),
                     list(w.args), limits.max_steps, limits.max_memory_pages, list(w.inputs))
    linear_skipped = bool(linear_prompt_cap) and len(prompt.tokens) > linear_prompt_cap
    lin_tokens: list[int] = []
    lin_seconds = 0.0
    if not linear_skipped:
        lin = compiled.run(compiled.compiled_model(default_model()), prompt.tokens,
                           min(linear_cap, hull.tokens), "linear")
        lin_tokens, lin_seconds = list(lin.tokens), round(lin.decode_seconds, 6)
    linear_prefix_equal = lin_tokens == list(out.tokens[: len(lin_tokens)])
    lin_tps = len(lin_tokens) / lin_seconds if lin_seconds else None
    ref = run_program(program, w.entry, w.args, w.inputs, "reference")  # after the decodes
    exact = (hull.trace_digest == ref.trace_digest and hull.result == ref.result
             and hull.outputs == ref.outputs and hull.trap == ref.trap)
    return {**row, "status": "exact" if exact and linear_prefix_equal else "mismatch",
            "steps": ref.steps, "tokens": ref.tokens, "hull_tokens": hull.tokens,
            "tokens_per_step": round(ref.tokens / ref.steps, 3) if ref.steps else None,
            "prompt_tokens": out.prompt_tokens, "trap": ref.trap,
            "trace_digest": hull.trace_digest, "reference_trace_digest": ref.trace_digest,
            "hull_decode_seconds": out.decode_seconds,
            "hull_tokens_per_s": round(hull_tps) if hull_tps else None,
            "linear_tokens": len(lin_tokens), "linear_skipped": linear_skipped,
            "linear_partial": len(lin_tokens) < hull.tokens,
            "linear_decode_seconds": lin_seconds,
            "linear_prefix_equal": linear_prefix_equal,
            "linear_tokens_per_s": round(lin_tps) if lin_tps else None,
            "speedup": round(hull_tps / lin_tps, 2) if hull_tps and lin_tps else None}


# --- long runs: one process each --------------------------------------------------------------

def check_long_run(spec: str) -> str:
    """``spec`` when it names a workload or ``loop:STEPS``; else ``InvalidInput``."""
    from psionic.tassadar.workloads import get

    if spec.startswith(f"{LOOP}:"):
        steps = spec.split(":", 1)[1]
        if not steps.isdigit() or int(steps) < 1:
            raise InvalidInput(f"long run {spec!r}: expected {LOOP}:STEPS with STEPS >= 1")
        return spec
    get(spec)
    return spec


def _long_child(spec: str) -> dict[str, Any]:
    """Run ``spec`` in hull mode (the product path: ``run_program``); no reference here."""
    from psionic.tassadar.ingress import load, load_wat
    from psionic.tassadar.run import run_program
    from psionic.tassadar.scaling import loop_wat
    from psionic.tassadar.workloads import get

    if spec.startswith(f"{LOOP}:"):
        n = max(int(spec.split(":", 1)[1]) // 9, 1)
        program, entry, args, inputs = load_wat(loop_wat()), "run", [n], []
    else:
        w = get(spec)
        program, entry, args, inputs = load(w.path), w.entry, list(w.args), list(w.inputs)
    cpu = time.process_time()
    started = time.perf_counter()
    try:
        report = run_program(program, entry, args, inputs, "hull")
    except Refusal as e:
        return {"status": "refused", "refusal": _refusal(e)}
    wall = round(time.perf_counter() - started, 3)
    out = report.outcome
    assert isinstance(out, ExecutorOutcome)
    return {"status": "ran", "steps": report.steps, "tokens": report.tokens,
            "trace_digest": report.trace_digest, "result": list(report.result),
            "trap": report.trap, "wall_seconds": wall,
            "cpu_seconds": round(time.process_time() - cpu, 3),
            "decode_seconds": out.decode_seconds, "prefill_seconds": out.prefill_seconds,
            "tokens_per_s": round(report.tokens / wall) if wall else None,
            "decode_tokens_per_s": round(report.tokens / out.decode_seconds)
            if out.decode_seconds else None}


def _reference_digest(spec: str) -> tuple[int, str]:
    from psionic.tassadar import trace as tr
    from psionic.tassadar.ingress import load, load_wat
    from psionic.tassadar.interpreter import Machine
    from psionic.tassadar.scaling import loop_wat
    from psionic.tassadar.workloads import get

    if spec.startswith(f"{LOOP}:"):
        n = max(int(spec.split(":", 1)[1]) // 9, 1)
        outcome = Machine(load_wat(loop_wat()).program).run("run", [n])
    else:
        w = get(spec)
        outcome = Machine(load(w.path).program, w.inputs).run(w.entry, list(w.args))
    return outcome.steps, tr.trace_digest(outcome.tokens)


def long_run(spec: str, timeout_s: float) -> dict[str, Any]:
    """``spec`` in a child process: its own peak RSS (``wait4``), then the reference check."""
    row: dict[str, Any] = {"run": spec}
    cmd = [sys.executable, "-m", "psionic.tassadar.article", "--long-child", spec]
    load = [round(v, 2) for v in os.getloadavg()]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = started + timeout_s
    status, usage = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            return {**row, "status": "timed_out", "timeout_s": timeout_s,
                    "peak_rss_gib": round(usage.ru_maxrss / 2**20, 3), "load_average": load}
        time.sleep(0.2)
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    row["peak_rss_gib"] = round(usage.ru_maxrss / 2**20, 3)  # KiB on Linux
    row["load_average"] = load
    if proc.returncode != 0:
        return {**row, "status": "failed", "exit_status": proc.returncode,
                "stderr_tail": stderr[-400:]}
    child = json.loads(stdout.strip().splitlines()[-1])
    row.update(child)
    if child["status"] == "ran":
        steps, digest = _reference_digest(spec)
        row["reference_steps"] = steps
        row["status"] = "exact" if digest == child["trace_digest"] else "mismatch"
        row["bar"] = against_bar(row)
    return row


def against_bar(row: dict[str, Any], bar: int = BAR_TOKENS_PER_S) -> dict[str, Any]:
    """A long run's tokens/s against ``bar``: end to end in its process (prompt, prefill,
    emission and reading the trace back) and over the emission alone."""
    wall, emission = row.get("tokens_per_s"), row.get("decode_tokens_per_s")
    return {"tokens_per_s": bar,
            "wall_ratio": round(wall / bar, 3) if wall else None,
            "emission_ratio": round(emission / bar, 3) if emission else None,
            "met_wall": bool(wall and wall >= bar),
            "met_emission": bool(emission and emission >= bar)}


# --- the report -----------------------------------------------------------------------------

def _plot_throughput(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ran = [r for r in rows if r.get("hull_tokens_per_s") and r.get("linear_tokens_per_s")]
    ran.sort(key=lambda r: r["tokens"])
    fig, ax = plt.subplots(figsize=(max(8, 0.35 * len(ran) + 3), 4.8))
    xs = np.arange(len(ran))
    ax.bar(xs - 0.2, [r["linear_tokens_per_s"] for r in ran], 0.4, label="linear lookups",
           color="tab:red")
    ax.bar(xs + 0.2, [r["hull_tokens_per_s"] for r in ran], 0.4, label="hull lookups",
           color="tab:blue")
    ax.set_yscale("log")
    ax.set_xticks(xs, [f"{r['workload']} ({r['tokens']})" for r in ran], rotation=70,
                  fontsize=7, ha="right")
    ax.set(ylabel="emitted tokens per second", title="compiled decode loop per workload "
           "(tokens in brackets), this run")
    ax.legend()
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def render_markdown(r: dict[str, Any]) -> str:
    shape, pub = r["model"], r["published"]
    lines = [
        "# Tassadar: the article's claims, measured",
        "",
        f"Generated by `psionic tassadar article` in {r['wall_seconds']:.0f} s on "
        f"{r['machine']['cpus']} CPUs (load average {r['load_average_at_start']} at the start, "
        f"{r['load_average_at_end']} at the end); {r['manifest_digest']}.",
        "Every figure below was measured in this run except the published shape.",
        "",
        "## Model",
        "",
        "| | this executor | published |",
        "|---|---|---|",
        f"| layers | {shape['layers']} | {pub['layers']} |",
        f"| width (residual features) | {shape['width']} | {pub['width']} |",
        f"| attention heads | {shape['heads']} ({shape['hardmax_heads']} hard-max, "
        f"{shape['uniform_heads']} uniform) | {pub['heads']} |",
        f"| head dimension | {shape['head_dim']} | {pub['head_dim']} |",
        f"| ReGLU units | {_fmt(shape['ffn_units'])} | |",
        f"| parameters (non-zero) | {_fmt(shape['parameters'])} "
        f"({_fmt(shape['nonzero_parameters'])}) | |",
        "",
        "## Corpus workloads",
        "",
        "Hull: the compiled decode loop with hull lookups (`--decode hull`), the whole run. "
        "Linear: the same loop with brute-force lookups, timed over at most "
        f"{_fmt(r['config']['linear_token_cap'])} emitted tokens (marked *); its tokens must "
        "equal the hull's. Exact: the trace digest, result, outputs and trap equal the "
        "reference interpreter's. tokens/s count emitted tokens over the emission time.",
        "",
        "| workload | status | steps | tokens | tokens/step | linear tok/s | hull tok/s | "
        "speedup |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w in r["workloads"]:
        if w["status"] in ("refused", "not_loaded", "past_cap"):
            why = (f"not decoded: past the corpus cap of {_fmt(w['token_cap'])} tokens"
                   if w["status"] == "past_cap" else
                   f"{w['status']}: `{w['refusal']['code']}` {w['refusal']['message']}")
            lines.append(f"| {w['workload']} | {why} | {_fmt(w.get('steps'))} | "
                         f"{_fmt(w.get('tokens'))} | | | | |")
            continue
        star = "*" if w["linear_partial"] else ""
        if w.get("linear_skipped"):
            star = f"not timed: a prompt of {_fmt(w['prompt_tokens'])} tokens"
        lines.append(f"| {w['workload']} | {w['status']} | {_fmt(w['steps'])} | "
                     f"{_fmt(w['tokens'])} | {_fmt(w['tokens_per_step'])} | "
                     f"{_fmt(w['linear_tokens_per_s'])}{star} | {_fmt(w['hull_tokens_per_s'])} | "
                     f"{_fmt(w['speedup'])} |")
    t = r["totals"]
    lines += ["", f"{t['exact']} exact, {t['refused']} refused, {t['not_loaded']} not loaded, "
              f"{t['mismatch']} mismatched, {t['past_cap']} not decoded (past the cap of "
              f"`--corpus-token-cap`) of {t['workloads']} workloads; "
              f"{_fmt(t['tokens'])} tokens decoded exactly.", "",
              "![throughput](throughput.png)", "", "## Cost per token against trace length", ""]
    sc = r["scaling"]
    lines += [f"Workload: {sc['workload']['note']} ({_fmt(sc['workload']['positions'])} "
              f"positions in the numpy engine). Slopes of log cost against log n from position "
              f"{_fmt(sc['fit_from_position'])}; bars: hull <= {sc['bars']['hull_slope_at_most']},"
              f" linear >= {sc['bars']['linear_slope_at_least']}.", "",
              "| series | positions reached | slope: time/token | slope: dot products/token |",
              "|---|---|---|---|"]
    for mode, s in sc["series"].items():
        lines.append(f"| numpy engine, {mode} | {_fmt(s['tokens'])} | "
                     f"{_fmt(s['slopes'].get('seconds_per_token'))} | "
                     f"{_fmt(s['slopes'].get('dot_products_per_token'))} |")
    for lookup, rows in sc["compiled_runs"].items():
        top = rows["positions"][-1] if rows["positions"] else 0
        lines.append(f"| compiled, {lookup} (whole runs) | {_fmt(top)} | "
                     f"{_fmt(rows['slopes'].get('seconds_per_token'))} | "
                     f"{_fmt(rows['slopes'].get('dot_products_per_token'))} |")
    lines += ["", f"Bars met: `{json.dumps(sc['bars']['met'], sort_keys=True)}`; compiled runs "
              f"equal the reference: `{json.dumps(sc['compiled_runs_equal_reference_trace'])}`.",
              "", "![scaling](scaling.png)", "", "## Long runs", "",
              "Each in its own process through `run_program(..., \"hull\")`; its peak resident "
              "memory is that process's; the trace digest is compared with the reference "
              "interpreter's after the process ends. tokens/s: the trace's tokens over the "
              "process's wall time of the run (prompt, prefill, emission, reading back); "
              "emission: over the emission alone. Load: the load average as the run started.",
              "",
              "| run | status | steps | tokens | wall s | tokens/s | emission tok/s | "
              "peak RSS GiB | load |",
              "|---|---|---|---|---|---|---|---|---|"]
    for lr in r["long_runs"]:
        status = lr["status"]
        if "refusal" in lr:
            status += f": `{lr['refusal']['code']}` {lr['refusal']['message']}"
        elif status == "failed":
            status += f" (exit {lr['exit_status']})"
        elif status == "timed_out":
            status += f" after {lr['timeout_s']:.0f} s"
        lines.append(f"| {lr['run']} | {status} | {_fmt(lr.get('steps'))} | "
                     f"{_fmt(lr.get('tokens'))} | {_fmt(lr.get('wall_seconds'))} | "
                     f"{_fmt(lr.get('tokens_per_s'))} | {_fmt(lr.get('decode_tokens_per_s'))} | "
                     f"{_fmt(lr.get('peak_rss_gib'))} | {lr.get('load_average')} |")
    lines += ["", f"Against the article's bar of {_fmt(BAR_TOKENS_PER_S)} tokens/s:", ""]
    for lr in r["long_runs"]:
        lines.append(f"- {lr['run']}: {bar_sentence(lr, r['machine']['cpus'])}")
    lines.append("")
    return "\n".join(lines)


def bar_sentence(lr: dict[str, Any], cpus: int | None) -> str:
    """One long run against the bar, in words (no rate without an exact run)."""
    if lr["status"] != "exact" or "bar" not in lr:
        return f"no rate claimed ({lr['status']})"
    b = lr["bar"]

    def verdict(met: bool) -> str:
        return "met" if met else "not met"

    return (f"{_fmt(lr['tokens_per_s'])} tokens/s end to end ({b['wall_ratio']:.2f}x the bar, "
            f"{verdict(b['met_wall'])}), {_fmt(lr['decode_tokens_per_s'])} over the emission "
            f"({b['emission_ratio']:.2f}x, {verdict(b['met_emission'])}), at load average "
            f"{lr['load_average'][0]} on {cpus} CPUs")


@dataclass
class _Totals:
    # counted while rows arrive (mutable until the run ends)
    workloads: int = 0
    exact: int = 0
    refused: int = 0
    not_loaded: int = 0
    mismatch: int = 0
    past_cap: int = 0
    tokens: int = 0


def article(out_dir: Path, config: ArticleConfig = DEFAULT,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure everything, write the report folder, return ``report.json``'s content."""
    from psionic.tassadar.scaling import bench_scaling
    from psionic.tassadar.workloads import WORKLOADS, get

    say = progress or (lambda _line: None)
    for spec in config.long_runs:
        check_long_run(spec)
    if config.workloads is not None:
        for name in config.workloads:
            get(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_start = [round(v, 2) for v in os.getloadavg()]
    names = list(config.workloads) if config.workloads is not None else [
        w.name for w in WORKLOADS.values() if not w.slow and w.name not in config.long_runs]
    rows = []
    totals = _Totals()
    say("loading the kernels")
    warm_up()
    for name in names:
        say(f"workload {name}")
        row = measure_workload(name, config.linear_token_cap, config.corpus_token_cap,
                               config.linear_prompt_cap)
        rows.append(row)
        totals.workloads += 1
        key = row["status"]
        setattr(totals, key, getattr(totals, key) + 1)
        if key == "exact":
            totals.tokens += row["tokens"]
    say(f"scaling: the loop up to {config.scaling_steps} steps")
    scaling = bench_scaling(out_dir / "scaling", config.scaling_steps,
                            config.scaling_linear_budget_s, config.scaling_numpy_budget_s,
                            compiled_budget_s=config.scaling_compiled_budget_s)
    (out_dir / "scaling.png").write_bytes((out_dir / "scaling" / "scaling.png").read_bytes())
    longs = []
    for spec in config.long_runs:
        say(f"long run {spec}")
        longs.append(long_run(spec, config.long_run_timeout_s))
    _plot_throughput(rows, out_dir / "throughput.png")
    manifest = RuntimeManifest.current()
    result = {
        "report": "tassadar.article.v1",
        "config": asdict(config),
        "model": model_shape(),
        "published": PUBLISHED,
        "bar_tokens_per_s": BAR_TOKENS_PER_S,
        "workloads": rows,
        "totals": asdict(totals),
        "scaling": {k: scaling[k] for k in ("workload", "fit_from_position", "bars",
                                            "modes_agree_on_emitted_tokens", "series",
                                            "compiled_runs",
                                            "compiled_runs_equal_reference_trace",
                                            "load_average_at_start")},
        "long_runs": longs,
        "machine": {"cpus": os.cpu_count()},
        "load_average_at_start": load_start,
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_gib_this_process": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "manifest": manifest.to_dict(),
        "manifest_digest": manifest.digest,
    }
    (out_dir / "report.json").write_text(json.dumps(result, indent=2, sort_keys=True))
    (out_dir / "report.md").write_text(render_markdown(result))
    return result


if __name__ == "__main__":  # the long-run child: ``python -m psionic.tassadar.article --long-child SPEC``
    if len(sys.argv) == 3 and sys.argv[1] == "--long-child":
        print(json.dumps(_long_child(sys.argv[2])))
    else:
        sys.exit("usage: python -m psionic.tassadar.article --long-child SPEC")
