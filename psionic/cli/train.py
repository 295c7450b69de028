"""``psionic train``: LoRA fine-tuning with a fixed budget, checkpoints and receipts.

``psionic train lora --model M --data FILE`` trains an adapter on a JSONL chat
or completion dataset (or a dataset manifest), shows progress, and ends with
the adapter's folder (PEFT layout: ``adapter_config.json``,
``adapter_model.safetensors``) and its digest, which ``psionic serve
--adapter NAME=DIR`` and ``psionic generate --adapter DIR`` take as they are.
``--resume`` continues from the newest intact checkpoint in ``--out`` (to a new
``--steps``/``--max-tokens`` budget if given). ``--backend torch --precision
bf16`` trains on torch (CUDA when present) with bf16 products over the frozen
quantized base; ``--batch-size`` puts several packed rows in each micro-step.
``psionic train demo`` runs the JSON-shape
demonstration on SmolLM2 and prints the held-out metric before and after.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from psionic.core.errors import InvalidInput


def _targets(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError("give at least one target module")
    return names


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune LoRA adapters with checkpoints and receipts")
    verbs = p.add_subparsers(dest="train_verb", metavar="VERB")

    lo = verbs.add_parser("lora", help="train a LoRA adapter on a JSONL dataset")
    lo.add_argument("--model", required=True, metavar="M", help="catalog name or .gguf path")
    lo.add_argument("--data", required=True, type=Path, metavar="FILE",
                    help="JSONL chat/completion file, a folder of them, or a dataset manifest (.json)")
    lo.add_argument("--steps", type=int, default=100, metavar="N", help="optimizer steps (default 100)")
    lo.add_argument("--max-tokens", type=int, default=None, metavar="N", help="also stop after N tokens")
    lo.add_argument("--max-seconds", type=float, default=None, metavar="S",
                    help="also stop after S seconds of training (the schedule still spans --steps)")
    lo.add_argument("--rank", type=int, default=8, metavar="R", help="LoRA rank (default 8)")
    lo.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha (default 16)")
    lo.add_argument("--dropout", type=float, default=0.0, help="LoRA dropout in training (default 0)")
    lo.add_argument("--targets", type=_targets, default=("q_proj", "v_proj"), metavar="A,B",
                    help="projections to adapt: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj "
                         "(default q_proj,v_proj)")
    lo.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine schedule)")
    lo.add_argument("--row-length", type=int, default=256, metavar="T", help="packed row length")
    lo.add_argument("--grad-accum", type=int, default=1, metavar="K",
                    help="micro-batches per optimizer step")
    lo.add_argument("--batch-size", type=int, default=1, metavar="B", help="packed rows per micro-batch")
    lo.add_argument("--backend", default="cpu", help="cpu (default) or torch (CUDA when present)")
    lo.add_argument("--precision", default="f32",
                    help="f32 (default); bf16 or f16 where the backend trains in them (torch)")
    lo.add_argument("--eval-fraction", type=float, default=0.1, metavar="F")
    lo.add_argument("--eval-every", type=int, default=0, metavar="N")
    lo.add_argument("--checkpoint-every", type=int, default=25, metavar="N")
    lo.add_argument("--seed", type=int, default=0)
    lo.add_argument("--out", type=Path, default=Path("runs/lora"), metavar="DIR")
    lo.add_argument("--resume", action="store_true", help="continue from the newest intact checkpoint")
    lo.add_argument("--no-progress", action="store_true")
    lo.add_argument("--json", action="store_true", help="print the result as one JSON object")
    lo.set_defaults(func=lora)

    d = verbs.add_parser("demo", help="LoRA on SmolLM2 for a JSON-shape task: held-out metric before/after")
    d.add_argument("--out", type=Path, default=Path("runs/demo"), metavar="DIR")
    d.add_argument("--steps", type=int, default=None, metavar="N", help="override the demo's 30 steps")
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(func=demo)

    p.set_defaults(func=lambda args: p.print_help() or 2)


def lora(args: argparse.Namespace) -> int:
    from psionic.train.lora import LoRARun, train_lora

    if args.steps < 1 or args.rank < 1 or args.batch_size < 1 or args.grad_accum < 1:
        raise InvalidInput("--steps, --rank, --batch-size and --grad-accum must be at least 1")
    run = LoRARun(
        model=args.model, data=args.data, out=args.out, steps=args.steps, rank=args.rank,
        max_tokens=args.max_tokens, max_seconds=args.max_seconds,
        alpha=args.alpha, dropout=args.dropout, targets=args.targets, lr=args.lr, row_length=args.row_length,
        grad_accum=args.grad_accum, batch_size=args.batch_size, backend=args.backend,
        precision=args.precision, eval_fraction=args.eval_fraction, eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every, seed=args.seed, progress=not args.no_progress,
    )
    result = train_lora(run, resume=args.resume)
    t = result.train
    if args.json:
        print(json.dumps({
            "adapter": str(result.adapter), "adapter_digest": result.adapter_digest,
            "dataset": result.dataset_digest, "steps": t.step, "stopped_by": t.stopped_by, "tokens": t.tokens,
            "final_loss": t.final_loss, "eval_losses": t.eval_losses, "run": t.run_digest,
            "param_digest": t.param_digest, "resumed_from": t.resumed_from,
            "seconds": round(t.seconds, 2), "plot": str(t.plot) if t.plot else None,
            "backend": t.facts.get("backend"), "precision": t.facts.get("precision"),
            "batch_size": t.facts.get("batch_size"), "skipped_steps": t.facts.get("skipped_steps"),
        }))
        return 0
    evals = f", eval loss {t.eval_losses[-1][1]:.4f}" if t.eval_losses else ""
    loss = "n/a" if t.final_loss is None else f"{t.final_loss:.4f}"
    print(f"stopped by the {t.stopped_by} budget; trained {t.step} steps ({t.tokens} tokens, "
          f"{t.seconds:.0f} s, {t.facts.get('backend')} {t.facts.get('precision')}), loss {loss}{evals}")
    print(f"log {t.out_dir / 'log.jsonl'}, receipts {t.out_dir / 'receipts.jsonl'}, plot {t.plot}")
    print(f"adapter {result.adapter} {result.adapter_digest}")
    return 0


def demo(args: argparse.Namespace) -> int:
    from psionic.train.demo import run_demo

    report = run_demo(args.out, steps=args.steps, progress=not args.no_progress)
    b, a = report["before"], report["after"]
    print(json.dumps({k: v for k, v in report.items() if k not in ("before", "after")}
                     | {"before": {k: b[k] for k in ("exact", "fields", "samples")},
                        "after": {k: a[k] for k in ("exact", "fields", "samples")}}, indent=2))
    return 0
