"""``psionic tassadar run`` and ``bench``: the JSON they print and the files they write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.cli.main import main
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt
from psionic.tassadar import ingress
from psionic.tassadar.trace import decode, encode, trace_digest
from psionic.tassadar.workloads import get

from .markers import needs_clang


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_run_json_carries_result_digests_and_receipt(capsys, tmp_path: Path) -> None:
    path = str(get("io_prefix_sums").path)
    trace_file = tmp_path / "trace.json"
    data = _json(capsys, ["tassadar", "run", path, "--input", "3", "1", "2", "0x10",
                          "--trace", str(trace_file), "--json"])
    assert data["result"] == [19] and data["outputs"] == [1, 3, 19] and data["trap"] is None
    assert data["decode"] == "reference" and data["steps"] > 0 and data["seconds"] >= 0
    program = ingress.load(path)
    assert data["program_digest"] == program.digest
    receipt = ExecutionReceipt.from_dict(data["receipt"])
    assert receipt.kind == "tassadar_run"
    assert receipt.artifacts == {"program": program.digest}
    assert receipt.manifest_digest == RuntimeManifest.current().digest
    saved = json.loads(trace_file.read_text())
    assert saved["abi"] == "tassadar.trace.v3"
    assert trace_digest(saved["tokens"]) == data["trace_digest"]
    assert len(saved["tokens"]) == data["tokens"]
    assert list(encode(decode(saved["tokens"]))) == saved["tokens"]


def test_run_reports_traps_and_limits(capsys) -> None:
    data = _json(capsys, ["tassadar", "run", str(get("trap_overflow").path),
                          "--args", "-2147483648", "-1", "--json"])
    assert data["trap"] == "integer_overflow" and data["result"] == []
    data = _json(capsys, ["tassadar", "run", str(get("sum_loop").path), "--args", "100000",
                          "--max-steps", "50", "--json"])
    assert data["trap"] == "step_limit_exceeded" and data["steps"] == 50


def test_i64_values_survive_the_receipt(capsys) -> None:
    data = _json(capsys, ["tassadar", "run", str(get("i64_arith").path), "--args",
                          "-1234567890123", "98765432109", "--json"])
    assert data["result"] == [-61207865415807729]
    assert ExecutionReceipt.from_dict(data["receipt"]).kind == "tassadar_run"


def test_run_entry_and_human_output(capsys, tmp_path: Path) -> None:
    wat = tmp_path / "m.wat"
    wat.write_text('(module (func (export "main") (result i32) i32.const 5)'
                   ' (func (export "other") (param i32) (result i32) local.get 0))')
    assert main(["tassadar", "run", str(wat)]) == 0
    out = capsys.readouterr().out
    assert "result   [5]" in out and "i32.const b05" in out
    data = _json(capsys, ["tassadar", "run", str(wat), "--entry", "other", "--args", "9",
                          "--json"])
    assert data["result"] == [9] and data["entry"] == "other"


def test_unsupported_programs_fail_with_the_named_reason(capsys, tmp_path: Path) -> None:
    wat = tmp_path / "f.wat"
    wat.write_text('(module (func (export "run") (result f32) f32.const 1))')
    assert main(["tassadar", "run", str(wat)]) == 2
    assert "unsupported_wasm_feature" in capsys.readouterr().err
    wat.write_text('(module (import "env" "clock" (func (result i64))))')
    assert main(["tassadar", "run", str(wat)]) == 2
    assert "unsupported_import: import env.clock" in capsys.readouterr().err


def test_c_without_clang_says_what_to_install(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ingress, "find_tool", lambda name: None)
    src = tmp_path / "p.c"
    src.write_text("int run(void) { return 0; }")
    assert main(["tassadar", "run", str(src)]) == 2
    assert "tool_missing" in capsys.readouterr().err


def test_bench_reference_prints_steps_per_second(capsys) -> None:
    data = _json(capsys, ["tassadar", "bench", "reference", "--workload", "sum_loop",
                          "--workload", "br_table_switch"])
    rows = {r["workload"]: r for r in data["workloads"]}
    assert set(rows) == {"sum_loop", "br_table_switch"}
    assert rows["sum_loop"]["steps"] == 12006 and rows["sum_loop"]["steps_per_s"] > 0
    assert rows["sum_loop"]["tokens_per_step"] == pytest.approx(
        rows["sum_loop"]["tokens"] / rows["sum_loop"]["steps"], abs=1e-3)
    assert data["decode"] == "reference" and data["manifest"]["digest"].startswith("sha256:")


def test_unknown_decode_modes_and_workloads_are_refused(capsys) -> None:
    path = str(get("sum_loop").path)
    assert main(["tassadar", "run", path, "--args", "3", "--decode", "hull9"]) == 2
    assert "unknown decode mode 'hull9'" in capsys.readouterr().err
    assert main(["tassadar", "bench", "reference", "--workload", "nope"]) == 2
    assert "no workload 'nope'" in capsys.readouterr().err


def test_workloads_listing(capsys) -> None:
    rows = _json(capsys, ["tassadar", "workloads", "--json"])
    assert any(r["name"] == "sudoku_inkala_c" and r["slow"] for r in rows)


@needs_clang
def test_run_a_c_program(capsys) -> None:
    data = _json(capsys, ["tassadar", "run", str(get("fib_c").path), "--args", "15", "--json"])
    assert data["result"] == [610] and data["trap"] is None
    assert data["program_digest"] == ingress.load(get("fib_c").path).digest
