"""Constraints compile to grammars, refuse what cannot be enforced, and mask tokens soundly."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from psionic.models.constraints import (
    Constraint,
    ConstraintDeadEnd,
    UnsupportedConstraint,
    constraint_kinds,
    grammar_for,
)
from psionic.models.generate import params_from_dict
from psionic.models.guide import Guide, guide_for
from psionic.models.sampling import Sampler, SamplingParams
from psionic.models.tokenizer import Tokenizer

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 12}, "n": {"type": "integer", "minimum": 1, "maximum": 9}},
    "required": ["city", "n"],
    "additionalProperties": False,
}
GOOD = [
    Constraint("json_object"),
    Constraint("json_schema", {"schema": SCHEMA, "strict": True}),
    Constraint("regex", {"pattern": r"[a-c]{2}-\d{3}"}),
    Constraint("choice", {"choices": ["yes", "no", "naïve \"quoted\""]}),
    Constraint("lark", {"grammar": 'start: "(" NUM ("," NUM)* ")"\nNUM: /[0-9]+/'}),
    Constraint("gbnf", {"grammar": 'root ::= "a" [0-9]+ "z"'}),
    Constraint("structural_tag", {"structures": [{"begin": "<f>", "schema": SCHEMA, "end": "</f>"}], "triggers": ["<f"]}),
]


def test_every_kind_compiles_and_is_covered() -> None:
    assert {c.kind for c in GOOD} == set(constraint_kinds())
    for c in GOOD:
        assert grammar_for(c)


@pytest.mark.parametrize(
    "constraint, needle",
    [
        (Constraint("json_schema", {"schema": {"not": {"type": "string"}}}), "not"),
        (Constraint("json_schema", {"schema": {"type": "array", "uniqueItems": True}}), "uniqueItems"),
        (Constraint("json_schema", {"schema": {"type": "object", "dependentSchemas": {"a": {"required": ["b"]}}}}),
         "dependentSchemas"),
        (Constraint("json_schema", {"schema": {"type": "strnig"}}), "invalid JSON schema"),
        (Constraint("json_schema", {"schema": {"x-guidance": {"lenient": True}, "not": {}}}), "x-guidance"),
        (Constraint("json_schema", {"schema": [1]}), "must be an object"),
        (Constraint("json_schema", {}), "needs a 'schema'"),
        (Constraint("regex", {"pattern": "(unclosed"}), "regex"),
        (Constraint("regex", {"pattern": ""}), "non-empty"),
        (Constraint("choice", {"choices": []}), "non-empty list"),
        (Constraint("choice", {"choices": ["a", 3]}), "non-empty list"),
        (Constraint("lark", {"grammar": "start: missing_rule"}), "lark"),
        (Constraint("gbnf", {"grammar": "root ::= ("}), "GBNF"),
        (Constraint("structural_tag", {"structures": [{"begin": "<f>", "schema": {}, "end": ""}], "triggers": ["<g"]}),
         "no trigger"),
    ],
)
def test_unenforceable_constraints_are_refused_by_name(constraint: Constraint, needle: str) -> None:
    with pytest.raises(UnsupportedConstraint, match=re.escape(needle)) as err:
        grammar_for(constraint)
    assert err.value.code == "unsupported_constraint" and err.value.http_status == 400


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(UnsupportedConstraint, match="xml"):
        Constraint("xml", {})


def test_canonical_form_round_trips_through_sampling_params() -> None:
    c = Constraint("json_schema", {"schema": SCHEMA, "strict": True}, reasoning=("<think>", "</think>"))
    params = SamplingParams(temperature=0.0, constraint=c, seed=3)
    data = params.to_dict()
    assert data["constraint"] == {"kind": "json_schema", "spec": json.dumps({"schema": SCHEMA, "strict": True}),
                                  "reasoning": ["<think>", "</think>"]}
    assert params_from_dict(json.loads(json.dumps(data))) == params
    # Canonical JSON sorts keys; the schema's property order (the output's key order) survives it.
    assert list(SCHEMA["properties"]) == ["city", "n"]
    unsorted = Constraint("json_schema", {"schema": {"type": "object", "properties": {"z": {}, "a": {}}}})
    again = params_from_dict(json.loads(json.dumps(SamplingParams(constraint=unsorted).to_dict(), sort_keys=True)))
    assert list(again.constraint.spec["schema"]["properties"]) == ["z", "a"]  # type: ignore[union-attr]
    assert "constraint" not in SamplingParams().to_dict()  # unconstrained receipts are unchanged


def test_ignore_eos_cannot_be_combined_with_a_constraint() -> None:
    with pytest.raises(Exception, match="ignore_eos"):
        SamplingParams(constraint=Constraint("json_object"), ignore_eos=True)


def _walk(tok: Tokenizer, guide: Guide, vocab: int, rng: np.random.Generator, steps: int) -> list[int]:
    """Draw uniformly among allowed tokens; check every mask on the way."""
    eos = sorted(tok.eos_ids)
    tokens: list[int] = []
    for _ in range(steps):
        allowed = guide.allowed()
        assert allowed.shape == (vocab,) and allowed.any()
        assert not allowed[tok.vocab_size:].any()  # padding ids are never allowed
        assert bool(allowed[eos].any()) == guide.accepting  # EOS exactly when the grammar accepts
        if guide.accepting:
            break
        # Prefer short tokens so that walks finish; any allowed token is a legal draw.
        ids = np.flatnonzero(allowed)
        lengths = np.array([len(tok.token_bytes(int(i))) if i < tok.vocab_size else 99 for i in ids])
        short = ids[lengths <= 1] if (lengths <= 1).any() else ids
        token = int(rng.choice(short))
        guide.accept(token)
        tokens.append(token)
    return tokens


@pytest.mark.parametrize("constraint, check", [
    (Constraint("regex", {"pattern": r"[a-c]{2}-\d{3}"}), lambda s: re.fullmatch(r"[a-c]{2}-\d{3}", s)),
    (Constraint("choice", {"choices": ["alpha", "beta", "gamma"]}), lambda s: s in ("alpha", "beta", "gamma")),
    (Constraint("gbnf", {"grammar": 'root ::= "a" [0-9] [0-9]? "z"'}), lambda s: re.fullmatch(r"a\d\d?z", s)),
    (Constraint("json_schema", {"schema": {"enum": ["x", 1, None, "ü"]}}),
     lambda s: json.loads(s) in ("x", 1, None, "ü")),
])
def test_random_walks_stay_inside_the_grammar(smollm_tokenizer: Tokenizer, constraint: Constraint, check) -> None:  # type: ignore[no-untyped-def]
    vocab = smollm_tokenizer.vocab_size + 7  # a model may have more logits than the tokenizer has tokens
    for seed in range(5):
        guide = guide_for(smollm_tokenizer, vocab, constraint)
        tokens = _walk(smollm_tokenizer, guide, vocab, np.random.default_rng(seed), 64)
        assert guide.accepting
        assert check(smollm_tokenizer.decode(tokens)), smollm_tokenizer.decode(tokens)


def test_masked_sampling_only_draws_allowed_tokens(smollm_tokenizer: Tokenizer) -> None:
    vocab = smollm_tokenizer.vocab_size
    constraint = Constraint("regex", {"pattern": "[0-9]{4}"})
    rng = np.random.default_rng(0)
    for temperature in (0.0, 1.5):
        sampler = Sampler(SamplingParams(temperature=temperature, seed=1), vocab, (),
                          guide_for(smollm_tokenizer, vocab, constraint))
        out = []
        while not sampler.guide.accepting:  # type: ignore[union-attr]
            out.append(sampler.sample(rng.standard_normal(vocab).astype(np.float32) * 5))
        assert re.fullmatch("[0-9]{4}", smollm_tokenizer.decode(out))
        assert sampler.sample(rng.standard_normal(vocab).astype(np.float32)) in smollm_tokenizer.eos_ids


def test_a_dead_end_raises_instead_of_sampling(smollm_tokenizer: Tokenizer) -> None:
    vocab = smollm_tokenizer.vocab_size
    guide = guide_for(smollm_tokenizer, vocab, Constraint("choice", {"choices": ["ab"]}))
    with pytest.raises(ConstraintDeadEnd):
        guide.accept(smollm_tokenizer.encode("zz", add_special=False)[0])  # a token the mask forbade
    with pytest.raises(ConstraintDeadEnd):
        guide.mask(np.zeros(vocab, np.float32))  # the matcher is now in its error state


def test_a_reasoning_block_comes_first_unconstrained(smollm_tokenizer: Tokenizer) -> None:
    tok, vocab = smollm_tokenizer, smollm_tokenizer.vocab_size
    opener = tok.encode("<|im_start|>", add_special=False)[0]  # a one-token opener in this vocabulary
    reasoning = ("<|im_start|>", "</think>")
    guide = guide_for(tok, vocab, Constraint("choice", {"choices": ["ok"]}, reasoning=reasoning))
    allowed = guide.allowed()
    assert allowed[opener] and 2 <= allowed.sum() <= 3  # the opener, and the grammar's "ok" (or "o")
    guide.accept(opener)
    logits = np.zeros(vocab, np.float32)
    for token in tok.encode("free text </thi", add_special=False):
        assert np.array_equal(guide.mask(logits), logits)  # thinking: nothing masked
        guide.accept(token)
    for token in tok.encode("nk>", add_special=False):
        guide.accept(token)
    assert guide.active and not guide.allowed()[opener]
    assert {tok.token_bytes(int(i)) for i in np.flatnonzero(guide.allowed())} <= {b"o", b"ok"}
    # Without the opener first, the constraint holds from the first token.
    direct = guide_for(tok, vocab, Constraint("choice", {"choices": ["ok"]}, reasoning=reasoning))
    direct.accept(tok.encode("ok", add_special=False)[0])
    assert direct.active


def test_structural_tag_constrains_only_inside_the_tag(smollm_tokenizer: Tokenizer) -> None:
    tok, vocab = smollm_tokenizer, smollm_tokenizer.vocab_size
    tag = Constraint("structural_tag", {"triggers": ["<f"],
                                        "structures": [{"begin": "<f>", "schema": {"enum": [17, 2]}, "end": "</f>"}]})
    guide = guide_for(tok, vocab, tag)
    assert guide.allowed().sum() > vocab // 2  # free text first
    for token in tok.encode("It is <f>", add_special=False):
        guide.accept(token)
    inside = {tok.token_bytes(int(i)) for i in np.flatnonzero(guide.allowed())}
    assert inside and all(b"17".startswith(b) or b"2".startswith(b) for b in inside)
    for token in tok.encode("17</f> done", add_special=False):
        guide.accept(token)
    assert guide.accepting
