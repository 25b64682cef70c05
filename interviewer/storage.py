"""Transcript storage: `transcripts/<respondent>.jsonl` (one turn a line, appended and fsync'd as the
interview goes) with `<respondent>.notes.json` (the latest reflection notes) and
`<respondent>.state.json` (the engine's small resume state) beside it. Every file is 0600.

The JSONL file is the record: a header line (`{"type": "header", ...}`: respondent, script, start time),
then `simulacra.transcript.Turn`s, the format `simulacra.transcript.read_transcript` and
`simulacra agents build` read. Notes and state are rewritten atomically, so a crash leaves either the
old or the new version.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from simulacra.transcript import InterviewNotes, Transcript, Turn, read_transcript
from simulacra.workspace import PRIVATE_FILE, Workspace, append_line, atomic_write_json, private_dir
from simulacra.errors import DataFileError
from interviewer.errors import RespondentIdError
from surveys.errors import InvalidNameError
from surveys.names import check_name

log = logging.getLogger(__name__)


def validate_respondent(respondent: str, where: str | None = None) -> str:
    """Respondent ids become file names: the one name rule of `surveys.names`."""
    try:
        return check_name(respondent, kind="respondent", where=where)
    except InvalidNameError as exc:
        raise RespondentIdError(str(exc)) from None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class TranscriptStore:
    def __init__(self, folder: Path | None = None):
        self.folder = private_dir(Path(folder)) if folder is not None else Workspace.default().transcripts

    # -- paths ------------------------------------------------------------------------------------------
    def path(self, respondent: str) -> Path:
        return self.folder / f"{validate_respondent(respondent)}.jsonl"

    def notes_path(self, respondent: str) -> Path:
        return self.folder / f"{validate_respondent(respondent)}.notes.json"

    def state_path(self, respondent: str) -> Path:
        return self.folder / f"{validate_respondent(respondent)}.state.json"

    def exists(self, respondent: str) -> bool:
        return self.path(respondent).is_file()

    def respondents(self) -> list[str]:
        return sorted(p.name.removesuffix(".jsonl") for p in self.folder.glob("*.jsonl"))

    # -- transcript -------------------------------------------------------------------------------------
    def write_header(self, respondent: str, **meta: Any) -> None:
        """Start a transcript file with its header line (no-op when the file already has content)."""
        path = self.path(respondent)
        if path.is_file() and path.stat().st_size > 0:
            return
        record = {"type": "header", "respondent": respondent, "created": now_iso(), **meta}
        append_line(path, json.dumps(record, ensure_ascii=False, default=str))

    def append(self, respondent: str, turn: Turn) -> None:
        """Append one turn and make it durable before returning."""
        if turn.wall_time is None:
            turn = turn.model_copy(update={"wall_time": now_iso()})
        append_line(self.path(respondent), turn.model_dump_json(exclude_none=False))
        log.debug("saved turn %d of %s", turn.index, respondent)

    def _drop_torn_tail(self, path: Path) -> None:
        """A line cut off by a crash (no final newline) is moved aside, never read back as a turn."""
        with open(path, "rb") as handle:
            data = handle.read()
        if not data or data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        torn = path.with_name(path.name + ".torn")
        with open(torn, "ab") as handle:
            handle.write(data[cut:] + b"\n")
        os.chmod(torn, PRIVATE_FILE)
        with open(path, "r+b") as handle:
            handle.truncate(cut)
            handle.flush()
            os.fsync(handle.fileno())
        log.warning("%s: an incomplete last line was moved to %s", path, torn.name)

    def load(self, respondent: str) -> Transcript | None:
        """The saved transcript (with its notes), or None when this respondent has none yet."""
        path = self.path(respondent)
        if not path.is_file():
            return None
        self._drop_torn_tail(path)
        transcript = read_transcript(path)
        if transcript.respondent != respondent:  # a header naming someone else: trust the file name
            transcript.respondent = respondent
            transcript.notes = self.load_notes(respondent)
        return transcript

    # -- notes and state --------------------------------------------------------------------------------
    def save_notes(self, respondent: str, notes: InterviewNotes) -> None:
        atomic_write_json(self.notes_path(respondent), notes.model_dump())

    def load_notes(self, respondent: str) -> InterviewNotes:
        path = self.notes_path(respondent)
        if not path.is_file():
            return InterviewNotes()
        try:
            return InterviewNotes.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataFileError(path, f"notes file is malformed: {exc}") from None

    def save_state(self, respondent: str, state: dict[str, Any]) -> None:
        atomic_write_json(self.state_path(respondent), state)

    def load_state(self, respondent: str) -> dict[str, Any] | None:
        path = self.state_path(respondent)
        if not path.is_file():
            return None
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataFileError(path, f"state file is not valid JSON ({exc.msg})", line=exc.lineno) from None
        if not isinstance(state, dict):
            raise DataFileError(path, "state file must hold a JSON object")
        return state
