"""Sample records and the append-only ``samples.jsonl`` a run writes as each sample finishes.

One JSON object per line, flushed and fsynced as it is written, so a run that
dies loses at most the sample in flight. Reading tolerates a torn last line
(the one being written when the process died) and later lines win over
earlier ones for the same sample key (a resumed run re-does failed samples).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from psionic.eval.errors import MalformedReport

SAMPLES = "samples.jsonl"


def append_record(path: Path, record: dict[str, Any]) -> None:
    line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_records(path: Path, repair: bool = False) -> list[dict[str, Any]]:
    """Every complete record in order; ``repair`` cuts a torn last line off the file."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    records = []
    lines = raw.split(b"\n")
    good_bytes = 0
    for i, line in enumerate(lines):
        if not line.strip():
            good_bytes += len(line) + (1 if i < len(lines) - 1 else 0)
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if i == len(lines) - 1 or all(not rest.strip() for rest in lines[i + 1:]):
                break  # the torn tail of an interrupted write
            raise MalformedReport(f"{path} line {i + 1} is not JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("key"), str):
            raise MalformedReport(f"{path} line {i + 1} is not a sample record")
        records.append(record)
        good_bytes += len(line) + 1
    if repair and good_bytes < len(raw):
        with open(path, "r+b") as f:
            f.truncate(good_bytes)
    return records


def latest_by_key(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each key: a retried sample replaces its failure."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        out[record["key"]] = record
    return out
