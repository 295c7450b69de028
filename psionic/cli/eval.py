"""``psionic eval``: run a package against a model or endpoint, compare two reports, check one, list packages.

``psionic eval run PACKAGE --model MODEL`` writes a report folder
(``run.json``, ``samples.jsonl``, ``report.json``, ``report.md``,
``scores.png``); ``--resume`` continues a run in the same folder, playing
only the samples not yet scored. ``psionic eval compare A B`` pairs two
reports sample by sample. ``psionic eval check REPORT`` recomputes every
number of a report from its samples and re-checks every receipt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate models on environment packages; compare reports")
    verbs = p.add_subparsers(dest="eval_verb", metavar="VERB")

    r = verbs.add_parser("run", help="run a package against a model or an OpenAI-compatible endpoint")
    r.add_argument("package", help="a package directory or a built-in package name (see `psionic eval packages`)")
    r.add_argument("--model", "-m", required=True,
                   help="a catalog name or GGUF path (in process); the model name at --endpoint; "
                        "tassadar:MODE for Tassadar packages")
    r.add_argument("--endpoint", metavar="URL", help="an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    r.add_argument("--adapter", metavar="NAME=PATH",
                   help="a LoRA adapter (PEFT directory) on the local model; requests go to MODEL:NAME")
    r.add_argument("--api-key", default=os.environ.get("PSIONIC_EVAL_API_KEY"), help=argparse.SUPPRESS)
    r.add_argument("--samples", "-n", type=int, metavar="N", help="tasks to play (default: all)")
    r.add_argument("--repeats", "-k", type=int, default=1, metavar="K", help="plays of each task, each with its own seed")
    r.add_argument("--concurrency", "-c", type=int, default=4, metavar="C", help="samples in flight at once")
    r.add_argument("--seed", type=int, default=0, help="picks the samples and their sampling seeds")
    r.add_argument("--temperature", type=float, help="override the package's sampling temperature")
    r.add_argument("--max-tokens", type=int, help="override the package's max_tokens")
    r.add_argument("--timeout", type=float, default=120.0, metavar="S", help="seconds one sample may take")
    r.add_argument("--out", "-o", type=Path, help="report folder (default: eval-runs/PACKAGE-MODEL)")
    r.add_argument("--resume", action="store_true", help="continue the run in --out, keeping scored samples")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--json", action="store_true", help="print the aggregate as JSON")
    r.set_defaults(func=run)

    c = verbs.add_parser("compare", help="pair two reports of the same package sample by sample")
    c.add_argument("a", type=Path, help="report folder or report.json (A)")
    c.add_argument("b", type=Path, help="report folder or report.json (B)")
    c.add_argument("--out", "-o", type=Path, help="write compare.json and compare.md here")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=compare)

    k = verbs.add_parser("check", help="recompute a report's numbers from its samples and re-check its receipts")
    k.add_argument("report", type=Path)
    k.set_defaults(func=check)

    ls = verbs.add_parser("packages", help="list the built-in packages")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=packages)

    p.set_defaults(func=lambda args: p.print_help() or 2)


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)


def run(args: argparse.Namespace) -> int:
    from psionic.core.errors import InvalidInput
    from psionic.environments.session import plan_session
    from psionic.eval.builtin import resolve_package
    from psionic.eval.report import build_report, write_report
    from psionic.eval.runner import RunSettings, run_eval
    from psionic.eval.subjects import open_subject

    for name in ("samples", "repeats", "concurrency"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InvalidInput(f"--{name} must be at least 1", param=name)
    pkg = resolve_package(args.package)
    sampling = {k: v for k, v in (("temperature", args.temperature), ("max_tokens", args.max_tokens)) if v is not None}
    settings = RunSettings(args.seed, args.samples, args.repeats, args.concurrency, args.timeout, sampling)
    suffix = f"-{args.adapter.partition('=')[0]}" if args.adapter else ""
    out = args.out or Path("eval-runs") / _safe(f"{pkg.name}-{Path(args.model).stem}{suffix}")
    adapter = None
    if args.adapter is not None:
        name, sep, path = args.adapter.partition("=")
        if not sep or not name or not path:
            raise InvalidInput(f"--adapter must be NAME=PATH, got {args.adapter!r}", param="adapter")
        adapter = (name, path)
    subject = open_subject(pkg, args.model, args.endpoint, args.timeout, args.api_key, adapter)
    identity, records = run_eval(pkg, subject, out, settings, resume=args.resume, progress=not args.no_progress)
    report = build_report(identity, records, len(plan_session(pkg, args.seed, args.samples, args.repeats)))
    write_report(out, report)
    agg = report["aggregate"]
    if args.json:
        print(json.dumps({"out": str(out), "digest": report["digest"], "aggregate": agg, "error_codes": report["error_codes"]},
                         indent=2, sort_keys=True))
        return 0
    summary = f"{pkg.ref} on {subject.model}: {agg['scored']}/{agg['planned']} scored, {agg['errors']} errors"
    if agg["scored"]:
        low, high = agg["mean_score_ci95_bootstrap_tasks"]
        summary += f"; mean score {agg['mean_score']:.4f} (95% [{low:.3f}, {high:.3f}]), pass rate {agg['pass_rate']:.4f}"
    print(summary)
    print(f"report: {out}/report.md")
    return 0


def compare(args: argparse.Namespace) -> int:
    from psionic.eval.compare import compare_reports, markdown
    from psionic.eval.report import load_report

    result = compare_reports(load_report(args.a), load_report(args.b))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "compare.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        (args.out / "compare.md").write_text(markdown(result))
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2, sort_keys=True))
    else:
        sys.stdout.write(markdown(result))
    return 0


def check(args: argparse.Namespace) -> int:
    from psionic.eval.report import check_report, load_report

    counts = check_report(load_report(args.report))
    print(f"checked: {counts['samples']} samples, {counts['receipts']} served receipts, "
          f"{counts['exchanges']} exchange receipts; every aggregate and score recomputes")
    return 0


def packages(args: argparse.Namespace) -> int:
    from psionic.eval.builtin import builtin_names, resolve_package

    rows: list[dict[str, Any]] = []
    for name in builtin_names():
        pkg = resolve_package(name)
        rows.append({"name": pkg.name, "version": pkg.version, "kind": pkg.kind, "rubric": pkg.rubric,
                     "tasks": len(pkg.tasks), "digest": pkg.digest, "description": pkg.description})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['name']}@{row['version']}  {row['kind']:8} {row['rubric']:13} {row['tasks']:4} tasks  "
                  f"{row['digest'][:23]}...  {row['description']}")
    return 0
