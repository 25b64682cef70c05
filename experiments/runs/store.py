"""`responses.sqlite`: every answer of a run (batch or experiment), written as it arrives.

    answers   one row per (run, agent, instrument, question, sample): value, raw, status, error,
              probabilities, prompt_hash, reasoning, how many times it was asked (`attempts`)
    attempts  every earlier attempt: an answer replaced by `--retry-failed` (kind `stored`) and the model
              attempts inside one answer that were rejected before the final one (kind `model`)
    sessions  one row per invocation: code version, start/end, outcome, answers written, usage (written
              with every batch, so a killed process still leaves the right totals)

An answer is keyed by (run, agent, instrument, question, sample), so a unit of work can be retried or run
anywhere and is written once. For behavioral experiments the instrument is the study id and the question
is `<step>/<question>`. The database runs in WAL mode and each batch is one transaction (answers and the
session's usage together): a crash loses at most the batch in flight. An `ok` answer is never overwritten;
a `failed` one is replaced only when asked again (`--retry-failed`), the failed one moving to `attempts`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from surveys.model import Answer, AnswerStatus

STORE_VERSION = 2

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
    outcome TEXT NOT NULL DEFAULT 'running',  -- running | complete | interrupted | stopped | failed
    message TEXT,
    answers_written INTEGER NOT NULL DEFAULT 0,
    usage TEXT               -- JSON usage snapshot for this session (updated with every batch)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,
    agent TEXT NOT NULL,
    instrument TEXT NOT NULL,
    question TEXT NOT NULL,
    sample INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL,      -- stored (an earlier stored answer, replaced by a retry) | model (rejected in-call attempt)
    round INTEGER NOT NULL DEFAULT 0,
    value TEXT,
    reasoning TEXT NOT NULL DEFAULT '',
    raw TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error TEXT,
    prompt_hash TEXT,
    session INTEGER,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_key ON attempts (run, agent, instrument, question, sample);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

# columns added after the first release of the store (old run folders are migrated in place on open)
_ADDED_COLUMNS = {
    "answers": {"prompt_hash": "TEXT", "session": "INTEGER", "round": "INTEGER NOT NULL DEFAULT 0"},
    "sessions": {"code_version": "TEXT", "pid": "INTEGER", "updated_at": "REAL"},
}

EXPORT_COLUMNS = ["run", "agent", "instrument", "question", "sample", "value", "status", "error", "reasoning", "prompt_hash"]
FRAME_COLUMNS = ["run", "agent", "instrument", "question", "sample", "value", "status", "error", "reasoning", "raw",
                 "probabilities", "prompt_hash", "attempts", "answered_at"]


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
    round: int = 0  # the retry round it was asked in (0: first time)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class ResponseStore:
    """One run's answers on disk. Use from one thread (the event loop's); writes are tiny and synchronous."""

    def __init__(self, path: Path, run_id: str):
        self.path = Path(path)
        self.run_id = run_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, decl in columns.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('store_version', ?)", (str(STORE_VERSION),))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResponseStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------------------
    def write_batch(
        self,
        items: Iterable[StoredAnswer],
        *,
        session: int | None = None,
        usage: dict[str, Any] | None = None,
        written: int | None = None,
    ) -> int:
        """Write one batch in a single transaction (with the session's running usage, when given).

        `ok` answers already stored are kept as they are; a stored `failed` answer that is asked again
        moves to the `attempts` table before the new one takes its place."""
        items = list(items)
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            count = 0
            for item in items:
                k, a = item.key, item.answer
                key = (self.run_id, k.agent, k.instrument, k.question, k.sample)
                row = self._db.execute(
                    "SELECT status, value, reasoning, raw, error, prompt_hash, attempts, round, session, answered_at "
                    "FROM answers WHERE run=? AND agent=? AND instrument=? AND question=? AND sample=?", key,
                ).fetchone()
                if row is not None and row[0] == AnswerStatus.ok.value:
                    continue
                for attempt in a.attempts:  # the model's rejected tries inside this answer
                    self._db.execute(
                        "INSERT INTO attempts (run, agent, instrument, question, sample, kind, round, raw, status, "
                        "error, prompt_hash, session, at) VALUES (?, ?, ?, ?, ?, 'model', ?, ?, 'failed', ?, ?, ?, ?)",
                        (*key, attempt.round, attempt.raw or "", attempt.error, a.prompt_hash, session, attempt.at or now),
                    )
                asked = 1
                if row is not None:
                    self._db.execute(
                        "INSERT INTO attempts (run, agent, instrument, question, sample, kind, round, value, reasoning, "
                        "raw, status, error, prompt_hash, session, at) VALUES (?, ?, ?, ?, ?, 'stored', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*key, row[7] or 0, row[1], row[2], row[3], row[0], row[4], row[5], row[8], row[9]),
                    )
                    asked = int(row[6] or 1) + 1
                ok = a.status == AnswerStatus.ok
                self._db.execute(
                    """INSERT OR REPLACE INTO answers (run, agent, instrument, question, sample, value, reasoning, raw,
                           status, error, probabilities, attempts, answered_at, prompt_hash, session, round)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        *key,
                        json.dumps(a.value, ensure_ascii=False) if ok else None,
                        a.reasoning or "",
                        a.raw or "",
                        a.status.value,
                        a.error,
                        json.dumps(a.probabilities) if a.probabilities else None,
                        asked,
                        now,
                        a.prompt_hash,
                        session,
                        item.round,
                    ),
                )
                count += 1
            if session is not None:
                self._update_session(session, usage, written)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return count

    # -- sessions -------------------------------------------------------------------------------------
    def close_stale_sessions(self) -> int:
        """Mark sessions left `running` by a process that no longer exists (kill -9, power loss) as interrupted."""
        stale = [
            sid for sid, pid in self._db.execute("SELECT id, pid FROM sessions WHERE outcome = 'running'").fetchall()
            if pid != os.getpid() and not _pid_alive(pid)  # this process's own sessions are live
        ]
        for sid in stale:
            self._db.execute(
                "UPDATE sessions SET outcome = 'interrupted', finished_at = COALESCE(updated_at, started_at), "
                "message = 'the process ended without closing this session (killed?); its usage is counted up to its last batch' "
                "WHERE id = ?",
                (sid,),
            )
        return len(stale)

    def start_session(self, code_version: dict[str, Any] | None = None) -> int:
        self.close_stale_sessions()
        now = time.time()
        cursor = self._db.execute(
            "INSERT INTO sessions (started_at, updated_at, pid, code_version, usage) VALUES (?, ?, ?, ?, '{}')",
            (now, now, os.getpid(), json.dumps(code_version or {})),
        )
        return int(cursor.lastrowid)

    def _update_session(self, session: int, usage: dict[str, Any] | None, written: int | None) -> None:
        sets, args = ["updated_at = ?"], [time.time()]
        if usage is not None:
            sets.append("usage = ?")
            args.append(json.dumps(usage))
        if written is not None:
            sets.append("answers_written = ?")
            args.append(written)
        self._db.execute(f"UPDATE sessions SET {', '.join(sets)} WHERE id = ?", (*args, session))

    def update_session(self, session: int, usage: dict[str, Any] | None = None, written: int | None = None) -> None:
        self._update_session(session, usage, written)

    def finish_session(self, session: int, outcome: str, answers_written: int, usage: dict[str, Any], message: str | None = None) -> None:
        self._db.execute(
            "UPDATE sessions SET finished_at = ?, updated_at = ?, outcome = ?, answers_written = ?, usage = ?, message = ? WHERE id = ?",
            (time.time(), time.time(), outcome, answers_written, json.dumps(usage), message, session),
        )

    def sessions(self) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT id, started_at, finished_at, outcome, message, answers_written, usage, code_version, pid "
            "FROM sessions ORDER BY id"
        )
        return [
            {
                "id": row[0], "started_at": row[1], "finished_at": row[2], "outcome": row[3], "message": row[4],
                "answers_written": row[5], "usage": json.loads(row[6]) if row[6] else {},
                "code_version": json.loads(row[7]) if row[7] else {}, "pid": row[8],
            }
            for row in cursor.fetchall()
        ]

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

    def asked_counts(self) -> dict[AnswerKey, int]:
        """How many times each stored answer has been asked (1 + the earlier attempts kept in `attempts`)."""
        cursor = self._db.execute(
            "SELECT agent, instrument, question, sample, attempts FROM answers WHERE run = ?", (self.run_id,)
        )
        return {AnswerKey(a, i, q, s): int(n or 1) for a, i, q, s, n in cursor.fetchall()}

    def get(self, key: AnswerKey) -> Answer | None:
        row = self._db.execute(
            "SELECT question, value, reasoning, raw, status, error, probabilities, prompt_hash FROM answers "
            "WHERE run=? AND agent=? AND instrument=? AND question=? AND sample=?",
            (self.run_id, key.agent, key.instrument, key.question, key.sample),
        ).fetchone()
        if row is None:
            return None
        return Answer(
            question_id=row[0], value=json.loads(row[1]) if row[1] is not None else None, reasoning=row[2] or "",
            raw=row[3] or "", status=AnswerStatus(row[4]), error=row[5],
            probabilities=json.loads(row[6]) if row[6] else None, prompt_hash=row[7],
        )

    def history(self, key: AnswerKey) -> list[dict[str, Any]]:
        """Every attempt of one answer, oldest first, ending with the answer as stored now."""
        args = (self.run_id, key.agent, key.instrument, key.question, key.sample)
        out = [
            {"kind": kind, "round": rnd, "status": status, "raw": raw, "error": error, "prompt_hash": ph, "at": at,
             "value": json.loads(value) if value is not None else None}
            for kind, rnd, status, raw, error, ph, at, value in self._db.execute(
                "SELECT kind, round, status, raw, error, prompt_hash, at, value FROM attempts "
                "WHERE run=? AND agent=? AND instrument=? AND question=? AND sample=? ORDER BY id", args,
            ).fetchall()
        ]
        row = self._db.execute(
            "SELECT round, status, raw, error, prompt_hash, answered_at, value FROM answers "
            "WHERE run=? AND agent=? AND instrument=? AND question=? AND sample=?", args,
        ).fetchone()
        if row is not None:
            out.append({"kind": "current", "round": row[0], "status": row[1], "raw": row[2], "error": row[3],
                        "prompt_hash": row[4], "at": row[5], "value": json.loads(row[6]) if row[6] is not None else None})
        return out

    def counts(self) -> dict[str, int]:
        cursor = self._db.execute("SELECT status, COUNT(*) FROM answers WHERE run = ? GROUP BY status", (self.run_id,))
        counts = {"ok": 0, "failed": 0}
        counts.update({status: n for status, n in cursor.fetchall()})
        return counts

    def frame(self):
        """All answers as a pandas DataFrame, sorted by key (value and probabilities decoded from JSON)."""

        cursor = self._db.execute(
            f"SELECT {', '.join(FRAME_COLUMNS)} FROM answers WHERE run = ? ORDER BY agent, instrument, question, sample",
            (self.run_id,),
        )
        rows = cursor.fetchall()
        frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
        frame["value"] = pd.Series([json.loads(r[5]) if r[5] is not None else None for r in rows], dtype=object)
        frame["probabilities"] = pd.Series([json.loads(r[10]) if r[10] else None for r in rows], dtype=object)
        return frame


def export_frame(frame):
    """The deterministic export view: content columns only (no timestamps), values as text, sorted by key."""
    out = frame[EXPORT_COLUMNS].copy()
    out["value"] = [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in out["value"]]
    out["sample"] = out["sample"].astype(int)
    return out.sort_values(["agent", "instrument", "question", "sample"]).reset_index(drop=True)
