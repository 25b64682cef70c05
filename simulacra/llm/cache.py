"""Content-addressed response cache (SQLite): a repeated call costs nothing and makes no request.

The key is the SHA-256 of the model id, messages and sampling parameters (and a sample index, so several
samples at temperature > 0 are kept apart). Every stored row also keeps the request, which makes the cache
a log of every completion the workspace has paid for, in the spirit of simonw/llm's logs database.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from simulacra.llm.types import BackendReply, Usage
from simulacra.workspace import PRIVATE_FILE

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    finish_reason TEXT,
    created REAL NOT NULL
);
"""


def cache_key(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._db.commit()
        self.path.chmod(PRIVATE_FILE)

    def get(self, key: str) -> BackendReply | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, prompt_tokens, completion_tokens, finish_reason FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return BackendReply(text=row[0], usage=Usage(row[1], row[2], 0), finish_reason=row[3])

    def put(self, key: str, model: str, payload: dict[str, Any], reply: BackendReply) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    json.dumps(payload, ensure_ascii=False),
                    reply.text,
                    reply.usage.prompt_tokens,
                    reply.usage.completion_tokens,
                    reply.finish_reason,
                    time.time(),
                ),
            )
            self._db.commit()

    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
