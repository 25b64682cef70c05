"""Shipped instruments load, match their sources in ../shared/data, and bad files are named precisely."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from surveys.errors import DataFileError
from surveys.instruments import list_instruments, load_instrument, parse_instrument, read_instrument_file, save_instrument
from surveys.model import AnswerValidationError, QuestionKind
from surveys.paths import shared_data_dir

REPO = Path(__file__).resolve().parents[2]


def _gss_rows() -> list[dict]:
    with open(shared_data_dir() / "gss" / "gss_park2024_177_items.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_shipped_instrument_loads():
    assert list_instruments() == ["gss", "bfi44", "games", "about_you"]
    sizes = {i: len(load_instrument(i).questions) for i in list_instruments()}
    assert sizes == {"gss": 177, "bfi44": 44, "games": 5, "about_you": 5}
    for instrument_id in list_instruments():
        instrument = load_instrument(instrument_id)
        assert instrument.id == instrument_id
        assert all(q.instrument == instrument_id for q in instrument.questions)
        assert (REPO / "surveys" / "data" / f"{instrument_id}.yaml").stat().st_size < 1_000_000


def test_gss_has_the_177_items_with_source_wording_and_options():
    gss = load_instrument("gss")
    rows = _gss_rows()
    assert [q.id for q in gss.questions] == [r["gss_variable"] for r in rows]
    for row in rows:
        question = gss.question(row["gss_variable"])
        assert (question.source_text or question.text) == row["question"].strip()  # the text: tests/surveys/test_respondent_wording.py
        assert question.description == row["description"].strip()
        assert question.kind in (QuestionKind.ordinal, QuestionKind.categorical)
        if question.id != "mnthsusa":  # its source lists only the endpoints
            source = [tuple(part.split("=", 1)) for part in row["response_options"].split(" | ")]
            assert [(o.code, o.label) for o in question.options] == source
        assert question.meta["paper_item"] == row["paper_item"]
        if row["gss_variable_y_version"]:
            assert question.meta["y_variable"] == row["gss_variable_y_version"]
    assert [o.code for o in gss.question("mnthsusa").options] == [str(n) for n in range(1, 12)]


def test_gss_kinds_follow_the_documented_rule():
    gss = load_instrument("gss")
    kinds = {q.id: q.kind for q in gss.questions}
    assert kinds["natspac"] == kinds["happy"] == kinds["polviews"] == kinds["educ"] == QuestionKind.ordinal
    assert kinds["race"] == kinds["relig"] == kinds["abany"] == kinds["courts"] == QuestionKind.categorical
    assert kinds["partyid"] == QuestionKind.categorical  # "other party" lies off the scale
    for question in gss.questions:
        if question.kind == QuestionKind.ordinal:
            assert len(question.options) >= 3
            assert not any("other" in o.label for o in question.options)
    assert gss.question("natspac").scaled("3") == 1.0 and gss.question("natspac").scaled("2") == 0.5


def test_gss_y_versions_map_onto_base_codes():
    gss = load_instrument("gss")
    colcom = gss.question("colcom")
    assert colcom.meta["y_variable"] == "colcomy"
    assert colcom.meta["y_code_map"] == {"1": "4", "2": "5"}  # y-version codes 1/2, base codes 4/5
    assert gss.question("divorced").meta["gss_variable"] == "divorce"


def test_bfi_items_keys_and_scale():
    bfi = load_instrument("bfi44")
    with open(shared_data_dir() / "bfi44" / "bfi44_items.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [q.id for q in bfi.questions] == [f"bfi{n}" for n in range(1, 45)]
    for row, question in zip(rows, bfi.questions):
        assert question.text == row["full_prompt"]
        assert question.kind == QuestionKind.ordinal
        assert [o.code for o in question.options] == ["1", "2", "3", "4", "5"]
        assert question.meta["factor"] == row["factor_code"]
        assert question.meta["reverse_keyed"] == (row["reverse_keyed"] == "1")
    assert sum(q.meta["reverse_keyed"] for q in bfi.questions) == 16
    assert bfi.scoring["traits"]["O"]["reverse"] == ["bfi35", "bfi41"]


def test_games_ranges_and_kinds():
    games = load_instrument("games")
    ranges = {q.id: (q.min, q.max) for q in games.questions if q.kind == QuestionKind.numeric}
    assert ranges == {"dictator": (0, 5), "trust_sender": (0, 3), "trust_receiver": (0, 9), "public_goods": (0, 4)}
    pd_question = games.question("prisoners_dilemma")
    assert pd_question.kind == QuestionKind.categorical and [o.code for o in pd_question.options] == ["cooperate", "defect"]
    assert "reconstructed" in games.description.lower()


def test_answers_are_validated_against_the_question():
    gss, games = load_instrument("gss"), load_instrument("games")
    assert gss.question("abany").validate_value(1) == "1"
    with pytest.raises(AnswerValidationError, match=r"abany.*'7'"):
        gss.question("abany").validate_value("7")
    with pytest.raises(AnswerValidationError, match=r"dictator.*6"):
        games.question("dictator").validate_value(6)
    with pytest.raises(AnswerValidationError, match=r"dictator.*expected a number"):
        games.question("dictator").validate_value("a lot")


def test_load_instrument_returns_independent_copies():
    first = load_instrument("games")
    first.questions[0].text = "changed"
    assert load_instrument("games").questions[0].text != "changed"


GOOD = """\
id: pilot
title: Pilot
questions:
  - id: happy
    text: How happy are you?
    kind: ordinal
    options:
      - {code: "1", label: very happy}
      - {code: "2", label: not happy}
  - id: sleep
    text: Hours of sleep?
    kind: numeric
    min: 0
    max: 16
"""


def test_malformed_instrument_names_file_line_and_field(tmp_path):
    bad = tmp_path / "pilot.yaml"
    bad.write_text(GOOD.replace("kind: numeric", "kind: number"), encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        read_instrument_file(bad)
    assert err.value.path == bad and err.value.line == 12 and err.value.field == "questions[1].kind"
    assert str(bad) in str(err.value) and "sleep" in str(err.value) and "'number'" in str(err.value)


def test_malformed_instrument_variants(tmp_path):
    cases = {
        "typo": (GOOD.replace("    text: Hours", "    txt: Hours"), "questions[1].txt", 11),
        "missing title": (GOOD.replace("title: Pilot\n", ""), "title", 1),
        "range": (GOOD.replace("max: 16", "max: -1"), "questions[1]", 10),
        "one option": (GOOD.replace('      - {code: "2", label: not happy}\n', ""), "questions[0]", 4),
        "duplicate codes": (GOOD.replace('code: "2"', 'code: "1"'), "questions[0]", 4),
    }
    for name, (text, field, line) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataFileError) as err:
            read_instrument_file(path)
        assert (err.value.field, err.value.line) == (field, line), name
        assert str(path) in str(err.value)


def test_broken_yaml_and_json_report_the_line(tmp_path):
    with pytest.raises(DataFileError) as err:
        parse_instrument("id: x\ntitle: [unclosed\nquestions: []\n", "x.yaml")
    assert err.value.line is not None and "YAML" in str(err.value)
    path = tmp_path / "x.json"
    path.write_text('{"id": "x",\n "title": "X",\n "questions": [}\n', encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        read_instrument_file(path)
    assert err.value.line == 3


def test_unknown_id_or_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataFileError, match="gss, bfi44, games"):
        load_instrument("gsss")


def test_user_instrument_round_trips(tmp_path):
    path = tmp_path / "pilot.yaml"
    path.write_text(GOOD, encoding="utf-8")
    pilot = load_instrument(path)
    assert [q.id for q in pilot.questions] == ["happy", "sleep"]
    for suffix in (".yaml", ".json"):
        copy = save_instrument(pilot, tmp_path / f"copy{suffix}")
        assert load_instrument(copy) == pilot
    json.loads((tmp_path / "copy.json").read_text())


def test_committed_instrument_files_are_what_the_generator_writes():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_instruments.py"), "--check"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert "gss: 177 items" in result.stdout
