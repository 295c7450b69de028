"""The report folder: ``report.json`` (every sample with its receipts), ``report.md`` and ``scores.png``.

Every aggregate is computed from the sample records alone and names the keys
it was computed from, so ``check_report`` can recompute each number and
re-check each receipt's digest.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from psionic.core.digest import digest_json
from psionic.core.receipts import ExecutionReceipt, ProofBundle
from psionic.environments.rubrics import RUBRICS, Answer
from psionic.eval.errors import MalformedReport
from psionic.eval.exchange import check_exchange
from psionic.eval.stats import bootstrap_ci, mean_ci_t, wilson

REPORT = "report.json"
MARKDOWN = "report.md"
PLOT = "scores.png"
REPORT_SCHEMA = "psionic.eval_report.v1"


def _r(x: float) -> float:
    return round(x, 6)


def aggregate(records: list[dict[str, Any]], planned: int) -> dict[str, Any]:
    scored = [r for r in records if r["status"] == "scored"]
    errors = [r for r in records if r["status"] != "scored"]
    out: dict[str, Any] = {
        "planned": planned, "scored": len(scored), "errors": len(errors), "missing": planned - len(records),
        "scored_keys": [r["key"] for r in scored], "error_keys": [r["key"] for r in errors],
    }
    if not scored:
        return out
    values = [r["score"]["value"] for r in scored]
    passed = sum(bool(r["score"]["passed"]) for r in scored)
    by_task: dict[str, list[float]] = defaultdict(list)
    by_repeat: dict[int, list[float]] = defaultdict(list)
    for r in scored:
        by_task[r["task_id"]].append(r["score"]["value"])
        by_repeat[r["repeat"]].append(r["score"]["value"])
    task_means = [sum(v) / len(v) for v in by_task.values()]
    repeat_means = {k: sum(v) / len(v) for k, v in sorted(by_repeat.items())}
    low, high = wilson(passed, len(scored))
    out.update({
        "mean_score": _r(sum(values) / len(values)),
        "pass_rate": _r(passed / len(scored)), "passed": passed,
        "pass_rate_ci95_wilson": [_r(low), _r(high)],
        "tasks": len(by_task),
        "mean_score_ci95_bootstrap_tasks": [_r(x) for x in bootstrap_ci(task_means) or ()],
        "repeat_means": {str(k): _r(v) for k, v in repeat_means.items()},
    })
    across = mean_ci_t(list(repeat_means.values()))
    if across is not None:
        out["mean_score_ci95_t_repeats"] = [_r(across[1]), _r(across[2])]
    return out


def error_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        if r["status"] != "scored":
            counts[r["error"]["code"]] += 1
    return dict(sorted(counts.items()))


def build_report(identity: dict[str, Any], records: list[dict[str, Any]], planned: int) -> dict[str, Any]:
    body = {"schema": REPORT_SCHEMA, "run": identity, "aggregate": aggregate(records, planned),
            "error_codes": error_counts(records), "samples": records}
    return {**body, "digest": digest_json("eval_report", body)}


def receipts_of(record: dict[str, Any]) -> list[str]:
    return [t["receipt"]["digest"] for t in record.get("turns", []) if t.get("receipt")]


def _markdown(report: dict[str, Any]) -> str:
    run, agg = report["run"], report["aggregate"]
    pkg, subject = run["package"], run["subject"]
    lines = [
        f"# Eval: {pkg['name']}@{pkg['version']} on {subject['model']}", "",
        f"- package digest: `{pkg['digest']}` (rubric `{pkg['rubric']}`)",
        f"- subject: {subject['kind']} `{subject['model']}` at {subject['endpoint']}"
        + (f", model digest `{subject['model_digest']}`" if subject.get("model_digest") else ""),
        f"- seed {run['seed']}, samples {run['samples'] or 'all'}, repeats {run['repeats']}, sampling `{json.dumps(run['sampling'], sort_keys=True)}`",
        f"- report digest: `{report['digest']}`", "",
        "| figure | value | from |", "|---|---|---|",
        f"| samples planned / scored / errors / missing | {agg['planned']} / {agg['scored']} / {agg['errors']} / {agg['missing']} | samples.jsonl |",
    ]
    if agg["scored"]:
        lines += [
            f"| mean score | {agg['mean_score']:.4f} | {agg['scored']} scored samples |",
            f"| pass rate | {agg['pass_rate']:.4f} ({agg['passed']}/{agg['scored']}), Wilson 95% [{agg['pass_rate_ci95_wilson'][0]:.3f}, {agg['pass_rate_ci95_wilson'][1]:.3f}] | passed flags |",
            f"| mean score, bootstrap 95% over {agg['tasks']} tasks | [{agg['mean_score_ci95_bootstrap_tasks'][0]:.3f}, {agg['mean_score_ci95_bootstrap_tasks'][1]:.3f}] | per-task means |",
            f"| mean score per repeat | {', '.join(f'{v:.3f}' for v in agg['repeat_means'].values())} | repeats {', '.join(agg['repeat_means'])} |",
        ]
        if "mean_score_ci95_t_repeats" in agg:
            low, high = agg["mean_score_ci95_t_repeats"]
            lines.append(f"| mean score, t 95% across repeats | [{low:.3f}, {high:.3f}] | repeat means |")
    if report["error_codes"]:
        lines += ["", "Errors by code: " + ", ".join(f"`{k}` {v}" for k, v in report["error_codes"].items())]
    lines += ["", "## Samples", "", "| sample | score | passed | detail | receipts |", "|---|---|---|---|---|"]
    for r in report["samples"]:
        if r["status"] == "scored":
            digests = " ".join(f"`{d[7:19]}`" for d in receipts_of(r)) or "-"
            detail = r["score"]["detail"].replace("|", "\\|")
            lines.append(f"| {r['key']} | {r['score']['value']:.2f} | {'yes' if r['score']['passed'] else 'no'} | {detail} | {digests} |")
        else:
            message = r["error"]["message"].replace("|", "\\|")[:120]
            lines.append(f"| {r['key']} | error | - | `{r['error']['code']}`: {message} | - |")
    return "\n".join(lines) + "\n"


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [r for r in report["samples"] if r["status"] == "scored"]
    by_task: dict[str, list[float]] = defaultdict(list)
    for r in scored:
        by_task[r["task_id"]].append(r["score"]["value"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist([sum(v) / len(v) for v in by_task.values()], bins=[i / 10 for i in range(11)], color="#4c72b0",
              edgecolor="white")
    left.set(title="score per task (mean over repeats)", xlabel="score", ylabel="tasks", xlim=(0, 1))
    means = report["aggregate"].get("repeat_means", {})
    right.bar(list(means), list(means.values()), color="#55a868")
    right.set(title="mean score per repeat", xlabel="repeat", ylabel="mean score", ylim=(0, 1))
    run = report["run"]
    fig.suptitle(f"{run['package']['name']}@{run['package']['version']} on {run['subject']['model']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(out: Path, report: dict[str, Any]) -> None:
    (out / REPORT).write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    (out / MARKDOWN).write_text(_markdown(report))
    _plot(report, out / PLOT)


def load_report(path: Path) -> dict[str, Any]:
    """A report folder's (or file's) report, with its digest checked."""
    file = path / REPORT if path.is_dir() else path
    try:
        report = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MalformedReport(f"{file}: cannot read a report ({e})") from None
    if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
        raise MalformedReport(f"{file}: not a psionic eval report (schema {REPORT_SCHEMA!r})")
    body = {k: v for k, v in report.items() if k != "digest"}
    if digest_json("eval_report", body) != report.get("digest"):
        raise MalformedReport(f"{file}: the report's content does not match its digest")
    return report


def _check_bundle(key: str, turn: dict[str, Any]) -> None:
    """The server's proof bundle binds its receipt, and the answer's text is the output it binds."""
    bundle = ProofBundle.from_dict(turn["bundle"])  # digests of manifest, request and output
    if bundle.receipt.digest != (turn.get("receipt") or {}).get("digest"):
        raise MalformedReport(f"sample {key}: the proof bundle is not the receipt's")
    text = bundle.replay["output"]["choices"][0]["text"]
    calls = [c.get("function", {}).get("name", "") for c in turn["message"].get("tool_calls") or []]
    if not _pieces_in_order(turn["message"].get("content") or "", text) or not all(n in text for n in calls):
        raise MalformedReport(f"sample {key}: the answer is not the output the receipt binds")


def _pieces_in_order(content: str, text: str) -> bool:
    """Whether each line of ``content`` occurs in ``text``, in order: the server cuts tool calls out of its text."""
    at = 0
    for piece in (line.strip() for line in content.splitlines()):
        if piece:
            at = text.find(piece, at)
            if at < 0:
                return False
            at += len(piece)
    return True


def answer_from(data: dict[str, Any]) -> Answer:
    result = data.get("result")
    return Answer(data.get("text", ""), tuple(data.get("tool_calls", [])),
                  tuple(int(v) for v in result) if result is not None else None, data.get("trap"))


def check_report(report: dict[str, Any]) -> dict[str, int]:
    """Recompute every aggregate and score from the samples and check every receipt; raise naming the first problem."""
    samples = report["samples"]
    rubric = RUBRICS[report["run"]["package"]["rubric"]]
    for r in samples:
        if r["status"] == "scored":
            score = rubric.score(answer_from(r["answer"]), r["expected"])
            if [score.value, score.passed, score.detail] != [r["score"][k] for k in ("value", "passed", "detail")]:
                raise MalformedReport(f"sample {r['key']}: its answer scores {score}, not the recorded {r['score']}")
    again = aggregate(samples, report["aggregate"]["planned"])
    for name, value in again.items():
        if report["aggregate"].get(name) != value:
            raise MalformedReport(f"aggregate {name!r} is {report['aggregate'].get(name)!r}, the samples give {value!r}")
    receipts = exchanges = 0
    for r in samples:
        for turn in r.get("turns", []):
            if turn.get("receipt"):
                ExecutionReceipt.from_dict(turn["receipt"])  # structure and digest
                receipts += 1
            if turn.get("bundle"):
                _check_bundle(r["key"], turn)
            if turn.get("exchange"):
                check_exchange(turn["exchange"], turn["request"], turn["response"])
                served = turn["exchange"]["facts"].get("served_receipt")
                if served is not None and (turn.get("receipt") or {}).get("digest") != served:
                    raise MalformedReport(f"sample {r['key']}: the kept receipt is not the one the server sent")
                exchanges += 1
        if r["status"] == "scored" and not r.get("turns"):
            raise MalformedReport(f"sample {r['key']} is scored but has no turns")
    return {"samples": len(samples), "receipts": receipts, "exchanges": exchanges}
