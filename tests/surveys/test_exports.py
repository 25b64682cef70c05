"""SPSS/Stata/CSV exports: labels and values read back with pyreadstat; CSV cells escaped against formulas."""

from __future__ import annotations

import stat

import pandas as pd
import pyreadstat
import pytest

from surveys.exports import ExportError, csv_safe, export_responses, variable_name
from surveys.instruments import load_instrument
from surveys.model import Instrument


def _instrument():
    return Instrument.model_validate({
        "id": "pilot", "title": "Pilot",
        "questions": [
            {"id": "happy", "text": "Taken all together, how would you say things are these days?", "kind": "ordinal",
             "options": [{"code": "1", "label": "very happy"}, {"code": "2", "label": "pretty happy"}, {"code": "3", "label": "not too happy"}]},
            {"id": "pd", "text": "Cooperate or defect?", "kind": "categorical",
             "options": [{"code": "cooperate", "label": "I cooperate"}, {"code": "defect", "label": "I defect"}]},
            {"id": "sleep", "text": "Hours of sleep on a typical night?", "kind": "numeric", "min": 0, "max": 16},
            {"id": "comment", "text": "Anything else?", "kind": "open"},
            {"id": "2nd item", "text": "A question whose id is not a variable name. " * 5, "kind": "categorical",
             "options": [{"code": "-1", "label": "minus one"}, {"code": "7", "label": "seven"}]},
        ],
    })


def _frame():
    rows = [
        ("p1", "happy", 1, "1", "2026-12-01T10:00:00", "2026-12-01T10:05:00"),
        ("p1", "pd", 1, "defect", "2026-12-01T10:01:00", "2026-12-01T10:05:00"),
        ("p1", "sleep", 1, 7.5, "2026-12-01T10:02:00", "2026-12-01T10:05:00"),
        ("p1", "comment", 1, '=HYPERLINK("http://evil.example","click")', "2026-12-01T10:03:00", "2026-12-01T10:05:00"),
        ("p1", "2nd item", 1, "-1", "2026-12-01T10:04:00", "2026-12-01T10:05:00"),
        ("p1", "happy", 2, "3", "2026-12-15T09:00:00", "2026-12-15T09:02:00"),
        ("p2", "happy", 1, "2", "2026-12-02T11:00:00", "2026-12-02T11:01:00"),
        ("p2", "pd", 1, "cooperate", "2026-12-02T11:00:30", "2026-12-02T11:01:00"),
        ("p2", "comment", 1, "@SUM(A1:A2) and -more", "2026-12-02T11:00:40", "2026-12-02T11:01:00"),
    ]
    return pd.DataFrame(rows, columns=["respondent", "question", "wave", "value", "answered_at", "wave_completed_at"])


def test_sav_and_dta_round_trip_labels_and_values(tmp_path):
    paths = export_responses(_frame(), [_instrument()], tmp_path, formats="sav,dta,csv", name="pilot")
    assert set(paths) == {"sav", "dta", "wide_csv", "long_csv", "codebook"}
    for kind in ("sav", "dta"):
        data, meta = (pyreadstat.read_sav if kind == "sav" else pyreadstat.read_dta)(str(paths[kind]))
        labels = meta.column_names_to_labels
        assert labels["happy"] == "Taken all together, how would you say things are these days?"
        assert labels["q2nd_item"].startswith("A question whose id is not a variable name.")
        value_labels = {column: meta.variable_value_labels.get(column) for column in ("happy", "pd", "q2nd_item")}
        assert value_labels["happy"] == {1: "very happy", 2: "pretty happy", 3: "not too happy"}
        assert value_labels["pd"] == {1: "I cooperate", 2: "I defect"}  # text codes as 1..k in option order
        assert value_labels["q2nd_item"] == {-1: "minus one", 7: "seven"}
        rows = {(r.respondent, int(r.wave)): r for r in data.itertuples()}
        assert set(rows) == {("p1", 1), ("p1", 2), ("p2", 1)}
        p1 = rows[("p1", 1)]
        assert (p1.happy, p1.pd, p1.sleep, p1.q2nd_item) == (1, 2, 7.5, -1)
        assert p1.comment == '=HYPERLINK("http://evil.example","click")'  # not a CSV: kept verbatim
        assert p1.wave_completed_at == "2026-12-01T10:05:00"  # constant per person and wave -> wide
        assert "answered_at" not in data.columns  # per answer -> long CSV only
        assert rows[("p1", 2)].happy == 3 and pd.isna(rows[("p1", 2)].pd) and pd.isna(rows[("p2", 1)].sleep)
        assert stat.S_IMODE(paths[kind].stat().st_mode) == 0o600


def test_csv_exports_escape_formulas_and_keep_numbers(tmp_path):
    paths = export_responses(_frame(), _instrument(), tmp_path, formats=["csv"])
    assert set(paths) == {"wide_csv", "long_csv", "codebook"}
    long = pd.read_csv(paths["long_csv"], dtype=str, keep_default_na=False)
    comments = dict(zip(long.loc[long.question == "comment", "respondent"], long.loc[long.question == "comment", "value"]))
    assert comments == {"p1": '\'=HYPERLINK("http://evil.example","click")', "p2": "'@SUM(A1:A2) and -more"}
    labels = {(r.respondent, r.question, r.wave): r.label for r in long.itertuples()}
    assert labels[("p1", "happy", "2")] == "not too happy" and labels[("p1", "pd", "1")] == "I defect"
    assert labels[("p1", "2nd item", "1")] == "minus one"
    assert set(long.loc[long.question == "2nd item", "value"]) == {"-1"}  # a number: not escaped
    assert "answered_at" in long.columns
    wide = pd.read_csv(paths["wide_csv"])
    p1 = wide[(wide.respondent == "p1") & (wide.wave == 1)].iloc[0]
    assert p1["sleep"] == 7.5 and p1["q2nd_item"] == -1 and p1["pd"] == "defect"
    assert p1["comment"].startswith("'=HYPERLINK(")
    codebook = pd.read_csv(paths["codebook"], dtype=str, keep_default_na=False)
    happy = codebook[codebook.question == "happy"]
    assert happy[["code_in_file", "option_code", "label"]].values.tolist() == [["1", "1", "very happy"], ["2", "2", "pretty happy"], ["3", "3", "not too happy"]]
    assert codebook.loc[codebook.question == "pd", "code_in_file"].tolist() == ["1", "2"]
    assert codebook.loc[codebook.question == "sleep", "label"].tolist() == ["0 to 16"]


def test_gss_codebook_names_the_items_missing_codes(tmp_path):
    frame = pd.DataFrame([("a", "vetyears", 1, "2"), ("a", "relig", 1, "9")], columns=["respondent", "question", "wave", "value"])
    paths = export_responses(frame, load_instrument("gss"), tmp_path, formats="dta")
    codebook = pd.read_csv(paths["codebook"], dtype=str, keep_default_na=False)
    vet = codebook.loc[codebook.question == "vetyears", "missing_codes"].iloc[0]
    relig = codebook.loc[codebook.question == "relig", "missing_codes"].iloc[0]
    assert "8, 9" in vet and vet.count(" 0,") == 0  # vetyears 0 = no active duty, an answer
    assert relig.startswith("GSS non-answer codes 0, 98, 99")  # relig 8/9 are answers
    data, meta = pyreadstat.read_dta(str(paths["dta"]))
    assert data.relig.tolist() == [9] and meta.variable_value_labels["relig"][9] == "muslim/islam"


@pytest.mark.parametrize("value, expected", [
    ("=1+2", "'=1+2"), ("+cmd", "'+cmd"), ("-x", "'-x"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-1", "-1"), ("+2.5", "+2.5"), ("plain", "plain"), (3, 3), (-4.5, -4.5),
])
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


def test_variable_names_are_valid_and_unique():
    taken: set[str] = {"respondent", "wave"}
    names = [variable_name(q, taken) for q in ("Q1", "q1", "1st", "in", "wave", "a" * 40, "a" * 40)]
    assert names == ["Q1", "q1_2", "q1st", "in_", "wave_2", "a" * 32, "a" * 30 + "_2"]


def test_errors_name_the_problem(tmp_path):
    frame = pd.DataFrame([("a", "nope", 1, "1")], columns=["respondent", "question", "wave", "value"])
    with pytest.raises(ExportError, match="'nope'"):
        export_responses(frame, _instrument(), tmp_path)
    with pytest.raises(ExportError, match="xlsx"):
        export_responses(_frame(), _instrument(), tmp_path, formats="xlsx")
