"""An eval run: plan the session, play each sample against the subject, score it, append it, resume.

The run's settings go to ``run.json`` first; each sample is appended to
``samples.jsonl`` the moment it is scored or fails (an error or timeout is
recorded for that sample and the run goes on). ``resume`` checks that the
folder holds the same run (package digest, subject, seed, counts, sampling),
keeps every scored sample and plays only the rest.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psionic.environments.package import EnvironmentPackage
from psionic.environments.rubrics import RUBRICS
from psionic.environments.session import Sample, plan_session
from psionic.eval.errors import RunConflict, SampleTimeout
from psionic.eval.records import SAMPLES, append_record, latest_by_key, read_records
from psionic.eval.subjects import Subject, error_record

RUN = "run.json"
RUN_SCHEMA = "psionic.eval_run.v1"


@dataclass(frozen=True, slots=True)
class RunSettings:
    seed: int = 0
    samples: int | None = None
    repeats: int = 1
    concurrency: int = 4
    timeout_s: float = 120.0
    sampling: dict[str, Any] = field(default_factory=dict)  # overrides of the package's defaults


def run_identity(pkg: EnvironmentPackage, subject: Subject, settings: RunSettings) -> dict[str, Any]:
    """What a resumed run must share with the run it continues."""
    return {
        "schema": RUN_SCHEMA,
        "package": {"name": pkg.name, "version": pkg.version, "digest": pkg.digest, "kind": pkg.kind,
                    "rubric": pkg.rubric},
        "subject": subject.identity(),
        "seed": settings.seed, "samples": settings.samples, "repeats": settings.repeats,
        "sampling": {**pkg.sampling, **settings.sampling},
    }


def _prepare_folder(out: Path, identity: dict[str, Any], resume: bool) -> dict[str, dict[str, Any]]:
    out.mkdir(parents=True, exist_ok=True)
    run_file, samples = out / RUN, out / SAMPLES
    if not resume:
        if run_file.exists() or samples.exists():
            raise RunConflict(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
        run_file.write_text(json.dumps(identity, indent=2, sort_keys=True) + "\n")
        return {}
    if not run_file.exists():
        raise RunConflict(f"{out} holds no run to resume (no {RUN})")
    try:
        earlier = json.loads(run_file.read_text())
    except json.JSONDecodeError:
        raise RunConflict(f"{out / RUN} is not JSON") from None
    differs = sorted(k for k in identity if earlier.get(k) != identity[k])
    if differs:
        raise RunConflict(f"--resume: the run in {out} differs in {', '.join(differs)}", fields=differs)
    return latest_by_key(read_records(samples, repair=True))


def _record(sample: Sample, started: float) -> dict[str, Any]:
    return {"key": sample.key, "task_id": sample.task.id, "repeat": sample.repeat, "seed": sample.seed,
            "expected": sample.task.expected,
            "seconds": round(time.perf_counter() - started, 6), "finished_at": round(time.time(), 3)}


async def _play_one(pkg: EnvironmentPackage, subject: Subject, sample: Sample, sampling: dict[str, Any],
                    timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        played = await asyncio.wait_for(subject.play(pkg, sample, sampling), timeout_s)
    except TimeoutError:
        error = SampleTimeout(f"sample {sample.key} took longer than {timeout_s} s")
        return {**_record(sample, started), "status": "error", "error": error_record(error)}
    except Exception as e:  # recorded per sample; the run goes on
        return {**_record(sample, started), "status": "error", "error": error_record(e)}
    score = RUBRICS[pkg.rubric].score(played.answer, sample.task.expected)
    return {**_record(sample, started), "status": "scored",
            "score": {"value": score.value, "passed": score.passed, "detail": score.detail},
            "answer": played.answer.to_dict(), "turns": played.turns, "tool_results": played.tool_results}


async def _play_all(pkg: EnvironmentPackage, subject: Subject, todo: list[Sample], sampling: dict[str, Any],
                    settings: RunSettings, samples_path: Path, progress: bool) -> None:
    from tqdm import tqdm

    gate = asyncio.Semaphore(max(1, settings.concurrency))
    bar = tqdm(total=len(todo), desc=pkg.ref, unit="sample", file=sys.stderr, disable=not progress)
    scored, errors, total = 0, 0, 0.0

    async def one(sample: Sample) -> None:
        nonlocal scored, errors, total
        async with gate:
            record = await _play_one(pkg, subject, sample, sampling, settings.timeout_s)
        append_record(samples_path, record)
        if record["status"] == "scored":
            scored += 1
            total += record["score"]["value"]
        else:
            errors += 1
        bar.set_postfix(mean=f"{total / scored:.3f}" if scored else "-", errors=errors)
        bar.update(1)

    try:
        await asyncio.gather(*(one(s) for s in todo))
    finally:
        bar.close()


def run_eval(pkg: EnvironmentPackage, subject: Subject, out: Path, settings: RunSettings, resume: bool = False,
             progress: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Play the run's samples (only those not yet scored, with ``resume``); return (identity, records in plan order)."""
    identity = run_identity(pkg, subject, settings)
    done = _prepare_folder(out, identity, resume)
    plan = plan_session(pkg, settings.seed, settings.samples, settings.repeats)
    todo = [s for s in plan if done.get(s.key, {}).get("status") != "scored"]
    sampling = identity["sampling"]

    async def main() -> None:
        try:
            await _play_all(pkg, subject, todo, sampling, settings, out / SAMPLES, progress)
        finally:
            await subject.aclose()

    asyncio.run(main())
    latest = latest_by_key(read_records(out / SAMPLES))
    return identity, [latest[s.key] for s in plan if s.key in latest]
