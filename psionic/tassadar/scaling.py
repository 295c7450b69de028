"""``psionic tassadar bench scaling``: per-token cost against trace length, linear vs hull.

One long decode per attention mode on the executor model: every position
(prompt tokens fed, then trace tokens emitted, each one forward pass) is
timed, and the cost per token is measured in windows between geometrically
spaced positions. Since the model is causal, the token at position ``n``
costs the same whatever follows it, so one run to the longest length gives
the whole curve. Three costs per token are recorded: wall time of the
forward pass, time spent in the hard-max lookups alone, and the lookups'
dot products (linear: ``n`` per head; hull: the comparisons of its
bisections). A least-squares line through ``log cost`` against ``log n``
gives each slope. Linear decoding stops when its time budget is spent.

The workload is a counting loop when the executor runs loops; otherwise the
longest straight-line program its prompt bounds admit (the series says which
and why: there the prompt, not the trace, holds most positions).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psionic.core.errors import Refusal
from psionic.core.manifest import RuntimeManifest
from psionic.tassadar import trace as tr
from psionic.tassadar.entry import resolve_entry
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.attention import MODES, HardMaxHeads, HeadId, LinearAttention
from psionic.tassadar.executor.decode import MAX_STEP_TOKENS, default_model
from psionic.tassadar.executor.model import Model, Session
from psionic.tassadar.executor.prompt import Prompt, lay_out
from psionic.tassadar.ingress import load_wat

HULL_BAR = 0.15  # the hull's per-token cost may grow at most like n^0.15
LINEAR_BAR = 0.8  # brute force must show its O(n)
FIT_FROM = 1000  # positions below this are dominated by start-up and left out of the fit


class _Metered(HardMaxHeads):
    """A lookup with a stopwatch and a dot-product counter around it."""

    def __init__(self, inner: HardMaxHeads) -> None:
        super().__init__(inner.heads, inner.capacity)
        self.inner = inner
        self.seconds = 0.0
        self.linear_dots = 0

    def insert(self, position: int, keys: np.ndarray) -> None:
        t = time.perf_counter()
        self.inner.insert(position, keys)
        self.seconds += time.perf_counter() - t

    def query(self, queries: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        out = self.inner.query(queries)
        self.seconds += time.perf_counter() - t
        if isinstance(self.inner, LinearAttention):  # it scores every key of every head
            self.linear_dots += len(self.heads) * self.inner.n
        return out

    @property
    def dot_products(self) -> int:
        return self.linear_dots + int(getattr(self.inner, "dot_products", 0))


@dataclass(frozen=True, slots=True)
class Workload:
    kind: str  # "loop" or "straight-line"
    wat: str
    args: tuple[int, ...]
    prompt: Prompt
    note: str


def loop_wat() -> str:
    return ('(module (func (export "run") (param i32) (result i32) (local i32) '
            '(loop $l local.get 1 i32.const 1 i32.add local.set 1 '
            'local.get 0 i32.const 1 i32.sub local.tee 0 br_if $l) local.get 1))')


def straight_wat(statements: int) -> str:
    body = []
    for s in range(statements):
        body.append(f"local.get 0 i32.const {s * 2654435761 & 0x7FFFFFFF} i32.add local.set 1 "
                    "local.get 1 local.get 0 i32.xor local.set 0")
    return ('(module (func (export "run") (param i32) (result i32) (local i32) '
            + " ".join(body) + " local.get 0))")


def prompt_for(wat: str, args: tuple[int, ...], max_steps: int) -> Prompt:
    program = load_wat(wat)
    index = resolve_entry(program.program.module, "run")
    return lay_out(program.program, index, list(args), max_steps)


def choose_workload(target_steps: int) -> Workload:
    """A loop of about ``target_steps`` steps, or the longest straight-line program admitted."""
    wat, n = loop_wat(), max(target_steps // 9, 1)  # nine steps per iteration
    try:
        prompt = prompt_for(wat, (n,), 9 * n + 64)
        return Workload("loop", wat, (n,), prompt, f"counting loop, {n} iterations")
    except Refusal as e:
        why = f"loops refused by the executor ({e.code}: {e.message})"
    statements = (L.NUM_LIMIT - 8) // 8  # 8 records each; the prompt admits NUM_LIMIT - 3
    wat = straight_wat(statements)
    prompt = prompt_for(wat, (12345,), L.NUM_LIMIT)
    return Workload("straight-line", wat, (12345,), prompt,
                    f"{why}; straight-line program of {8 * statements} instructions instead: "
                    "the prompt (19 tokens per instruction) holds most positions")


def token_budget(prompt: Prompt) -> int:
    """The most tokens a run may emit: a bound's worth of the longest steps, within positions."""
    return min(L.MAX_POSITION - len(prompt.tokens), MAX_STEP_TOKENS * (prompt.steps_bound + 1) + 2)


def ladder(work: Workload, rungs: int = 12) -> list[tuple[str, tuple[int, ...], Prompt]]:
    """Programs of the workload's kind at geometrically growing lengths, up to its own."""
    out: list[tuple[str, tuple[int, ...], Prompt]] = []
    if work.kind == "loop":
        top = work.args[0]
        for n in sorted({max(int(top ** (i / (rungs - 1))), 1) for i in range(rungs)}):
            out.append((work.wat, (n,), prompt_for(work.wat, (n,), 9 * n + 64)))
        return out
    top = (L.NUM_LIMIT - 8) // 8
    for k in sorted({max(int(top ** (i / (rungs - 1))), 1) for i in range(rungs)}):
        wat = straight_wat(k)
        out.append((wat, work.args, prompt_for(wat, work.args, L.NUM_LIMIT)))
    return out


def compiled_runs(model: Model, work: Workload, lookup: str, budget_s: float) -> dict[str, Any]:
    """Whole runs of growing length in the compiled decode loop (``executor/compiled.py``): the
    mean cost per position of each run against its length; starts no run that the previous
    run predicts would end past ``budget_s``."""
    from psionic.tassadar.executor.compiled import OK, compiled_model, run

    cm = compiled_model(model)
    rows: dict[str, Any] = {"lookup": lookup, "positions": [], "seconds": [], "cpu_seconds": [],
                            "seconds_per_token": [], "dot_products_per_token": [],
                            "trace_digests": [], "stopped_early": False}
    spent = 0.0
    rungs = ladder(work)
    first = rungs[0][2]
    run(cm, first.tokens, token_budget(first), lookup)  # compile
    growth = 2 if lookup == "linear" else 1  # a whole run's time against its length: n^2 or n
    last_size, last_seconds = 0, 0.0
    for _wat, _args, prompt in rungs:
        # start no run that would end past the budget: the last run's time, scaled by the
        # growth of (step bound + prompt), predicts this one's
        size = prompt.steps_bound + len(prompt.tokens)
        predicted = last_seconds * (size / last_size) ** growth if last_size else 0.0
        if spent + predicted > budget_s:
            rows["stopped_early"] = True
            break
        cpu = time.process_time()
        done = run(cm, prompt.tokens, token_budget(prompt), lookup)
        cpu = time.process_time() - cpu
        seconds = done.prefill_seconds + done.decode_seconds
        spent += seconds
        last_size, last_seconds = size, seconds
        if done.status != OK:
            rows["refused"] = f"status {done.status}"
            break
        tokens, dots = done.tokens, done.dot_products
        n = len(prompt.tokens) + len(tokens)
        rows["positions"].append(n)
        rows["seconds"].append(round(seconds, 6))
        rows["cpu_seconds"].append(round(cpu, 6))  # this process alone: less exposed to load
        rows["seconds_per_token"].append(seconds / n)
        rows["dot_products_per_token"].append(dots / n)
        rows["trace_digests"].append(tr.trace_digest(tokens))
    rows["tokens_per_s"] = [round(p / s) for p, s in zip(rows["positions"], rows["seconds"],
                                                          strict=True)]
    rows["tokens_per_cpu_s"] = [round(p / s) if s else None
                                for p, s in zip(rows["positions"], rows["cpu_seconds"], strict=True)]
    rows["slopes"] = {k: slope(rows["positions"], rows[k])
                      for k in ("seconds_per_token", "dot_products_per_token")}
    return rows


def reference_digests(work: Workload, count: int) -> list[str]:
    """Trace digests of the first ``count`` ladder programs on the reference interpreter (run
    after the timed decodes, never during them)."""
    from psionic.tassadar.interpreter import Machine

    out = []
    for wat, args, _prompt in ladder(work)[:count]:
        program = load_wat(wat)
        out.append(tr.trace_digest(Machine(program.program).run("run", list(args)).tokens))
    return out


@dataclass
class Series:
    # filled in while the run goes (mutable until the run ends)
    mode: str
    positions: list[float] = field(default_factory=list)  # window centres (geometric mean)
    seconds_per_token: list[float] = field(default_factory=list)
    attention_seconds_per_token: list[float] = field(default_factory=list)
    dot_products_per_token: list[float] = field(default_factory=list)
    tokens: int = 0  # positions processed (prompt and trace)
    trace_tokens: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    halted: bool = False
    slopes: dict[str, float | None] = field(default_factory=dict)


def _checkpoints(limit: int) -> list[int]:
    points, p = [], 64.0
    while p < limit:
        points.append(int(p))
        p *= 1.25
    return [*sorted(set(points)), limit]


def run_series(model: Model, prompt: Prompt, mode: str, budget_s: float,
               emitted: list[int]) -> Series:
    """Decode ``prompt`` with attention ``mode``, timing windows of positions; the emitted
    tokens are appended to ``emitted``."""
    meters: list[_Metered] = []

    def factory(heads: tuple[HeadId, ...], capacity: int) -> HardMaxHeads:
        meters.append(_Metered(MODES[mode](heads, capacity)))
        return meters[-1]

    max_trace = token_budget(prompt)
    total = len(prompt.tokens) + max_trace
    session = Session(model, total, factory)
    series = Series(mode)
    marks = iter(_checkpoints(total))
    next_mark = next(marks)
    last = (0, 0.0, 0.0, 0)
    ends = set(range(tr.HALT_ID, tr.OP_BASE))
    started = time.perf_counter()

    def record(pos: int) -> bool:
        nonlocal last, next_mark
        now = time.perf_counter() - started
        att = sum(m.seconds for m in meters)
        dots = sum(m.dot_products for m in meters)
        p0, t0, a0, d0 = last
        span = pos - p0
        series.positions.append(math.sqrt(max(p0, 1) * pos))
        series.seconds_per_token.append((now - t0) / span)
        series.attention_seconds_per_token.append((att - a0) / span)
        series.dot_products_per_token.append((dots - d0) / span)
        last = (pos, now, att, dots)
        next_mark = next(marks, total + 1)
        return now > budget_s

    pos = 0
    x = None
    stop = False
    for token in prompt.tokens:
        x = session.feed(token)
        pos += 1
        if pos == next_mark and record(pos):
            stop = True
            break
    while not stop and x is not None:
        token = session.next_token(x)
        emitted.append(token)
        if token in ends:
            series.halted = True
            break
        x = session.feed(token)
        pos += 1
        if pos == next_mark and record(pos):
            stop = True
    series.tokens = pos
    series.trace_tokens = len(emitted)
    series.seconds = round(time.perf_counter() - started, 3)
    series.stopped_early = stop and not series.halted
    return series


def slope(xs: list[float], ys: list[float], start: float = FIT_FROM) -> float | None:
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x >= start and y > 0]
    if len(pts) < 3:
        return None
    a = np.array(pts)
    return round(float(np.polyfit(a[:, 0], a[:, 1], 1)[0]), 4)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right, third) = plt.subplots(1, 3, figsize=(18, 4.8))
    colours = {"linear": "tab:red", "hull": "tab:blue"}
    for mode, s in result["series"].items():
        c = colours.get(mode)
        sl = s["slopes"]
        left.loglog(s["positions"], s["seconds_per_token"], "o-", ms=3, color=c,
                    label=f"{mode}: forward pass (slope {sl['seconds_per_token']})")
        left.loglog(s["positions"], s["attention_seconds_per_token"], "--", color=c,
                    label=f"{mode}: hard-max lookups (slope {sl['attention_seconds_per_token']})")
        right.loglog(s["positions"], s["dot_products_per_token"], "o-", ms=3, color=c,
                     label=f"{mode} (slope {sl['dot_products_per_token']})")
    for lookup, rows in result.get("compiled_runs", {}).items():
        c = colours.get(lookup)
        sl = rows["slopes"]
        third.loglog(rows["positions"], rows["seconds_per_token"], "s-", ms=4, color=c,
                     label=f"{lookup}: time (slope {sl['seconds_per_token']})")
        right.loglog(rows["positions"], rows["dot_products_per_token"], "s:", ms=4, color=c,
                     label=f"compiled {lookup}, mean of whole runs "
                     f"(slope {sl['dot_products_per_token']})")
    third.set(xlabel="run length (positions)", ylabel="mean seconds per token",
              title="compiled decode loop: whole runs")
    left.set(xlabel="position n (tokens so far)", ylabel="seconds per token",
             title="numpy forward pass: per-token time")
    right.set(xlabel="position n (tokens so far)", ylabel="attention dot products per token",
              title="attention work per token")
    for ax in (left, right, third):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    refused = "; the executor refuses loops" if result["workload"]["kind"] != "loop" else ""
    fig.suptitle(f"Tassadar executor, {result['workload']['kind']} workload "
                 f"({result['workload']['positions']} positions{refused})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bench_scaling(out_dir: Path, target_steps: int = 1_048_575, linear_budget_s: float = 120.0,
                  hull_budget_s: float = 1800.0, modes: tuple[str, ...] = ("hull", "linear"),
                  compiled_lookups: tuple[str, ...] = ("hull", "linear"),
                  compiled_budget_s: float = 3600.0,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the scaling benchmark; write ``scaling.json`` and ``scaling.png`` into ``out_dir``."""
    model = default_model()
    work = choose_workload(target_steps)
    load = os.getloadavg()
    series: dict[str, Series] = {}
    tokens: dict[str, list[int]] = {}
    for mode in modes:
        if progress:
            progress(f"{mode}: decoding up to {len(work.prompt.tokens)} prompt positions + trace")
        tokens[mode] = []
        budget = linear_budget_s if mode == "linear" else hull_budget_s
        s = run_series(model, work.prompt, mode, budget, tokens[mode])
        for key in ("seconds_per_token", "attention_seconds_per_token", "dot_products_per_token"):
            s.slopes[key] = slope(s.positions, getattr(s, key))
        series[mode] = s
    compiled = {}
    for lookup in compiled_lookups:
        if progress:
            progress(f"compiled {lookup}: whole runs of growing length")
        budget = linear_budget_s if lookup == "linear" else compiled_budget_s
        compiled[lookup] = compiled_runs(model, work, lookup, budget)
    # exactness across modes: the shorter emission is a prefix of the longer one
    agree = None
    if len(tokens) == 2:
        a, b = tokens.values()
        n = min(len(a), len(b))
        agree = a[:n] == b[:n]
    if len(compiled) == 2:
        a_d, b_d = (c["trace_digests"] for c in compiled.values())
        n = min(len(a_d), len(b_d))
        agree = bool(agree is not False and a_d[:n] == b_d[:n])
    exact: dict[str, list[bool]] = {}
    if compiled:
        longest = max(len(rows["trace_digests"]) for rows in compiled.values())
        reference = reference_digests(work, longest)
        exact = {k: [a == b for a, b in zip(rows["trace_digests"], reference, strict=False)]
                 for k, rows in compiled.items()}
    bars: dict[str, Any] = {}
    if "hull" in series:
        sl = series["hull"].slopes
        bars["hull"] = {k: (v is not None and v <= HULL_BAR) for k, v in sl.items()}
    if "linear" in series:
        sl = series["linear"].slopes
        bars["linear"] = {k: (v is not None and v >= LINEAR_BAR) for k, v in sl.items()}
    for lookup, rows in compiled.items():
        bar = (lambda v: v is not None and v <= HULL_BAR) if lookup == "hull" else \
            (lambda v: v is not None and v >= LINEAR_BAR)
        bars[f"compiled_{lookup}"] = {k: bar(v) for k, v in rows["slopes"].items()}
    result: dict[str, Any] = {
        "benchmark": "tassadar.scaling.v1",
        "workload": {"kind": work.kind, "note": work.note, "args": list(work.args),
                     "prompt_tokens": len(work.prompt.tokens),
                     "steps_bound": work.prompt.steps_bound,
                     "positions": max([s.tokens for s in series.values()] + [0])},
        "fit_from_position": FIT_FROM,
        "bars": {"hull_slope_at_most": HULL_BAR, "linear_slope_at_least": LINEAR_BAR,
                 "met": bars},
        "modes_agree_on_emitted_tokens": agree,
        "series": {m: asdict(s) for m, s in series.items()},
        "compiled_runs": compiled,
        "compiled_runs_equal_reference_trace": exact,
        "load_average_at_start": [round(v, 2) for v in load],
        "manifest": RuntimeManifest.current().to_dict(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    import json

    (out_dir / "scaling.json").write_text(json.dumps(result, indent=2, sort_keys=True))
    plot(result, out_dir / "scaling.png")
    return result
