"""The experiment answer store: one SQLite file per run, a row per (run, agent, study, step), written as it arrives.

A row holds the condition, the stimulus as shown, and the agent's answers to that step's questions. Rows are
committed one at a time, so an interrupted run keeps everything answered so far and a rerun skips it. The
file holds personal data (answers): it is created 0600.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from surveys.model import Answer, AnswerStatus

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    run_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    study_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    condition_id TEXT NOT NULL,
    stimulus TEXT NOT NULL,
    answers_json TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id, study_id, step_id)
)
"""


@dataclass
class StepRecord:
    run_id: str
    agent_id: str
    study_id: str
    step_id: str
    condition_id: str
    stimulus: str
    answers: list[Answer]
    status: str  # ok | failed (some answer failed validation after retries)
    created_at: str


def _status(answers: list[Answer]) -> str:
    return "ok" if all(a.status == AnswerStatus.ok for a in answers) else "failed"


class AnswerStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(self.path, 0o600)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "AnswerStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, run_id: str, agent_id: str, study_id: str, step_id: str) -> StepRecord | None:
        row = self._db.execute(
            "SELECT * FROM answers WHERE run_id=? AND agent_id=? AND study_id=? AND step_id=?",
            (run_id, agent_id, study_id, step_id),
        ).fetchone()
        return self._record(row) if row else None

    def put(
        self, run_id: str, agent_id: str, study_id: str, step_id: str, condition_id: str, stimulus: str, answers: list[Answer]
    ) -> StepRecord:
        record = StepRecord(
            run_id, agent_id, study_id, step_id, condition_id, stimulus, list(answers), _status(answers),
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        payload = json.dumps([a.model_dump(mode="json") for a in answers], ensure_ascii=False)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, agent_id, study_id, step_id, condition_id, stimulus, payload, record.status, record.created_at),
            )
        return record

    def records(self, run_id: str, study_id: str | None = None) -> Iterator[StepRecord]:
        query = "SELECT * FROM answers WHERE run_id=?"
        params: tuple[str, ...] = (run_id,)
        if study_id is not None:
            query += " AND study_id=?"
            params += (study_id,)
        for row in self._db.execute(query + " ORDER BY study_id, agent_id, step_id", params):
            yield self._record(row)

    def count(self, run_id: str) -> int:
        return self._db.execute("SELECT COUNT(*) FROM answers WHERE run_id=?", (run_id,)).fetchone()[0]

    @staticmethod
    def _record(row: tuple) -> StepRecord:
        answers = [Answer.model_validate(item) for item in json.loads(row[6])]
        return StepRecord(row[0], row[1], row[2], row[3], row[4], row[5], answers, row[7], row[8])
