"""Eval runs end to end on fast subjects: the tiny synthetic model in process and behind psionic's
server, a scripted failing endpoint (errors, timeouts, garbage, resume), and Tassadar decode modes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from psionic.core.errors import PsionicError
from psionic.eval.compare import compare_reports
from psionic.eval.records import SAMPLES, read_records
from psionic.eval.report import build_report, check_report, load_report, write_report
from psionic.eval.runner import RunSettings, run_eval
from psionic.eval.subjects import EndpointChat, LocalChat, TassadarSubject
from tests.eval.conftest import asked, sums_package, wasm_package
from tests.eval.fake_endpoint import FakeEndpoint, Script
from tests.serve.conftest import RunningServer, start_server, tiny_config


def _run(pkg, subject, out: Path, settings: RunSettings, resume: bool = False) -> dict:  # type: ignore[no-untyped-def]
    from psionic.environments.session import plan_session

    identity, records = run_eval(pkg, subject, out, settings, resume=resume, progress=False)
    report = build_report(identity, records, len(plan_session(pkg, settings.seed, settings.samples, settings.repeats)))
    write_report(out, report)
    return report


@pytest.fixture(scope="module")
def server(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tiny_config(tiny_model_path, tmp_path_factory.mktemp("store") / "r.sqlite3"))
    yield running
    running.stop()


def test_local_run_writes_a_checked_report(tmp_path: Path, tiny_model_path: Path) -> None:
    pkg = sums_package()
    report = _run(pkg, LocalChat(str(tiny_model_path)), tmp_path / "a", RunSettings(seed=1, samples=4, repeats=2))
    agg = report["aggregate"]
    assert (agg["planned"], agg["scored"], agg["errors"]) == (8, 8, 0)
    assert set(agg["repeat_means"]) == {"0", "1"} and "mean_score_ci95_t_repeats" in agg
    for name in ("run.json", SAMPLES, "report.json", "report.md", "scores.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    assert (tmp_path / "a" / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sample = report["samples"][0]
    turn = sample["turns"][0]
    assert turn["receipt"]["kind"] == "completion" and turn["exchange"]["kind"] == "eval_exchange"
    assert turn["request"]["seed"] == sample["seed"] and turn["request"]["temperature"] == 0.0
    assert turn["exchange"]["facts"]["served_receipt"] == turn["receipt"]["digest"]
    assert check_report(load_report(tmp_path / "a")) == {"samples": 8, "receipts": 8, "exchanges": 8}
    # The answer is the output the server's receipt binds: an edited answer no longer checks.
    edited = json.loads(json.dumps(report))
    edited["samples"][0]["turns"][0]["message"]["content"] = "a different answer"
    with pytest.raises(PsionicError, match="not the output the receipt binds"):
        check_report(edited)
    edited = json.loads(json.dumps(report))
    edited["samples"][1]["turns"][0]["bundle"]["replay"]["output"]["choices"][0]["text"] += "!"
    with pytest.raises(PsionicError, match="proof bundle digest"):
        check_report(edited)
    md = (tmp_path / "a" / "report.md").read_text()
    assert turn["receipt"]["digest"][7:19] in md and "sums@1.0.0" in md


def test_same_seed_same_answers_and_a_second_endpoint_compares_cleanly(
        tmp_path: Path, tiny_model_path: Path, server: RunningServer) -> None:
    pkg = sums_package()
    settings = RunSettings(seed=3, samples=5, repeats=1, concurrency=3)
    local = _run(pkg, LocalChat(str(tiny_model_path)), tmp_path / "local", settings)
    again = _run(pkg, LocalChat(str(tiny_model_path)), tmp_path / "again", settings)
    remote = _run(pkg, EndpointChat(server.base_url + "/v1", server.model), tmp_path / "remote", settings)
    for other in (again, remote):
        c = compare_reports(local, other)
        assert c["paired"] == 5 and c["identical_answers"] == 5 and c["mcnemar"]["p"] == 1.0
        assert c["note"].startswith("no difference")
    # The server's engine produced exactly the tokens the in-process engine did: same output digests.
    outputs = [[s["turns"][0]["receipt"]["output_digest"] for s in r["samples"]] for r in (local, remote)]
    assert outputs[0] == outputs[1]
    assert remote["run"]["subject"]["endpoint"] == server.base_url
    assert check_report(remote)["exchanges"] == 5


def test_errors_and_timeouts_are_recorded_and_resume_finishes_the_run(tmp_path: Path, sums_dir: Path) -> None:
    pkg = sums_package()
    script = Script(answer=lambda body: f"It is {asked(body) + 3}" if asked(body) % 2 else "no idea",
                    fail_every=4, hang_every=5)
    out = tmp_path / "run"
    settings = RunSettings(seed=0, samples=6, repeats=1, concurrency=1, timeout_s=5.0)
    with FakeEndpoint(script) as fake:
        report = _run(pkg, EndpointChat(fake.url, "fake", timeout_s=1.0), out, settings)
        agg = report["aggregate"]
        assert (agg["planned"], agg["scored"], agg["errors"]) == (6, 4, 2)
        assert report["error_codes"] == {"endpoint_error": 1, "endpoint_timeout": 1}
        failed = set(agg["error_keys"])
        scored_before = {r["key"]: r for r in report["samples"] if r["status"] == "scored"}
        # Resume against a healthy endpoint: only the failed samples are asked again.
        script.fail_every = script.hang_every = 0
        seen = script.arrivals
        resumed = _run(pkg, EndpointChat(fake.url, "fake"), out, settings, resume=True)
        assert script.arrivals - seen == 2
        assert {f"sum{asked(b)}#0" for b in script.bodies[seen:]} == failed
    assert resumed["aggregate"]["scored"] == 6 and resumed["aggregate"]["errors"] == 0
    for key, record in scored_before.items():  # nothing scored was lost or redone
        assert next(r for r in resumed["samples"] if r["key"] == key) == record
    assert resumed["aggregate"]["mean_score"] == pytest.approx(sum(r["score"]["value"] for r in resumed["samples"]) / 6)
    check_report(load_report(out))


def test_garbage_and_unreachable_endpoints(tmp_path: Path) -> None:
    pkg = sums_package(2)
    with FakeEndpoint(Script(garbage_every=1)) as fake:
        report = _run(pkg, EndpointChat(fake.url, "fake"), tmp_path / "g", RunSettings())
    assert report["error_codes"] == {"endpoint_error": 2}
    assert "not JSON" in report["samples"][0]["error"]["message"]
    url = fake.url  # closed now
    report = _run(pkg, EndpointChat(url, "fake", timeout_s=2), tmp_path / "u", RunSettings())
    assert report["error_codes"] == {"endpoint_unreachable": 2}


def test_resume_survives_a_torn_last_line(tmp_path: Path) -> None:
    pkg = sums_package(4)
    out = tmp_path / "run"
    with FakeEndpoint(Script(answer=lambda body: str(asked(body) + 3))) as fake:
        _run(pkg, EndpointChat(fake.url, "fake"), out, RunSettings(concurrency=1))
        lines = (out / SAMPLES).read_bytes().splitlines(keepends=True)
        (out / SAMPLES).write_bytes(b"".join(lines[:2]) + lines[2][:40])  # killed while writing the third
        before = fake.script.arrivals
        resumed = _run(pkg, EndpointChat(fake.url, "fake"), out, RunSettings(concurrency=1), resume=True)
        assert fake.script.arrivals - before == 2
    assert resumed["aggregate"]["scored"] == 4 and resumed["aggregate"]["mean_score"] == 1.0
    assert len(read_records(out / SAMPLES)) == 4


def test_run_conflicts(tmp_path: Path) -> None:
    pkg = sums_package(2)
    with FakeEndpoint() as fake:
        _run(pkg, EndpointChat(fake.url, "fake"), tmp_path / "r", RunSettings())
        with pytest.raises(PsionicError, match="already holds a run") as err:
            _run(pkg, EndpointChat(fake.url, "fake"), tmp_path / "r", RunSettings())
        assert err.value.code == "run_conflict"
        with pytest.raises(PsionicError, match="differs in seed"):
            _run(pkg, EndpointChat(fake.url, "fake"), tmp_path / "r", RunSettings(seed=9), resume=True)
        with pytest.raises(PsionicError, match="no run to resume"):
            _run(pkg, EndpointChat(fake.url, "fake"), tmp_path / "empty", RunSettings(), resume=True)


def test_tassadar_subjects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from psionic.core.errors import UnsupportedOperation
    from psionic.tassadar import run as tassadar_run

    pkg = wasm_package()
    exact = _run(pkg, TassadarSubject("tassadar:reference"), tmp_path / "ref", RunSettings())
    assert exact["aggregate"]["mean_score"] == 1.0
    linear = _run(pkg, TassadarSubject("tassadar:linear"), tmp_path / "lin", RunSettings())
    assert linear["aggregate"]["mean_score"] == 1.0  # the executor runs loops exactly
    assert {s["turns"][0]["receipt"]["kind"] for s in linear["samples"]} == {"tassadar_run"}
    check_report(linear)

    # A decode mode that declines a program: the refusal is the sample's answer, scored as a miss.
    real = tassadar_run.run_program

    def declines_loops(loaded, entry, args, inputs, decode):  # type: ignore[no-untyped-def]
        if decode == "linear" and tuple(args) == (4,):
            raise UnsupportedOperation("loop declined", opcode="loop")
        return real(loaded, entry, args, inputs, decode)

    monkeypatch.setattr(tassadar_run, "run_program", declines_loops)
    declined = _run(pkg, TassadarSubject("tassadar:linear"), tmp_path / "declined", RunSettings())
    by_task = {r["task_id"]: r for r in declined["samples"]}
    assert by_task["mul_add"]["score"]["passed"]
    assert by_task["sum_loop"]["score"]["detail"].startswith("refused: unsupported_operation")
    assert by_task["sum_loop"]["turns"][0]["refusal"]["code"] == "unsupported_operation"
    c = compare_reports(exact, declined)
    assert (c["mcnemar"]["only_a_passed"], c["b_worse"]) == (1, 1)
    check_report(declined)
    with pytest.raises(PsionicError, match="unknown Tassadar decode mode"):
        TassadarSubject("tassadar:magic")


def test_check_report_catches_edits(tmp_path: Path) -> None:
    pkg = sums_package(3)
    with FakeEndpoint(Script(answer=lambda body: "5")) as fake:
        report = _run(pkg, EndpointChat(fake.url, "fake"), tmp_path / "r", RunSettings())
    edited = json.loads(json.dumps(report))
    edited["samples"][0]["score"]["value"] = 1.0 - edited["samples"][0]["score"]["value"]
    with pytest.raises(PsionicError, match="scores"):
        check_report(edited)
    edited = json.loads(json.dumps(report))
    edited["aggregate"]["mean_score"] = 0.99
    with pytest.raises(PsionicError, match="mean_score"):
        check_report(edited)
    edited = json.loads(json.dumps(report))
    edited["samples"][1]["turns"][0]["response"]["choices"][0]["message"]["content"] = "6"
    with pytest.raises(PsionicError, match="stored response"):
        check_report(edited)
    (tmp_path / "r" / "report.json").write_text(json.dumps(edited))
    with pytest.raises(PsionicError, match="does not match its digest"):
        load_report(tmp_path / "r")


def test_a_sample_past_its_time_limit_is_recorded(tmp_path: Path) -> None:
    with FakeEndpoint(Script(hang_every=2)) as fake:
        report = _run(sums_package(2), EndpointChat(fake.url, "fake", timeout_s=30), tmp_path / "t",
                      RunSettings(concurrency=2, timeout_s=0.5))
    assert report["error_codes"] == {"sample_timeout": 1} and report["aggregate"]["scored"] == 1


def test_a_local_sample_past_its_limit_is_recorded_and_the_run_finishes(tmp_path: Path, tiny_model_path: Path) -> None:
    class Stalling(LocalChat):  # a loaded machine can finish a tiny model's answer inside any short limit
        async def post(self, body):  # type: ignore[no-untyped-def]
            await asyncio.sleep(5)
            return await super().post(body)

    report = _run(sums_package(2), Stalling(str(tiny_model_path)), tmp_path / "t", RunSettings(timeout_s=0.05))
    assert report["error_codes"] == {"sample_timeout": 2} and report["aggregate"]["missing"] == 0


def test_a_tool_session_keeps_each_turn_as_sent(tmp_path: Path) -> None:
    from psionic.eval.builtin import resolve_package

    pkg = resolve_package("tool-calls")

    def answer(body: dict) -> str | dict:
        if body["messages"][-1]["role"] == "tool":
            return f"Here it is: {body['messages'][-1]['content']}"
        call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}

    with FakeEndpoint(Script(answer=answer)) as fake:
        report = _run(pkg, EndpointChat(fake.url, "fake"), tmp_path / "t", RunSettings(samples=4))
    sample = report["samples"][0]
    first, second = sample["turns"]
    assert len(first["request"]["messages"]) == 1 and second["request"]["messages"][-1]["role"] == "tool"
    assert sample["tool_results"][0]["output"] == "18 degrees celsius and sunny"
    assert check_report(load_report(tmp_path / "t"))["exchanges"] == 8  # every turn's body is the one it bound
