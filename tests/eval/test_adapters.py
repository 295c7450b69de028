"""Evaluating a LoRA adapter: in process with ``adapter=`` and behind a server as ``base:NAME`` give the
same answers; base and adapter runs compare with their differences named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from psionic.core.errors import InvalidInput
from psionic.eval.compare import compare_reports
from psionic.eval.report import check_report
from psionic.eval.runner import RunSettings
from psionic.eval.subjects import EndpointChat, LocalChat, open_subject
from psionic.models.loader import load_model
from psionic.models.lora_config import AdapterConfig
from psionic.models.lora_peft import save_peft
from tests.eval.conftest import sums_package, wasm_package
from tests.eval.test_runner import _run
from tests.models.lora_fixtures import random_adapter
from tests.serve.conftest import start_server, tiny_config


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = load_model(str(tiny_model_path)).config
    adapter = random_adapter(cfg, AdapterConfig(rank=4, alpha=16.0, targets=("q_proj", "v_proj", "down_proj")), 7,
                             std=0.5)
    return save_peft(adapter, tmp_path_factory.mktemp("adapter") / "shift", cfg)


def test_adapter_in_process_matches_the_server_and_differs_from_base(
        tmp_path: Path, tiny_model_path: Path, adapter_dir: Path) -> None:
    pkg = sums_package()
    settings = RunSettings(seed=2, samples=6, repeats=1, concurrency=3)
    base = _run(pkg, LocalChat(str(tiny_model_path)), tmp_path / "base", settings)
    local = LocalChat(str(tiny_model_path), adapter=("shift", str(adapter_dir)))
    assert local.model.endswith(":shift") and local.identity()["adapter_digest"].startswith("sha256:")
    adapted = _run(pkg, local, tmp_path / "adapted", settings)
    check_report(adapted)
    receipt = adapted["samples"][0]["turns"][0]["receipt"]
    assert receipt["artifacts"]["adapter"] == local.adapter_digest

    config = dataclasses.replace(tiny_config(tiny_model_path, tmp_path / "r.sqlite3"),
                                 adapters=(("shift", str(adapter_dir)),))
    server = start_server(config)
    try:
        remote = _run(pkg, EndpointChat(server.base_url + "/v1", f"{server.model}:shift"), tmp_path / "remote",
                      settings)
    finally:
        server.stop()
    same = compare_reports(adapted, remote)
    assert same["identical_answers"] == 6 and same["note"].startswith("no difference")
    differs = compare_reports(base, adapted)
    assert differs["paired"] == 6 and differs["identical_answers"] < 6


def test_adapter_option_is_refused_where_it_cannot_apply(tiny_model_path: Path, adapter_dir: Path) -> None:
    with pytest.raises(InvalidInput, match="BASE:NAME"):
        open_subject(sums_package(), "m", "http://127.0.0.1:9/v1", adapter=("shift", str(adapter_dir)))
    with pytest.raises(InvalidInput, match="applies to a local model"):
        open_subject(wasm_package(), "tassadar:reference", adapter=("shift", str(adapter_dir)))
