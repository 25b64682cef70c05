"""Content-addressed response cache (SQLite): a repeated call costs nothing and makes no request.

The key is the SHA-256 of the model id, messages and sampling parameters (and a sample index, so several
samples at temperature > 0 are kept apart). Every stored row also keeps the request, which makes the cache
a log of every completion the workspace has paid for, in the spirit of simonw/llm's logs database.

Provenance: each row is tagged with the respondents whose words it was made from (`provenance(key,
respondent)`; the tags come from `simulacra.llm.provenance.about` scopes, a row served again inside another
person's scope gets their tag too), so withdrawing a respondent deletes every row made from them even when
none of their text is in it (`delete_tagged`). Cache files of earlier versions get the table when opened
(schema version 2, `PRAGMA user_version`); their rows have no tags and are found by text search only.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable

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
CREATE TABLE IF NOT EXISTS provenance (
    key TEXT NOT NULL,
    respondent TEXT NOT NULL,
    PRIMARY KEY (key, respondent)
);
CREATE INDEX IF NOT EXISTS provenance_respondent ON provenance (respondent);
"""
SCHEMA_VERSION = 2  # 1: responses only; 2: + provenance (added in place: nothing else changes)


def migrate(db: sqlite3.Connection) -> None:
    """Bring a cache database (new, or of an earlier version) to the current schema, in place."""
    db.executescript(SCHEMA)
    if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.commit()


def has_provenance(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='provenance'").fetchone() is not None


def delete_tagged(db: sqlite3.Connection, respondent: str) -> int:
    """Delete every response made from `respondent`'s words (and their tags, and every tag of those rows);
    the number of responses deleted. Works on any cache file (one without the table has nothing tagged).
    The caller commits."""
    if not has_provenance(db):
        return 0
    keys = [r[0] for r in db.execute("SELECT key FROM provenance WHERE respondent = ?", (respondent,))]
    return delete_entries(db, keys)


def delete_entries(db: sqlite3.Connection, keys: Iterable[str]) -> int:
    """Delete responses and their provenance tags by key; the number of responses deleted. The caller commits."""
    tags = has_provenance(db)
    deleted = 0
    for key in keys:
        deleted += db.execute("DELETE FROM responses WHERE key = ?", (key,)).rowcount
        if tags:
            db.execute("DELETE FROM provenance WHERE key = ?", (key,))
    return deleted


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
        migrate(self._db)
        self.path.chmod(PRIVATE_FILE)

    def get(self, key: str) -> BackendReply | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, prompt_tokens, completion_tokens, finish_reason FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return BackendReply(text=row[0], usage=Usage(row[1], row[2], 0), finish_reason=row[3])

    def put(self, key: str, model: str, payload: dict[str, Any], reply: BackendReply,
            respondents: Iterable[str] = ()) -> None:
        """Store a reply, tagged with the respondents it was made from (see `simulacra.llm.provenance`)."""
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
            self._tag(key, respondents)
            self._db.commit()

    def tag(self, key: str, respondents: Iterable[str]) -> None:
        """Add provenance tags to an entry (one served again for another person is made from them too)."""
        wanted = {str(r) for r in respondents if r}
        if not wanted:
            return
        with self._lock:  # read first: a hit already tagged (the usual case) takes no write lock
            have = {r[0] for r in self._db.execute("SELECT respondent FROM provenance WHERE key = ?", (key,))}
            if wanted - have:
                self._tag(key, wanted - have)
                self._db.commit()

    def _tag(self, key: str, respondents: Iterable[str]) -> None:
        rows = [(key, str(r)) for r in sorted(set(respondents)) if r]
        self._db.executemany("INSERT OR IGNORE INTO provenance (key, respondent) VALUES (?, ?)", rows)

    def tags(self, key: str) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT respondent FROM provenance WHERE key = ?", (key,))}

    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
            self._db.execute("DELETE FROM provenance WHERE key = ?", (key,))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
