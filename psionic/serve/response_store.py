"""Stored /v1/responses in SQLite under ``$PSIONIC_HOME``, so a restart keeps them.

Each row keeps the response object as returned and the conversation that a
follow-up with ``previous_response_id`` continues (the input messages and the
assistant's reply). Deleting marks the row; a deleted id answers as unknown.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from psionic.core.errors import NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    model TEXT NOT NULL,
    body TEXT NOT NULL,
    conversation TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
)
"""


class ResponseNotFound(NotFound):
    code = "response_not_found"


class ResponseStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)

    def put(self, body: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO responses (id, created_at, model, body, conversation) VALUES (?, ?, ?, ?, ?)",
                (body["id"], time.time(), body["model"], json.dumps(body), json.dumps(conversation)),
            )

    def _row(self, response_id: str) -> tuple[str, str]:
        with self.lock:
            row = self.db.execute(
                "SELECT body, conversation FROM responses WHERE id = ? AND deleted = 0", (response_id,)
            ).fetchone()
        if row is None:
            raise ResponseNotFound(f"no stored response with id {response_id!r}", param="response_id")
        return row

    def get(self, response_id: str) -> dict[str, Any]:
        return json.loads(self._row(response_id)[0])

    def conversation(self, response_id: str) -> list[dict[str, Any]]:
        return json.loads(self._row(response_id)[1])

    def delete(self, response_id: str) -> None:
        with self.lock:
            cur = self.db.execute(
                "UPDATE responses SET deleted = 1 WHERE id = ? AND deleted = 0", (response_id,)
            )
        if cur.rowcount == 0:
            raise ResponseNotFound(f"no stored response with id {response_id!r}", param="response_id")

    def close(self) -> None:
        with self.lock:
            self.db.close()
