"""What a LoRA adapter is made of: its configuration and the projections it may target.

``AdapterConfig`` is the record a trainer fills in and an exported adapter
carries (rank, alpha, dropout, target projections, the base model it was made
for). ``TARGETS`` names every projection of a decoder block that an adapter
can wrap, with where it lives in our modules, in the GGUF file and in the
Hugging Face module tree (which is what PEFT's key names follow).

>>> cfg = AdapterConfig(rank=8, alpha=16.0, targets=("q_proj", "v_proj"))
>>> cfg.scale
2.0
>>> AdapterConfig(rank=4, targets=("q_proj", "lm_head"))
Traceback (most recent call last):
...
psionic.core.errors.InvalidInput: invalid_input: unknown LoRA target 'lm_head'; known: down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from psionic.core.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Target:
    """One adaptable projection: ``block.<module>.<name>`` here, ``blk.N.<gguf>`` in GGUF."""

    name: str  # q_proj, ... (also the Hugging Face / PEFT module name)
    module: str  # self_attn | mlp: the sub-module of a block that holds it
    gguf: str  # the GGUF tensor stem: attn_q, ffn_gate, ...


TARGETS: dict[str, Target] = {}


def register_target(target: Target) -> Target:
    if target.name in TARGETS:
        raise ValueError(f"LoRA target {target.name!r} is already registered")
    TARGETS[target.name] = target
    return target


for _name, _module, _gguf in (
    ("q_proj", "self_attn", "attn_q"),
    ("k_proj", "self_attn", "attn_k"),
    ("v_proj", "self_attn", "attn_v"),
    ("o_proj", "self_attn", "attn_output"),
    ("gate_proj", "mlp", "ffn_gate"),
    ("up_proj", "mlp", "ffn_up"),
    ("down_proj", "mlp", "ffn_down"),
):
    register_target(Target(_name, _module, _gguf))

DEFAULT_TARGETS = ("q_proj", "v_proj")
ALL_TARGETS = tuple(TARGETS)
MAX_RANK = 4096


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    """LoRA hyperparameters: ``y = W x + (alpha / rank) * B A dropout(x)``.

    ``dropout`` acts in training only; ``use_rslora`` scales by
    ``alpha / sqrt(rank)`` instead (PEFT's rank-stabilised variant).
    ``base_model`` names the model the adapter was trained on (informative),
    ``base_digest`` its file digest (binding: loading onto another model refuses).
    """

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    targets: tuple[str, ...] = DEFAULT_TARGETS
    use_rslora: bool = False
    base_model: str = ""
    base_digest: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.rank, int) or isinstance(self.rank, bool) or not 0 < self.rank <= MAX_RANK:
            raise InvalidInput(f"LoRA rank must be an integer in 1..{MAX_RANK}, got {self.rank!r}", param="rank")
        if not isinstance(self.alpha, (int, float)) or not math.isfinite(self.alpha) or self.alpha <= 0:
            raise InvalidInput(f"LoRA alpha must be a positive number, got {self.alpha!r}", param="alpha")
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise InvalidInput(f"LoRA dropout must be in [0, 1), got {self.dropout!r}", param="dropout")
        targets = tuple(self.targets)
        if not targets:
            raise InvalidInput("a LoRA adapter needs at least one target projection", param="targets")
        for name in targets:
            if name not in TARGETS:
                raise InvalidInput(
                    f"unknown LoRA target {name!r}; known: {', '.join(sorted(TARGETS))}", param="targets"
                )
        if len(set(targets)) != len(targets):
            raise InvalidInput(f"LoRA targets repeat a projection: {list(targets)}", param="targets")
        # Canonical order (the registry's), so equal adapters have equal configs and digests.
        object.__setattr__(self, "targets", tuple(t for t in TARGETS if t in targets))
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "dropout", float(self.dropout))

    @property
    def scale(self) -> float:
        return self.alpha / (math.sqrt(self.rank) if self.use_rslora else self.rank)

    def to_record(self) -> dict[str, Any]:
        """The fields that define the adapter's arithmetic and origin (digested)."""
        record = asdict(self)
        record["targets"] = list(self.targets)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AdapterConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(record) - known)
        if unknown:
            raise InvalidInput(f"unknown adapter config fields: {unknown}", fields=unknown)
        fields = dict(record)
        if "targets" in fields:
            fields["targets"] = tuple(fields["targets"])
        return cls(**fields)
