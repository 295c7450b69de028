"""Parity with llama.cpp's recorded outputs: top-1 agreement, top-5 logit gaps, greedy runs.

A fixture (``shared/fixtures/llamacpp/public_<model>.json``) records, for a
few prompts, llama.cpp's tokenization, its greedy continuation and the five
highest logits at every position of prompt + continuation. ``score`` compares
any source of logits with it: psionic's model, or llama.cpp itself run along
another path (flash attention, one token at a time) to show how far llama.cpp
is from its own recording.

>>> case = ParityCase("p", [0], [1], [((1, 2), (2.0, 1.0))])
>>> s = score_top1([case], lambda c: [(1, [2.0, 1.25])])
>>> s.agree, s.total, s.max_top5_diff
(1, 1, 0.25)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psionic.core.errors import MalformedFile
from psionic.models.decoder import Segment
from psionic.models.kv_cache import KVCache
from psionic.models.loader import LoadedModel

GREEDY_PREFIX = 16  # the continuation length a greedy run must reproduce


@dataclass(frozen=True, slots=True)
class ParityCase:
    prompt: str
    prompt_tokens: list[int]
    greedy_tokens: list[int]
    # per position of prompt + greedy: the reference's five best (ids, logits), best first
    top5: list[tuple[tuple[int, ...], tuple[float, ...]]]

    @property
    def tokens(self) -> list[int]:
        return self.prompt_tokens + self.greedy_tokens


@dataclass(slots=True)
class Top1Score:
    """Teacher-forced agreement of one logit source with the reference (filled while scoring)."""

    agree: int = 0
    total: int = 0
    max_top5_diff: float = 0.0
    # each disagreement: the reference's own gap between its first and second logit
    miss_gaps: list[float] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        return self.agree / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "top1_agree": self.agree, "positions": self.total, "top1_agreement": round(self.agreement, 4),
            "max_top5_logit_diff": round(self.max_top5_diff, 4),
            "miss_reference_gaps": sorted(round(g, 4) for g in self.miss_gaps),
        }


def load_fixture(path: Path) -> tuple[dict[str, Any], list[ParityCase]]:
    """The fixture's header (model, gguf_sha256, oracle) and its cases."""
    try:
        data = json.loads(Path(path).read_text())
        cases = [
            ParityCase(
                c["prompt"], list(c["prompt_tokens"]), list(c["greedy_tokens"]),
                [(tuple(t["ids"]), tuple(t["logits"])) for t in c["top5_per_position"]],
            )
            for c in data["cases"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise MalformedFile(f"parity fixture {path}: {e}", path=str(path)) from None
    header = {k: v for k, v in data.items() if k != "cases"}
    return header, cases


# For each position of a case: the source's argmax and its logits at the reference's top-5 ids.
Predictions = Sequence[tuple[int, Sequence[float]]]


def score_top1(cases: Sequence[ParityCase], predict: Callable[[ParityCase], Predictions]) -> Top1Score:
    """Compare ``predict(case)`` with the reference at every position of every case."""
    score = Top1Score()
    for case in cases:
        for (best, values), (ids, ref) in zip(predict(case), case.top5, strict=True):
            score.total += 1
            if best == ids[0]:
                score.agree += 1
            else:
                score.miss_gaps.append(ref[0] - ref[1])
            diff = np.max(np.abs(np.asarray(values, np.float64) - np.asarray(ref)))
            score.max_top5_diff = max(score.max_top5_diff, float(diff))
    return score


def greedy_matches(
    cases: Sequence[ParityCase], continue_greedily: Callable[[list[int], int], list[int]]
) -> int:
    """Prompts whose first ``GREEDY_PREFIX`` greedy tokens (fewer where the reference
    stopped at EOS) equal the reference's."""
    matches = 0
    for c in cases:
        want = c.greedy_tokens[:GREEDY_PREFIX]
        matches += continue_greedily(c.prompt_tokens, len(want)) == want
    return matches


def psionic_predictions(loaded: LoadedModel) -> Callable[[ParityCase], Predictions]:
    """Teacher-forced logits at every position, the whole sequence in one step."""

    def predict(case: ParityCase) -> Predictions:
        cfg, tokens = loaded.config, case.tokens
        kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(tokens))
        rows = loaded.model(
            np.asarray(tokens), [Segment(kv, 0, len(tokens))], logit_rows=np.arange(len(tokens))
        )
        return [(int(np.argmax(r)), r[list(ids)].tolist()) for r, (ids, _) in zip(rows, case.top5, strict=True)]

    return predict


def psionic_greedy(loaded: LoadedModel) -> Callable[[list[int], int], list[int]]:
    """Greedy continuation: the prompt in one step, then one token per step."""

    def run(prompt: list[int], n: int) -> list[int]:
        cfg = loaded.config
        kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(prompt) + n)
        logits = loaded.model(np.asarray(prompt), [Segment(kv, 0, len(prompt))])[0]
        out: list[int] = []
        for position in range(len(prompt), len(prompt) + n):
            out.append(int(np.argmax(logits)))
            if len(out) < n:
                logits = loaded.model(np.asarray(out[-1:]), [Segment(kv, position, 1)])[0]
        return out

    return run


@dataclass(frozen=True, slots=True)
class PeerPath:
    """One way of running llama.cpp: its weight layout, its attention kernel, and whether
    the tokens go in one batch."""

    repack: bool
    flash_attn: bool
    batch: bool
    note: str


# Formats llama.cpp's CPU backend stores in its interleaved CPU_REPACK layout by default on
# x86 with AVX2 (AMX aside), among those psionic reads; their GEMM sums in another order.
X86_REPACKED = frozenset({"q4_0", "q4_k"})

# The first is the path the shared fixtures were recorded on; each other changes one thing,
# to show how far llama.cpp's own results move when only the evaluation path changes.
LLAMACPP_PATHS: dict[str, PeerPath] = {
    "batch": PeerPath(True, False, True, "the fixtures' own path: one batch, default weight layout"),
    "no_repack": PeerPath(False, False, True, "weights in plain rows (--no-repack)"),
    "flash_attn": PeerPath(True, True, True, "flash attention on (f16 K/V, fused softmax)"),
    "token_by_token": PeerPath(True, False, False, "one token per evaluation, as in decoding"),
}


def repacked_tensors(loaded: LoadedModel) -> str:
    """A regex naming the model's tensors llama.cpp repacks by default ("" if none)."""
    names = sorted(n for n, t in loaded.file.tensors.items() if t.dtype.name in X86_REPACKED)
    return "^(" + "|".join(re.escape(n) for n in names) + ")$" if names else ""


def llamacpp_scores(
    peer_python: str, loaded: LoadedModel, cases: Sequence[ParityCase], threads: int, path: PeerPath
) -> dict[str, Any]:
    """llama.cpp itself along ``path``, scored against the fixture."""
    from psionic.models.peers.llamacpp import LlamaCppPeer

    n_ctx = max(len(c.tokens) for c in cases) + 8
    repack = repacked_tensors(loaded) if path.repack else ""
    with LlamaCppPeer(
        peer_python, loaded.path, threads, n_ctx=n_ctx, flash_attn=path.flash_attn,
        logits_all=True, repack_tensors=repack,
    ) as peer:

        def predict(case: ParityCase) -> Predictions:
            reply = peer.call(
                op="logits_at", tokens=case.tokens, ids=[list(ids) for ids, _ in case.top5],
                batch=path.batch,
            )
            return list(zip(reply["argmax"], reply["logits"], strict=True))

        def greedy(prompt: list[int], n: int) -> list[int]:
            return list(peer.call(op="decode", tokens=prompt, n=n, batch=path.batch)["tokens"])

        top1 = score_top1(cases, predict)
        same = greedy_matches(cases, greedy)
        return {"note": path.note, **top1.to_dict(), "greedy16_identical": same, "version": peer.version}


def run_parity(
    loaded: LoadedModel, fixture: Path, threads: int, peer_python: str | None = None
) -> dict[str, Any]:
    """psionic against the fixture and, with a peer, llama.cpp along each of its paths."""
    header, cases = load_fixture(fixture)
    top1 = score_top1(cases, psionic_predictions(loaded))
    report: dict[str, Any] = {
        "benchmark": "parity",
        "model": loaded.name,
        "model_digest": loaded.model_digest,
        "fixture": {"path": str(fixture), "oracle": header.get("oracle"), "cases": len(cases)},
        "fixture_matches_model": header.get("gguf_sha256") == loaded.model_digest.removeprefix("sha256:"),
        "threads": threads,
        "numerics": loaded.numerics,
        "psionic": {**top1.to_dict(), "greedy16_identical": greedy_matches(cases, psionic_greedy(loaded))},
    }
    if peer_python is not None:
        report["llama.cpp"] = {
            name: llamacpp_scores(peer_python, loaded, cases, threads, path)
            for name, path in LLAMACPP_PATHS.items()
        }
    return report
