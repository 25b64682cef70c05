"""`responses.sqlite`: every answer of a run, written as it arrives.

An answer is keyed by (run, agent, instrument, question, sample), so a unit of work can be retried or run
anywhere and is written once. The database runs in WAL mode and each agent batch is one transaction: a
crash or Ctrl-C loses at most the batch in flight, never a half-written one. An answer with status `ok` is
never overwritten; a `failed` one is replaced only when it is asked again (`--retry-failed`).

Each invocation of a run is a *session* row (start, end, outcome, tokens, cost), so the run's usage is the
sum over its sessions, however many times it was resumed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from surveys.model import Answer, AnswerStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    run TEXT NOT NULL,
    agent TEXT NOT NULL,
    instrument TEXT NOT NULL,
    question TEXT NOT NULL,
    sample INTEGER NOT NULL DEFAULT 0,
    value TEXT,              -- JSON: an option code (string), a number, or text; NULL when failed
    reasoning TEXT NOT NULL DEFAULT '',
    raw TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,    -- ok | failed
    error TEXT,
    probabilities TEXT,      -- JSON {code: p} when scored by log-probabilities
    attempts INTEGER NOT NULL DEFAULT 1,
    answered_at REAL NOT NULL,
    PRIMARY KEY (run, agent, instrument, question, sample)
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    finished_at REAL,
    outcome TEXT NOT NULL DEFAULT 'running',  -- running | complete | interrupted | failed
    message TEXT,
    answers_written INTEGER NOT NULL DEFAULT 0,
    usage TEXT               -- JSON UsageMeter snapshot for this session
);
"""

EXPORT_COLUMNS = ["run", "agent", "instrument", "question", "sample", "value", "status", "error", "reasoning"]


@dataclass(frozen=True)
class AnswerKey:
    agent: str
    instrument: str
    question: str
    sample: int = 0


@dataclass
class StoredAnswer:
    key: AnswerKey
    answer: Answer


class ResponseStore:
    """One run's answers on disk. Use from one thread (the event loop's); writes are tiny and synchronous."""

    def __init__(self, path: Path, run_id: str):
        self.path = Path(path)
        self.run_id = run_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        self._db = sqlite3.connect(self.path, isolation_level=None)
        if not existed:
            os.chmod(self.path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResponseStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------------------
    def write_batch(self, items: Iterable[StoredAnswer]) -> int:
        """Write one agent batch in a single transaction; `ok` answers already stored are kept as they are."""
        rows = [
            (
                self.run_id,
                item.key.agent,
                item.key.instrument,
                item.key.question,
                item.key.sample,
                None if item.answer.status != AnswerStatus.ok else json.dumps(item.answer.value, ensure_ascii=False),
                item.answer.reasoning or "",
                item.answer.raw or "",
                item.answer.status.value,
                item.answer.error,
                json.dumps(item.answer.probabilities) if item.answer.probabilities else None,
                time.time(),
            )
            for item in items
        ]
        if not rows:
            return 0
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                """
                INSERT INTO answers (run, agent, instrument, question, sample, value, reasoning, raw, status, error,
                                     probabilities, answered_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (run, agent, instrument, question, sample) DO UPDATE SET
                    value = excluded.value, reasoning = excluded.reasoning, raw = excluded.raw,
                    status = excluded.status, error = excluded.error, probabilities = excluded.probabilities,
                    attempts = answers.attempts + 1, answered_at = excluded.answered_at
                WHERE answers.status != 'ok'
                """,
                rows,
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return len(rows)

    # -- sessions -------------------------------------------------------------------------------------
    def start_session(self) -> int:
        cursor = self._db.execute("INSERT INTO sessions (started_at) VALUES (?)", (time.time(),))
        return int(cursor.lastrowid)

    def finish_session(self, session: int, outcome: str, answers_written: int, usage: dict[str, Any], message: str | None = None) -> None:
        self._db.execute(
            "UPDATE sessions SET finished_at = ?, outcome = ?, answers_written = ?, usage = ?, message = ? WHERE id = ?",
            (time.time(), outcome, answers_written, json.dumps(usage), message, session),
        )

    def sessions(self) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT id, started_at, finished_at, outcome, message, answers_written, usage FROM sessions ORDER BY id"
        )
        out = []
        for row in cursor.fetchall():
            out.append(
                {
                    "id": row[0],
                    "started_at": row[1],
                    "finished_at": row[2],
                    "outcome": row[3],
                    "message": row[4],
                    "answers_written": row[5],
                    "usage": json.loads(row[6]) if row[6] else {},
                }
            )
        return out

    def total_usage(self) -> dict[str, float]:
        """Tokens, cost and calls summed over every session of the run."""
        totals: dict[str, float] = {}
        for session in self.sessions():
            for key, value in session["usage"].items():
                if isinstance(value, (int, float)):
                    totals[key] = totals.get(key, 0) + value
        return totals

    # -- reading --------------------------------------------------------------------------------------
    def statuses(self) -> dict[AnswerKey, str]:
        """Every stored key with its status (what planning needs to skip answered work)."""
        cursor = self._db.execute(
            "SELECT agent, instrument, question, sample, status FROM answers WHERE run = ?", (self.run_id,)
        )
        return {AnswerKey(a, i, q, s): status for a, i, q, s, status in cursor.fetchall()}

    def counts(self) -> dict[str, int]:
        cursor = self._db.execute("SELECT status, COUNT(*) FROM answers WHERE run = ? GROUP BY status", (self.run_id,))
        counts = {"ok": 0, "failed": 0}
        counts.update({status: n for status, n in cursor.fetchall()})
        return counts

    def frame(self):
        """All answers as a pandas DataFrame, sorted by key (value decoded from JSON)."""
        import pandas as pd

        cursor = self._db.execute(
            """SELECT run, agent, instrument, question, sample, value, status, error, reasoning, raw, probabilities,
                      attempts, answered_at
               FROM answers WHERE run = ? ORDER BY agent, instrument, question, sample""",
            (self.run_id,),
        )
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
        frame = pd.DataFrame(rows, columns=columns)
        frame["value"] = pd.Series([json.loads(r[5]) if r[5] is not None else None for r in rows], dtype=object)
        return frame


def export_frame(frame):
    """The deterministic export view: content columns only (no timestamps), values as text, sorted by key."""
    out = frame[EXPORT_COLUMNS].copy()
    out["value"] = [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in out["value"]]
    out["sample"] = out["sample"].astype(int)
    return out.sort_values(["agent", "instrument", "question", "sample"]).reset_index(drop=True)
