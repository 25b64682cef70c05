"""Load human responses into a `ResponseSet`: user CSVs (wide or long) and the real GSS panels.

Every raw value is mapped onto the instrument's option codes (by code, or by label ignoring case);
a value that cannot be mapped is kept in `ResponseSet.unmapped` with the reason, never dropped
silently. Formats: surveys/README.md. GSS panel mapping rules: scripts/build_instruments.py.
"""

from __future__ import annotations

import functools
import logging
import math
import zlib
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np
import pandas as pd
import yaml

from surveys.errors import DataFileError
from surveys.gss_labels import GssValueMapper
from surveys.instruments import BUILTIN, DATA_DIR, _builtin, load_instrument
from surveys.model import AnswerValidationError, Instrument, Question
from surveys.paths import shared_data_dir
from surveys.responses import COLUMNS, ResponseSet, UnmappedValue

log = logging.getLogger(__name__)

MISSING_TOKENS = {"", "na", "n/a", "nan", "none", "null"}
DEMOGRAPHIC_PREFIX = "demo_"
PANEL_FILES = {
    "2016-2020": "gss/gss_panel2016_2020_park177.csv.gz",
    "2006": "gss/gss_panel2006_3wave_long_park177.csv.gz",
}
RESPONSE_SETS = {"gss-panel-2016": "2016-2020", "gss-panel-2016-2020": "2016-2020", "gss-panel-2006": "2006"}
PanelName = Literal["2016-2020", "2006"]
YVersions = Literal["merge", "ignore"]


# -- mapping one raw value -------------------------------------------------------------------------
def map_value(question: Question, raw: Any) -> tuple[Any | None, str | None]:
    """(canonical value, None), (None, None) for a missing value, or (None, reason) if it does not fit."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None, None
    text = str(raw).strip()
    if text.casefold() in MISSING_TOKENS:
        return None, None
    if question.is_choice:
        code = _as_code(text)
        if any(o.code == code for o in question.options):
            return code, None
        by_label = question.code_for_label(text)
        if by_label is not None:
            return by_label, None
        return None, f"{text!r} is neither an option code nor an option label of {question.id}"
    try:
        return question.validate_value(text), None
    except AnswerValidationError as exc:
        return None, str(exc)


def _as_code(text: str) -> str:
    """'2.0' -> '2' (numeric codes read back from spreadsheets); anything else unchanged."""
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _map_series(question: Question, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Map a column of raw values at once (each distinct value once): (values, reasons)."""
    values: dict[Any, Any] = {}
    reasons: dict[Any, Any] = {}
    for item in raw.dropna().unique():
        values[item], reasons[item] = map_value(question, item)
    return raw.map(values), raw.map(reasons)


def _resolve(instrument: Instrument | str | Path | None) -> Instrument:
    if instrument is None:
        raise ValueError("an instrument is needed to map the values")
    if isinstance(instrument, str) and instrument in BUILTIN:
        return _builtin(instrument)  # read-only use: no copy needed
    return load_instrument(instrument)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataFileError(path, "no such file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as exc:
        raise DataFileError(path, f"cannot read as CSV: {' '.join(str(exc).split())}") from None  # pandas ends it with a newline
    except (zlib.error, EOFError) as exc:  # a damaged or cut-off .csv.gz (gzip.BadGzipFile is an OSError)
        raise DataFileError(path, f"cannot read the compressed file: damaged or incomplete ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


# -- wide CSV ----------------------------------------------------------------------------------------
def load_wide_csv(path: str | Path, instrument: Instrument | str, wave: int = 1, name: str | None = None) -> ResponseSet:
    """One row per respondent: a `respondent` column, one column per question id, `demo_*` columns."""
    path = Path(path)
    inst = _resolve(instrument)
    frame = _read_csv(path)
    if "respondent" not in frame.columns:
        raise DataFileError(path, "the first row must name a `respondent` column", line=1, field="respondent")
    ids = frame["respondent"].str.strip()
    if (ids == "").any():
        line = int(np.flatnonzero((ids == "").to_numpy())[0]) + 2
        raise DataFileError(path, "respondent id is empty", line=line, field="respondent")
    duplicated = ids.duplicated()
    if duplicated.any():
        line = int(np.flatnonzero(duplicated.to_numpy())[0]) + 2
        raise DataFileError(path, f"respondent {ids[duplicated].iloc[0]!r} appears twice", line=line, field="respondent")
    known = {q.id for q in inst.questions}
    for column in frame.columns:
        if column != "respondent" and column not in known and not column.startswith(DEMOGRAPHIC_PREFIX):
            raise DataFileError(
                path,
                f"column {column!r} is neither a question of instrument {inst.id} nor a {DEMOGRAPHIC_PREFIX}* column",
                line=1,
                field=column,
            )
    parts, unmapped = [], []
    for column in frame.columns:
        if column not in known:
            continue
        question = inst.question(column)
        values, reasons = _map_series(question, frame[column])
        ok = values.notna()
        parts.append(pd.DataFrame({"respondent": ids[ok], "question": column, "wave": wave, "value": values[ok]}))
        for index in np.flatnonzero(reasons.notna().to_numpy()):
            unmapped.append(
                UnmappedValue(ids.iloc[index], column, wave, frame[column].iloc[index], reasons.iloc[index], line=int(index) + 2)
            )
    demographics = _demographics_from_columns(frame, ids)
    return _finish(name or path.stem, parts, demographics, inst, unmapped, str(path))


def _demographics_from_columns(frame: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    columns = [c for c in frame.columns if c.startswith(DEMOGRAPHIC_PREFIX)]
    demo = frame[columns].copy()
    demo.columns = [c[len(DEMOGRAPHIC_PREFIX):] for c in columns]
    demo.index = pd.Index(ids, name="respondent")
    return demo.replace("", np.nan)


# -- long CSV ----------------------------------------------------------------------------------------
def load_long_csv(path: str | Path, instrument: Instrument | str, name: str | None = None) -> ResponseSet:
    """One row per answer: respondent, question, wave (optional, default 1), value.

    Rows whose question starts with `demo_` carry demographics (wave ignored).
    """
    path = Path(path)
    inst = _resolve(instrument)
    frame = _read_csv(path)
    for column in ("respondent", "question", "value"):
        if column not in frame.columns:
            raise DataFileError(path, f"missing column {column!r} (need respondent, question, wave, value)", line=1, field=column)
    extra = [c for c in frame.columns if c not in COLUMNS]
    if extra:
        raise DataFileError(path, f"unexpected column {extra[0]!r} (need respondent, question, wave, value)", line=1, field=extra[0])
    frame["respondent"] = frame["respondent"].str.strip()
    frame["question"] = frame["question"].str.strip()
    lines = pd.Series(np.arange(len(frame)) + 2, index=frame.index)
    for column in ("respondent", "question"):
        empty = frame[column] == ""
        if empty.any():
            raise DataFileError(path, f"{column} is empty", line=int(lines[empty].iloc[0]), field=column)
    if "wave" in frame.columns:
        written = frame["wave"].str.strip().replace("", "1")
        bad = ~written.str.fullmatch(r"[1-9][0-9]{0,5}")  # digits only: not 1.0, true or 1e0
        if bad.any():
            first = bad.to_numpy().nonzero()[0][0]
            raise DataFileError(path, f"wave must be a whole number from 1 up written in digits (1, 2), got {frame['wave'].iloc[first]!r}", line=int(first) + 2, field="wave")
        waves = written.astype(int)
        frame["wave"] = waves.astype(int)
    else:
        frame["wave"] = 1

    is_demo = frame["question"].str.startswith(DEMOGRAPHIC_PREFIX)
    demo_rows = frame[is_demo]
    demographics = pd.DataFrame()
    if not demo_rows.empty:
        demographics = (
            demo_rows.assign(field=demo_rows["question"].str[len(DEMOGRAPHIC_PREFIX):])
            .drop_duplicates(["respondent", "field"], keep="first")
            .pivot(index="respondent", columns="field", values="value")
            .replace("", np.nan)
        )
        demographics.columns.name = None
    answers = frame[~is_demo]
    known = {q.id for q in inst.questions}
    unmapped: list[UnmappedValue] = []
    for index in answers.index[~answers["question"].isin(known)]:
        row = answers.loc[index]
        unmapped.append(UnmappedValue(row.respondent, row.question, int(row.wave), row.value, f"not a question of instrument {inst.id}", line=int(lines[index])))
    answers = answers[answers["question"].isin(known)]
    duplicate = answers.duplicated(["respondent", "question", "wave"], keep="first")
    for index in answers.index[duplicate]:
        row = answers.loc[index]
        unmapped.append(UnmappedValue(row.respondent, row.question, int(row.wave), row.value, "a second answer to the same question and wave; the first was kept", line=int(lines[index])))
    answers = answers[~duplicate]
    parts = []
    for qid, group in answers.groupby("question", sort=False):
        values, reasons = _map_series(inst.question(qid), group["value"])
        ok = values.notna()
        parts.append(pd.DataFrame({"respondent": group["respondent"][ok], "question": qid, "wave": group["wave"][ok], "value": values[ok]}))
        for index in group.index[reasons.notna()]:
            row = group.loc[index]
            unmapped.append(UnmappedValue(row.respondent, qid, int(row.wave), row.value, reasons[index], line=int(lines[index])))
    unmapped.sort(key=lambda u: u.line or 0)
    return _finish(name or path.stem, parts, demographics, inst, unmapped, str(path))


def _finish(name: str, parts: list[pd.DataFrame], demographics: pd.DataFrame, inst: Instrument, unmapped: list[UnmappedValue], source: str) -> ResponseSet:
    data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    if unmapped:
        log.info("%s: %d values could not be mapped onto instrument %s", source, len(unmapped), inst.id)
    return ResponseSet(name=name, data=data, demographics=demographics, instrument=inst.id, unmapped=unmapped, source=source)


# -- GSS panels --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def panel_maps() -> dict[str, dict]:
    """Panel column -> value map (generated: surveys/data/gss_panel_maps.yaml)."""
    with open(DATA_DIR / "gss_panel_maps.yaml", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["variables"]


class _PanelColumns:
    """A panel as plain arrays: respondent ids and, per (variable, wave), one raw value per respondent."""

    def __init__(self, ids: np.ndarray, columns: dict[tuple[str, int], np.ndarray], sample: np.ndarray | None = None):
        self.ids = ids
        self.columns = columns
        self.sample = sample

    def get(self, variable: str, wave: int) -> np.ndarray | None:
        return self.columns.get((variable, wave))


@functools.lru_cache(maxsize=2)
def _panel_columns(panel: str) -> _PanelColumns:
    path = shared_data_dir() / PANEL_FILES[panel]
    if not path.is_file():
        raise DataFileError(path, "GSS panel file not found in the shared data folder")
    try:
        if panel == "2006":
            return _columns_2006(pd.read_csv(path, dtype=str, keep_default_na=False))
        return _columns_2016(pd.read_csv(path, low_memory=False))
    except (KeyError, ValueError, pd.errors.ParserError) as exc:
        raise DataFileError(path, f"not the expected GSS panel layout: {exc}") from None


def _columns_2016(frame: pd.DataFrame, id_column: str = "yearid") -> _PanelColumns:
    """Re-interviewed people (panstat 1); wave 1 = `_1a` (2016 sample) or `_1b` (2018 sample), wave 2 = `_2`.

    Without `panstat` every row is a person; without `samptype` wave 1 is `_1a`, else `_1b`, else `_1`.
    """
    people = frame[pd.to_numeric(frame["panstat"], errors="coerce") == 1] if "panstat" in frame.columns else frame
    has_sample = "samptype" in people.columns
    from2016 = (pd.to_numeric(people["samptype"], errors="coerce") == 2016).to_numpy() if has_sample else None
    columns: dict[tuple[str, int], np.ndarray] = {}
    variables = {c.rsplit("_", 1)[0] for c in people.columns if c.endswith(("_1a", "_1b", "_1", "_2"))}

    def numbers(column: str) -> np.ndarray | None:
        if column not in people.columns:
            return None
        values = pd.to_numeric(people[column], errors="coerce")
        if pd.api.types.is_numeric_dtype(people[column]):
            return values.to_numpy(dtype=float)
        text = people[column].astype(str).str.strip()
        labels = values.isna() & people[column].notna() & (text != "") & (text.str.lower() != "nan")
        if not labels.any():
            return values.to_numpy(dtype=float)
        out = values.to_numpy(dtype=object)  # labels in a wide file are mapped (or listed), never dropped
        out[labels.to_numpy()] = text[labels].to_numpy()
        return out

    for variable in variables:
        a, b, one = numbers(f"{variable}_1a"), numbers(f"{variable}_1b"), numbers(f"{variable}_1")
        if a is not None or b is not None:
            missing = np.full(len(people), np.nan)
            a_values = a if a is not None else missing
            b_values = b if b is not None else missing
            if from2016 is not None:
                columns[(variable, 1)] = np.where(from2016, a_values, b_values)
            else:
                columns[(variable, 1)] = np.where(pd.isna(a_values), b_values, a_values)
        elif one is not None:
            columns[(variable, 1)] = one
        if f"{variable}_2" in people.columns:
            columns[(variable, 2)] = numbers(f"{variable}_2")
    ids = people[id_column].astype(str).str.replace(r"\.0$", "", regex=True).to_numpy(dtype=object)
    sample = pd.to_numeric(people["samptype"], errors="coerce").to_numpy(dtype=float) if has_sample else None
    return _PanelColumns(ids, columns, sample=sample)


def _columns_2006(frame: pd.DataFrame, id_column: str = "firstid") -> _PanelColumns:
    """Waves 1-3 of the 2006 panel, aligned on the wave-1 respondents (`firstid`)."""
    frame = frame.copy()
    if id_column != "firstid":
        frame = frame.drop(columns=[c for c in ("firstid",) if c in frame.columns]).rename(columns={id_column: "firstid"})
    frame["firstid"] = frame["firstid"].astype(str).str.strip()
    wave = pd.to_numeric(frame["wave"]).astype(int)
    ids = frame.loc[wave == 1, "firstid"].to_numpy(dtype=object)
    columns: dict[tuple[str, int], np.ndarray] = {}
    for number in (1, 2, 3):
        rows = frame[wave == number].set_index("firstid").reindex(ids)
        for variable in rows.columns:
            if variable != "wave":
                columns[(variable, number)] = rows[variable].to_numpy(dtype=object)
    return _PanelColumns(ids, columns)


def load_gss_panel(
    panel: PanelName = "2016-2020",
    instrument: Instrument | str | None = None,
    waves: Iterable[int] | None = None,
    y_versions: YVersions = "merge",
    weights: str | None = None,
) -> ResponseSet:
    """The real GSS panel as a ResponseSet on the instrument's question ids and option codes.

    `weights` names a weight column (2016-2020: wtssall, wtssnr, wtss; 2006: wtpan12, wtpannr12, ...):
    its wave-1 value per person becomes the response set's weight (`ResponseSet.with_weights`).

    2016-2020: the people re-interviewed in 2020 (panstat 1); wave 1 = their 2016 (`_1a`) or 2018
    (`_1b`) answer by sample type, wave 2 = the 2020 answer (`_2`). 2006: the 2006/2008/2010 waves as
    waves 1/2/3 (default 1 and 2). `y_versions="merge"` counts an answer to the y-version of an item
    (natspacy, ...) as an answer to the item, as the paper does; "ignore" uses the base variable only.
    Missing codes become missing; values off the options are listed in `unmapped`. Demographics are
    those of wave 1 (age, sex, race, degree with GSS labels; interview year).
    """
    if panel not in PANEL_FILES:
        raise ValueError(f"unknown GSS panel {panel!r}; choose from {', '.join(PANEL_FILES)}")
    if y_versions not in ("merge", "ignore"):
        raise ValueError(f"y_versions must be 'merge' or 'ignore', not {y_versions!r}")
    allowed = (1, 2) if panel == "2016-2020" else (1, 2, 3)
    wave_tuple = tuple(sorted(set(waves))) if waves is not None else (1, 2)
    if not wave_tuple or any(w not in allowed for w in wave_tuple):
        raise ValueError(f"panel {panel} has waves {allowed}; asked for {wave_tuple}")
    instrument = instrument if instrument is not None else "gss"
    if isinstance(instrument, Instrument) and instrument.id in BUILTIN and instrument == _builtin(instrument.id):
        instrument = instrument.id  # an unchanged copy of a shipped instrument: use the cache
    if isinstance(instrument, str) and instrument in BUILTIN:
        data, demographics, unmapped, inst_id = _gss_panel_cached(panel, instrument, wave_tuple, y_versions)
    else:
        data, demographics, unmapped, inst_id = _build_gss_panel(panel, _resolve(instrument), wave_tuple, y_versions)
    responses = ResponseSet(
        name=f"gss-panel-{panel}",
        data=data.copy(),
        demographics=demographics.copy(),
        instrument=inst_id,
        unmapped=list(unmapped),
        source=str(shared_data_dir() / PANEL_FILES[panel]),
    )
    return _with_panel_weights(responses, _panel_columns(panel), weights) if weights else responses


def _with_panel_weights(responses: ResponseSet, source: "_PanelColumns", column: str) -> ResponseSet:
    """The wave-1 value of the panel column `column` as each person's weight (see ResponseSet.with_weights)."""
    raw = source.get(column.strip().lower(), 1)
    if raw is None:
        named = sorted({v for v, _ in source.columns if v.startswith(("wt", "weight"))})
        raise DataFileError(responses.source, f"no weight column {column!r} in the panel (weight columns: {', '.join(named) or 'none'})", field=column)
    demographics = responses.demographics.copy()
    weights = pd.Series(pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=float), index=pd.Index(source.ids, name="respondent").astype(str))
    demographics[column] = weights.reindex(demographics.index.astype(str)).to_numpy() if not demographics.empty else weights
    if demographics.index.name != "respondent":
        demographics.index.name = "respondent"
    responses.demographics = demographics
    return responses.with_weights(column)


@functools.lru_cache(maxsize=8)
def _gss_panel_cached(panel: str, instrument_id: str, waves: tuple[int, ...], y_versions: str):
    return _build_gss_panel(panel, _builtin(instrument_id), waves, y_versions)


def _build_gss_panel(panel: str, inst: Instrument, waves: tuple[int, ...], y_versions: str, source: "_PanelColumns | None" = None):
    source = source if source is not None else _panel_columns(panel)
    maps = panel_maps()
    ids = source.ids
    chunks: dict[str, list[np.ndarray]] = {"respondent": [], "question": [], "wave": [], "value": []}
    unmapped = []
    for question in inst.questions:
        variable = str(question.meta.get("gss_variable", question.id))
        y_variable = question.meta.get("y_variable") if y_versions == "merge" else None
        for wave in waves:
            mapped = _panel_item(panel, question, variable, source.get(variable, wave), maps, wave)
            if y_variable:
                y_mapped = _panel_item(panel, question, y_variable, source.get(y_variable, wave), maps, wave)
                if mapped is None:
                    mapped = y_mapped
                elif y_mapped is not None:  # one ballot form per person; the base answer wins if both exist
                    use_y = (mapped[0] == None) & (mapped[2] == None)  # noqa: E711 (elementwise on object arrays)
                    mapped = tuple(np.where(use_y, y_part, part) for part, y_part in zip(mapped, y_mapped))
            if mapped is None:
                continue
            values, raws, reasons = mapped
            ok = values != None  # noqa: E711
            count = int(ok.sum())
            chunks["respondent"].append(ids[ok])
            chunks["question"].append(np.full(count, question.id, dtype=object))
            chunks["wave"].append(np.full(count, wave, dtype=np.int64))
            chunks["value"].append(values[ok])
            for index in np.flatnonzero(reasons != None):  # noqa: E711
                unmapped.append(UnmappedValue(str(ids[index]), question.id, wave, _plain(raws[index]), reasons[index]))
    if chunks["value"]:
        data = pd.DataFrame({name: np.concatenate(parts) for name, parts in chunks.items()})
    else:
        data = pd.DataFrame(columns=COLUMNS)
    return data, _panel_demographics(panel, source), tuple(unmapped), inst.id


def _plain(raw: Any) -> Any:
    return int(raw) if isinstance(raw, float) and raw.is_integer() else raw


def _panel_item(panel: str, question: Question, variable: str, raw: np.ndarray | None, maps: dict, wave: int = 1):
    """(values, raw, reasons) arrays for one panel column, or None if the panel lacks the column.

    Each distinct raw value is mapped once by `surveys.gss_labels.GssValueMapper`: labels (2006 layout) by
    option code, the generated 2006 label table and the any-year label table; codes (2016-2020 layout) by
    the recode table / y-version code map; GSS non-answers (labels, the item's missing codes) are missing.
    """
    if raw is None:
        return None
    entry = maps.get(variable, {})
    recode = entry.get("recode_2016_2020", {})
    if wave == 2 and panel != "2006" and "recode_2016_2020_wave2" in entry:  # the 2020 re-interview's codes
        recode = entry["recode_2016_2020_wave2"]
    mapper = GssValueMapper(question, variable, entry, recode)  # labels of any year, GSS missing codes: surveys/gss_labels.py
    positions, uniques = pd.factorize(raw, use_na_sentinel=True)
    values, reasons = [], []
    for item in uniques:
        value, reason = mapper.map_label(item) if panel == "2006" or isinstance(item, str) else mapper.map_code(item)
        values.append(value)
        reasons.append(reason)
    values_arr = np.array(values + [None], dtype=object)[positions]
    reasons_arr = np.array(reasons + [None], dtype=object)[positions]
    return values_arr, np.asarray(raw, dtype=object), reasons_arr


_DEMOGRAPHIC_ITEMS = ("sex", "race", "degree")


def _panel_demographics(panel: str, source: _PanelColumns) -> pd.DataFrame:
    """Wave-1 age, sex, race and degree (GSS labels) and interview year per respondent."""
    gss = _builtin("gss")
    demo = pd.DataFrame(index=pd.Index(source.ids, name="respondent"))
    for field in ("age", "year"):
        raw = source.get(field, 1)
        if raw is not None:
            demo[field] = _whole_numbers(raw)
    for item in _DEMOGRAPHIC_ITEMS:
        mapped = _panel_item(panel, gss.question(item), item, source.get(item, 1), panel_maps())
        if mapped is not None:
            labels = {o.code: o.label for o in gss.question(item).options}
            demo[item] = [labels.get(code) if code is not None else None for code in mapped[0]]
    if source.sample is not None:
        demo["sample"] = _whole_numbers(source.sample)
    return demo


def _whole_numbers(raw: Any) -> Any:
    """Rounded whole numbers (Int64); text, inf and numbers past 1e15 (no age, year or sample) are missing."""
    numbers = pd.to_numeric(pd.Series(raw), errors="coerce").round()
    return pd.array(numbers.where(numbers.abs() < 1e15), dtype="Int64")


# -- a panel file of the user's own ------------------------------------------------------------------
LONG_ID_COLUMNS = ("firstid", "respondent", "id")
WIDE_ID_COLUMNS = ("yearid", "respondent", "id")
PANEL_LAYOUTS = " ".join("""a GSS panel file is either
  long (like the 2006-2008-2010 panels): one row per person and wave; columns `firstid` (or `respondent`),
    `wave` (1, 2, 3), and one column per GSS variable (lower-case mnemonic, e.g. natspac), values as GSS
    labels or numeric codes;
  wide (like the 2016-2020 panel): one row per person; columns `yearid` (or `respondent`), and per GSS
    variable `<var>_1a` / `<var>_1b` (first interview, by sample; `samptype` 2016/2018 says which) or
    `<var>_1`, and `<var>_2` (re-interview), values as numeric GSS codes; `panstat` (1 = re-interviewed)
    keeps the re-interviewed people when present""".split())  # one line: it ends error messages


def load_panel_file(path: str | Path, instrument: Instrument | str | None = None, waves: Iterable[int] = (1, 2),
                    y_versions: YVersions = "merge", weights: str | None = None) -> ResponseSet:
    """A GSS panel extract of the user's own, long (2006-style) or wide (2016-2020-style) layout.

    Mapped onto the instrument (default `gss`) exactly as the shipped panels are. A file that fits neither
    layout, or names no item of the instrument, raises DataFileError saying what is missing.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileError(path, "no such panel file")
    inst = _resolve(instrument if instrument is not None else "gss")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as exc:
        raise DataFileError(path, f"cannot read as CSV: {' '.join(str(exc).split())}") from None  # pandas ends it with a newline
    except (zlib.error, EOFError) as exc:  # a damaged or cut-off .gz (gzip.BadGzipFile is an OSError)
        raise DataFileError(path, f"cannot read the compressed file: damaged or incomplete ({exc})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    columns = set(frame.columns)
    variables = {str(q.meta.get("gss_variable", q.id)) for q in inst.questions} | {
        str(q.meta["y_variable"]) for q in inst.questions if q.meta.get("y_variable")}
    if "wave" in columns:
        id_column = next((c for c in LONG_ID_COLUMNS if c in columns), None)
        if id_column is None:
            raise DataFileError(path, f"long layout (it has a `wave` column) but no id column ({' or '.join(LONG_ID_COLUMNS)}); " + PANEL_LAYOUTS)
        found = sorted(columns & variables)
        if not found:
            raise DataFileError(path, f"long layout, but no column names a variable of instrument {inst.id} (e.g. {sorted(variables)[0]}); " + PANEL_LAYOUTS)
        numbers = pd.to_numeric(frame["wave"].str.strip(), errors="coerce")  # GSS extracts write 1.0 as often as 1
        bad = numbers.isna() | (numbers != numbers.round()) | (numbers < 1) | (numbers > 999_999)  # also inf, 1e23
        if bad.any():
            first = bad.to_numpy().nonzero()[0][0]
            raise DataFileError(path, f"wave must be a whole number from 1 up, got {frame['wave'].iloc[first]!r}",
                                line=int(first) + 2, field="wave")
        twice = pd.DataFrame({"id": frame[id_column].str.strip(), "wave": numbers}).duplicated()
        if twice.any():  # one row per person and wave (a second row cannot be matched to the first)
            first = int(twice.to_numpy().nonzero()[0][0])
            raise DataFileError(path, f"{id_column} {frame[id_column].iloc[first].strip()!r} appears twice in wave "
                                f"{int(numbers.iloc[first])}", line=first + 2, field=id_column)
        waves_present = sorted(set(numbers.astype(int)))
        if 1 not in waves_present or len(waves_present) < 2:
            raise DataFileError(path, f"long layout needs waves 1 and a retest wave in `wave`; found {waves_present}")
        source = _columns_2006(frame, id_column)
        kind = "2006"
    else:
        firsts = {c.rsplit("_", 1)[0] for c in columns if c.endswith(("_1a", "_1b", "_1"))}
        seconds = {c[:-2] for c in columns if c.endswith("_2")}
        id_column = next((c for c in WIDE_ID_COLUMNS if c in columns), None)
        if not firsts or not seconds:
            raise DataFileError(path, "neither layout: no `wave` column (long) and no `<var>_1a`/`_1b`/`_1` plus `<var>_2` columns (wide); " + PANEL_LAYOUTS)
        if id_column is None:
            raise DataFileError(path, f"wide layout but no id column ({' or '.join(WIDE_ID_COLUMNS)}); " + PANEL_LAYOUTS)
        if not (firsts & seconds & variables):
            raise DataFileError(path, f"wide layout, but no variable of instrument {inst.id} has both a first-interview and a `_2` column "
                                      f"(e.g. {sorted(variables)[0]}_1a and {sorted(variables)[0]}_2)")
        source = _columns_2016(frame, id_column)
        kind = "2016-2020"
    wave_tuple = tuple(sorted(set(waves)))
    data, demographics, unmapped, inst_id = _build_gss_panel(kind, inst, wave_tuple, y_versions, source=source)
    if data.empty:
        raise DataFileError(path, f"no answer in the file maps onto instrument {inst.id}'s options (see the layouts: {PANEL_LAYOUTS})")
    responses = ResponseSet(name=f"panel-file-{path.stem.split('.')[0]}", data=data, demographics=demographics,
                            instrument=inst_id, unmapped=list(unmapped), source=str(path))
    return _with_panel_weights(responses, source, weights) if weights else responses  # weights: wave-1 value of the column


# -- by name -----------------------------------------------------------------------------------------
def load_responses(name_or_path: str | Path, instrument: Instrument | str | None = None, wave: int = 1) -> ResponseSet:
    """A named response set ("gss-panel-2016", "gss-panel-2016-2020", "gss-panel-2006") or a CSV file.

    A CSV with `question` and `value` columns is read as long, otherwise as wide (answers in `wave`).
    Without an instrument, the shipped instrument that holds the file's question ids is used.
    """
    key = str(name_or_path)
    if key in RESPONSE_SETS:
        return load_gss_panel(RESPONSE_SETS[key], instrument)  # type: ignore[arg-type]
    path = Path(key).expanduser()
    if not path.is_file():
        raise DataFileError(key, f"no such file, and not a known response set ({', '.join(RESPONSE_SETS)})")
    try:
        header = pd.read_csv(path, nrows=0, dtype=str, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as exc:
        raise DataFileError(path, f"cannot read as CSV: {' '.join(str(exc).split())}") from None  # pandas ends it with a newline
    except (zlib.error, EOFError) as exc:  # a damaged or cut-off .csv.gz (gzip.BadGzipFile is an OSError)
        raise DataFileError(path, f"cannot read the compressed file: damaged or incomplete ({exc})") from None
    columns = [str(c).strip() for c in header.columns]
    is_long = "question" in columns and "value" in columns
    if instrument is None:
        if is_long:
            try:
                qids = set(pd.read_csv(path, usecols=lambda c: c.strip() == "question", dtype=str, encoding="utf-8-sig")["question"].str.strip())
            except (pd.errors.ParserError, UnicodeDecodeError) as exc:  # a row past the header is broken
                raise DataFileError(path, f"cannot read as CSV: {' '.join(str(exc).split())}") from None
        else:
            qids = set(columns)
        instrument = _guess_instrument(path, qids)
    if is_long:
        return load_long_csv(path, instrument)
    return load_wide_csv(path, instrument, wave=wave)


def _guess_instrument(path: Path, question_ids: set[str]) -> str:
    best, best_hits = None, 0
    for instrument_id in BUILTIN:
        hits = len(question_ids & {q.id for q in _builtin(instrument_id).questions})
        if hits > best_hits:
            best, best_hits = instrument_id, hits
    if best is None:
        raise DataFileError(path, f"no question id matches a shipped instrument ({', '.join(BUILTIN)}); name the instrument")
    return best
