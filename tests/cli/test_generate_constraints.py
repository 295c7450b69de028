"""`psionic generate --json-schema | --regex | --choice`: constrained output, recorded and replayed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from psionic.cli.main import main

SCHEMA = {
    "type": "object",
    # properties out of alphabetical order: the receipt's canonical JSON must not reorder them
    "properties": {"temp_c": {"type": "integer", "minimum": -40, "maximum": 50}, "city": {"type": "string", "maxLength": 20}},
    "required": ["temp_c", "city"],
    "additionalProperties": False,
}


def run_json(capsys, *args: str) -> dict:  # type: ignore[no-untyped-def]
    assert main(["generate", "--json", "--max-tokens", "40", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_schema_output_validates_and_replays(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    bundle = tmp_path / "bundle.json"
    out = run_json(capsys, "--prompt", "The weather in Paris, as JSON.", "--json-schema", str(schema),
                   "--bundle", str(bundle))
    assert out["finish_reason"] == "stop"
    jsonschema.validate(json.loads(out["text"]), SCHEMA)
    assert out["structured_value"] == json.loads(out["text"])
    assert list(json.loads(out["text"])) == ["temp_c", "city"]
    constraint = out["receipt"]["sampling"]["constraint"]
    assert constraint["kind"] == "json_schema" and json.loads(constraint["spec"]) == {"schema": SCHEMA, "strict": True}
    assert main(["verify", str(bundle)]) == 0
    assert "identical" in capsys.readouterr().out


def test_regex_and_choice(capsys) -> None:  # type: ignore[no-untyped-def]
    out = run_json(capsys, "--prompt", "A phone number:", "--regex", r"\+33 [0-9]{3} [0-9]{3}")
    assert re.fullmatch(r"\+33 [0-9]{3} [0-9]{3}", out["text"]) and out["finish_reason"] == "stop"
    out = run_json(capsys, "--prompt", "Is water wet?", "--choice", "yes,no,maybe", "--temperature", "1", "--seed", "5")
    assert out["text"] in ("yes", "no", "maybe") and out["structured_value"] == out["text"]


@pytest.mark.parametrize("args, needle", [
    (["--regex", "(a"], "unsupported_constraint"),
    (["--choice", "a,,b"], "non-empty strings"),
    (["--json-schema", "/nonexistent.json"], "cannot read"),
])
def test_unenforceable_constraints_are_refused(args: list[str], needle: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["generate", "--prompt", "x", *args]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("psionic: error: ") and needle in last


def test_only_one_constraint_flag(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["generate", "--prompt", "x", "--regex", "a", "--choice", "a,b"])
