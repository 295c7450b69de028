"""``Trainer``: a fixed budget of optimizer steps over packed rows, with receipts and checkpoints.

Each step reads ``grad_accum`` micro-batches of ``batch_size`` rows from a
seeded stream, back-propagates the loss of each (weighted so that every target
token of the step counts alike), clips the global gradient norm, and takes one
optimizer step under the learning-rate schedule. A micro-batch runs as one
sequence whose rows stay apart (``join_rows``).

The run trains on ``backend`` in ``precision``: f32 everywhere; on a backend
that declares them, bf16 or f16, where every product runs in that dtype while
parameters, optimizer moments, norms and the loss stay float32 (the master
copies). f16 scales the loss (dynamic loss scaling): a step whose gradients
overflow is skipped, its receipt says so, and the scale halves; after
``scale_growth_interval`` good steps it doubles.

The run stops at the first budget it reaches: steps,
tokens or wall time. Every step appends a receipt (``receipts.jsonl``) and a
log line (``log.jsonl``); evaluation runs every ``eval_every`` steps and at
the end; a checkpoint is written every ``checkpoint_every`` steps and at the
end; ``loss.png`` is drawn when the run ends.

Resume is exact: parameters, optimizer moments, the data position, the RNG
state and the counters all come back from the checkpoint, and the logs are
cut back to its step, so a run killed at any moment and resumed ends with the
same bytes as one that never stopped (for a step or token budget). A resume
may raise (or lower) the budget: the run continues to the new one (a cosine
or linear schedule then follows the new step budget from the resumed step on),
and a ``BudgetChange`` link in the receipt chain records it. A resume in another
precision is refused by name.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psionic.array import Tensor, no_grad
from psionic.array.backend import get_array_backend
from psionic.backends import get_backend
from psionic.core.atomic import atomic_write_bytes
from psionic.core.digest import digest_json
from psionic.core.errors import InvalidInput
from psionic.data.packing import PackedRow, join_rows
from psionic.nn.optim import SGD, Adam, AdamW, Optimizer
from psionic.nn.schedules import make_schedule
from psionic.train.checkpoint import Checkpoint, load_latest, save_checkpoint
from psionic.train.errors import CheckpointMismatch, UnsupportedPrecision
from psionic.train.objective import Objective
from psionic.train.plot import plot_losses
from psionic.train.receipts import BudgetChange, StepReceipt, parameter_digest, rows_digest
from psionic.train.stream import RowStream

OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "adamw": lambda params, lr, wd, sched: AdamW(params, lr=lr, weight_decay=wd, schedule=sched),
    "adam": lambda params, lr, wd, sched: Adam(params, lr=lr, weight_decay=wd, schedule=sched),
    "sgd": lambda params, lr, wd, sched: SGD(params, lr=lr, weight_decay=wd, schedule=sched),
}



@dataclass(frozen=True, slots=True)
class Precision:
    """One training precision: the dtype products run in, and whether the loss is scaled."""

    name: str
    loss_scaling: bool


PRECISIONS: dict[str, Precision] = {}


def register_precision(precision: Precision) -> None:
    if precision.name in PRECISIONS:
        raise ValueError(f"precision {precision.name!r} is already registered")
    PRECISIONS[precision.name] = precision


register_precision(Precision("f32", loss_scaling=False))
register_precision(Precision("bf16", loss_scaling=False))  # f32's exponent range: nothing overflows
register_precision(Precision("f16", loss_scaling=True))


def check_precision(backend: str, precision: str) -> None:
    """Refuse a precision unknown, or not declared by the backend (``Backend.precisions``)."""
    if precision not in PRECISIONS:
        raise UnsupportedPrecision(f"unknown precision {precision!r}; known: {sorted(PRECISIONS)}",
                                   precision=precision, backend=backend)
    supported = get_backend(backend).precisions
    if precision not in supported:
        raise UnsupportedPrecision(
            f"training in {precision} is not supported on the {backend} backend "
            f"(it trains in {', '.join(sorted(supported))})", precision=precision, backend=backend)


@dataclass(frozen=True, slots=True)
class Budget:
    """Stop at the first limit reached; at least one is required."""

    steps: int | None = None
    tokens: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        limits = (self.steps, self.tokens, self.seconds)
        if all(v is None for v in limits):
            raise InvalidInput("a training budget needs steps, tokens or seconds")
        if any(v is not None and v <= 0 for v in limits):
            raise InvalidInput(f"budget limits must be positive, got {self}")

    def reached(self, step: int, tokens: int, seconds: float) -> str | None:
        if self.steps is not None and step >= self.steps:
            return "steps"
        if self.tokens is not None and tokens >= self.tokens:
            return "tokens"
        if self.seconds is not None and seconds >= self.seconds:
            return "seconds"
        return None


@dataclass(frozen=True, slots=True)
class TrainConfig:
    budget: Budget
    lr: float = 1e-3
    schedule: str = "cosine"
    warmup: int = 0
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    grad_accum: int = 1
    batch_size: int = 1  # rows per micro-batch
    clip_norm: float | None = 1.0
    precision: str = "f32"
    backend: str = "cpu"
    loss_scale: float = 2.0 ** 16  # f16: the starting scale
    scale_growth_interval: int = 2000  # f16: good steps before the scale doubles
    eval_every: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 3
    param_digest_every: int = 10
    seed: int = 0
    shuffle: bool = True
    progress: bool = True
    plot: bool = True

    def __post_init__(self) -> None:
        if self.grad_accum < 1 or self.batch_size < 1:
            raise InvalidInput("grad_accum and batch_size must be at least 1")
        if self.optimizer not in OPTIMIZERS:
            raise InvalidInput(f"unknown optimizer {self.optimizer!r}; known: {sorted(OPTIMIZERS)}")
        check_precision(self.backend, self.precision)
        if not (self.loss_scale > 0 and math.isfinite(self.loss_scale)) or self.scale_growth_interval < 1:
            raise InvalidInput("loss_scale must be positive and finite, scale_growth_interval at least 1")
        if self.schedule in ("cosine", "linear") and self.budget.steps is None:
            raise InvalidInput(f"a {self.schedule} schedule needs a step budget; use 'constant'")

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run: how it is watched, and the budget (a resume
        may extend it, recorded in the receipt chain), are left out."""
        d = asdict(self)
        for key in ("progress", "plot", "eval_every", "checkpoint_every", "keep_checkpoints", "budget"):
            d.pop(key)
        return d


@dataclass(frozen=True, slots=True)
class TrainResult:
    step: int
    tokens: int
    stopped_by: str
    final_loss: float | None
    eval_losses: list[tuple[int, float]]
    param_digest: str
    run_digest: str
    out_dir: Path
    resumed_from: int | None
    seconds: float
    receipts: int = 0
    plot: Path | None = None
    checkpoint: Path | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a kill; everything after it is gone too
    return out


class Trainer:
    """One training run into ``out_dir`` (mutable: it advances the model, optimizer and stream)."""

    def __init__(self, objective: Objective, train_rows: Sequence[PackedRow], config: TrainConfig,
                 out_dir: str | Path, eval_rows: Sequence[PackedRow] = (),
                 identity: dict[str, Any] | None = None,
                 log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> None:
        self.objective = objective
        self.config = config
        self.out_dir = Path(out_dir)
        self.eval_rows = list(eval_rows)
        self.log = log
        objective.to_backend(config.backend)
        self.named = objective.named_parameters()
        if not self.named:
            raise InvalidInput("nothing to train: the objective has no trainable parameters")
        schedule = make_schedule(config.schedule, warmup=config.warmup, **(
            {"total": config.budget.steps} if config.schedule in ("cosine", "linear") else {}))
        self.optimizer = OPTIMIZERS[config.optimizer](
            [p for _, p in self.named], config.lr, config.weight_decay, schedule)
        self.stream: RowStream[PackedRow] = RowStream(train_rows, config.seed, config.shuffle)
        self.rng = np.random.default_rng(config.seed)
        self.run_digest = digest_json("train_run", {
            "config": config.identity(),
            "train_rows": rows_digest(r.digest for r in train_rows),
            "params": parameter_digest((n, p.data) for n, p in self.named),
            "identity": identity or {},
        })
        self.step = 0
        self.tokens = 0
        self.elapsed = 0.0
        self.last_receipt: str | None = None
        self.scaling = PRECISIONS[config.precision].loss_scaling
        self.loss_scale = config.loss_scale if self.scaling else 1.0
        self.good_steps = 0  # consecutive unskipped steps under the current loss scale
        self.autocast = get_array_backend(config.backend).autocast

    # --- state ----------------------------------------------------------------

    def param_digest(self) -> str:
        return parameter_digest((n, p.data) for n, p in self.named)

    def _checkpoint(self) -> Checkpoint:
        names = {id(p): n for n, p in self.named}
        state = self.optimizer.state_dict()
        buffers = {names[id(p)]: s for p, s in zip(self.optimizer.params, state["state"], strict=True)}
        return Checkpoint(
            step=self.step,
            params={n: p.data for n, p in self.named},
            optimizer={"steps": state["steps"], "hyper": state["hyper"], "buffers": buffers},
            rng={"trainer": dict(self.rng.bit_generator.state),
                 "objective": {n: dict(g.bit_generator.state) for n, g in self.objective.generators().items()}},
            data=self.stream.state(),
            trainer={"run": self.run_digest, "tokens": self.tokens, "elapsed": self.elapsed,
                     "last_receipt": self.last_receipt, "precision": self.config.precision,
                     "backend": self.config.backend, "loss_scale": self.loss_scale,
                     "good_steps": self.good_steps, "budget": asdict(self.config.budget)},
        )

    def _restore(self, ckpt: Checkpoint) -> None:
        saved = ckpt.trainer.get("precision", "f32")
        if saved != self.config.precision:
            raise CheckpointMismatch(
                f"checkpoint {ckpt.path} was trained in {saved}, this run asks for "
                f"{self.config.precision}; resume with --precision {saved} or use a fresh output folder",
                checkpoint=str(ckpt.path), checkpoint_precision=saved, precision=self.config.precision)
        if ckpt.trainer.get("run") != self.run_digest:
            raise CheckpointMismatch(
                f"checkpoint {ckpt.path} belongs to another run (configuration, data or starting "
                "parameters differ); use a fresh output folder or the original settings",
                checkpoint=str(ckpt.path))
        for name, param in self.named:
            value = ckpt.params[name]
            if value.shape != param.shape or value.dtype != param.data.dtype:
                raise CheckpointMismatch(f"checkpoint parameter {name} has shape {value.shape}")
            param.data[...] = value
            param.sync()
        self.optimizer.load_state_dict({
            "steps": ckpt.optimizer["steps"], "hyper": ckpt.optimizer["hyper"],
            "state": [ckpt.optimizer["buffers"].get(n, {}) for n, _ in self.named],
        })
        self.rng.bit_generator.state = ckpt.rng["trainer"]
        generators = self.objective.generators()
        if sorted(generators) != sorted(ckpt.rng["objective"]):
            raise CheckpointMismatch(f"checkpoint random generators {sorted(ckpt.rng['objective'])} "
                                     f"do not match the model's {sorted(generators)}")
        for name, gen in generators.items():
            gen.bit_generator.state = ckpt.rng["objective"][name]
        self.stream.restore(ckpt.data)
        self.step = ckpt.step
        self.tokens = int(ckpt.trainer["tokens"])
        self.elapsed = float(ckpt.trainer["elapsed"])
        self.last_receipt = ckpt.trainer["last_receipt"]
        self.loss_scale = float(ckpt.trainer.get("loss_scale", self.loss_scale))
        self.good_steps = int(ckpt.trainer.get("good_steps", 0))
        # Forget what happened after the checkpoint: log lines past its step, receipts past its last.
        log = [e for e in _read_jsonl(self.out_dir / "log.jsonl")
               if e.get("step", 0) <= self.step and not e.get("final")]
        receipts = _read_jsonl(self.out_dir / "receipts.jsonl")
        known = [e.get("digest") for e in receipts]
        receipts = receipts[: known.index(self.last_receipt) + 1] if self.last_receipt in known else []
        for name, kept in (("log.jsonl", log), ("receipts.jsonl", receipts)):
            atomic_write_bytes(self.out_dir / name, "".join(json.dumps(e) + "\n" for e in kept).encode())
        budget = asdict(self.config.budget)
        before = ckpt.trainer.get("budget", budget)
        if before != budget:
            change = BudgetChange(step=self.step, budget_from=before, budget_to=budget,
                                  run=self.run_digest, prev=self.last_receipt)
            self._append("receipts.jsonl", change.to_dict())
            self.last_receipt = change.digest
            self.log(f"budget changed from {before} to {budget}; continuing from step {self.step}")

    # --- one step ---------------------------------------------------------------

    def _unscale_norm_and_clip(self) -> float:
        """Divide out the loss scale, then clip; the global norm (inf or nan on an overflow)."""
        grads = [(p, p.grad.numpy()) for _, p in self.named if p.grad is not None]
        if self.loss_scale != 1.0:
            inv = np.float32(1.0 / self.loss_scale)
            grads = [(p, g * inv) for p, g in grads]
        with np.errstate(over="ignore", invalid="ignore"):
            norm = math.sqrt(sum(float(np.dot(g.ravel().astype(np.float64), g.ravel())) for _, g in grads))
        if not math.isfinite(norm):
            return norm
        clip = self.config.clip_norm
        scale = np.float32(clip / (norm + 1e-6)) if clip is not None and norm > clip else None
        if scale is not None or self.loss_scale != 1.0:
            for p, g in grads:
                p.grad = Tensor(g if scale is None else g * scale)
        return norm

    def train_step(self) -> StepReceipt:
        cfg = self.config
        batches = [list(self.stream.take(cfg.batch_size)) for _ in range(cfg.grad_accum)]
        rows = [r for batch in batches for r in batch]
        targets = sum(r.loss_tokens for r in rows)
        if targets == 0:
            raise InvalidInput("a step's rows have no target tokens")
        lr = self.optimizer.current_lr
        scale = self.loss_scale
        self.objective.set_training(True)
        self.optimizer.zero_grad()
        total = 0.0
        with self.autocast(cfg.precision):
            for batch in batches:
                loss = self.objective.loss(join_rows(batch), scale / targets)
                loss.backward()
                total += float(loss.item()) / scale
        norm = self._unscale_norm_and_clip()
        skipped = not (math.isfinite(norm) and math.isfinite(total))
        if skipped:
            if not self.scaling:
                raise InvalidInput(f"step {self.step + 1}: the loss or gradients are not finite "
                                   f"(loss {total}, gradient norm {norm}) in {cfg.precision}")
            self.optimizer.zero_grad()
            self.loss_scale /= 2.0
            self.good_steps = 0
        else:
            self.optimizer.step()
            if self.scaling:
                self.good_steps += 1
                if self.good_steps >= cfg.scale_growth_interval:
                    self.loss_scale *= 2.0
                    self.good_steps = 0
        self.step += 1
        self.tokens += sum(len(r.ids) for r in rows)
        every = cfg.param_digest_every
        receipt = StepReceipt(
            step=self.step, data=rows_digest(r.digest for r in rows),
            loss=total if math.isfinite(total) else None, grad_norm=norm if math.isfinite(norm) else None,
            lr=lr, tokens=self.tokens, run=self.run_digest, prev=self.last_receipt,
            params=self.param_digest() if every and self.step % every == 0 else None,
            precision=cfg.precision, loss_scale=scale if self.scaling else None, skipped=skipped,
        )
        self.last_receipt = receipt.digest
        return receipt

    def evaluate(self) -> float | None:
        """Mean cross-entropy per target token over the eval rows (None without them)."""
        if not self.eval_rows:
            return None
        targets = sum(r.loss_tokens for r in self.eval_rows)
        self.objective.set_training(False)
        with no_grad(), self.autocast(self.config.precision):
            return sum(float(self.objective.loss(r, 1.0 / targets).item()) for r in self.eval_rows)

    # --- the run ------------------------------------------------------------------

    def _append(self, name: str, entry: dict[str, Any]) -> None:
        with open(self.out_dir / name, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def run(self, resume: bool = False) -> TrainResult:
        cfg = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        ckpt_dir = self.out_dir / "checkpoints"
        resumed_from = None
        if resume:
            ckpt = load_latest(ckpt_dir, warn=self.log)
            if ckpt is None:
                self.log(f"no checkpoint in {ckpt_dir}; starting from step 0")
            else:
                self._restore(ckpt)
                resumed_from = ckpt.step
                self.log(f"resumed from {ckpt.path} (step {ckpt.step}, {ckpt.digest})")
        else:
            for name in ("log.jsonl", "receipts.jsonl"):
                (self.out_dir / name).unlink(missing_ok=True)
        if self.step == 0 and cfg.eval_every and self.eval_rows:
            self._append("log.jsonl", {"step": 0, "eval_loss": self.evaluate()})  # the starting point
        bar = None
        if cfg.progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.budget.steps, initial=self.step, unit="step", file=sys.stderr,
                       dynamic_ncols=True, desc="train")
        start = time.perf_counter() - self.elapsed
        last_ckpt = None
        while (stopped := cfg.budget.reached(self.step, self.tokens, self.elapsed)) is None:
            receipt = self.train_step()
            self.elapsed = time.perf_counter() - start
            self._append("receipts.jsonl", receipt.to_dict())
            entry: dict[str, Any] = {"step": receipt.step, "loss": receipt.loss, "grad_norm": receipt.grad_norm,
                                     "lr": receipt.lr, "tokens": receipt.tokens,
                                     "seconds": round(self.elapsed, 3), "precision": receipt.precision}
            if self.scaling:
                entry.update(loss_scale=receipt.loss_scale, skipped=receipt.skipped)
            if cfg.eval_every and self.step % cfg.eval_every == 0:
                entry["eval_loss"] = self.evaluate()
            self._append("log.jsonl", entry)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss="skipped" if receipt.loss is None else f"{receipt.loss:.4f}",
                                lr=f"{receipt.lr:.2e}")
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                last_ckpt = save_checkpoint(ckpt_dir, self._checkpoint(), keep=cfg.keep_checkpoints)
        if bar is not None:
            bar.close()
        if last_ckpt is None or not last_ckpt.name.endswith(f"{self.step:08d}"):
            last_ckpt = save_checkpoint(ckpt_dir, self._checkpoint(), keep=cfg.keep_checkpoints)
        return self._finish(stopped, resumed_from, last_ckpt)

    def _finish(self, stopped: str, resumed_from: int | None, ckpt: Path) -> TrainResult:
        log = _read_jsonl(self.out_dir / "log.jsonl")
        train = [(e["step"], e["loss"]) for e in log if e.get("loss") is not None]
        evals = [(e["step"], e["eval_loss"]) for e in log if e.get("eval_loss") is not None]
        if self.eval_rows and (not evals or evals[-1][0] != self.step):
            final_eval = self.evaluate()
            assert final_eval is not None
            evals.append((self.step, final_eval))
            self._append("log.jsonl", {"step": self.step, "eval_loss": final_eval, "final": True})
        png = None
        if self.config.plot and train:
            png = plot_losses(self.out_dir / "loss.png", train, evals, f"run {self.run_digest[7:19]}")
        result = TrainResult(
            step=self.step, tokens=self.tokens, stopped_by=stopped,
            final_loss=train[-1][1] if train else None, eval_losses=evals,
            param_digest=self.param_digest(), run_digest=self.run_digest, out_dir=self.out_dir,
            resumed_from=resumed_from, seconds=self.elapsed,
            receipts=sum(1 for e in log if "loss" in e), plot=png, checkpoint=ckpt,
            facts={"backend": self.config.backend, "precision": self.config.precision,
                   "batch_size": self.config.batch_size,
                   "skipped_steps": sum(1 for e in log if e.get("skipped")),
                   **({"loss_scale": self.loss_scale} if self.scaling else {})},
        )
        summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
        atomic_write_bytes(self.out_dir / "run.json", (json.dumps(summary, indent=2) + "\n").encode())
        return result
