"""Small packages and the tiny synthetic model for fast eval tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from psionic.environments.package import EnvironmentPackage, build_package, write_package
from psionic.environments.task import Program, Task
from tests.serve.conftest import tiny_model_path  # noqa: F401  (fixture re-export)

WAT_MUL_ADD = '(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 i32.mul i32.const 7 i32.add))'
WAT_SUM_LOOP = ('(module (func (export "run") (param i32) (result i32) (local i32) (block (loop local.get 1 local.get 0 '
                'i32.add local.set 1 local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0)) local.get 1))')


def sums_package(n: int = 6) -> EnvironmentPackage:
    tasks = [Task(f"sum{i}", i + 3, ({"role": "user", "content": f"What is {i} + 3? Answer with the number."},))
             for i in range(n)]
    return build_package("sums", "1.0.0", "chat", "exact_number", tasks, sampling={"temperature": 0.0, "max_tokens": 6})


def asked(body: dict) -> int:
    """The i of 'What is i + 3?' in a request."""
    match = re.search(r"What is (\d+) \+ 3", body["messages"][-1]["content"])
    assert match
    return int(match.group(1))


@pytest.fixture
def sums_dir(tmp_path: Path) -> Path:
    return write_package(sums_package(), tmp_path / "sums")


def wasm_package() -> EnvironmentPackage:
    tasks = [Task("mul_add", {"result": ["61"], "trap": None}, program=Program(WAT_MUL_ADD, "run", (6, 9))),
             Task("sum_loop", {"result": ["10"], "trap": None}, program=Program(WAT_SUM_LOOP, "run", (4,)))]
    return build_package("wasm", "1.0.0", "tassadar", "exact_result", tasks)
