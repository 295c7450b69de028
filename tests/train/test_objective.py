"""Packed rows train as their examples would alone: each example attends only to itself, with its
positions starting from 0, so a row's loss is the sum of its examples' losses."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.data.packing import pack
from psionic.data.tokenize import TokenizedExample
from psionic.models.loader import load_model
from psionic.train.objective import CausalLMObjective, decoder_logits_at
from tests.serve.conftest import write_tiny_llama


def _example(ids: list[int], tag: str) -> TokenizedExample:
    mask = np.zeros(len(ids), np.bool_)
    mask[len(ids) // 2:] = True  # the second half is the "answer"
    return TokenizedExample(np.asarray(ids, np.int32), mask, "t.jsonl", 1, tag)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return load_model(str(write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny.gguf"))).model


def test_a_packed_row_scores_each_example_as_if_alone(model) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    examples = [_example(rng.integers(3, 200, n).tolist(), f"e{i}") for i, n in enumerate((9, 12, 7))]
    [row] = pack(examples, 32, pad_id=0)
    assert row.starts == (0, 9, 21, 28) and row.documents.tolist()[20:23] == [1, 2, 2]
    objective = CausalLMObjective(model, decoder_logits_at(model))
    packed = float(objective.loss(row, 1.0).item())
    alone = sum(float(objective.loss(r, 1.0).item()) for ex in examples for r in pack([ex], len(ex), 0))
    assert packed == pytest.approx(alone, rel=1e-5)

    # Without the document mask the later examples would see the earlier ones: a different loss.
    leaky = objective.logits_at
    objective.logits_at = lambda ids, pos, docs: leaky(ids, pos, np.zeros_like(docs))  # type: ignore[assignment]
    assert float(objective.loss(row, 1.0).item()) != pytest.approx(alone, rel=1e-3)


def test_row_digest_covers_where_examples_begin() -> None:
    a, b = _example([5, 6, 7, 8], "a"), _example([9, 10, 11, 12], "b")
    [together] = pack([a, b], 8, pad_id=0)
    same_tokens = type(together)(together.ids, together.mask, together.records, (0,))
    assert together.digest != same_tokens.digest


def test_documents_need_the_whole_sequence(model) -> None:  # type: ignore[no-untyped-def]
    from psionic.array import Tensor
    from psionic.nn import tensor_ops as T

    q = Tensor(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="whole sequence"):
        T.attention(q, q, q, 1, 1.0, None, np.zeros(3, np.int64))
