"""The demonstration task: read a sentence about a person, answer in one fixed JSON shape.

Records are generated here from small word lists with a seed, so the data is
part of the repository's code, not a download. The metric on held-out records
is the share of answers that parse as JSON and equal the expected object
exactly (``exact``), and the share of the four fields right (``fields``).

>>> r = make_records(2, seed=0)[0]
>>> sorted(json.loads(r["messages"][1]["content"]))
['age', 'city', 'job', 'name']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

FIRST = ("Maria", "John", "Aiko", "Omar", "Lena", "Carlos", "Priya", "Tom", "Fatima", "Ivan", "Chen",
         "Sofia", "Kwame", "Elena", "Raj", "Nora", "Diego", "Hana", "Luca", "Amara", "Pavel", "Ines",
         "Yusuf", "Greta", "Mateo", "Zara", "Felix", "Leila", "Oscar", "Mei")
LAST = ("Lopez", "Smith", "Tanaka", "Haddad", "Fischer", "Silva", "Patel", "Brown", "Okafor", "Petrov",
        "Wang", "Rossi", "Mensah", "Novak", "Kumar", "Berg", "Garcia", "Kim", "Bianchi", "Diallo")
CITIES = ("Lisbon", "Denver", "Osaka", "Cairo", "Hamburg", "Recife", "Pune", "Leeds", "Lagos", "Kazan",
          "Chengdu", "Turin", "Accra", "Brno", "Mysore", "Bergen", "Seville", "Busan", "Verona", "Dakar")
JOBS = ("nurse", "teacher", "pilot", "chef", "engineer", "farmer", "lawyer", "painter", "baker",
        "dentist", "plumber", "writer", "architect", "pharmacist", "electrician", "librarian")
SENTENCES = (
    "{name} is a {age}-year-old {job} from {city}.",
    "Meet {name}, {age}, who works as a {job} in {city}.",
    "{name} lives in {city} and has been a {job} for years; {name} is {age}.",
    "At {age}, {name} is the best {job} in {city}.",
    "In {city} there is a {job} called {name}, aged {age}.",
    "Our new {job}, {name} ({age}), just moved from {city}.",
)
INSTRUCTION = "Extract the person's name, age, city and job as JSON."


def make_records(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` chat records: a sentence in the user turn, the JSON answer in the assistant turn."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n):
        person = {
            "name": f"{FIRST[rng.integers(len(FIRST))]} {LAST[rng.integers(len(LAST))]}",
            "age": int(rng.integers(19, 88)),
            "city": CITIES[rng.integers(len(CITIES))],
            "job": JOBS[rng.integers(len(JOBS))],
        }
        sentence = SENTENCES[rng.integers(len(SENTENCES))].format(**person)
        records.append({"messages": [
            {"role": "user", "content": f"{INSTRUCTION}\n{sentence}"},
            {"role": "assistant", "content": json.dumps(person)},
        ]})
    return records


def write_jsonl(path: Any, records: Sequence[dict[str, Any]]) -> None:
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def score_answer(answer: str, expected: dict[str, Any]) -> tuple[bool, float]:
    """(exact match, share of fields right) for one generated answer."""
    try:
        got = json.loads(answer.strip())
    except json.JSONDecodeError:
        return False, 0.0
    if not isinstance(got, dict):
        return False, 0.0
    right = sum(1 for k, v in expected.items() if got.get(k) == v)
    return got == expected, right / len(expected)
