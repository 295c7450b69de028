"""``psionic tassadar``: run Wasm programs exactly and trace them; benchmark the decode modes.

``psionic tassadar run PROGRAM`` loads a ``.wasm``, ``.wat`` or ``.c`` file,
runs it and prints the result (``--json``: one object with the result,
outputs, trap, steps, tokens, digests, timing and the receipt). A trap is a
result of the program, not a failure of the command: the exit status is 0 and
``trap`` names it. ``psionic tassadar bench reference`` prints steps/s per
workload as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tassadar", help="run and trace WebAssembly programs exactly (Tassadar)")
    verbs = p.add_subparsers(dest="tassadar_verb", metavar="VERB")

    r = verbs.add_parser("run", help="run a .wasm, .wat or .c program and trace it")
    r.add_argument("program", type=Path, help="a .wasm, .wat or .c file")
    r.add_argument("--entry", help="exported function (default: run, else a parameterless main)")
    r.add_argument("--args", nargs="*", type=_int, default=[], metavar="INT",
                   help="the entry's arguments")
    r.add_argument("--input", nargs="*", type=_int, default=[], metavar="INT",
                   help="values env.input_i32 returns, in order")
    r.add_argument("--decode", default="reference", metavar="MODE",
                   help="who executes: a registered decode mode (reference: the interpreter)")
    r.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="trap with step_limit_exceeded after N steps")
    r.add_argument("--max-memory-pages", type=int, default=None, metavar="N")
    r.add_argument("--max-call-depth", type=int, default=None, metavar="N")
    r.add_argument("--trace", type=Path, metavar="FILE",
                   help="write the trace (token ids, ABI, digests) as JSON")
    r.add_argument("--bundle", type=Path, metavar="FILE",
                   help="write a proof bundle (receipt, manifest, replay record with the program); "
                        "`psionic verify FILE` re-runs it with the other attention mode")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.set_defaults(func=run)

    b = verbs.add_parser("bench", help="steps/s of a decode mode per workload, as JSON; "
                         "`bench scaling`: per-token cost against trace length, linear vs hull")
    b.add_argument("decode", metavar="MODE",
                   help="a registered decode mode (e.g. reference, linear, hull) or `scaling`")
    b.add_argument("--out", type=Path, default=Path("tassadar_scaling"), metavar="DIR",
                   help="scaling: where scaling.json and scaling.png go")
    b.add_argument("--target-steps", type=int, default=1_048_575, metavar="N",
                   help="scaling: steps of the loop workload (when the executor runs loops)")
    b.add_argument("--linear-budget", type=float, default=120.0, metavar="S",
                   help="scaling: stop linear decoding after S seconds")
    b.add_argument("--hull-budget", type=float, default=300.0, metavar="S",
                   help="scaling: stop the numpy engine's hull decoding after S seconds")
    b.add_argument("--compiled-budget", type=float, default=3600.0, metavar="S",
                   help="scaling: start no compiled hull run predicted to end after S seconds")
    b.add_argument("--workload", action="append", default=[], metavar="NAME",
                   help="only these workloads (repeatable)")
    b.add_argument("--include-slow", action="store_true", help="also the slow workloads")
    b.add_argument("--repeat", type=int, default=1, help="best of N runs per workload")
    b.set_defaults(func=bench)

    a = verbs.add_parser("article", help="measure the article's claims (exactness per workload, "
                         "linear vs hull tokens/s, scaling slopes, model shape, long runs) "
                         "into a report folder")
    a.add_argument("--out", type=Path, default=Path("tassadar_article"), metavar="DIR",
                   help="where report.md, report.json and the plots go")
    a.add_argument("--quick", action="store_true",
                   help="a small configuration (four workloads, short loops): checks the "
                        "pipeline in a minute or two; its figures say little")
    a.add_argument("--workload", action="append", default=[], metavar="NAME",
                   help="only these corpus workloads (repeatable; default: all not marked slow)")
    a.add_argument("--corpus-token-cap", type=int, default=None, metavar="N",
                   help="list, without decoding, corpus workloads whose trace is longer than N "
                        "tokens (default 0: decode every one)")
    a.add_argument("--long-run", action="append", default=[], metavar="SPEC",
                   help="long runs instead of the default ones: a workload name or loop:STEPS "
                        "(repeatable)")
    a.set_defaults(func=article)

    w = verbs.add_parser("workloads", help="list the workload corpus")
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=workloads)

    p.set_defaults(func=lambda args: p.print_help() or 2)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from psionic.tassadar.ingress import load
    from psionic.tassadar.interpreter import Limits
    from psionic.tassadar.run import run_program
    from psionic.tassadar.trace import ABI, render

    limits = Limits()
    for field, value in (("max_steps", args.max_steps),
                         ("max_memory_pages", args.max_memory_pages),
                         ("max_call_depth", args.max_call_depth)):
        if value is not None:
            limits = replace(limits, **{field: value})
    program = load(args.program)
    report = run_program(program, args.entry, args.args, args.input, args.decode, limits)
    if args.bundle:
        from psionic.tassadar.bundle import bundle_of

        bundle = bundle_of(report, program, args.args, args.input, limits)
        args.bundle.write_text(bundle.to_json(indent=2))
    if args.trace:
        args.trace.write_text(json.dumps({
            "abi": ABI,
            "program_digest": report.program_digest,
            "trace_digest": report.trace_digest,
            "steps": report.steps,
            "tokens": list(report.outcome.tokens),
        }))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        return 0
    print(f"program  {args.program} ({program.source}) {report.program_digest}")
    print(f"entry    {report.entry}({', '.join(str(a) for a in args.args)})")
    print(f"result   {list(report.result)}" + (f"  trap: {report.trap}" if report.trap else ""))
    if report.outputs:
        print(f"outputs  {list(report.outputs)}")
    per_step = report.tokens / report.steps if report.steps else 0.0
    print(f"steps    {report.steps}  tokens {report.tokens} ({per_step:.2f}/step)  "
          f"{report.seconds:.3f}s [{report.decode}]")
    print(f"trace    {report.trace_digest}")
    if report.steps <= 12:
        print(render(report.outcome.tokens))
    return 0


def _bench_scaling(args: argparse.Namespace) -> int:
    import sys

    from psionic.tassadar.scaling import bench_scaling

    result = bench_scaling(args.out, args.target_steps, args.linear_budget, args.hull_budget,
                           compiled_budget_s=args.compiled_budget,
                           progress=lambda line: print(line, file=sys.stderr))
    summary = {k: result[k] for k in ("workload", "bars", "modes_agree_on_emitted_tokens",
                                      "load_average_at_start")}
    summary["slopes"] = {m: s["slopes"] for m, s in result["series"].items()}
    summary["tokens_per_s"] = {m: round(s["tokens"] / s["seconds"]) if s["seconds"] else None
                               for m, s in result["series"].items()}
    summary["files"] = [str(args.out / "scaling.json"), str(args.out / "scaling.png")]
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


BENCH_PROGRAMS = {"scaling": _bench_scaling}  # benchmarks other than one decode mode per workload


def bench(args: argparse.Namespace) -> int:
    from psionic.tassadar.bench import bench as run_bench

    if args.decode in BENCH_PROGRAMS:
        return BENCH_PROGRAMS[args.decode](args)

    print(json.dumps(run_bench(args.decode, args.workload or None, args.include_slow,
                               args.repeat), indent=2, sort_keys=True))
    return 0


def article(args: argparse.Namespace) -> int:
    import sys
    from dataclasses import replace

    from psionic.core.errors import InvalidInput
    from psionic.tassadar.article import DEFAULT, QUICK
    from psionic.tassadar.article import article as run_article

    config = QUICK if args.quick else DEFAULT
    if args.workload:
        config = replace(config, workloads=tuple(args.workload))
    if args.long_run:
        config = replace(config, long_runs=tuple(args.long_run))
    if args.corpus_token_cap is not None:
        if args.corpus_token_cap < 0:
            raise InvalidInput(f"--corpus-token-cap {args.corpus_token_cap}: expected N >= 0")
        config = replace(config, corpus_token_cap=args.corpus_token_cap)
    result = run_article(args.out, config, progress=lambda line: print(line, file=sys.stderr))
    print(json.dumps({"totals": result["totals"], "wall_seconds": result["wall_seconds"],
                      "long_runs": {r["run"]: r["status"] for r in result["long_runs"]},
                      "files": [str(args.out / f) for f in ("report.md", "report.json",
                                                            "throughput.png", "scaling.png")]},
                     indent=2, sort_keys=True))
    return 0


def workloads(args: argparse.Namespace) -> int:
    from psionic.tassadar.workloads import WORKLOADS

    rows = [{"name": w.name, "file": str(w.path), "entry": w.entry, "args": list(w.args),
             "inputs": len(w.inputs), "slow": w.slow, "note": w.note} for w in WORKLOADS.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        mark = " (slow)" if row["slow"] else ""
        print(f"{row['name']:<24} {Path(str(row['file'])).name:<26} args={row['args']}{mark}")
    return 0
