"""Property: for random schemas and random draws, a mask is never empty and EOS is allowed exactly
when the grammar accepts; every finished walk parses and validates."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psionic.models.constraints import Constraint
from psionic.models.guide import guide_for
from psionic.models.tokenizer import Tokenizer

WORDS = st.text(alphabet="abcéü東 _-", min_size=1, max_size=6)
LEAVES = st.one_of(
    st.builds(lambda lo, n: {"type": "integer", "minimum": lo, "maximum": lo + n},
              st.integers(-50, 50), st.integers(0, 20)),
    st.builds(lambda v: {"enum": v}, st.lists(WORDS, min_size=1, max_size=5, unique=True)),
    st.builds(lambda v: {"const": v}, WORDS),
    st.just({"type": "boolean"}),
    st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(0, 4)),
)
SCHEMAS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda props: {"type": "object", "properties": props, "required": sorted(props),
                                 "additionalProperties": False},
                  st.dictionaries(WORDS, inner, min_size=1, max_size=3)),
        st.builds(lambda item, lo: {"type": "array", "items": item, "minItems": lo, "maxItems": lo + 1},
                  inner, st.integers(0, 2)),
        st.builds(lambda a, b: {"anyOf": [a, b]}, inner, inner),
    ),
    max_leaves=5,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=SCHEMAS, seed=st.integers(0, 2**16))
def test_random_schema_walks(smollm_tokenizer: Tokenizer, schema: dict, seed: int) -> None:  # type: ignore[type-arg]
    tok, vocab = smollm_tokenizer, smollm_tokenizer.vocab_size
    guide = guide_for(tok, vocab, Constraint("json_schema", {"schema": schema}))
    eos = sorted(tok.eos_ids)
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for _ in range(300):
        allowed = guide.allowed()
        assert allowed.any()
        assert bool(allowed[eos].any()) == guide.accepting
        if guide.accepting and rng.random() < 0.5:
            break
        ids = np.flatnonzero(allowed)
        non_eos = ids[~np.isin(ids, eos)]
        if not len(non_eos):
            break
        # Prefer the shortest tokens, so that strings and arrays come to an end.
        lengths = np.array([len(tok.token_bytes(int(i))) for i in non_eos])
        token = int(rng.choice(non_eos[lengths == lengths.min()]))
        guide.accept(token)
        out.append(token)
    if guide.accepting:
        jsonschema.validate(json.loads(tok.decode(out)), schema)
