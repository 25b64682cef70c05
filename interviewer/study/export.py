"""A study's export (`simulacra study export`): the answers of both waves, when each was given, the item order
each person saw, when each wave was completed and each person's retest interval.

Written to `studies/<id>/export/` (or `--out`), files 0600 (personal data):

- `responses.csv`                 every answer, long: respondent, question, wave, value
- `responses-<instrument>.csv`    the same per instrument (what `simulacra report --truth FILE` reads)
- `answers.csv`                   every answer with its context: respondent, wave, instrument, question,
                                  position (1 = the first item that person was asked in that wave), value,
                                  label (the option's wording for a choice answer), answered_at (UTC)
- `item_order.csv`                the order each person was asked (shuffled instruments such as the BFI
                                  differ per person; adaptive ones: the items chosen): respondent, wave,
                                  position, instrument, question
- `not_asked.csv`                 studies with an adaptive instrument: respondent, instrument, question, status
                                  (the items not asked in wave 1 and why); `answers.csv` then also has
                                  `adaptive` (1 = chosen by the selector), `adaptive_position`, `expected_gain`
- `participants.csv`              respondent, status, joined_at, consented_at, per wave started_at,
                                  completed_at and minutes, retest_opened_at (an operator opened it early),
                                  retest_interval_days (wave-2 completion minus wave-1 completion), stopped_at
- `conditions.csv`                respondent, experiment, condition (studies with behavioral experiments)
- `external_ids.csv`              respondent, external_id: only with `with_external_ids` (the platform ids are
                                  kept in their own file and leave it only on request)
- `instruments/<id>.yaml`         the instruments as asked
- `responses.sav`, `responses.dta`  SPSS and Stata (`surveys.exports`): one row per person and wave, variable
                                  labels = question text, value labels = options, plus each wave's completion
                                  time and the retest interval; `responses_wide.csv`, `responses_long.csv`
                                  (with a label column, answer times and positions) and `responses_codebook.csv`

Every CSV cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a leading
apostrophe (OWASP's rule against formula injection: a spreadsheet shows the text instead of running it); a
plain number such as `-3` is not a formula and is written as it is (the rule of `surveys.exports.csv_safe`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from interviewer.storage import TranscriptStore
from interviewer.study.model import Study, StudyError
from interviewer.study.platform import ExternalIds
from interviewer.study.store import StudyStore
from interviewer.study.web import participant_status
from simulacra.workspace import PRIVATE_FILE, atomic_write_text, private_dir
from surveys.exports import csv_safe, export_responses
from surveys.instruments import save_instrument
from surveys.names import is_valid_name

RESPONSE_COLUMNS = ["respondent", "question", "wave", "value"]
LABELLED_FORMATS = ("sav", "dta", "csv")  # SPSS, Stata, wide + long CSV (the codebook always)


def escape_cell(value: Any) -> Any:
    """OWASP's CSV-injection rule: text beginning with = + - @ tab or CR gets a leading apostrophe (a plain
    number such as "-3" is left as it is); the one rule of `surveys.exports.csv_safe`."""
    return csv_safe(value)


def safe_csv(frame: pd.DataFrame) -> str:
    """The frame as CSV text with every cell (and column name) escaped."""
    escaped = frame.map(escape_cell) if len(frame) else frame.copy()
    escaped.columns = [escape_cell(str(c)) for c in frame.columns]
    return escaped.to_csv(index=False)


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    atomic_write_text(path, safe_csv(frame), PRIVATE_FILE)
    return path


def _minutes(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 60, 2)


def _label(study: Study, instrument_id: str, question_id: str, value: Any) -> str:
    try:
        question = study.question(instrument_id, question_id)
        return question.option(str(value)).label if question.is_choice else ""
    except (KeyError, ValueError):
        return ""


def export_study(store: StudyStore, study_id: str, target: Path | None = None, *, registry: Any = None,
                 with_external_ids: bool = False, formats: Sequence[str] = LABELLED_FORMATS,
                 now: datetime | None = None) -> list[Path]:
    """Write the study's export (see the module docstring) into `target` (default `studies/<id>/export/`);
    the paths written, in order. `registry` (the web app's `SessionRegistry`) gives when each person consented
    (left empty without it)."""
    study = store.load(study_id)
    target = private_dir(Path(target) if target else store.folder(study_id) / "export")
    transcripts = TranscriptStore(store.workspace.transcripts)
    people = store.participants(study_id)
    responses: list[tuple[str, str, int, Any]] = []
    answers: list[dict[str, Any]] = []
    not_asked: list[dict[str, Any]] = []
    order: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for participant in people:
        person = participant.respondent
        saved = store.answers(study_id, person)
        times = store.answer_times(study_id, person)
        records = store.answer_records(study_id, person) if study.adaptive else {}
        row: dict[str, Any] = {"respondent": person}
        for wave in (1, 2):
            plan, _total, states = store.plan(study, person, wave, saved, records)
            if wave == 1:
                not_asked += _not_asked(study, person, states)
            for position, (instrument_id, question_id) in enumerate(plan, start=1):
                order.append({"respondent": person, "wave": wave, "position": position, "instrument": instrument_id,
                              "question": question_id})
            positions = {step: index for index, step in enumerate(plan, start=1)}
            for instrument in study.instruments:
                for question in instrument.questions:
                    key = (wave, instrument.id, question.id)
                    if key not in saved:
                        continue
                    value = saved[key]
                    responses.append((person, question.id, wave, value))
                    chosen = (records.get(key) or {}).get("adaptive") if wave == 1 else None
                    answers.append({"respondent": person, "wave": wave, "instrument": instrument.id,
                                    "question": question.id, "position": positions.get((instrument.id, question.id)),
                                    "value": value, "label": _label(study, instrument.id, question.id, value),
                                    "answered_at": times.get(key, ""), "adaptive": int(chosen is not None),
                                    "adaptive_position": chosen.get("position") if chosen else None,
                                    "expected_gain": chosen.get("expected_gain") if chosen else None})
            stamps = sorted(t for (w, i, q), t in times.items() if w == wave and t and (i, q) in positions)
            complete = bool(plan) and all((wave, *step) in saved for step in plan)
            started = stamps[0] if stamps else None
            completed = participant.completed.get(str(wave)) or (stamps[-1] if complete and stamps else None)
            row[f"wave{wave}_started_at"] = started
            row[f"wave{wave}_completed_at"] = completed
            row[f"wave{wave}_minutes"] = _minutes(started, completed)
        interval = _minutes(row["wave1_completed_at"], row["wave2_completed_at"])
        invitation = registry.get(person) if registry is not None else None
        progress = store.progress(study, person, now)
        summary.append({
            "respondent": person,
            "status": participant_status(progress, bool(invitation and invitation.consented_at), transcripts.exists(person)),
            "joined_at": participant.joined_at,
            "consented_at": invitation.consented_at if invitation else None,
            **{k: v for k, v in row.items() if k != "respondent"},
            "retest_opened_at": participant.retest_opened_at,
            "retest_interval_days": round(interval / 1440, 4) if interval is not None else None,
            "stopped_at": participant.stopped_at,
        })
    data = pd.DataFrame(responses, columns=RESPONSE_COLUMNS)
    written = [write_csv(target / "responses.csv", data)]
    if study.experiments:
        rows = [(p.respondent, e, c) for p in people for e, c in sorted(p.conditions.items())]
        written.append(write_csv(target / "conditions.csv", pd.DataFrame(rows, columns=["respondent", "experiment", "condition"])))
    instruments_folder = private_dir(target / "instruments")
    for instrument in study.instruments:
        if not is_valid_name(instrument.id):  # it becomes a file name (checked when the study was created too)
            raise StudyError(f"study {study_id}: instrument id {instrument.id!r} cannot name a file")
        ids = {q.id for q in instrument.questions}
        written.append(write_csv(target / f"responses-{instrument.id}.csv", data[data["question"].isin(ids)]))
        saved_path = Path(save_instrument(instrument, instruments_folder / f"{instrument.id}.yaml"))
        saved_path.chmod(PRIVATE_FILE)
        written.append(saved_path)
    columns = ["respondent", "wave", "instrument", "question", "position", "value", "label", "answered_at"]
    if study.adaptive:  # which answers the selector chose, where and with what expected gain
        columns += ["adaptive", "adaptive_position", "expected_gain"]
    written.append(write_csv(target / "answers.csv", pd.DataFrame(answers, columns=columns)))
    if study.adaptive:
        written.append(write_csv(target / "not_asked.csv", pd.DataFrame(
            not_asked, columns=["respondent", "instrument", "question", "status"])))
    written.append(write_csv(target / "item_order.csv", pd.DataFrame(
        order, columns=["respondent", "wave", "position", "instrument", "question"])))
    written.append(write_csv(target / "participants.csv", pd.DataFrame(summary, columns=_participant_columns())))
    if with_external_ids:
        mapping = ExternalIds(store.folder(study_id)).mapping()
        pairs = sorted((respondent, external) for external, respondent in mapping.items())
        written.append(write_csv(target / "external_ids.csv", pd.DataFrame(pairs, columns=["respondent", "external_id"])))
    written += _labelled_files(answers, summary, study, target, formats)
    return written


def _not_asked(study: Study, person: str, states: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of each adaptive instrument the person was not asked in wave 1: `not asked (<why it stopped>)`
    once the instrument is finished, `not asked yet` while it is under way, `never chosen (no population
    answers)` for an item the selector cannot weigh."""
    rows = []
    for instrument_id, state in states.items():
        asked = {a["question"] for a in state.asked}
        if not asked:
            continue  # not started: nothing was chosen yet
        status = f"not asked ({state.stop})" if state.finished else "not asked yet"
        candidates = set(state.candidates)
        for question in study.instrument(instrument_id).questions:
            if question.id not in asked:
                rows.append({"respondent": person, "instrument": instrument_id, "question": question.id,
                             "status": status if question.id in candidates else "never chosen (no population answers)"})
    return rows


def _participant_columns() -> list[str]:
    waves = [f"wave{w}_{part}" for w in (1, 2) for part in ("started_at", "completed_at", "minutes")]
    return ["respondent", "status", "joined_at", "consented_at", *waves, "retest_opened_at", "retest_interval_days",
            "stopped_at"]


def _labelled_files(answers: list[dict[str, Any]], summary: list[dict[str, Any]], study: Study, target: Path,
                    formats: Iterable[str]) -> list[Path]:
    """SPSS/Stata files, wide and long CSV and the codebook (`surveys.exports.export_responses`), from the long
    answers with their times and positions, each wave's completion time and the person's retest interval."""
    formats = tuple(formats)
    if not answers or not formats:
        return []
    frame = pd.DataFrame(answers)[["respondent", "question", "wave", "value", "answered_at", "position"]]
    by_person = {row["respondent"]: row for row in summary}
    frame["wave_completed_at"] = [by_person[r].get(f"wave{w}_completed_at") or "" for r, w in zip(frame.respondent, frame.wave)]
    interval = {r: row.get("retest_interval_days") for r, row in by_person.items()}
    frame["retest_interval_days"] = [interval[r] if interval[r] is not None else float("nan") for r in frame.respondent]
    out = export_responses(frame, study.instruments, target, formats=formats, file_label=f"study {study.id}")
    paths = [Path(p) for p in out.values()]
    for path in paths:
        if path.is_file():
            path.chmod(PRIVATE_FILE)
    return paths
