"""Studies on disk: `<workspace>/studies/<study-id>/` (folders 0700, files 0600).

- `study.yaml`                      the study file as written (a copy)
- `study.json`                      the `Study` (spec + frozen instruments, schema_version)
- `participants/<respondent>.json`  who is in the study: joined, stopped, when each wave was completed
- `answers/<respondent>.jsonl`      the person's answers, one line each, appended and fsynced as given:
                                    {"wave", "instrument", "question", "value", "at"}

Answers are personal data: they are never logged above debug level. An answer is keyed by (wave,
instrument, question): the first one saved counts, a second one with the same value is a no-op (a resent
request), a different value is refused (`AnswerConflict`). A torn last line (a crash mid-write) is
ignored when read and never glued to the next answer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from interviewer.errors import RespondentIdError
from interviewer.storage import TranscriptStore, validate_respondent
from interviewer.study.adaptive import plan as adaptive_plan
from interviewer.study.model import Study, StudyError
from interviewer.study.platform import forget_in_study_files
from interviewer.study.populations import population_digest, read_population_frame, write_population
from simulacra.withdraw import Step, Withdrawal
from simulacra.workspace import PRIVATE_FILE, Workspace, atomic_write_json, atomic_write_text, file_lock, private_dir
from surveys.errors import InvalidNameError
from surveys.names import check_name

log = logging.getLogger(__name__)

PHASES = ("interview", "survey", "waiting", "retest", "done", "stopped", "full")  # full: screened out by a quota


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


class AnswerConflict(StudyError):
    """The question already has a different saved answer in this wave."""


class Participant(BaseModel):
    schema_version: int = 1
    respondent: str
    study: str
    joined_at: str
    stopped_at: str | None = None
    completed: dict[str, str] = {}  # wave ("1"/"2") -> when its last question was answered
    conditions: dict[str, str] = {}  # experiment id -> the condition assigned at invitation
    retest_opened_at: str | None = None  # an operator opened the retest early (`study open-retest`)
    screened_out: str | None = None  # why the person was stopped by the study (e.g. "quota_full")


@dataclass
class Progress:
    """Where a person stands: the phase, and per wave how many of the planned questions are answered."""

    respondent: str
    phase: str
    answered: dict[int, int]
    total: int
    next_step: tuple[str, str] | None = None  # (instrument, question) asked next in the current wave
    wave: int | None = None  # the wave being answered (survey: 1, retest: 2)
    retest_at: str | None = None
    interview_finished: bool = False
    stopped_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    totals: dict[int, int] = field(default_factory=dict)  # questions planned per wave (about_you: wave 1 only)

    def as_dict(self) -> dict[str, Any]:
        return {
            "respondent": self.respondent, "phase": self.phase, "wave": self.wave, "total": self.total,
            "answered": {str(k): v for k, v in self.answered.items()}, "retest_at": self.retest_at,
            "interview_finished": self.interview_finished, "stopped_at": self.stopped_at,
            "totals": {str(k): v for k, v in self.totals.items()},
        }


class StudyStore:
    """All studies of a workspace."""

    def __init__(self, workspace: Workspace | None = None):
        self.workspace = workspace or Workspace.default()
        self._lock = threading.Lock()

    # -- studies ------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        private_dir(self.workspace.root)
        return private_dir(self.workspace.root / "studies")

    def folder(self, study_id: str) -> Path:
        try:
            return self.root / check_name(study_id, kind="study")
        except InvalidNameError as exc:
            raise StudyError(str(exc)) from None

    def create(self, study: Study, source_text: str = "", *, replace: bool = False) -> Path:
        folder = self.folder(study.id)
        if (folder / "study.json").is_file() and not replace:
            existing = self.load(study.id)
            if existing.model_dump(exclude={"created_at"}) == study.model_dump(exclude={"created_at"}):
                return folder  # the same study again: nothing to do
            if self.participants(study.id):
                raise StudyError(f"study {study.id} already exists with participants; a running study cannot be changed "
                                 "(give the new version another id)")
            raise StudyError(f"study {study.id} already exists with other settings; pass --replace to overwrite it")
        private_dir(folder, within=self.root)
        study = study.model_copy(update={"created_at": study.created_at or _iso(utcnow())})
        if source_text:
            atomic_write_text(folder / "study.yaml", source_text)
        for instrument_id, frame in study._populations.items():  # adaptive instruments: the population, frozen
            write_population(folder, study.adaptive[instrument_id], frame)
        atomic_write_json(folder / "study.json", study.model_dump(mode="json"))
        return folder

    def load(self, study_id: str) -> Study:
        path = self.folder(study_id) / "study.json"
        if not path.is_file():
            known = ", ".join(self.ids()) or "none yet"
            raise StudyError(f"no study {study_id!r} in {self.root} (studies: {known}); create it with `simulacra study create FILE`")
        try:
            return Study.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise StudyError(f"{path}: not a readable study ({exc})") from None

    def ids(self) -> list[str]:
        root = self.workspace.root / "studies"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / "study.json").is_file())

    # -- participants --------------------------------------------------------------------------------
    def _participant_path(self, study_id: str, respondent: str) -> Path:
        return self.folder(study_id) / "participants" / f"{validate_respondent(respondent)}.json"

    def _answers_path(self, study_id: str, respondent: str) -> Path:
        return self.folder(study_id) / "answers" / f"{validate_respondent(respondent)}.jsonl"

    def join(self, study_id: str, respondent: str, now: datetime | None = None,
             conditions: dict[str, str] | None = None) -> Participant:
        """Add a respondent (a no-op for one already in: their conditions never change)."""
        study = self.load(study_id)
        conditions = dict(conditions or {})
        for experiment, condition in conditions.items():
            if experiment not in study.experiments or condition not in study.experiments[experiment].conditions:
                raise StudyError(f"study {study_id}: {experiment}={condition} is not a condition of the study")
        with self._lock:
            found = self.study_of(respondent)
            if found is not None and found != study_id:
                raise StudyError(f"respondent {respondent} is already in study {found}")
            path = self._participant_path(study_id, respondent)
            if path.is_file():
                return self.participant(study_id, respondent)  # type: ignore[return-value]
            private_dir(path.parent)
            missing = [e for e in study.experiments if e not in conditions]
            if missing:
                raise StudyError(f"study {study_id}: no condition given for experiment(s) {', '.join(missing)}")
            participant = Participant(respondent=respondent, study=study_id, joined_at=_iso(now or utcnow()),
                                      conditions=conditions)
            atomic_write_json(path, participant.model_dump())
            return participant

    def participant(self, study_id: str, respondent: str) -> Participant | None:
        path = self._participant_path(study_id, respondent)
        if not path.is_file():
            return None
        return Participant.model_validate_json(path.read_text(encoding="utf-8"))

    def participants(self, study_id: str) -> list[Participant]:
        folder = self.folder(study_id) / "participants"
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.json")):
            try:
                out.append(Participant.model_validate_json(path.read_text(encoding="utf-8")))
            except ValueError:
                log.warning("unreadable participant file in study %s", study_id)
        return sorted(out, key=lambda p: (p.joined_at, p.respondent))

    def study_of(self, respondent: str) -> str | None:
        validate_respondent(respondent)
        for study_id in self.ids():
            if (self.workspace.root / "studies" / study_id / "participants" / f"{respondent}.json").is_file():
                return study_id
        return None

    def _update(self, participant: Participant) -> None:
        atomic_write_json(self._participant_path(participant.study, participant.respondent), participant.model_dump())

    def stop(self, study_id: str, respondent: str, now: datetime | None = None, reason: str | None = None) -> Participant:
        """The person stops (`reason`: the study stopped them, e.g. "quota_full")."""
        with self._lock:
            participant = self.participant(study_id, respondent)
            if participant is None:
                raise StudyError(f"respondent {respondent} is not in study {study_id}")
            if participant.stopped_at is None:
                participant = participant.model_copy(update={"stopped_at": _iso(now or utcnow()), "screened_out": reason})
                self._update(participant)
            return participant

    # -- answers -------------------------------------------------------------------------------------
    def answers(self, study_id: str, respondent: str) -> dict[tuple[int, str, str], Any]:
        """{(wave, instrument, question): value}; the first saved answer per key counts."""
        path = self._answers_path(study_id, respondent)
        out: dict[tuple[int, str, str], Any] = {}
        if not path.is_file():
            return out
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key = (int(row["wave"]), str(row["instrument"]), str(row["question"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a crash mid-write
            out.setdefault(key, row["value"])
        return out

    def answer_times(self, study_id: str, respondent: str) -> dict[tuple[int, str, str], str]:
        """{(wave, instrument, question): when the counted (first) answer was saved}, for exports."""
        path = self._answers_path(study_id, respondent)
        out: dict[tuple[int, str, str], str] = {}
        for line in (path.read_text(encoding="utf-8").splitlines() if path.is_file() else []):
            try:
                row = json.loads(line)
                out.setdefault((int(row["wave"]), str(row["instrument"]), str(row["question"])), str(row.get("at") or ""))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a crash mid-write
        return out

    def answer_records(self, study_id: str, respondent: str) -> dict[tuple[int, str, str], dict[str, Any]]:
        """{(wave, instrument, question): what was saved with the counted answer beyond its value}: for an
        adaptive instrument the choice that asked it (`adaptive`) and the one that follows (`next`, `stop`)."""
        path = self._answers_path(study_id, respondent)
        out: dict[tuple[int, str, str], dict[str, Any]] = {}
        for line in (path.read_text(encoding="utf-8").splitlines() if path.is_file() else []):
            try:
                row = json.loads(line)
                key = (int(row["wave"]), str(row["instrument"]), str(row["question"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a crash mid-write
            out.setdefault(key, {k: row[k] for k in ("adaptive", "next", "stop") if k in row})
        return out

    def plan(self, study: Study, respondent: str, wave: int, saved: dict[tuple[int, str, str], Any] | None = None,
             records: dict[tuple[int, str, str], dict[str, Any]] | None = None) -> tuple[list[tuple[str, str]], int, dict[str, Any]]:
        """The (instrument, question) steps of a wave as far as they are known, the expected number of steps and
        the adaptive instruments' status (`interviewer.study.adaptive.plan`; a study without adaptive instruments:
        `Study.plan`)."""
        if not study.adaptive:
            steps = study.plan(respondent, wave)
            return steps, len(steps), {}
        saved = self.answers(study.id, respondent) if saved is None else saved
        records = self.answer_records(study.id, respondent) if records is None else records
        return adaptive_plan(self.folder(study.id), study, respondent, wave, saved, records)

    def save_answer(self, study: Study, respondent: str, wave: int, instrument: str, question: str, value: Any,
                    now: datetime | None = None, extra: dict[str, Any] | None = None) -> bool:
        """Validate with the instrument's own rules and append; True when saved, False when the same answer was
        already saved (a resent request). `extra`: saved with the answer (an adaptive instrument's choices).
        Raises AnswerValidationError / AnswerConflict / StudyError."""
        canonical = study.question(instrument, question).validate_value(value)
        path = self._answers_path(study.id, respondent)
        with self._lock, file_lock(Path(str(path) + ".lock")):
            existing = self.answers(study.id, respondent)
            key = (wave, instrument, question)
            if key in existing:
                if existing[key] == canonical:
                    return False
                raise AnswerConflict(f"question {question} already has a different saved answer in wave {wave}")
            line = json.dumps({"wave": wave, "instrument": instrument, "question": question, "value": canonical,
                               "at": _iso(now or utcnow()), **(extra or {})}, ensure_ascii=False)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = "\n" + line  # never glue onto a torn last line
                os.write(fd, (line + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(path, PRIVATE_FILE)
            log.info("study %s: answer saved (wave %d, %s)", study.id, wave, question)
            log.debug("study %s: %s answered %s=%r", study.id, respondent, question, canonical)
            return True

    def mark_completed(self, study_id: str, respondent: str, wave: int, now: datetime | None = None) -> None:
        with self._lock:
            participant = self.participant(study_id, respondent)
            if participant is not None and str(wave) not in participant.completed:
                completed = {**participant.completed, str(wave): _iso(now or utcnow())}
                self._update(participant.model_copy(update={"completed": completed}))

    # -- progress ------------------------------------------------------------------------------------
    def interview_finished(self, respondent: str) -> bool:
        state = TranscriptStore(self.workspace.transcripts).load_state(respondent) or {}
        return bool(state.get("finished"))

    def progress(self, study: Study, respondent: str, now: datetime | None = None,
                 interview_finished: bool | None = None) -> Progress:
        """The phase a person is in at `now` (the test clock in tests), and what they are asked next."""
        now = now or utcnow()
        participant = self.participant(study.id, respondent)
        if participant is None:
            raise StudyError(f"respondent {respondent} is not in study {study.id}")
        saved = self.answers(study.id, respondent)
        records = self.answer_records(study.id, respondent) if study.adaptive else {}
        planned = {wave: self.plan(study, respondent, wave, saved, records) for wave in (1, 2)}
        plans = {wave: steps for wave, (steps, _total, _states) in planned.items()}
        answered = {w: sum(1 for i, q in plans[w] if (w, i, q) in saved) for w in (1, 2)}
        finished = self.interview_finished(respondent) if interview_finished is None else interview_finished
        totals = {w: total for w, (_steps, total, _states) in planned.items()}
        progress = Progress(respondent=respondent, phase="survey", answered=answered, total=totals[1],
                            interview_finished=finished, stopped_at=participant.stopped_at, totals=totals)
        if participant.stopped_at:
            progress.phase = "full" if participant.screened_out else "stopped"
            return progress
        if study.spec.interview.required and not finished:
            progress.phase = "interview"
            return progress
        for wave in (1, 2):
            missing = [step for step in plans[wave] if (wave, *step) not in saved]
            if wave == 2:
                progress.total = totals[2]
                done_1 = participant.completed.get("1")
                opens = datetime.fromisoformat(done_1) + timedelta(days=study.spec.retest_days) if done_1 else now
                if participant.retest_opened_at:  # opened early by an operator
                    opens = min(opens, datetime.fromisoformat(participant.retest_opened_at))
                progress.retest_at = _iso(opens)
                if missing and now < opens and not participant.retest_opened_at:
                    progress.phase = "waiting"
                    return progress
            if missing:
                progress.phase = "survey" if wave == 1 else "retest"
                progress.wave, progress.next_step = wave, missing[0]
                return progress
            if str(wave) not in participant.completed:
                self.mark_completed(study.id, respondent, wave, now)
                participant = self.participant(study.id, respondent) or participant
        progress.phase = "done"
        return progress

    # -- export --------------------------------------------------------------------------------------
    def response_records(self, study: Study) -> list[tuple[str, str, int, Any]]:
        """(respondent, question, wave, value) of every saved answer of every participant, plan order."""
        records = []
        for participant in self.participants(study.id):
            saved = self.answers(study.id, participant.respondent)
            for wave in (1, 2):
                for instrument in study.instruments:
                    for question in instrument.questions:
                        key = (wave, instrument.id, question.id)
                        if key in saved:
                            records.append((participant.respondent, question.id, wave, saved[key]))
        return records

    def forget(self, respondent: str) -> int:
        """Delete the respondent's participation and answers in every study (withdrawal); files removed."""
        removed = 0
        with self._lock:
            for study_id in self.ids():
                folder = self.workspace.root / "studies" / study_id
                for path in (folder / "participants" / f"{respondent}.json", folder / "answers" / f"{respondent}.jsonl",
                             folder / "answers" / f"{respondent}.jsonl.lock"):
                    if path.is_file():
                        path.unlink()
                        removed += 1
                removed += _drop_from_exports(folder / "export", respondent)
                removed += self._drop_from_populations(study_id, respondent)
        return removed

    def _drop_from_populations(self, study_id: str, respondent: str) -> int:
        """Rewrite the frozen populations of the study's adaptive instruments without the respondent (a population
        made of another study's answers can hold them); study.json gets the new digests. Files changed."""
        study = self.load(study_id)
        changed = 0
        adaptive = dict(study.adaptive)
        for instrument_id, info in study.adaptive.items():
            frame = read_population_frame(self.folder(study_id), info)
            if frame is None or not (frame["respondent"] == respondent).any():
                continue
            frame = frame[frame["respondent"] != respondent].reset_index(drop=True)
            adaptive[instrument_id] = info.model_copy(update=population_digest(frame))
            write_population(self.folder(study_id), adaptive[instrument_id], frame)
            changed += 1
        if changed:
            atomic_write_json(self.folder(study_id) / "study.json",
                              study.model_copy(update={"adaptive": adaptive}).model_dump(mode="json"))
        return changed


def _drop_from_exports(folder: Path, respondent: str) -> int:
    """Rewrite the study's own exports (studies/<id>/export/*.csv) without the respondent's rows, and delete its
    other data files (SPSS, Stata, ...: not rewritable here; `simulacra study export` writes them again) when the
    respondent is in the export; files changed. (Exports written elsewhere with --out are the operator's copies
    and are not tracked.)"""
    if not folder.is_dir():
        return 0

    changed = 0
    for path in sorted(folder.glob("*.csv")):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
            continue
        if "respondent" not in frame.columns or not (frame["respondent"] == respondent).any():
            continue
        atomic_write_text(path, frame[frame["respondent"] != respondent].to_csv(index=False))
        changed += 1
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix not in (".csv", ".yaml")):
        if changed or respondent.encode() in path.read_bytes():
            path.unlink()
            changed += 1
    return changed


def _study_respondent(found: Withdrawal) -> str | None:
    """The respondent as a study file name, or None: an id that could never join a study (withdrawal accepts
    '.' and '@', study files do not) has no study data: nothing to find or remove, not an error."""
    try:
        respondent = validate_respondent(found.respondent)
    except RespondentIdError:
        return None
    return respondent if (found.workspace.root / "studies").is_dir() else None


def _collect_study_answers(found: Withdrawal) -> None:
    """Withdrawal, before anything is removed: every answer they gave in any study (free text included: the
    "about you" paragraph persona agents read, open answers), to find in caches and other stores."""
    respondent = _study_respondent(found)
    if respondent is None:
        return
    store = StudyStore(found.workspace)
    answers = 0
    for study_id in store.ids():
        saved = store.answers(study_id, respondent)
        found.add_texts(saved.values())
        answers += len(saved)
    if answers:
        found.held["study_answers"] = found.held.get("study_answers", 0) + answers


def _withdraw_study_answers(found: Withdrawal) -> None:
    """Withdrawal: the respondent's study answers and participation (and their rows in the study's exports)."""
    respondent = _study_respondent(found)
    if respondent is not None:
        removed = StudyStore(found.workspace).forget(respondent)
        removed += forget_in_study_files(found.workspace.root / "studies", respondent)  # platform ids, study log, .sav/.dta
        if removed:
            found.count("study_files", removed)


# The studies' part of a withdrawal, handed to `simulacra.withdraw` by whoever composes it (the web app's
# default, experiments.wiring for every store).
STUDY_ANSWERS_STEP = Step("study_answers", remove=_withdraw_study_answers, collect=_collect_study_answers)
