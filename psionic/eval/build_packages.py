"""Write the built-in packages from seeded generators: ``python -m psionic.eval.build_packages [DIR]``.

Each generator is a pure function of its seed, so the shipped bytes (and the
digests) are reproducible; a test rebuilds them and compares. Expected
results of the Wasm programs come from wasmtime, the authority, not from the
interpreter under test. The tasks are sized for small models: SmolLM2-135M
gets some right and some wrong on each, so a score moves when the model does.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psionic.environments.package import EnvironmentPackage, build_package, write_package
from psionic.environments.task import Program, Task
from psionic.eval.builtin import PACKAGES_DIR

CHAT_SAMPLING = {"temperature": 0.6, "top_p": 0.95}


def _user(text: str) -> tuple[dict[str, Any], ...]:
    return ({"role": "user", "content": text},)


# --- arithmetic: a digest-bound dataset (psionic.data manifest) of question/answer records ------------


def arithmetic_records(seed: int = 11) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    names = ["Tom", "Ana", "Li", "Sara", "Omar", "Mia"]
    things = ["apples", "books", "coins", "pens", "shells", "stamps"]
    for i in range(48):
        form = i % 6
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        if form == 0:
            q, ans = f"What is {a} + {b}?", a + b
        elif form == 1:
            a, b = rng.randint(10, 60), rng.randint(10, 39)
            q, ans = f"What is {a} + {b}?", a + b
        elif form == 2:
            a, b = rng.randint(10, 40), rng.randint(1, 9)
            q, ans = f"What is {a} - {b}?", a - b
        elif form == 3:
            q, ans = f"What is {a} times {b}?", a * b
        elif form == 4:
            n, t = rng.choice(names), rng.choice(things)
            q, ans = f"{n} has {a} {t} and gets {b} more. How many {t} does {n} have now?", a + b
        else:
            n, t = rng.choice(names), rng.choice(things)
            a = a + b
            q, ans = f"{n} had {a} {t} and gave away {b}. How many {t} are left?", a - b
        out.append({"prompt": f"{q} Answer with just the number.", "completion": str(ans)})
    return out


def arithmetic(root: Path) -> EnvironmentPackage:
    from psionic.data.manifest import build_manifest

    data = root / "dataset"
    data.mkdir(parents=True, exist_ok=True)
    records = data / "arithmetic.jsonl"
    records.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in arithmetic_records()))
    manifest = build_manifest(records, root=data, name="arithmetic")
    manifest.write(data / "manifest.json")
    from psionic.environments.task import dataset_tasks

    dataset = {"manifest": "dataset/manifest.json", "digest": manifest.digest}
    return build_package("arithmetic", "1.0.0", "chat", "exact_number", dataset_tasks(root, dataset, "chat"),
                         description="one-step sums, differences, products and word problems",
                         sampling={**CHAT_SAMPLING, "max_tokens": 24}, dataset=dataset)


# --- JSON-schema adherence ------------------------------------------------------------------


_TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false"}


def _json_tasks(seed: int, constrained: bool) -> list[Task]:
    rng = random.Random(seed)
    people = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun"]
    cities = [("Paris", "France"), ("Tokyo", "Japan"), ("Lima", "Peru"), ("Oslo", "Norway"), ("Cairo", "Egypt"),
              ("Rome", "Italy"), ("Ottawa", "Canada"), ("Nairobi", "Kenya"), ("Madrid", "Spain"), ("Berlin", "Germany")]
    items = ["lamp", "chair", "kettle", "bicycle", "guitar", "backpack", "clock", "blanket", "mug", "radio"]
    person: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    place: dict[str, Any] = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
             "required": ["city", "country"], "additionalProperties": False}
    product: dict[str, Any] = {"type": "object", "properties": {"item": {"type": "string"}, "price": {"type": "number"},
                                                "in_stock": {"type": "boolean"}},
               "required": ["item", "price", "in_stock"], "additionalProperties": False}
    tasks = []
    schema: dict[str, Any]
    value: dict[str, Any]
    for i in range(30):
        form = i % 3
        if form == 0:
            name, age = people[i // 3], rng.randint(18, 80)
            text, schema, value = f"{name} is {age} years old.", person, {"name": name, "age": age}
        elif form == 1:
            city, country = cities[i // 3]
            text, schema, value = f"{city} is a city in {country}.", place, {"city": city, "country": country}
        else:
            item, price, stock = items[i // 3], rng.randint(3, 90), rng.random() < 0.5
            text = f"The {item} costs {price} dollars and is {'in stock' if stock else 'sold out'}."
            schema, value = product, {"item": item, "price": price, "in_stock": stock}
        keys = ", ".join(f'"{k}" ({_TYPE_WORDS[v["type"]]})' for k, v in schema["properties"].items())
        prompt = (f"Sentence: {text}\nWrite the facts of this sentence as a JSON object with the keys {keys}. "
                  "Reply with the JSON object only.")
        fmt = {"type": "json_schema", "json_schema": {"name": "facts", "schema": schema, "strict": True}}
        tasks.append(Task(f"json-{i:02d}", {"schema": schema, "value": value}, _user(prompt),
                          response_format=fmt if constrained else None))
    return tasks


def json_schema(root: Path) -> EnvironmentPackage:
    return build_package("json-schema", "1.0.0", "chat", "json_schema", _json_tasks(21, False),
                         description="JSON extraction, schema in the prompt only (does the output validate?)",
                         sampling={**CHAT_SAMPLING, "max_tokens": 64})


def json_schema_constrained(root: Path) -> EnvironmentPackage:
    return build_package("json-schema-constrained", "1.0.0", "chat", "json_schema", _json_tasks(21, True),
                         description="the same tasks with response_format json_schema (constrained decoding)",
                         sampling={**CHAT_SAMPLING, "max_tokens": 64})


# --- tool-call correctness ----------------------------------------------------------------


def tool_calls(root: Path) -> EnvironmentPackage:
    from psionic.environments.tools import CAPITALS, WEATHER

    rng = random.Random(31)
    weather_q = ["What's the weather like in {}?", "Is it raining in {} right now?", "How warm is it in {} today?"]
    capital_q = ["What is the capital of {}?", "Which city is the capital of {}?", "Name the capital city of {}."]
    tasks = []
    for i, city in enumerate(sorted(WEATHER)):
        q = rng.choice(weather_q).format(city.title())
        tasks.append(Task(f"weather-{i:02d}", {"name": "get_weather", "arguments": {"city": city.title()}}, _user(q)))
    for i, country in enumerate(sorted(CAPITALS)):
        q = rng.choice(capital_q).format(country.title())
        tasks.append(Task(f"capital-{i:02d}", {"name": "get_capital", "arguments": {"country": country.title()}},
                          _user(q)))
    # Half the tasks force a call (which tool, which arguments?), half leave it to the model (does it call at all?).
    tasks = [Task(t.id, t.expected, t.messages, tool_choice="required" if i % 2 == 0 else "auto")
             for i, t in enumerate(tasks)]
    return build_package("tool-calls", "1.0.0", "chat", "tool_call", tasks, tools=["get_weather", "get_capital"],
                         max_turns=2, description="pick the right tool and fill its arguments (tool_choice required on half, auto on half)",
                         sampling={**CHAT_SAMPLING, "max_tokens": 48})


# --- instruction following with checkable constraints ------------------------------------------


def instructions(root: Path) -> EnvironmentPackage:
    topics = ["the sea", "a cat", "the moon", "bread", "rain", "a forest", "music", "winter", "a river", "coffee"]
    forms: list[tuple[str, list[dict[str, Any]]]] = [
        ("Describe {} in one sentence, using only lowercase letters.", [{"check": "lowercase"}, {"check": "one_line"}]),
        ("Write one sentence about {} without using any commas.", [{"check": "no_commas"}, {"check": "one_line"}]),
        ("Give exactly 3 facts about {} as a bullet list, each line starting with '- '.", [{"check": "bullets", "n": 3}]),
        ("In at most 8 words, say what {} is.", [{"check": "max_words", "n": 8}]),
        ("Write a sentence about {} that includes the word 'blue'.", [{"check": "include_word", "word": "blue"}]),
        ("Write about {} in capital letters only.", [{"check": "uppercase"}]),
        ("Answer with yes or no, then a short reason: is {} ever cold? Start your answer with 'Yes' or 'No'.",
         [{"check": "max_words", "n": 30}]),
        ("Write a short line about {} and end it with the word 'done'.", [{"check": "ends_with", "suffix": "done"},
                                                                          {"check": "one_line"}]),
    ]
    tasks = []
    for i in range(32):
        text, checks = forms[i % len(forms)]
        topic = topics[(i * 3) % len(topics)]
        tasks.append(Task(f"if-{i:02d}", checks, _user(text.format(topic))))
    return build_package("instructions", "1.0.0", "chat", "instructions", tasks,
                         description="instructions whose keeping a program can check (case, commas, bullets, length)",
                         sampling={**CHAT_SAMPLING, "max_tokens": 64})


# --- Tassadar: Wasm programs with exact results --------------------------------------------------

_OPS = ["i32.add", "i32.sub", "i32.mul", "i32.and", "i32.or", "i32.xor"]


def _straight_line(rng: random.Random) -> tuple[str, tuple[int, ...]]:
    body = ["local.get 0"]
    for _ in range(rng.randint(2, 6)):
        operand = rng.choice(["local.get 1", f"i32.const {rng.randint(-50, 200)}"])
        body += [operand, rng.choice(_OPS)]
    wat = f'(module (func (export "run") (param i32 i32) (result i32) {" ".join(body)}))'
    return wat, (rng.randint(-1000, 1000), rng.randint(-100, 100))


_CONTROL = [
    ('(module (func (export "run") (param i32) (result i32) (local i32) (block (loop local.get 0 i32.eqz br_if 1 '
     'local.get 1 local.get 0 i32.add local.set 1 local.get 0 i32.const 1 i32.sub local.set 0 br 0)) local.get 1))'),
    ('(module (func (export "run") (param i32) (result i32) (local i32) i32.const 1 local.set 1 (block (loop '
     'local.get 0 i32.eqz br_if 1 local.get 1 local.get 0 i32.mul local.set 1 local.get 0 i32.const 1 i32.sub '
     'local.set 0 br 0)) local.get 1))'),
    '(module (func (export "run") (param i32) (result i32) local.get 0 i32.const 10 i32.gt_s (if (result i32) (then i32.const 1) (else i32.const 0))))',
    '(module (func (export "run") (param i32) (result i32) local.get 0 i32.const 7 i32.div_s))',
]


def wasmtime_result(wat: str, args: tuple[int, ...]) -> dict[str, Any]:
    import wasmtime

    store = wasmtime.Store()
    instance = wasmtime.Instance(store, wasmtime.Module(store.engine, wat), [])
    run = instance.exports(store)["run"]
    assert isinstance(run, wasmtime.Func)
    value = run(store, *args)
    values = value if isinstance(value, list | tuple) else [value]
    return {"result": [str(int(v)) for v in values], "trap": None}


def tassadar(root: Path) -> EnvironmentPackage:
    rng = random.Random(41)
    tasks = []
    for i in range(20):
        wat, args = _straight_line(rng)
        tasks.append(Task(f"straight-{i:02d}", wasmtime_result(wat, args), program=Program(wat, "run", args)))
    for i in range(12):
        wat = _CONTROL[i % len(_CONTROL)]
        args = (rng.randint(0, 9) if i % len(_CONTROL) < 2 else rng.randint(-40, 40),)
        tasks.append(Task(f"control-{i:02d}", wasmtime_result(wat, args), program=Program(wat, "run", args)))
    return build_package("tassadar", "1.0.0", "tassadar", "exact_result", tasks,
                         description="Wasm programs (straight-line and with control flow), results from wasmtime")


BUILDERS: dict[str, Callable[[Path], EnvironmentPackage]] = {
    "arithmetic": arithmetic, "json-schema": json_schema, "json-schema-constrained": json_schema_constrained,
    "tool-calls": tool_calls, "instructions": instructions, "tassadar": tassadar,
}


def build_all(directory: Path = PACKAGES_DIR) -> dict[str, str]:
    """Write every built-in package under ``directory``; return name -> digest."""
    out = {}
    for name, builder in BUILDERS.items():
        root = directory / name
        pkg = builder(root)
        write_package(pkg, root)
        out[name] = pkg.digest
    return out


if __name__ == "__main__":
    for name, digest in build_all(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGES_DIR).items():
        print(f"{name}: {digest}")
