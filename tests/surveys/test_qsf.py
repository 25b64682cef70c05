"""Qualtrics QSF import: each question type, what is left out, and a YAML that passes `surveys validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from surveys import cli as surveys_cli
from surveys.errors import DataFileError
from surveys.instruments import read_instrument_file
from surveys.qsf import import_qsf, qsf_to_instrument, strip_html

DATA = Path(__file__).parent / "data"
ALL_TYPES = DATA / "qualtrics_all_types.qsf"


@pytest.fixture(scope="module")
def imported():
    return import_qsf(ALL_TYPES)


def _q(result, qid):
    return next(q for q in result.instrument.questions if q.id == qid)


def test_order_follows_blocks_and_flow_and_skips_trash(imported):
    assert [q.id for q in imported.instrument.questions] == [
        "happy", "bfi_talk", "bfi_fault", "often_1", "often_2", "slide_1", "slide_2", "give", "age", "self", "books"]
    assert imported.instrument.id == "pilot-wellbeing-2026" and imported.instrument.title == "Pilot Wellbeing 2026"
    assert _q(imported, "happy").block == "Wellbeing" and _q(imported, "age").block == "About you"


def test_multiple_choice_single_answer(imported):
    happy = _q(imported, "happy")
    assert happy.kind.value == "categorical"
    assert happy.text == "Taken all together, how would you say things are these days?"  # HTML stripped
    assert [(o.code, o.label) for o in happy.options] == [("1", "Very happy"), ("2", "Pretty happy"), ("3", "Not too happy"), ("9", "Other:")]
    assert any("happy" in note and "typed text" in note for note in imported.notes)


def test_likert_matrix_one_question_per_row(imported):
    talk, fault = _q(imported, "bfi_talk"), _q(imported, "bfi_fault")
    assert talk.kind.value == "ordinal" and fault.kind.value == "ordinal"
    assert talk.text == "How much do you agree with each statement? — I am talkative"
    assert [o.code for o in talk.options] == ["1", "2", "3", "4", "5"] and talk.options[4].label == "Agree strongly"
    often = _q(imported, "often_1")
    assert often.kind.value == "categorical" and often.options[-1].label == "n/a"  # off-scale column: not ordinal
    assert _q(imported, "often_2").description == "read"


def test_sliders_and_numeric_text_entry(imported):
    slide = _q(imported, "slide_2")
    assert (slide.kind.value, slide.min, slide.max, slide.integer) == ("numeric", 0, 10, True)
    assert slide.text == "Move the sliders — Trust in strangers"
    give = _q(imported, "give")
    assert (give.kind.value, give.min, give.max, give.integer, give.text) == ("numeric", 0, 5, False, "How much would you give (in dollars)?")
    age = _q(imported, "age")
    assert (age.kind.value, age.min, age.max, age.integer) == ("numeric", 18, 120, True)


def test_text_entry_is_open_and_unbounded_numbers_are_noted(imported):
    assert _q(imported, "self").kind.value == "open"
    assert _q(imported, "books").kind.value == "open"
    assert any(note.startswith("books:") and "Min and Max" in note for note in imported.notes)


def test_unsupported_types_are_listed_with_their_ids(imported):
    assert [(qid, tag) for qid, _, tag, _ in imported.unsupported] == [("QID2", "own"), ("QID11", "rank")]
    assert imported.skipped == [("QID10", "DB/TB")]
    assert "old" not in {q.id for q in imported.instrument.questions}  # in the trash


def test_cli_writes_a_yaml_that_validates(tmp_path):
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """root"""

    surveys_cli.register(root)
    out = tmp_path / "pilot.yaml"
    result = CliRunner().invoke(root, ["surveys", "import-qsf", str(ALL_TYPES), "--out", str(out)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "11 questions" in result.output and "QID2 (own" in result.output and "QID11 (rank" in result.output
    validated = CliRunner().invoke(root, ["surveys", "validate", str(out)])
    assert validated.exit_code == 0 and "11 questions" in validated.output
    assert [q.id for q in read_instrument_file(out).questions][:3] == ["happy", "bfi_talk", "bfi_fault"]
    again = CliRunner().invoke(root, ["surveys", "import-qsf", str(ALL_TYPES), "--out", str(out)])
    assert again.exit_code != 0 and "--force" in str(again.exception or again.output)


def test_duplicate_recode_values_and_bad_files(tmp_path):
    document = json.loads(ALL_TYPES.read_text(encoding="utf-8"))
    for element in document["SurveyElements"]:
        if element.get("PrimaryAttribute") == "QID1":
            element["Payload"]["RecodeValues"] = {"1": "1", "2": "1", "3": "3", "4": "4"}
    result = qsf_to_instrument(document, "x")
    assert ("QID1", "MC/SAVR/TX", "happy", "two options share the recode value '1'") in result.unsupported
    bad = tmp_path / "bad.qsf"
    bad.write_text('{"SurveyEntry": {}}', encoding="utf-8")
    with pytest.raises(DataFileError, match="SurveyElements"):
        import_qsf(bad)
    bad.write_text("not json", encoding="utf-8")
    with pytest.raises(DataFileError, match="QSF is JSON"):
        import_qsf(bad)


def test_strip_html():
    assert strip_html("<p>One&nbsp;<b>two</b></p><p>three &amp; four</p>") == "One two three & four"
