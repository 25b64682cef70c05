"""Questionnaires from Qualtrics: a survey export (`.qsf`, JSON) -> an instrument in simulacra's format.

    simulacra surveys import-qsf my_survey.qsf --out my_survey.yaml

A QSF file holds `SurveyEntry` (name, id) and `SurveyElements`; questions are the elements with
`Element: "SQ"`, whose `Payload` has `QuestionType`, `Selector` (and `SubSelector`), `QuestionText` (HTML),
`DataExportTag` (the variable name researchers know), `Choices` / `ChoiceOrder`, for matrices also
`Answers` / `AnswerOrder`, `RecodeValues` (choice -> exported value) and `ChoiceDataExportTags` (row
variable names). Blocks (`Element: "BL"`) and the survey flow (`Element: "FL"`) give the order.

What is imported (question id = the data export tag, as in a Qualtrics data export):
- multiple choice, one answer (`MC` with SAVR, SAHR, SACOL, DL, SB, NPS): a categorical question; option
  codes = the recode values (else the choice ids), labels = the choice text; NPS is ordinal 0-10;
- Likert matrix, one answer per row (`Matrix`, Likert/Bipolar, SingleAnswer or DL): one ordinal question
  per row (id = the row's export tag, else `<tag>_<row>`), the columns as options in scale order; a matrix
  with an off-scale column (n/a, don't know, prefer not to say) is categorical instead;
- slider (`Slider`, HSLIDER/HBAR/STAR): one numeric question per slider, range CSSliderMin..CSSliderMax,
  whole numbers when NumDecimals is 0;
- text entry (`TE`, SL/ML/ESTB): open; with number validation (ContentType ValidNumber with Min and Max)
  numeric (whole numbers when NumDecimals is 0). A number validation without both bounds stays open
  (the instrument format needs a range), with a note.
Everything else (multiple answers, rank order, constant sum, side by side, forms, heat maps, uploads, ...)
is listed as unsupported with its question id, type and export tag; descriptive text, timing and meta
info elements are not questions and are listed as skipped. Questions in the trash are ignored.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surveys.errors import DataFileError
from surveys.model import Instrument
from surveys.names import is_valid_name
from surveys.wording import find_instructions

SINGLE_ANSWER = {"SAVR", "SAHR", "SACOL", "DL", "SB", "NPS"}
MATRIX_SELECTORS = {"Likert", "Bipolar"}
MATRIX_SINGLE = {"SingleAnswer", "DL", None, ""}
SLIDERS = {"HSLIDER", "HBAR", "STAR"}
TEXT_SELECTORS = {"SL", "ML", "ESTB", "PW"}
NOT_QUESTIONS = {"DB", "Timing", "Meta", "Captcha"}
OFF_SCALE = re.compile(r"^\s*(n\s*/\s*a|not applicable|don'?t know|do not know|prefer not|no opinion|can'?t (say|choose))", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*/?\s*(br|p|div|li|ul|ol|h[1-6]|tr|td|table)\b[^>]*>", re.IGNORECASE)


@dataclass
class QsfImport:
    """The result: the instrument, the questions left out and why, and notes on what was adapted."""

    instrument: Instrument
    unsupported: list[tuple[str, str, str, str]] = field(default_factory=list)  # (QID, type/selector, export tag, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (QID, type): not questions (descriptive text, ...)
    notes: list[str] = field(default_factory=list)


def strip_html(text: Any) -> str:
    """Question or choice text without markup: tags removed, entities decoded, spacing collapsed."""
    value = _BREAK.sub(" ", str(text or ""))  # block ends separate words; inline tags (<b>, <em>) do not
    value = html.unescape(_TAG.sub("", value))
    return " ".join(value.replace("\xa0", " ").split())


def read_qsf(path: str | Path) -> dict:
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFileError(path, "no such QSF file")
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFileError(path, f"not a Qualtrics survey file (QSF is JSON): {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("SurveyElements"), list):
        raise DataFileError(path, "not a Qualtrics survey file: no SurveyElements list", field="SurveyElements")
    return document


def _elements(document: dict, kind: str) -> list[dict]:
    return [e for e in document["SurveyElements"] if isinstance(e, dict) and e.get("Element") == kind]


def _blocks(document: dict) -> list[dict]:
    blocks: list[dict] = []
    for element in _elements(document, "BL"):
        payload = element.get("Payload")
        values = payload.values() if isinstance(payload, dict) else payload if isinstance(payload, list) else []
        blocks += [b for b in values if isinstance(b, dict)]
    flow_ids: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Type") in ("Block", "Standard", "Default") and node.get("ID"):
                flow_ids.append(str(node["ID"]))
            for child in node.get("Flow") or []:
                walk(child)

    for element in _elements(document, "FL"):
        walk(element.get("Payload"))
    rank = {block_id: i for i, block_id in enumerate(flow_ids)}
    return sorted(blocks, key=lambda b: rank.get(str(b.get("ID")), len(rank)))


def _ordered(mapping: Any, order: Any) -> list[tuple[str, dict]]:
    if not isinstance(mapping, dict):
        return []
    keys = [str(k) for k in order] if isinstance(order, list) and order else sorted(mapping, key=lambda k: (len(str(k)), str(k)))
    return [(k, mapping[k]) for k in keys if k in mapping and isinstance(mapping[k], dict)]


def _safe_id(tag: str, taken: set[str]) -> str:
    base = (re.sub(r"[^A-Za-z0-9._@-]+", "_", tag).replace("..", "_").strip("._-@") or "q")[:100]
    if not base[0].isalnum():
        base = "q" + base
    name, number = base, 2
    while name in taken or not is_valid_name(name):
        name = f"{base}_{number}"
        number += 1
    taken.add(name)
    return name


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number


def qsf_to_instrument(document: dict, instrument_id: str | None = None, source_name: str = "survey.qsf") -> QsfImport:
    entry = document.get("SurveyEntry") or {}
    title = strip_html(entry.get("SurveyName")) or Path(source_name).stem
    ident = instrument_id or re.sub(r"[^A-Za-z0-9._@-]+", "-", title).strip("-._").lower() or "qualtrics-survey"
    if not is_valid_name(ident):
        ident = "qualtrics-survey"
    payloads = {}
    for element in _elements(document, "SQ"):
        payload = element.get("Payload")
        if isinstance(payload, dict):
            qid = str(payload.get("QuestionID") or element.get("PrimaryAttribute") or "")
            payloads[qid] = payload
    order: list[tuple[str, str | None]] = []
    trash: set[str] = set()
    for block in _blocks(document):
        ids = [str(e.get("QuestionID")) for e in block.get("BlockElements") or [] if isinstance(e, dict) and e.get("Type") == "Question"]
        if block.get("Type") == "Trash":
            trash.update(ids)
            continue
        order += [(qid, strip_html(block.get("Description")) or None) for qid in ids]
    listed = {qid for qid, _ in order}
    order += [(qid, None) for qid in payloads if qid not in listed and qid not in trash]
    result = QsfImport(instrument=None)  # type: ignore[arg-type]
    questions: list[dict] = []
    taken: set[str] = set()
    for qid, block_name in order:
        payload = payloads.get(qid)
        if payload is None:
            continue
        questions += _convert(qid, payload, block_name, taken, result)
    if not questions:
        raise DataFileError(source_name, "no question could be imported (see the unsupported list: "
                            + "; ".join(f"{q} {t}" for q, t, _, _ in result.unsupported[:5]) + ")")
    result.instrument = Instrument.model_validate({
        "id": ident, "title": title,
        "description": f"Imported from the Qualtrics survey file {Path(source_name).name}"
                       + (f" (survey {entry['SurveyID']})" if entry.get("SurveyID") else "")
                       + " by `simulacra surveys import-qsf`; question ids are the data export tags.",
        "source": "Qualtrics QSF", "questions": questions,
    })
    return result


def _convert(qid: str, payload: dict, block: str | None, taken: set[str], result: QsfImport) -> list[dict]:
    qtype = str(payload.get("QuestionType") or "")
    selector = payload.get("Selector")
    sub = payload.get("SubSelector")
    tag = str(payload.get("DataExportTag") or qid)
    text = strip_html(payload.get("QuestionText"))
    kind_name = "/".join(str(x) for x in (qtype, selector, sub) if x)
    instructions = find_instructions(text) if qtype not in NOT_QUESTIONS else []
    if instructions:  # respondents and agents read the text as it is (surveys/wording.py)
        result.notes.append(f"{tag}: the text looks like interviewer instructions ({instructions[0]}); edit it before use")
    meta = {"qualtrics_qid": qid, "qualtrics_type": kind_name, "export_tag": tag}

    def base(question_id: str, question_text: str, kind: str) -> dict:
        out = {"id": _safe_id(question_id, taken), "text": question_text or tag, "kind": kind, "meta": dict(meta)}
        if block:
            out["block"] = block
        return out

    def unsupported(reason: str) -> list[dict]:
        result.unsupported.append((qid, kind_name, tag, reason))
        return []

    if qtype in NOT_QUESTIONS:
        result.skipped.append((qid, kind_name))
        return []
    if qtype == "MC":
        if selector not in SINGLE_ANSWER:
            return unsupported("multiple answers (or an unknown selector): one question holds one answer here")
        options = _options(_ordered(payload.get("Choices"), payload.get("ChoiceOrder")), payload.get("RecodeValues"))
        if isinstance(options, str):
            return unsupported(options)
        question = base(tag, text, "ordinal" if selector == "NPS" else "categorical")
        question["options"] = options
        _note_text_entry(payload.get("Choices"), tag, result)
        return [question]
    if qtype == "Matrix":
        if selector not in MATRIX_SELECTORS or sub not in MATRIX_SINGLE:
            return unsupported("matrix that is not a single-answer Likert/bipolar table")
        options = _options(_ordered(payload.get("Answers"), payload.get("AnswerOrder")), payload.get("RecodeValues"))
        if isinstance(options, str):
            return unsupported(options)
        off_scale = [o["label"] for o in options if OFF_SCALE.match(o["label"])]
        kind = "categorical" if off_scale else "ordinal"
        if off_scale:
            result.notes.append(f"{tag}: column {off_scale[0]!r} is off the scale, so its rows are categorical, not ordinal")
        tags = payload.get("ChoiceDataExportTags")
        row_tags: dict = tags if isinstance(tags, dict) else {}
        out = []
        for row_id, row in _ordered(payload.get("Choices"), payload.get("ChoiceOrder")):
            row_text = strip_html(row.get("Display"))
            if not row_text:
                continue
            question = base(str(row_tags.get(row_id) or f"{tag}_{row_id}"), f"{text} — {row_text}" if text else row_text, kind)
            question["options"] = [dict(o) for o in options]
            question["description"] = row_text
            question["meta"]["matrix_row"] = row_id
            out.append(question)
        return out or unsupported("matrix without rows")
    if qtype == "Slider":
        if selector not in SLIDERS:
            return unsupported("slider of an unknown kind")
        config = payload.get("Configuration") or {}
        low, high = _number(config.get("CSSliderMin", 0)), _number(config.get("CSSliderMax", 100))
        if low is None or high is None or low >= high:
            return unsupported(f"slider range {config.get('CSSliderMin')!r}..{config.get('CSSliderMax')!r} is not a range")
        whole = str(config.get("NumDecimals", "0")).strip() in ("0", "")
        sliders = _ordered(payload.get("Choices"), payload.get("ChoiceOrder"))
        out = []
        for slider_id, slider in sliders or [("1", {"Display": ""})]:
            label = strip_html(slider.get("Display"))
            question_id = tag if len(sliders) <= 1 else f"{tag}_{slider_id}"
            question = base(question_id, f"{text} — {label}" if text and label and len(sliders) > 1 else text or label, "numeric")
            question.update({"min": low, "max": high, "integer": whole})
            if label:
                question["description"] = label
            out.append(question)
        return out
    if qtype == "TE":
        if selector not in TEXT_SELECTORS:
            return unsupported("text entry form or unknown selector (several fields in one question)")
        settings = (payload.get("Validation") or {}).get("Settings") or {}
        if settings.get("ContentType") == "ValidNumber":
            bounds = settings.get("ValidNumber") or {}
            low, high = _number(bounds.get("Min")), _number(bounds.get("Max"))
            if low is not None and high is not None and low < high:
                question = base(tag, text, "numeric")
                question.update({"min": low, "max": high, "integer": str(bounds.get("NumDecimals", "")).strip() == "0"})
                return [question]
            result.notes.append(f"{tag}: number validation without both Min and Max: imported as open text (give it a range to make it numeric)")
        return [base(tag, text, "open")]
    return unsupported("question type not supported")


def _options(items: list[tuple[str, dict]], recodes: Any) -> list[dict] | str:
    recodes = recodes if isinstance(recodes, dict) else {}
    options = []
    for choice_id, choice in items:
        label = strip_html(choice.get("Display"))
        if not label:
            continue
        options.append({"code": str(recodes.get(choice_id, choice_id)).strip(), "label": label})
    codes = [o["code"] for o in options]
    if len(options) < 2:
        return "fewer than two options"
    if len(set(codes)) != len(codes):
        return f"two options share the recode value {next(c for c in codes if codes.count(c) > 1)!r}"
    return options


def _note_text_entry(choices: Any, tag: str, result: QsfImport) -> None:
    if isinstance(choices, dict) and any(isinstance(c, dict) and c.get("TextEntry") not in (None, False, "false") for c in choices.values()):
        result.notes.append(f"{tag}: an option takes typed text (\"Other: ...\"); the typed text is not imported, the option is")


def import_qsf(path: str | Path, instrument_id: str | None = None) -> QsfImport:
    """Read a QSF file and convert it (see the module docstring for what is imported)."""
    return qsf_to_instrument(read_qsf(path), instrument_id, source_name=str(path))
