"""Interview transcripts: the interviewer writes them, agents are built from them.

On disk: `transcripts/<respondent>.jsonl`, one `Turn` per line, appended and flushed as the interview
goes (see interviewer/), and `<respondent>.notes.json` with the interviewer's latest `InterviewNotes`.
The first line may be a header record (`{"type": "header", ...}`) with respondent metadata. Lives in
`simulacra` (not `interviewer`) because agents read transcripts and layers import downward only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from simulacra.errors import DataFileError, SimulacraError
from surveys.names import RULE as NAME_RULE, is_valid_name

Speaker = Literal["interviewer", "respondent"]


class Turn(BaseModel):
    index: int  # 0-based position in the transcript
    speaker: Speaker
    text: str
    question_id: str | None = None  # the scripted question this turn belongs to
    block: str | None = None
    # "acknowledgement": a short neutral line said while the interviewer decided (voice; interviewer/engine.py)
    kind: Literal["scripted", "follow_up", "answer", "intro", "closing", "note", "acknowledgement"] = "answer"
    started_at: float | None = None  # seconds on the session clock
    ended_at: float | None = None
    wall_time: str | None = None  # ISO timestamp when it was saved
    meta: dict[str, Any] = Field(default_factory=dict)  # e.g. follow-up decision and assessment
    # an answer the interviewer judged: "adequate", or "non_answer" (a bare "ok", an echo, too short...; see
    # interviewer/validation.py); None when not judged (the intro, older transcripts)
    adequacy: Literal["adequate", "non_answer"] | None = None


class InterviewNotes(BaseModel):
    """The interviewer's short bullet facts about the respondent, refreshed as the talk grows."""

    bullets: list[str] = Field(default_factory=list)
    updated_at_turn: int = -1


class Transcript(BaseModel):
    respondent: str
    turns: list[Turn] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
    notes: InterviewNotes = Field(default_factory=InterviewNotes)

    def exchanges(self) -> list[tuple[str, str, str | None]]:
        """(interviewer utterance, respondent answer, question id) pairs, in order."""
        pairs: list[tuple[str, str, str | None]] = []
        asked: Turn | None = None
        for turn in self.turns:
            if turn.speaker == "interviewer":
                asked = turn
            elif asked is not None:
                pairs.append((asked.text, turn.text, asked.question_id))
                asked = None
            else:
                pairs.append(("", turn.text, turn.question_id))
        return pairs

    def as_text(self, interviewer: str = "Interviewer", respondent: str = "Me") -> str:
        return "\n\n".join(
            f"{interviewer if t.speaker == 'interviewer' else respondent}: {t.text}" for t in self.turns if t.text
        )


class UnusableTranscriptError(SimulacraError):
    """A transcript marked unusable (e.g. a closed-loop interview of an agent that gave mostly non-answers)."""


def check_usable(transcript: Transcript) -> None:
    """Refuse a transcript marked unusable (a `{"type": "status", "unusable": true, "reason": ...}` line, written
    when a closed-loop interview stops on non-answers); `simulacra agents build --force` skips this check."""
    if transcript.meta.get("unusable"):
        reason = str(transcript.meta.get("unusable_reason") or "no reason recorded")
        raise UnusableTranscriptError(
            f"transcript {transcript.respondent!r} is marked unusable ({reason}); build from it anyway with --force"
        )


def read_transcript(path: Path) -> Transcript:
    """Read a JSONL transcript; a broken line is reported with its line number (nothing is guessed)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "no such transcript file")
    respondent = path.name.removesuffix(".jsonl")
    meta: dict[str, Any] = {}
    turns: list[Turn] = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(path, f"cannot read the file ({exc.strerror})") from None
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataFileError(path, f"not UTF-8 text (byte {exc.start + 1} of the line); save the "
                                "transcript as UTF-8", line=number) from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFileError(path, f"not valid JSON ({exc.msg})", line=number) from None
        except ValueError:  # an integer longer than Python reads from text (4,300 digits)
            raise DataFileError(path, "a number is too long (more than 4,300 digits)", line=number) from None
        if not isinstance(record, dict):
            raise DataFileError(path, "each line must be a JSON object", line=number)
        if record.get("type") == "header":
            meta = {k: v for k, v in record.items() if k != "type"}
            if not isinstance(meta.get("demographics", {}), dict):  # agents read it as field: value
                raise DataFileError(path, "demographics must be a mapping of field: value", line=number, field="demographics")
            if meta.get("name") is not None and not (isinstance(meta["name"], str) and meta["name"].strip()):
                raise DataFileError(path, "name must be a non-empty text", line=number, field="name")
            named = meta.get("respondent", respondent)
            if not is_valid_name(named):  # it names files: no paths
                raise DataFileError(path, f"respondent id {named!r} is not a valid respondent name: {NAME_RULE}",
                                    line=number, field="respondent")
            respondent = named
            continue
        if record.get("type") == "status":  # a later mark on the whole transcript (e.g. unusable): into meta
            meta.update({k: v for k, v in record.items() if k != "type"})
            continue
        record.pop("type", None)
        record.setdefault("index", len(turns))
        try:
            turns.append(Turn.model_validate(record))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(map(str, first["loc"]))
            raise DataFileError(path, first["msg"], line=number, field=field) from None
    notes = InterviewNotes()
    notes_path = path.with_name(respondent + ".notes.json") if not path.name.endswith(".notes.json") else None
    alt = path.parent / (path.name.removesuffix(".jsonl") + ".notes.json")
    for candidate in (notes_path, alt):
        if candidate is not None and candidate.is_file():
            try:
                notes = InterviewNotes.model_validate_json(candidate.read_text(encoding="utf-8"))
            except ValidationError as exc:
                raise DataFileError(candidate, f"notes file is malformed: {exc.errors()[0]['msg']}") from None
            except UnicodeDecodeError:
                raise DataFileError(candidate, "notes file is not UTF-8 text") from None
            break
    return Transcript(respondent=respondent, turns=turns, meta=meta, notes=notes)
