from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from psionic.core.digest import digest_file, is_digest
from psionic.core.errors import (
    InvalidInput,
    MalformedFile,
    MalformedJSON,
    MissingTensor,
    ModelNotFound,
    ModelNotInstalled,
    TensorShapeMismatch,
    UnknownArchitecture,
    UnsupportedOperation,
)
from psionic.models.bert import POOLING_MODES, BertConfig, EmbeddingModel, plan_batches
from psionic.models.catalog import CatalogEntry
from psionic.models.safetensors_file import SafetensorsFile

_ROOT = Path(__file__).resolve().parents[2]
_SHARED = next((p for p in (_ROOT / "shared", _ROOT.parent / "shared") if p.is_dir()), _ROOT / "shared")
FIXTURE = _SHARED / "fixtures" / "embeddings" / "public_all-minilm-l6-v2.json"


@pytest.fixture(scope="module")
def minilm() -> EmbeddingModel:
    return EmbeddingModel.load("all-minilm-l6-v2")


@pytest.fixture(scope="module")
def fixture_cases() -> list[dict]:
    if not FIXTURE.is_file():
        pytest.skip(f"reference outputs not found at {FIXTURE}")
    return json.loads(FIXTURE.read_text())["cases"]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64 * b64).sum(1) / np.linalg.norm(a64, axis=1) / np.linalg.norm(b64, axis=1)


# --- the shipped model against sentence-transformers ------------------------------


def test_parity_with_sentence_transformers(minilm: EmbeddingModel, fixture_cases: list[dict]) -> None:
    texts = [case["text"] for case in fixture_cases]
    reference = np.array([case["embedding"] for case in fixture_cases])
    result = minilm.embed_batch(texts)
    assert result.embeddings.shape == (len(texts), 384) and result.embeddings.dtype == np.float32
    cosines = _cosines(result.embeddings, reference)
    assert cosines.min() >= 0.999, dict(zip(texts, cosines.round(6), strict=True))
    assert np.allclose(np.linalg.norm(result.embeddings, axis=1), 1.0, atol=1e-5)  # Normalize module
    # The fixture's last text runs past the 256-token limit; the oracle truncated it too.
    assert result.truncated == tuple(len(t) > 1000 for t in texts) and max(result.token_counts) == 256


def test_shape_facts_and_digests(minilm: EmbeddingModel) -> None:
    assert minilm.dimensions == 384
    assert minilm.max_tokens == 256  # sentence_bert_config.json, not tokenizer.json's 128
    entry = CatalogEntry.get("all-minilm-l6-v2")
    assert minilm.model_digest == entry.expected_digest
    assert is_digest(minilm.tokenizer_digest)
    assert minilm.tokenizer_digest == digest_file(minilm.tokenizer_path)


def test_tokens_truncation_and_empty_text(minilm: EmbeddingModel) -> None:
    long_text = "word " * 400
    encoded = minilm.encode(["", "Hello world", long_text])
    assert encoded[0].ids == (101, 102) and not encoded[0].truncated  # [CLS] [SEP]
    assert encoded[1].ids[0] == 101 and encoded[1].ids[-1] == 102 and not encoded[1].truncated
    assert len(encoded[2].ids) == 256 and encoded[2].ids[-1] == 102 and encoded[2].truncated
    assert minilm.count_tokens(["", "Hello world", long_text]) == [2, len(encoded[1].ids), 256]
    # Lowercasing comes from tokenizer.json's normalizer.
    assert minilm.encode(["HELLO"])[0].ids == minilm.encode(["hello"])[0].ids
    result = minilm.embed_batch([""])
    assert result.truncated == (False,) and result.token_counts == (2,)
    assert np.all(np.isfinite(result.embeddings))


def test_batch_does_not_change_an_embedding(minilm: EmbeddingModel) -> None:
    texts = ["", "short", "A somewhat longer sentence about cats and dogs.", "short", "Paris is in France."]
    together = minilm.embed(texts)
    alone = np.concatenate([minilm.embed([t]) for t in texts])
    assert _cosines(together, alone).min() >= 0.99999
    assert np.array_equal(together[1], together[3]) or _cosines(together[1:2], together[3:4])[0] > 0.99999


def test_padding_is_masked_out(minilm: EmbeddingModel) -> None:
    ids = np.array(minilm.encode(["The cat sits on the mat."])[0].ids)
    n = len(ids)
    padded = np.concatenate([ids, [2023, 2003, 7667, 999]])  # real words where padding would be
    mask = np.concatenate([np.ones(n), np.zeros(4)]).astype(np.float32)
    plain = minilm.model(ids[None], np.ones((1, n), np.float32))[0]
    masked = minilm.model(padded[None], mask[None])[0, :n]
    assert np.allclose(plain, masked, atol=1e-5)


def test_order_is_kept_across_batches(minilm: EmbeddingModel) -> None:
    small = EmbeddingModel(
        minilm.name, minilm.directory, minilm.pipeline, minilm.config, minilm.model,
        minilm.tokenizer, minilm.max_tokens, batch_size=2,
    )
    texts = ["one two three four five six", "a", "b c", "a"]
    assert _cosines(small.embed(texts), minilm.embed(texts)).min() >= 0.99999
    out = small.embed(texts)
    assert _cosines(out[1:2], out[3:4])[0] >= 0.99999 and _cosines(out[0:1], out[1:2])[0] < 0.99


def test_module_tree_mirrors_checkpoint_names(minilm: EmbeddingModel) -> None:
    names = set(SafetensorsFile.open(minilm.weights_path).names())
    unused = {n for n in names if n.startswith("pooler.")} | {"embeddings.position_ids"}
    state = minilm.model.state_dict()
    assert set(state) == names - unused
    weight = state["encoder.layer.0.attention.self.query.weight"]
    assert not weight.flags.owndata and not weight.flags.writeable  # a view of the mapped file


@pytest.mark.parametrize("bad", ["a string", [1, "x"], ["ok", None], [b"bytes"], {"text": "x"}])
def test_non_string_input_is_refused(minilm: EmbeddingModel, bad: object) -> None:
    with pytest.raises(InvalidInput):
        minilm.embed(bad)  # type: ignore[arg-type]


def test_no_texts_gives_an_empty_matrix(minilm: EmbeddingModel) -> None:
    assert minilm.embed([]).shape == (0, 384)


# --- helpers ----------------------------------------------------------------------


def test_plan_batches_groups_by_length() -> None:
    lengths = [2, 300, 10, 9, 40, 12, 256]
    batches = plan_batches(lengths, batch_size=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= 3 for b in batches)
    for batch in batches:
        widths = [lengths[i] for i in batch]
        assert max(widths) <= 2 * min(widths) + 16
    assert [0, 3, 2] in batches  # shortest first, within the slack
    assert plan_batches([], 4) == []


def test_pooling_modes_respect_the_mask() -> None:
    hidden = np.array([[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]]], np.float32)
    mask = np.array([[1.0, 1.0, 0.0]], np.float32)
    assert POOLING_MODES["mean_tokens"](hidden, mask).tolist() == [[2.0, 4.0]]
    assert POOLING_MODES["max_tokens"](hidden, mask).tolist() == [[3.0, 6.0]]
    assert POOLING_MODES["cls_token"](hidden, mask).tolist() == [[1.0, 2.0]]
    assert np.allclose(POOLING_MODES["mean_sqrt_len_tokens"](hidden, mask), [[4.0, 8.0]] / np.sqrt(2.0))


def test_config_ignores_unknown_keys_and_checks_the_rest() -> None:
    raw = json.loads((CatalogEntry.get("all-minilm-l6-v2").path().parent / "config.json").read_text())
    cfg = BertConfig.from_dict({**raw, "some_future_key": 1})
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.head_dim, cfg.layer_norm_eps) == (384, 6, 32, 1e-12)
    with pytest.raises(UnknownArchitecture, match="roberta"):
        BertConfig.from_dict({**raw, "model_type": "roberta"})
    with pytest.raises(MalformedFile, match="hidden_size"):
        BertConfig.from_dict({k: v for k, v in raw.items() if k != "hidden_size"})
    with pytest.raises(MalformedFile, match="heads"):
        BertConfig.from_dict({**raw, "num_attention_heads": 5})
    with pytest.raises(UnsupportedOperation, match="relative_key"):
        BertConfig.from_dict({**raw, "position_embedding_type": "relative_key"})
    with pytest.raises(UnsupportedOperation, match="swish"):
        BertConfig.from_dict({**raw, "hidden_act": "swish"})
    with pytest.raises(MalformedFile, match="layer_norm_eps"):
        BertConfig.from_dict({**raw, "layer_norm_eps": "1e-12"})


# --- loading and its failures, on copies of the model directory -------------------


def _copy_model_dir(tmp_path: Path) -> Path:
    """The shipped directory with the big weights linked, not copied."""
    source = CatalogEntry.get("all-minilm-l6-v2").path().parent
    target = tmp_path / "minilm"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
    (target / "model.safetensors").symlink_to(source / "model.safetensors")
    return target


def test_load_from_a_directory(tmp_path: Path, minilm: EmbeddingModel) -> None:
    model = EmbeddingModel.load(_copy_model_dir(tmp_path))
    assert model.name == "minilm"
    assert _cosines(model.embed(["hello"]), minilm.embed(["hello"]))[0] >= 0.99999


def test_unknown_names_and_wrong_kinds() -> None:
    with pytest.raises(InvalidInput, match="batch_size"):
        EmbeddingModel.load(batch_size=0)
    with pytest.raises(ModelNotFound, match="all-minilm-l6-v2"):
        EmbeddingModel.load("no-such-model")
    with pytest.raises(InvalidInput, match="not an embeddings model"):
        EmbeddingModel.load("smollm2-135m-instruct")


def test_corrupt_safetensors_is_named(tmp_path: Path) -> None:
    directory = _copy_model_dir(tmp_path)
    weights = directory / "model.safetensors"
    weights.unlink()
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(MalformedFile, match="model.safetensors") as info:
        EmbeddingModel.load(directory)
    assert info.value.details["path"] == str(weights)


def test_missing_tokenizer_is_named(tmp_path: Path) -> None:
    directory = _copy_model_dir(tmp_path)
    (directory / "tokenizer.json").unlink()
    with pytest.raises(ModelNotInstalled, match="tokenizer.json") as info:
        EmbeddingModel.load(directory)
    assert info.value.details["path"] == str(directory / "tokenizer.json")


def test_malformed_tokenizer_and_configs(tmp_path: Path) -> None:
    directory = _copy_model_dir(tmp_path)
    (directory / "tokenizer.json").write_text('{"model": {"type": "NoSuchModel"}}')
    with pytest.raises(MalformedFile, match="tokenizer.json"):
        EmbeddingModel.load(directory)
    (directory / "1_Pooling" / "config.json").write_text("{truncated")
    with pytest.raises(MalformedJSON, match="1_Pooling"):
        EmbeddingModel.load(directory)
    (directory / "modules.json").unlink()
    with pytest.raises(ModelNotInstalled, match="modules.json"):
        EmbeddingModel.load(directory)


def test_unsupported_pipelines_are_refused(tmp_path: Path) -> None:
    directory = _copy_model_dir(tmp_path)
    modules = json.loads((directory / "modules.json").read_text())
    dense = {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}
    (directory / "modules.json").write_text(json.dumps([*modules, dense]))
    with pytest.raises(UnsupportedOperation, match="Dense"):
        EmbeddingModel.load(directory)
    (directory / "modules.json").write_text(json.dumps(modules))
    pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "pooling_mode_lasttoken": True}))
    with pytest.raises(UnsupportedOperation, match="lasttoken"):
        EmbeddingModel.load(directory)


# --- a tiny synthetic BERT: missing tensors, shapes, and the transformers oracle ----


def _tiny_bert_dir(tmp_path: Path, drop: str | None = None, bad_shape: str | None = None) -> Path:
    """A 2-layer, 32-wide BERT with random weights and the shipped tokenizer."""
    source = CatalogEntry.get("all-minilm-l6-v2").path().parent
    directory = tmp_path / "tiny"
    (directory / "1_Pooling").mkdir(parents=True)
    d, ff, vocab, positions = 32, 64, 30522, 64
    cfg = {
        "model_type": "bert", "vocab_size": vocab, "hidden_size": d, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": ff, "max_position_embeddings": positions,
        "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
    }
    (directory / "config.json").write_text(json.dumps(cfg))
    shutil.copy(source / "modules.json", directory / "modules.json")
    shutil.copy(source / "tokenizer.json", directory / "tokenizer.json")
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512}))
    pooling = {"word_embedding_dimension": d, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": True}
    (directory / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    rng = np.random.default_rng(7)
    shapes = {
        "embeddings.word_embeddings.weight": (vocab, d),
        "embeddings.position_embeddings.weight": (positions, d),
        "embeddings.token_type_embeddings.weight": (2, d),
        "embeddings.LayerNorm.weight": (d,),
        "embeddings.LayerNorm.bias": (d,),
    }
    for i in range(2):
        p = f"encoder.layer.{i}"
        for name in ("query", "key", "value"):
            shapes[f"{p}.attention.self.{name}.weight"] = (d, d)
            shapes[f"{p}.attention.self.{name}.bias"] = (d,)
        shapes |= {
            f"{p}.attention.output.dense.weight": (d, d), f"{p}.attention.output.dense.bias": (d,),
            f"{p}.attention.output.LayerNorm.weight": (d,), f"{p}.attention.output.LayerNorm.bias": (d,),
            f"{p}.intermediate.dense.weight": (ff, d), f"{p}.intermediate.dense.bias": (ff,),
            f"{p}.output.dense.weight": (d, ff), f"{p}.output.dense.bias": (d,),
            f"{p}.output.LayerNorm.weight": (d,), f"{p}.output.LayerNorm.bias": (d,),
        }
    tensors = {name: (rng.standard_normal(shape) * 0.2).astype(np.float32) for name, shape in shapes.items()}
    for name in tensors:
        if name.endswith("LayerNorm.weight"):
            tensors[name] += 1.0
    if drop:
        del tensors[drop]
    if bad_shape:
        tensors[bad_shape] = np.zeros((3, 3), np.float32)
    save_file({f"bert.{k}": v for k, v in tensors.items()}, str(directory / "model.safetensors"))
    return directory


def test_tiny_bert_loads_with_prefix_and_concatenated_pooling(tmp_path: Path) -> None:
    model = EmbeddingModel.load(_tiny_bert_dir(tmp_path))
    assert model.max_tokens == 64  # min(sentence_bert_config 512, positions 64)
    assert model.dimensions == 64  # cls and mean pooling concatenated, 32 each
    result = model.embed_batch(["a tiny model", "word " * 100])
    assert result.truncated == (False, True) and result.token_counts[1] == 64
    out = result.embeddings
    assert out.shape == (2, 64) and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)  # Normalize


def test_missing_tensor_and_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(MissingTensor, match="encoder.layer.1.output.dense.bias"):
        EmbeddingModel.load(_tiny_bert_dir(tmp_path / "a", drop="encoder.layer.1.output.dense.bias"))
    with pytest.raises(TensorShapeMismatch, match="embeddings.LayerNorm.bias"):
        EmbeddingModel.load(_tiny_bert_dir(tmp_path / "b", bad_shape="embeddings.LayerNorm.bias"))


@pytest.mark.slow
def test_tiny_bert_hidden_states_match_transformers(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    directory = _tiny_bert_dir(tmp_path)
    ours = EmbeddingModel.load(directory)
    config = transformers.BertConfig(**json.loads((directory / "config.json").read_text()))
    oracle = transformers.BertModel(config, add_pooling_layer=False).eval()
    weights = SafetensorsFile.open(directory / "model.safetensors")
    state = {n.removeprefix("bert."): torch.from_numpy(np.array(weights.array(n))) for n in weights.names()}
    missing, unexpected = oracle.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in n for n in missing)
    ids = np.array([[101, 7592, 2088, 102, 0, 0], [101, 2023, 2003, 1037, 3231, 102]])
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], np.float32)
    with torch.no_grad():
        expected = oracle(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    got = ours.model(ids, mask)
    real = mask.astype(bool)
    assert np.allclose(got[real], expected.numpy()[real], atol=1e-4)
