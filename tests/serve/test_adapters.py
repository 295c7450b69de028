"""LoRA adapters on the serving engine and the HTTP API: requests with different adapters (and none)
share one batch and each gets the tokens it gets alone; the prefix cache never shares blocks across
adapters; receipts carry the adapter digest and ``psionic verify`` replays them with the adapter."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from psionic.cli.main import main
from psionic.cli.verify import verify_document
from psionic.core.errors import DigestMismatch, InvalidInput, ReplayMismatch
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ProofBundle
from psionic.models.generate import Generation, bundle_for, receipt_for, replay_generation
from psionic.models.loader import load_model
from psionic.models.lora_bank import install_adapter
from psionic.models.lora_config import ALL_TARGETS, AdapterConfig
from psionic.models.lora_peft import save_peft
from psionic.models.sampling import SamplingParams
from psionic.serve.engine import Engine, EngineConfig
from psionic.serve.request import TokenOutput
from psionic.serve.scheduler import SchedulerConfig
from tests.models.lora_fixtures import random_adapter

from .conftest import start_server, tiny_config, write_tiny_llama

PROMPTS = ["The capital of France is", "def f(x):", "Once upon a time", "1, 2, 3,",
           "Water boils at", "Roses are red,"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("adapters")
    path = write_tiny_llama(root / "tiny.gguf")
    loaded = load_model(str(path))
    dirs = {}
    for name, config, seed in (("qv", AdapterConfig(rank=4, alpha=8.0, targets=("q_proj", "v_proj")), 1),
                               ("all", AdapterConfig(rank=8, alpha=8.0, targets=ALL_TARGETS), 2)):
        dirs[name] = save_peft(random_adapter(loaded.config, config, seed, std=0.3), root / name, loaded.config)
    refs = {name: install_adapter(loaded, d, name) for name, d in dirs.items()}
    return path, loaded, dirs, refs


def run(loaded, jobs: list[tuple[str, str | None]], temperature: float = 0.0, seeds: list[int] | None = None) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    engine = Engine(loaded, EngineConfig(kv_tokens=4096, scheduler=SchedulerConfig(max_num_seqs=16, max_num_batched_tokens=48)))
    seen: dict[str, dict] = {}  # type: ignore[type-arg]

    def collect(rid: str):  # type: ignore[no-untyped-def]
        def on(out: TokenOutput) -> None:
            entry = seen.setdefault(rid, {"tokens": []})
            if out.token is not None:
                entry["tokens"].append(out.token)
            if out.facts is not None:
                entry["facts"] = out.facts
        return on

    for i, (prompt, adapter) in enumerate(jobs):
        seed = seeds[i] if seeds else 7 + i
        params = SamplingParams(temperature=temperature, seed=seed, max_tokens=8, ignore_eos=True)
        engine.add_request(f"r{i}", loaded.tokenizer.encode(prompt), params, collect(f"r{i}"), adapter=adapter)
    while engine.has_work:
        engine.step()
    for i in range(len(jobs)):
        seen[f"r{i}"]["batch"] = max(seen[f"r{i}"]["facts"]["batch_sizes"])
    return seen


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_mixed_batch_gives_each_request_what_it_gets_alone(setup, temperature: float) -> None:  # type: ignore[no-untyped-def]
    _, loaded, _, refs = setup
    keys = [None, refs["qv"].digest, refs["all"].digest]
    jobs = [(p, keys[i % 3]) for i, p in enumerate(PROMPTS)]
    batched = run(loaded, jobs, temperature)
    assert max(v["batch"] for v in batched.values()) == len(jobs)  # all six shared steps
    for i, job in enumerate(jobs):
        alone = run(loaded, [job], temperature, seeds=[7 + i])["r0"]
        assert alone["batch"] == 1 and alone["tokens"] == batched[f"r{i}"]["tokens"], job
    # The adapters do change what is generated.
    differs = [run(loaded, [(PROMPTS[0], k)], temperature)["r0"]["tokens"] for k in keys]
    assert differs[0] != differs[1] and differs[0] != differs[2]


def test_prefix_cache_is_not_shared_across_adapters(setup) -> None:  # type: ignore[no-untyped-def]
    _, loaded, _, refs = setup
    engine = Engine(loaded, EngineConfig(kv_tokens=4096))
    prompt = loaded.tokenizer.encode("A prompt long enough to fill more than two blocks of sixteen tokens.")
    facts: dict[str, dict] = {}  # type: ignore[type-arg]

    def ask(rid: str, adapter: str | None) -> int:
        engine.add_request(rid, prompt, SamplingParams(temperature=0, max_tokens=2, ignore_eos=True),
                           lambda out: facts.__setitem__(rid, out.facts) if out.facts else None, adapter=adapter)
        while engine.has_work:
            engine.step()
        return int(facts[rid]["prefix_cache_tokens"])

    assert ask("a", None) == 0
    assert ask("b", refs["qv"].digest) == 0  # same tokens, other adapter: no reuse
    assert ask("c", refs["all"].digest) == 0
    assert ask("d", refs["qv"].digest) >= 32  # same adapter again: reused
    assert ask("e", None) >= 32
    with pytest.raises(InvalidInput, match="no adapter"):
        engine.add_request("f", prompt, SamplingParams(max_tokens=1), lambda out: None, adapter="sha256:" + "0" * 64)


def test_generation_receipt_names_the_adapter_and_replays_with_it(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, loaded, dirs, refs = setup
    ref = refs["all"]
    gen = Generation(loaded, loaded.tokenizer.encode("Once upon a time"),
                     SamplingParams(temperature=0.7, seed=3, max_tokens=6, ignore_eos=True), adapter=ref)
    result = gen.run()
    manifest = RuntimeManifest.current()
    receipt = receipt_for(loaded, result, manifest)
    assert receipt.artifacts["adapter"] == ref.digest
    bundle = bundle_for(loaded, result, receipt, manifest)
    report = verify_document(bundle.to_dict(), [], False)
    assert "with adapter all" in report["replay"]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle.to_dict()))
    assert main(["verify", str(path)]) == 0
    # The recorded path now holds other weights: replay refuses (and a bundle edited to point
    # elsewhere no longer matches its digest).
    replay = json.loads(json.dumps(bundle.replay))
    replay["request"]["model"]["adapter"]["path"] = str(dirs["qv"])
    with pytest.raises(ReplayMismatch, match="digest"):
        replay_generation(ProofBundle(bundle.receipt, bundle.manifest, replay))
    edited = bundle.to_dict()
    edited["replay"] = replay
    with pytest.raises(DigestMismatch):
        ProofBundle.from_dict(edited)


def test_http_adapters_listing_selection_errors_and_verify(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, _, dirs, refs = setup
    config = tiny_config(path, tmp_path / "r.sqlite3")
    config = type(config)(**{**{f: getattr(config, f) for f in config.__dataclass_fields__},
                             "adapters": (("qv", str(dirs["qv"])), ("all", str(dirs["all"])))})
    running = start_server(config)
    try:
        base = running.model
        listed = httpx.get(running.base_url + "/v1/models", timeout=30).json()["data"]
        by_id = {m["id"]: m for m in listed}
        assert {f"{base}:qv", f"{base}:all", base} <= set(by_id)
        assert by_id[f"{base}:qv"]["psionic"]["adapter_digest"] == refs["qv"].digest
        assert by_id[f"{base}:all"]["parent"] == base
        assert by_id[base]["psionic"]["adapters"] == ["all", "qv"]

        def complete(model: str) -> httpx.Response:
            return httpx.post(running.base_url + "/v1/completions", timeout=60, json={
                "model": model, "prompt": "Once upon a time", "max_tokens": 6, "temperature": 0, "ignore_eos": True})

        plain, adapted = complete(base), complete(f"{base}:all")
        assert adapted.status_code == 200, adapted.text
        body = adapted.json()
        assert body["model"] == f"{base}:all"
        assert body["psionic"]["adapter_digest"] == refs["all"].digest
        assert body["psionic"]["receipt"]["artifacts"]["adapter"] == refs["all"].digest
        assert "adapter" not in plain.json()["psionic"]["receipt"]["artifacts"]
        assert body["choices"][0]["text"] != plain.json()["choices"][0]["text"]
        bundle = tmp_path / "served.json"
        bundle.write_text(json.dumps(body))
        assert main(["verify", str(bundle)]) == 0

        responded = httpx.post(running.base_url + "/v1/responses", timeout=60, json={
            "model": f"{base}:qv", "input": "Hello", "max_output_tokens": 4, "temperature": 0})
        assert responded.status_code == 200, responded.text
        assert responded.json()["model"] == f"{base}:qv"
        assert responded.json()["psionic"]["receipt"]["artifacts"]["adapter"] == refs["qv"].digest

        missing = complete(f"{base}:nope")
        assert missing.status_code == 404
        error = missing.json()["error"]
        assert error["code"] == "model_not_found" and error["param"] == "model" and "nope" in error["message"]
        assert complete("other:qv").status_code == 404
    finally:
        running.stop()


@pytest.mark.parametrize("spec", ["noequals", "=path", "name=", "a:b=path"])
def test_bad_adapter_flags(spec: str) -> None:
    from psionic.cli.serve import parse_adapter

    with pytest.raises(InvalidInput, match="NAME=PATH"):
        parse_adapter(spec)


def test_bad_adapter_names_and_paths(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, _, dirs, _ = setup
    config = tiny_config(path, tmp_path / "r.sqlite3")
    fields = {f: getattr(config, f) for f in config.__dataclass_fields__}
    from psionic.core.errors import ModelNotFound
    from psionic.serve.server import build

    with pytest.raises(ModelNotFound):
        build(type(config)(**{**fields, "adapters": (("x", str(tmp_path / "missing")),)}))
    with pytest.raises(InvalidInput, match="unique"):
        build(type(config)(**{**fields, "adapters": (("x", str(dirs["qv"])), ("x", str(dirs["all"])))}))


@pytest.mark.slow
def test_smollm2_mixed_adapter_batch_matches_each_alone(tmp_path: Path) -> None:
    loaded = load_model("smollm2-135m-instruct")
    keys: list[str | None] = [None]
    for seed, config in ((1, AdapterConfig(rank=8, targets=("q_proj", "v_proj"))),
                         (2, AdapterConfig(rank=4, targets=ALL_TARGETS))):
        adapter = random_adapter(loaded.config, config, seed, std=0.2)
        keys.append(install_adapter(loaded, save_peft(adapter, tmp_path / str(seed), loaded.config)).digest)
    jobs = [(p, keys[i % 3]) for i, p in enumerate(PROMPTS)]
    batched = run(loaded, jobs, 0.7)
    assert max(v["batch"] for v in batched.values()) == len(jobs)
    for i, job in enumerate(jobs):
        assert run(loaded, [job], 0.7, seeds=[7 + i])["r0"]["tokens"] == batched[f"r{i}"]["tokens"], job
    outputs = [run(loaded, [(PROMPTS[0], k)], 0.0)["r0"]["tokens"] for k in keys]
    assert outputs[0] != outputs[1] and outputs[0] != outputs[2]
