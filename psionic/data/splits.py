"""Deterministic splits by record content: the same record lands in the same split whatever
the file order, and duplicates never straddle train and eval.

>>> rule = SplitRule(eval_fraction=0.5, seed=0)
>>> rule.split_of("sha256:" + "0" * 64) == rule.split_of("sha256:" + "0" * 64)
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from psionic.core.digest import digest_json
from psionic.core.errors import InvalidInput

SPLITS = ("train", "eval")


class HasDigest(Protocol):
    @property
    def digest(self) -> str: ...


R = TypeVar("R", bound=HasDigest)


@dataclass(frozen=True, slots=True)
class SplitRule:
    """A record goes to eval when its seeded content hash falls below ``eval_fraction``."""

    eval_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.eval_fraction < 1.0:
            raise InvalidInput(f"eval fraction must be in [0, 1), got {self.eval_fraction}")

    def split_of(self, record_digest: str) -> str:
        h = digest_json("dataset_split", {"seed": self.seed, "record": record_digest})
        position = int(h.removeprefix("sha256:")[:16], 16) / float(1 << 64)
        return "eval" if position < self.eval_fraction else "train"

    def to_dict(self) -> dict[str, Any]:
        return {"method": "content_hash", "eval_fraction": self.eval_fraction, "seed": self.seed}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitRule:
        if d.get("method") != "content_hash":
            raise InvalidInput(f"unknown split method {d.get('method')!r}")
        return cls(float(d["eval_fraction"]), int(d["seed"]))


def split_records(records: Iterable[R], rule: SplitRule) -> dict[str, list[R]]:
    """Records by split name, each split in input order."""
    out: dict[str, list[R]] = {name: [] for name in SPLITS}
    for record in records:
        out[rule.split_of(record.digest)].append(record)
    return out


def counts(split: dict[str, Sequence[Any]]) -> dict[str, int]:
    return {name: len(items) for name, items in split.items()}
