"""The LoRA demonstration: SmolLM2 learns to answer in one fixed JSON shape.

``run_demo`` writes the generated dataset (``demo_task``), measures the base
model on the held-out split (greedy answers, exact JSON match and field
accuracy), trains a LoRA adapter with ``train_lora``, measures again with the
adapter attached, and writes ``demo.json`` with both results, the timings,
the adapter digest and the machine's load.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from psionic.core.atomic import atomic_write_bytes
from psionic.core.manifest import available_cpus
from psionic.data.records import Example
from psionic.models.generate import Generation
from psionic.models.loader import LoadedModel, load_model
from psionic.models.sampling import SamplingParams
from psionic.train.demo_task import make_records, score_answer, write_jsonl
from psionic.train.lora import LoRARun, prepare_data, train_lora

DEMO_RUN = LoRARun(
    model="smollm2-135m-instruct", data=Path("people.jsonl"), out=Path("."), steps=30, rank=8, alpha=16.0,
    targets=("q_proj", "k_proj", "v_proj", "o_proj"), lr=2e-3, warmup=5, row_length=192,
    eval_fraction=0.08, max_eval_records=20, checkpoint_every=10, eval_every=10,
)
DEMO_RECORDS = 320
ANSWER_TOKENS = 40


@dataclass(frozen=True, slots=True)
class Score:
    exact: float
    fields: float
    samples: int
    seconds: float
    answers: tuple[str, ...]


def held_out_score(loaded: LoadedModel, examples: Sequence[Example]) -> Score:
    """Greedy answers to each held-out record's user turn, scored against its assistant turn."""
    start = time.perf_counter()
    exact = fields = 0.0
    answers = []
    for e in examples:
        prompt = [{"role": m.role, "content": m.content} for m in e.messages if m.role != "assistant"]
        ids = loaded.tokenizer.encode(loaded.render_chat(prompt))
        text = Generation(loaded, ids, SamplingParams(temperature=0.0, max_tokens=ANSWER_TOKENS)).run().text
        expected = json.loads(next(m.content for m in e.messages if m.role == "assistant"))
        hit, share = score_answer(text, expected)
        exact += hit
        fields += share
        answers.append(text)
    n = max(1, len(examples))
    return Score(exact / n, fields / n, len(examples), time.perf_counter() - start, tuple(answers))


def run_demo(out: Path, steps: int | None = None, progress: bool = True,
             log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    data = out / "people.jsonl"
    write_jsonl(data, make_records(DEMO_RECORDS, seed=0))
    run = replace(DEMO_RUN, data=data, out=out / "run", progress=progress,
                  steps=steps if steps is not None else DEMO_RUN.steps)
    started = time.perf_counter()
    load_before = os.getloadavg()
    loaded = load_model(run.model)
    held_out = prepare_data(loaded, run).eval_examples
    log(f"base model on {len(held_out)} held-out records...")
    before = held_out_score(loaded, held_out)
    log(f"base: exact {before.exact:.2f}, fields {before.fields:.2f} ({before.seconds:.0f} s)")
    result = train_lora(run, loaded=loaded, log=log)
    after = held_out_score(loaded, held_out)
    log(f"adapted: exact {after.exact:.2f}, fields {after.fields:.2f} ({after.seconds:.0f} s)")
    report = {
        "task": "answer with {name, age, city, job} as compact JSON",
        "model": run.model,
        "before": asdict(before),
        "after": asdict(after),
        "train": {"steps": result.train.step, "tokens": result.train.tokens,
                  "seconds": round(result.train.seconds, 1), "eval_losses": result.train.eval_losses,
                  "run": result.train.run_digest},
        "adapter": str(result.adapter),
        "adapter_digest": result.adapter_digest,
        "dataset": result.dataset_digest,
        "lora": {"rank": run.rank, "alpha": run.alpha, "targets": list(run.targets), "lr": run.lr,
                 "row_length": run.row_length},
        "seconds_total": round(time.perf_counter() - started, 1),
        "machine": {"cpus": available_cpus(), "loadavg_start": load_before, "loadavg_end": os.getloadavg()},
    }
    atomic_write_bytes(out / "demo.json", (json.dumps(report, indent=2) + "\n").encode())
    return report
