from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psionic.core.digest import is_digest
from psionic.core.errors import InvalidInput, MalformedGGUF, UnsupportedTokenizer
from psionic.models import tokenizer as tokenizer_module
from psionic.models import tokenizer_models, tokenizer_vocab
from psionic.models.tokenizer import IncrementalDecoder, Tokenizer
from psionic.models.tokenizer_models import byte_to_unicode
from psionic.models.tokenizer_vocab import TokenType, Vocab

_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = next(
    (p for p in (_ROOT / "shared", _ROOT.parent / "shared") if p.is_dir()), _ROOT / "shared"
) / "fixtures" / "llamacpp"
MODELS = {
    "smollm2-135m-instruct-q4_1": "smollm_tokenizer",
    "gemma3-270m-q4_k_m": "gemma_tokenizer",
}


def _cases() -> list[tuple[str, int]]:
    if not FIXTURES.is_dir():
        return []
    out = []
    for name in MODELS:
        cases = json.loads((FIXTURES / f"public_{name}.json").read_text())["cases"]
        out += [(name, i) for i in range(len(cases))]
    return out


def _case(name: str, i: int) -> dict[str, Any]:
    return json.loads((FIXTURES / f"public_{name}.json").read_text())["cases"][i]


TRICKY = [
    "héllo wörld — ça va? naïve café",
    "emoji 🤖🎉 family 👩‍👩‍👧 flags 🇫🇷🇯🇵 skin 👍🏽",
    "中文字符测试，日本語のテキスト。한국어 문장",
    "  leading spaces,   runs   of spaces\t\ttabs\n\n\nnewlines  \n",
    "digits 1234567890 3.14159 -2e-9 1,000,000 007",
    "def f(x):\n    return {'k': [x**2, x // 3]}  # comment\n\tpass\r\n",
    "<|im_start|>user\nhi<|im_end|> <start_of_turn>model\n<end_of_turn>",
    "control \x00 \x07 \x7f chars and zero\u200bwidth",
    "Zalgo Z̵̡̢a̶l̷g̸o̶ and RTL مرحبا بالعالم",
    "",
    " ",
    "\n",
]


@pytest.mark.parametrize(("model", "i"), _cases(), ids=[f"{m}-{i}" for m, i in _cases()])
def test_prompt_tokens_match_llama_cpp(request: pytest.FixtureRequest, model: str, i: int) -> None:
    tok: Tokenizer = request.getfixturevalue(MODELS[model])
    case = _case(model, i)
    assert tok.encode(case["prompt"]) == case["prompt_tokens"]
    assert tok.decode(case["greedy_tokens"]) == case["greedy_text"]


def test_bos_follows_add_bos_token(smollm_tokenizer: Tokenizer, gemma_tokenizer: Tokenizer) -> None:
    assert not smollm_tokenizer.add_bos and smollm_tokenizer.bos_id == 1
    assert smollm_tokenizer.encode("Hi")[0] != 1
    assert gemma_tokenizer.add_bos and gemma_tokenizer.bos_id == 2
    assert gemma_tokenizer.encode("Hi")[0] == 2
    assert 2 not in gemma_tokenizer.encode("Hi", add_special=False)
    assert gemma_tokenizer.encode("") == [2] and gemma_tokenizer.encode("", add_special=False) == []


def test_end_markers(smollm_tokenizer: Tokenizer, gemma_tokenizer: Tokenizer) -> None:
    assert smollm_tokenizer.eos_ids == {0, 2}  # <|endoftext|>, <|im_end|>
    assert gemma_tokenizer.eos_ids == {1, 106}  # <eos>, <end_of_turn>
    assert smollm_tokenizer.token_text(2) == "<|im_end|>"
    assert gemma_tokenizer.token_text(106) == "<end_of_turn>"


@pytest.mark.parametrize(
    ("fixture", "text"),
    [
        ("smollm_tokenizer", "<|im_start|>"),
        ("smollm_tokenizer", "<|im_end|>"),
        ("smollm_tokenizer", "<|endoftext|>"),
        ("gemma_tokenizer", "<start_of_turn>"),
        ("gemma_tokenizer", "<end_of_turn>"),
        ("gemma_tokenizer", "<bos>"),
        ("gemma_tokenizer", "\n\n"),
    ],
)
def test_special_tokens_are_single_ids(request: pytest.FixtureRequest, fixture: str, text: str) -> None:
    tok: Tokenizer = request.getfixturevalue(fixture)
    ids = tok.encode(text, add_special=False)
    assert ids == [tok.token_id(text)]
    assert tok.decode(ids) == text
    # Inside text, too, and not glued to what surrounds it.
    ids = tok.encode(f"a{text}b", add_special=False)
    assert tok.token_id(text) in ids and tok.decode(ids) == f"a{text}b"


def test_parse_special_false_keeps_control_text_as_text(
    smollm_tokenizer: Tokenizer, gemma_tokenizer: Tokenizer
) -> None:
    ids = smollm_tokenizer.encode("<|im_start|>", add_special=False, parse_special=False)
    assert len(ids) > 1 and 1 not in ids
    assert smollm_tokenizer.decode(ids) == "<|im_start|>"
    # User-defined tokens (gemma's newline runs) are matched either way, as in llama.cpp.
    assert gemma_tokenizer.encode("\n\n", add_special=False, parse_special=False) == [108]


def test_chat_turn_encodes_as_llama_cpp_would(smollm_tokenizer: Tokenizer) -> None:
    ids = smollm_tokenizer.encode("<|im_start|>user\nhi<|im_end|>\n")
    assert ids[0] == 1 and ids[-2] == 2
    assert [smollm_tokenizer.token_text(i) for i in ids] == [
        "<|im_start|>", "user", "Ċ", "hi", "<|im_end|>", "Ċ"
    ]


@pytest.mark.parametrize("fixture", ["smollm_tokenizer", "gemma_tokenizer"])
@pytest.mark.parametrize("text", TRICKY)
def test_round_trips(request: pytest.FixtureRequest, fixture: str, text: str) -> None:
    tok: Tokenizer = request.getfixturevalue(fixture)
    ids = tok.encode(text, add_special=False)
    assert tok.decode(ids) == text
    stream = tok.incremental_decoder()
    chunks = [stream.push(i) for i in ids] + [stream.flush()]
    assert "".join(chunks) == text == stream.text
    assert all("\ufffd" not in c for c in chunks)


def test_skip_special_drops_control_tokens(smollm_tokenizer: Tokenizer) -> None:
    ids = smollm_tokenizer.encode("<|im_start|>user\nhi<|im_end|>")
    assert smollm_tokenizer.decode(ids, skip_special=True) == "user\nhi"
    assert smollm_tokenizer.is_special(1) and not smollm_tokenizer.is_special(ids[1])
    stream = smollm_tokenizer.incremental_decoder(skip_special=True)
    assert stream.extend(ids) + stream.flush() == "user\nhi"


def test_gemma_falls_back_to_bytes(gemma_tokenizer: Tokenizer) -> None:
    rare = "\U0010fffd"  # a private-use character no vocabulary has
    assert gemma_tokenizer.token_id(rare) is None
    ids = gemma_tokenizer.encode(rare, add_special=False)
    assert len(ids) == 4
    assert all(gemma_tokenizer.token_type(i) == TokenType.BYTE for i in ids)
    assert [gemma_tokenizer.token_text(i) for i in ids] == ["<0xF4>", "<0x8F>", "<0xBF>", "<0xBD>"]
    assert gemma_tokenizer.decode(ids) == rare


def test_streaming_never_splits_a_character(smollm_tokenizer: Tokenizer) -> None:
    ids = smollm_tokenizer.encode("🤖", add_special=False)
    assert len(ids) > 1  # byte-level BPE splits this emoji across tokens
    stream = smollm_tokenizer.incremental_decoder()
    assert [stream.push(i) for i in ids[:-1]] == [""] * (len(ids) - 1)
    assert stream.push(ids[-1]) == "🤖"
    # Cut off mid-character: the held bytes come out as one replacement character.
    cut = smollm_tokenizer.incremental_decoder()
    assert cut.extend(ids[:-1]) == "" and cut.flush() == "\ufffd"
    assert smollm_tokenizer.decode(ids[:-1]) == "\ufffd"


# Characters whose UTF-8 bytes all have a token in SmolLM2's byte alphabet (it lacks the
# lead bytes F1 and F2, planes 4 to 11, and six control characters).
_ENCODABLE = st.characters(
    codec="utf-8", max_codepoint=0x3FFFF, exclude_characters="\x04\x06\x13\x14\x16\x1d"
)


@settings(max_examples=60, deadline=None)
@given(st.text(_ENCODABLE, max_size=40))
def test_streaming_equals_decode_property(smollm_tokenizer: Tokenizer, text: str) -> None:
    ids = smollm_tokenizer.encode(text, add_special=False)
    assert smollm_tokenizer.decode(ids) == text
    stream = smollm_tokenizer.incremental_decoder()
    assert stream.extend(ids) + stream.flush() == text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 49151), max_size=30))
def test_streaming_equals_decode_on_any_ids(smollm_tokenizer: Tokenizer, ids: list[int]) -> None:
    stream = smollm_tokenizer.incremental_decoder()
    assert stream.extend(ids) + stream.flush() == smollm_tokenizer.decode(ids)


def test_bytes_missing_from_the_alphabet_are_dropped_as_llama_cpp_does(
    smollm_tokenizer: Tokenizer,
) -> None:
    assert smollm_tokenizer.token_id("\x04") is None
    assert smollm_tokenizer.decode(smollm_tokenizer.encode("a\x04b")) == "ab"


def test_facts_and_bad_arguments(smollm_tokenizer: Tokenizer) -> None:
    tok = smollm_tokenizer
    assert tok.vocab_size == 49152
    assert tok.token_text(504) == "The" and tok.token_bytes(3575) == b" capital"
    assert tok.token_type(1) == TokenType.CONTROL
    with pytest.raises(InvalidInput, match="outside the vocabulary"):
        tok.decode([49152])
    with pytest.raises(InvalidInput):
        tok.decode([-1])
    with pytest.raises(InvalidInput):
        tok.encode(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="surrogate"):
        tok.encode("ok \ud800")
    import numpy as np

    assert tok.decode(np.array([504, 3575])) == "The capital"


def test_digest_is_stable_and_covers_settings(smollm_gguf: Any, smollm_tokenizer: Tokenizer) -> None:
    assert is_digest(smollm_tokenizer.digest)
    assert Tokenizer.from_gguf(smollm_gguf).digest == smollm_tokenizer.digest
    base = _bpe_meta()
    one = Tokenizer(Vocab.from_gguf(base))
    assert Tokenizer(Vocab.from_gguf(dict(base))).digest == one.digest
    flipped = Tokenizer(Vocab.from_gguf({**base, "tokenizer.ggml.add_eos_token": True}))
    assert flipped.digest != one.digest


def test_doctests_run() -> None:
    for module in (tokenizer_module, tokenizer_models, tokenizer_vocab):
        assert doctest.testmod(module).failed == 0


# --- synthetic vocabularies ------------------------------------------------------

_BYTES = list(byte_to_unicode().values())


def _bpe_meta(pre: str = "gpt-2", extra: list[str] = (), merges: list[str] = ()) -> dict[str, Any]:
    tokens = [*_BYTES, *extra, "<eos>"]
    return {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": pre,
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": [1] * (len(tokens) - 1) + [3],
        "tokenizer.ggml.merges": list(merges),
        "tokenizer.ggml.eos_token_id": len(tokens) - 1,
    }


def _spm_meta(pieces: dict[str, float], add_space_prefix: bool = True) -> dict[str, Any]:
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tokens = [*specials, *byte_tokens, *pieces]
    return {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": [0.0] * (3 + 256) + list(pieces.values()),
        "tokenizer.ggml.token_type": [2, 3, 3] + [6] * 256 + [1] * len(pieces),
        "tokenizer.ggml.add_space_prefix": add_space_prefix,
    }


def _ids(tok: Tokenizer, text: str, **kw: Any) -> list[str]:
    return [tok.token_text(i) for i in tok.encode(text, **kw)]


def test_pre_tokenizers_split_digits_their_own_way() -> None:
    merges = ["1 2", "12 3", "4 5"]
    extra = ["12", "123", "45"]
    expect = {
        "smollm": ["1", "2", "3", "4", "5"],
        "qwen2": ["1", "2", "3", "4", "5"],
        "llama-bpe": ["123", "45"],
        "default": ["123", "45"],
        "gpt-2": ["123", "45"],
    }
    for pre, pieces in expect.items():
        tok = Tokenizer(Vocab.from_gguf(_bpe_meta(pre, extra, merges)))
        assert _ids(tok, "12345") == pieces, pre


def test_llama_bpe_takes_whole_words_before_merging() -> None:
    meta = _bpe_meta("llama-bpe", ["abc"])
    assert _ids(Tokenizer(Vocab.from_gguf(meta)), "abc", add_special=False) == ["abc"]
    assert Tokenizer(Vocab.from_gguf(meta)).add_bos is False  # no BOS id: nothing to add
    meta = _bpe_meta("qwen2", ["abc"])
    assert _ids(Tokenizer(Vocab.from_gguf(meta)), "abc") == ["a", "b", "c"]


def test_add_eos_token_appends_eos() -> None:
    tok = Tokenizer(Vocab.from_gguf({**_bpe_meta(), "tokenizer.ggml.add_eos_token": True}))
    assert _ids(tok, "a") == ["a", "<eos>"]
    assert _ids(tok, "a", add_special=False) == ["a"]


def test_sentencepiece_merges_follow_scores() -> None:
    prefer_ab = Tokenizer(Vocab.from_gguf(_spm_meta({"a": -5, "b": -5, "c": -5, "ab": -1, "bc": -2},
                                                    add_space_prefix=False)))
    assert _ids(prefer_ab, "abc", add_special=False) == ["ab", "c"]
    prefer_bc = Tokenizer(Vocab.from_gguf(_spm_meta({"a": -5, "b": -5, "c": -5, "ab": -2, "bc": -1},
                                                    add_space_prefix=False)))
    assert _ids(prefer_bc, "abc", add_special=False) == ["a", "bc"]


def test_sentencepiece_space_prefix_and_byte_fallback() -> None:
    pieces = {"▁": -3, "a": -4, "b": -4, "▁a": -2, "ab": -2.5, "▁ab": -1}
    tok = Tokenizer(Vocab.from_gguf(_spm_meta(pieces)))
    assert tok.add_bos and tok.bos_id == 1  # SentencePiece defaults
    assert _ids(tok, "ab") == ["<s>", "▁ab"]
    assert _ids(tok, "ab</s>ab", add_special=False) == ["▁ab", "</s>", "▁ab"]
    assert _ids(tok, "ab c", add_special=False) == ["▁ab", "▁", "<0x63>"]
    ids = tok.encode("ab c", add_special=False)
    assert tok.decode(ids) == "ab c"  # the prefixed space comes off again
    stream = tok.incremental_decoder()
    assert stream.extend(ids) + stream.flush() == "ab c"
    plain = Tokenizer(Vocab.from_gguf(_spm_meta(pieces, add_space_prefix=False)))
    assert _ids(plain, "ab", add_special=False) == ["ab"]


BAD_VOCABS = [
    ("no model", lambda m: m.pop("tokenizer.ggml.model"), MalformedGGUF),
    ("model t5", lambda m: m.update({"tokenizer.ggml.model": "t5"}), UnsupportedTokenizer),
    ("unknown pre", lambda m: m.update({"tokenizer.ggml.pre": "nonesuch"}), UnsupportedTokenizer),
    ("no tokens", lambda m: m.update({"tokenizer.ggml.tokens": []}), MalformedGGUF),
    ("tokens not strings", lambda m: m.update({"tokenizer.ggml.tokens": [1, 2]}), MalformedGGUF),
    ("types too short", lambda m: m["tokenizer.ggml.token_type"].pop(), MalformedGGUF),
    ("duplicate token", lambda m: m["tokenizer.ggml.tokens"].__setitem__(1, "!"), MalformedGGUF),
    ("eos out of range", lambda m: m.update({"tokenizer.ggml.eos_token_id": 10**6}), MalformedGGUF),
    ("add_bos without bos", lambda m: m.update({"tokenizer.ggml.add_bos_token": True}),
     MalformedGGUF),
    ("flag not bool", lambda m: m.update({"tokenizer.ggml.add_bos_token": 1}), MalformedGGUF),
    ("merge without space", lambda m: m.update({"tokenizer.ggml.merges": ["ab"]}), MalformedGGUF),
    ("merge of unknown tokens", lambda m: m.update({"tokenizer.ggml.merges": ["€ x"]}),
     MalformedGGUF),
]


@pytest.mark.parametrize(("case", "damage", "error"), BAD_VOCABS, ids=[c[0] for c in BAD_VOCABS])
def test_bad_vocabularies_are_refused(case: str, damage: Any, error: type) -> None:
    meta = _bpe_meta()
    meta["tokenizer.ggml.tokens"] = list(meta["tokenizer.ggml.tokens"])
    damage(meta)
    with pytest.raises(error):
        Tokenizer(Vocab.from_gguf(meta))


def test_bad_sentencepiece_vocabularies_are_refused() -> None:
    meta = _spm_meta({"a": -1})
    del meta["tokenizer.ggml.scores"]
    with pytest.raises(MalformedGGUF, match="scores"):
        Tokenizer(Vocab.from_gguf(meta))
    meta = _spm_meta({"a": -1})
    meta["tokenizer.ggml.tokens"][3] = "<0xZZ>"
    with pytest.raises(MalformedGGUF, match="<0xZZ>"):
        Tokenizer(Vocab.from_gguf(meta))


def test_incremental_decoder_is_exported() -> None:
    assert tokenizer_module.IncrementalDecoder is IncrementalDecoder
