"""Analysis-ready exports of answers: SPSS `.sav`, Stata `.dta`, wide and long CSV, and a codebook.

    from surveys.exports import export_responses
    paths = export_responses(frame, [load_instrument("gss")], "out/", formats=("sav", "dta", "csv"))
    # {"sav": out/responses.sav, "dta": out/responses.dta, "wide_csv": ..., "long_csv": ..., "codebook": ...}

`frame` is a long answer frame: `respondent`, `question`, `wave` (optional, default 1), `value` (canonical:
an option code for choice questions, a number, or text), and any further columns (e.g. `answered_at`,
`position`, `wave_completed_at`, `retest_interval_days`). Further columns whose value is the same for
every answer of a person in a wave (completion time, retest interval) also go into the wide files;
the others (each answer's timestamp, the item's position as shown) stay in the long CSV.

Files (all 0600: answers are personal data; written atomically):
- `<name>.sav` / `<name>.dta`: one row per respondent and wave; variable label = the question text
  (Stata keeps 80 characters, SPSS 256; the codebook has the full text), value labels = the options.
  Option codes that are whole numbers are stored as those numbers (GSS codes stay GSS codes); other
  codes (e.g. `cooperate`) as 1..k in option order, stated in the codebook. Numeric answers are numbers,
  open answers text. Missing = empty (system-missing).
- `<name>_wide.csv`: the same table with option codes; `<name>_long.csv`: one row per answer with a
  `label` column (the option's wording) and the further columns.
- `<name>_codebook.csv`: variable, question id, instrument, kind, text, code in file, option code,
  label, missing codes (what a non-answer was in the source, e.g. the GSS's 8/9, 98/99; empty in the files).
CSV cells are escaped against formula injection: a text cell beginning with = + - @ tab or CR gets a
leading apostrophe (`'=HYPERLINK(...)`); numbers, and codes that are numbers ("-1"), are left as they are.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from surveys.errors import SimulacraError
from surveys.gss_labels import label_table
from surveys.model import Instrument, Question, QuestionKind

FORMATS = ("sav", "dta", "csv")
ID_COLUMNS = ("respondent", "wave")
STATA_LABEL_MAX = 80
SPSS_LABEL_MAX = 256
NAME_MAX = 32  # Stata's limit (SPSS allows 64): one name serves both files
_RESERVED = {  # SPSS and Stata reserved words (case-insensitive)
    "all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with", "_all", "_b", "byte", "_coef",
    "_cons", "double", "float", "if", "in", "int", "long", "_n", "_pi", "_pred", "_rc", "_skip", "strl", "using",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(SimulacraError):
    """The answers cannot be exported as asked (unknown format, no answers, a missing column)."""


# -- CSV safety -----------------------------------------------------------------------------------------
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe; anything else unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _is_number(value.strip()):
        return "'" + value
    return value


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell (and header) `csv_safe`: what every CSV the product writes for people goes through."""
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):  # object or string dtype: text cells (numbers pass unchanged)
            out[column] = out[column].astype(object).map(csv_safe)
    out.columns = [csv_safe(str(c)) for c in out.columns]
    return out


# -- variables --------------------------------------------------------------------------------------------
@dataclass
class Variable:
    """How one question is stored: its file name, labels and code mapping."""

    name: str
    question: Question
    codes: dict[str, int | float] = field(default_factory=dict)  # option code -> number in the file
    value_labels: dict[int | float, str] = field(default_factory=dict)
    missing: str = ""

    @property
    def kind(self) -> str:
        return self.question.kind.value

    def file_value(self, value: Any) -> Any:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return np.nan if self.question.kind != QuestionKind.open else ""
        if self.question.is_choice:
            return self.codes.get(str(value), np.nan)
        if self.question.kind == QuestionKind.numeric:
            try:
                return float(value)
            except (TypeError, ValueError):
                return np.nan
        return str(value)


def variable_name(question_id: str, taken: set[str]) -> str:
    """A name valid in SPSS and Stata: letters, digits, `_`, starting with a letter, at most 32, unique."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", question_id)
    if not re.match(r"[A-Za-z]", name):
        name = "q" + name
    name = name[:NAME_MAX]
    if name.casefold() in _RESERVED:
        name = (name + "_")[:NAME_MAX]
    base, number = name, 2
    while name.casefold() in taken:
        suffix = f"_{number}"
        name = base[: NAME_MAX - len(suffix)] + suffix
        number += 1
    taken.add(name.casefold())
    return name


def _option_numbers(question: Question) -> dict[str, int | float]:
    codes = [o.code for o in question.options]
    if all(re.fullmatch(r"-?\d+", c) for c in codes):
        return {c: int(c) for c in codes}
    return {c: i for i, c in enumerate(codes, start=1)}


def _missing_text(question: Question, missing_codes: Mapping[str, Sequence[Any]] | None) -> str:
    if missing_codes and question.id in missing_codes:
        return ", ".join(map(str, missing_codes[question.id]))
    variable = question.meta.get("gss_variable")
    if question.instrument == "gss" or variable:
        codes = label_table()["missing_codes"].get(str(variable or question.id))
        if codes:
            return "GSS non-answer codes " + ", ".join(codes) + " (and negative codes); exported as empty"
    return ""


def build_variables(questions: Iterable[Question], missing_codes: Mapping[str, Sequence[Any]] | None = None) -> list[Variable]:
    taken = {c for c in ID_COLUMNS}
    out = []
    for question in questions:
        variable = Variable(variable_name(question.id, taken), question, missing=_missing_text(question, missing_codes))
        if question.is_choice:
            variable.codes = _option_numbers(question)
            variable.value_labels = {variable.codes[o.code]: o.label for o in question.options}
        out.append(variable)
    return out


# -- the tables -------------------------------------------------------------------------------------------
def _questions(frame: pd.DataFrame, instruments: Sequence[Instrument], all_questions: bool) -> list[Question]:
    by_id: dict[str, Question] = {}
    for instrument in instruments:
        for question in instrument.questions:
            by_id.setdefault(question.id, question)
    present = list(dict.fromkeys(frame["question"].astype(str)))
    unknown = [q for q in present if q not in by_id]
    if unknown:
        raise ExportError(f"question {unknown[0]!r} is in the answers but in none of the instruments "
                          f"({', '.join(i.id for i in instruments) or 'none given'})")
    if all_questions:
        return list(by_id.values())
    wanted = set(present)
    return [q for q in by_id.values() if q.id in wanted]


def _normalized(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("respondent", "question", "value") if c not in frame.columns]
    if missing:
        raise ExportError(f"the answer frame lacks column {missing[0]!r} (need respondent, question, wave, value)")
    frame = frame.copy()
    if "wave" not in frame.columns:
        frame["wave"] = 1
    frame["respondent"] = frame["respondent"].astype(str)
    frame["question"] = frame["question"].astype(str)
    frame["wave"] = pd.to_numeric(frame["wave"]).astype(int)
    return frame


def _person_wave_columns(frame: pd.DataFrame) -> list[str]:
    extras = [c for c in frame.columns if c not in ("respondent", "question", "wave", "value")]
    if not extras or frame.empty:
        return []
    counts = frame.groupby(["respondent", "wave"])[extras].nunique(dropna=False)
    return [c for c in extras if (counts[c] <= 1).all()]


def wide_table(frame: pd.DataFrame, variables: Sequence[Variable], coded: bool, people: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per respondent and wave; `coded`: values as the file's numbers (SPSS/Stata), else option codes."""
    keys = frame[["respondent", "wave"]].drop_duplicates().sort_values(["respondent", "wave"], kind="mergesort")
    table = keys.reset_index(drop=True)
    index = pd.MultiIndex.from_frame(table)
    columns: dict[str, Any] = {}
    if people is not None and not people.empty:
        by_person = people.copy()
        by_person.index = by_person.index.astype(str)
        for column in by_person.columns:
            columns[str(column)] = by_person[column].reindex(table["respondent"]).to_numpy(dtype=object)
    extras = _person_wave_columns(frame)
    if extras:
        first = frame.groupby(["respondent", "wave"])[extras].first()
        for column in extras:
            columns[column] = first[column].reindex(index).to_numpy()
    answers = frame.drop_duplicates(["respondent", "wave", "question"], keep="first").set_index(["respondent", "wave", "question"])["value"]
    for variable in variables:
        try:
            series = answers.xs(variable.question.id, level="question")
        except KeyError:
            series = pd.Series(dtype=object)
        values = series.reindex(index).to_numpy(dtype=object)
        if coded:
            cells = [variable.file_value(v) for v in values]
            columns[variable.name] = pd.Series(cells, dtype=float if variable.question.kind != QuestionKind.open else object)
        else:
            columns[variable.name] = [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]
    extra = pd.DataFrame({name: (col.to_numpy() if isinstance(col, pd.Series) else col) for name, col in columns.items()}, index=table.index)
    for name in extra.columns:  # numbers stay numbers (weights, ages); text stays text
        if extra[name].dtype == object:
            converted = pd.to_numeric(extra[name], errors="coerce")
            if converted.notna().sum() == extra[name].notna().sum() and extra[name].notna().any():
                extra[name] = converted
    return pd.concat([table, extra], axis=1)


def long_table(frame: pd.DataFrame, variables: Sequence[Variable]) -> pd.DataFrame:
    """One row per answer with the option's label; the frame's further columns kept."""
    labels = {v.question.id: {o.code: o.label for o in v.question.options} for v in variables}
    out = frame.copy()
    out["label"] = [labels.get(q, {}).get(str(v), "") for q, v in zip(out["question"], out["value"])]
    order = ["respondent", "question", "wave", "value", "label"]
    return out[order + [c for c in out.columns if c not in order]].sort_values(["respondent", "wave"], kind="mergesort")


def codebook_table(variables: Sequence[Variable]) -> pd.DataFrame:
    rows = []
    for variable in variables:
        q = variable.question
        base = {"variable": variable.name, "question": q.id, "instrument": q.instrument, "kind": q.kind.value,
                "text": q.text, "source_text": q.source_text or "", "missing_codes": variable.missing}
        if q.is_choice:
            for option in q.options:
                rows.append({**base, "code_in_file": variable.codes[option.code], "option_code": option.code, "label": option.label})
        else:
            detail = f"{q.min:g} to {q.max:g}{' ' + q.unit if q.unit else ''}" if q.kind == QuestionKind.numeric else "text"
            rows.append({**base, "code_in_file": "", "option_code": "", "label": detail})
    columns = ["variable", "question", "instrument", "kind", "text", "source_text", "code_in_file", "option_code", "label",
               "missing_codes"]
    return pd.DataFrame(rows, columns=columns)


# -- writing ----------------------------------------------------------------------------------------------
def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o600)  # answers are personal data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    safe = csv_safe_frame(frame)
    return _atomic(path, lambda tmp: safe.to_csv(tmp, index=False, encoding="utf-8", quoting=csv.QUOTE_MINIMAL))


def _for_stat_file(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):  # text: no None (pyreadstat's Stata writer needs "" for long strings)
            out[column] = out[column].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return out


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    items = [f.strip().lower().lstrip(".") for f in (formats.split(",") if isinstance(formats, str) else formats)]
    items = [f for f in items if f]
    unknown = [f for f in items if f not in FORMATS]
    if unknown or not items:
        raise ExportError(f"unknown export format {unknown[0] if unknown else '(none)'!r}: choose from {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(items))


def export_responses(frame: pd.DataFrame, instruments: Instrument | Sequence[Instrument], out_dir: str | Path,
                     formats: str | Iterable[str] = FORMATS, name: str = "responses", *, all_questions: bool = False,
                     missing_codes: Mapping[str, Sequence[Any]] | None = None, file_label: str = "",
                     people: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write the answers in `frame` for analysis; return {"sav"|"dta"|"wide_csv"|"long_csv"|"codebook": path}.

    `instruments` define the questions (text, kind, options); every question in `frame` must be in one.
    `formats`: any of "sav", "dta", "csv" (CSV = wide + long); the codebook is always written.
    `all_questions`: a column for every question of the instruments, answered or not (default: answered only).
    `missing_codes`: question id -> the source's non-answer codes, for the codebook (GSS items have theirs).
    `people`: per-respondent columns (index = respondent id; e.g. demographics, a survey weight) added to the
    wide files (.sav, .dta, wide CSV) only.
    """
    import pyreadstat  # heavy: only when exporting

    chosen = parse_formats(formats)
    instruments = [instruments] if isinstance(instruments, Instrument) else list(instruments)
    frame = _normalized(frame)
    if frame.empty:
        raise ExportError("no answers to export")
    variables = build_variables(_questions(frame, instruments, all_questions), missing_codes)
    out = Path(out_dir).expanduser()
    paths: dict[str, Path] = {}
    if "sav" in chosen or "dta" in chosen:
        table = _for_stat_file(wide_table(frame, variables, coded=True, people=people))
        labels = {"respondent": "respondent id", "wave": "wave (1 = first interview, 2 = retest)"}
        labels |= {v.name: v.question.text for v in variables}
        value_labels = {v.name: v.value_labels for v in variables if v.value_labels}
        if "sav" in chosen:
            measure = {v.name: {"ordinal": "ordinal", "categorical": "nominal", "numeric": "scale", "open": "nominal"}[v.kind] for v in variables}
            paths["sav"] = _atomic(out / f"{name}.sav", lambda tmp: pyreadstat.write_sav(
                table, str(tmp), file_label=file_label, column_labels={k: _cut(t, SPSS_LABEL_MAX) for k, t in labels.items()},
                variable_value_labels={k: {c: _cut(t, 120) for c, t in v.items()} for k, v in value_labels.items()},
                variable_measure=measure))
        if "dta" in chosen:
            paths["dta"] = _atomic(out / f"{name}.dta", lambda tmp: pyreadstat.write_dta(
                table, str(tmp), file_label=_cut(file_label, 80), column_labels={k: _cut(t, STATA_LABEL_MAX) for k, t in labels.items()},
                variable_value_labels={k: {c: _cut(t, 32000) for c, t in v.items()} for k, v in value_labels.items()}))
    if "csv" in chosen:
        paths["wide_csv"] = _write_csv(wide_table(frame, variables, coded=False, people=people), out / f"{name}_wide.csv")
        paths["long_csv"] = _write_csv(long_table(frame, variables), out / f"{name}_long.csv")
    paths["codebook"] = _write_csv(codebook_table(variables), out / f"{name}_codebook.csv")
    return paths
