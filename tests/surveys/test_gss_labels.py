"""GSS extracts of other years: labels in other spellings, GSS missing codes, and what stays unmapped.

The extracts are made here from the shipped 2006 panel file's layout (its header and first people), with
cells rewritten in the spellings other GSS years and tools use; the expected codes are the gss
instrument's options, read off by hand.
"""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from surveys.gss_labels import (
    GssValueMapper,
    derive_missing_codes,
    label_table,
    normalize,
)
from surveys.instruments import load_instrument
from surveys.loaders import load_panel_file
from surveys.paths import shared_data_dir
from surveys.responses import describe_unmapped, unmapped_counts

GSS = load_instrument("gss")


def _shipped_2006_head(people: int) -> pd.DataFrame:
    path = shared_data_dir() / "gss/gss_panel2006_3wave_long_park177.csv.gz"
    if not path.is_file():
        pytest.skip("shared data not available")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    wave = pd.to_numeric(frame.wave)
    ids = frame.loc[wave == 1, "firstid"].head(people).tolist()
    return frame[frame.firstid.isin(ids)].copy()


# -- the normalizer -------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("2 to 4  Years", "2 to 4 years"),
    ("less than 2 Yrs", "less than 2 years"),
    ("MORE THN ONCE WK", "more than once week"),
    ("Some,Dk How Long", "some dont know how long"),
    ("a U.s. Citizen", "a us citizen"),
    ("$1,000 to $2,999", "1000 to 2999"),
    ("2-3x a Month", "2 to 3x a month"),
])
def test_normalize_folds_case_spacing_punctuation_and_abbreviations(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("item, raw, expected", [
    ("vetyears", "2 to 4  Years", "2"),
    ("vetyears", "less than 2 Yrs", "1"),
    ("vetyears", "more than 4 Yrs", "3"),
    ("vetyears", "None", "0"),
    ("vetyears", "Some,Dk How Long", "4"),  # an answer, although it says "don't know"
    ("wlthhsps", "Poor", "7"),
    ("wlthhsps", "Rich", "1"),
    ("wlthwhts", "7 - POOR", "7"),
    ("uscitzn", "A U.S. Citizen Born In Puerto Rico, The U.S. Virgin Islands, Or The Northern Marianas Islands", "1"),
    ("uscitzn", "Born Outside Of The United States To Parents Who Were U.S Citizens At That Time (If Volunteered)", "1"),
    ("uscitzn", "NOT A U.S. CITIZEN", "2"),
    ("hispanic", "Other, not Specified", "5"),
    ("hispanic", "Mexican, Mexican American, Chicano/A", "2"),
    ("attend", "Sevrl Times A Yr", "3"),
    ("attend", "more thn once wk", "8"),
    ("income", "$1,000 to $2,999", "2"),
    ("owngun", "Refused", "3"),  # an option of OWNGUN, not a non-answer
    ("relig", "None", "4"),
    ("natspac", "  TOO   LITTLE ", "1"),
])
def test_labels_of_other_years_map_onto_the_options(item, raw, expected):
    mapper = GssValueMapper(GSS.question(item), item)
    assert mapper.map_label(raw) == (expected, None)


@pytest.mark.parametrize("item, raw", [
    ("jew16", "99"), ("jew16", "8"), ("jew16", "0"), ("vetyears", "8"), ("vetyears", "9"), ("natspac", "-98"),
    ("natspac", "Iap"), ("natspac", "Don't Know"), ("natspac", "DK"), ("natspac", "No Answer"), ("natspac", ".d"),
    ("income", "Refused"), ("relig", "98"), ("attend", "9"),
])
def test_gss_non_answers_are_missing(item, raw):
    mapper = GssValueMapper(GSS.question(item), item)
    assert mapper.map_label(raw) == (None, None)
    if raw.lstrip("-").isdigit():
        assert mapper.map_code(raw) == (None, None)


@pytest.mark.parametrize("item, code, expected", [
    ("relig", "8", "8"), ("relig", "9", "9"),  # 8/9 are answers of RELIG, not DK/NA
    ("attend", "8", "8"), ("vetyears", "0", "0"),  # 0 is an answer of VETYEARS, not IAP
])
def test_codes_that_are_answers_are_never_missing(item, code, expected):
    assert GssValueMapper(GSS.question(item), item).map_code(code) == (expected, None)


def test_values_that_fit_nothing_stay_unmapped_with_a_reason():
    vet = GssValueMapper(GSS.question("vetyears"), "vetyears")
    value, reason = vet.map_label("Banana")
    assert value is None and "vetyears" in reason and "Banana" in reason
    value, reason = vet.map_code(6)
    assert value is None and "code 6" in reason


# -- whole extracts in other years' spellings -----------------------------------------------------------
def test_long_extract_in_other_years_spellings(tmp_path):
    frame = _shipped_2006_head(3)
    ids = list(dict.fromkeys(frame.firstid))
    for column in ("vetyears", "wlthhsps"):
        frame[column] = ""
    waves = pd.to_numeric(frame.wave).astype(int).astype(str)
    spellings = {  # (person index, wave rows) -> {column: raw}
        (0, "1"): {"vetyears": "2 to 4  Years", "wlthhsps": "Poor", "uscitzn": "a U.s. Citizen Born in Puerto Rico, the U.S. Virgin Islands, or the Northern Marianas Islands",
                   "jew16": "99", "hispanic": "Other, not Specified", "natspac": "TOO LITTLE", "attend": "Sevrl Times A Yr"},
        (0, "2"): {"vetyears": "less than 2 Yrs", "wlthhsps": "Rich", "uscitzn": "Not A U.S. Citizen", "jew16": "Reform",
                   "hispanic": "Salvadorian", "natspac": "about right", "attend": "9"},
        (1, "1"): {"vetyears": "more than 4 Yrs", "wlthhsps": "4", "uscitzn": "Dk", "jew16": "Iap", "hispanic": "Banana", "natspac": "Too Much"},
        (1, "2"): {"vetyears": "8", "wlthhsps": "Don't know", "jew16": "0", "hispanic": "Banana", "natspac": "Maybe"},
    }
    for (person, wave), cells in spellings.items():
        rows = (frame.firstid == ids[person]) & (waves == wave)
        assert rows.sum() == 1
        for column, raw in cells.items():
            frame.loc[rows, column] = raw
    path = tmp_path / "gss_panel2008_like.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False)

    responses = load_panel_file(path, "gss", waves=(1, 2))
    got = {(r.respondent, r.question, r.wave): r.value for r in responses.data.itertuples()
           if r.question in {"vetyears", "wlthhsps", "uscitzn", "jew16", "hispanic", "natspac", "attend"} and r.respondent in ids[:2]}
    a, b = ids[0], ids[1]
    expected_present = {
        (a, "vetyears", 1): "2", (a, "wlthhsps", 1): "7", (a, "uscitzn", 1): "1", (a, "hispanic", 1): "5", (a, "natspac", 1): "1", (a, "attend", 1): "3",
        (a, "vetyears", 2): "1", (a, "wlthhsps", 2): "1", (a, "uscitzn", 2): "2", (a, "jew16", 2): "3", (a, "hispanic", 2): "5", (a, "natspac", 2): "2",
        (b, "vetyears", 1): "3", (b, "wlthhsps", 1): "4", (b, "natspac", 1): "3",
    }
    for key, value in expected_present.items():
        assert got.get(key) == value, key
    for key in [(a, "jew16", 1), (a, "attend", 2), (b, "uscitzn", 1), (b, "jew16", 1), (b, "vetyears", 2), (b, "wlthhsps", 2), (b, "jew16", 2)]:
        assert key not in got, key  # GSS non-answers: missing, not unmapped
    assert unmapped_counts(responses) == [("hispanic", "Banana", 2), ("natspac", "Maybe", 1)]
    lines = describe_unmapped(responses)
    assert lines[0].startswith("3 values could not be mapped (2 distinct")
    assert lines[1].split() == ["2", "hispanic", '"Banana"'] and lines[2].split() == ["1", "natspac", '"Maybe"']
    assert all(len(line) <= 80 for line in lines)


def test_wide_extract_with_numeric_codes_of_other_years(tmp_path):
    text = (
        "yearid,samptype,panstat,vetyears_1a,vetyears_2,jew16_1a,jew16_2,hispanic_1a,hispanic_2,natspac_1a,natspac_2,wtssall_1a\n"
        "1,2016,1,2,8,99,3,50,98,1,-98,0.5\n"
        "2,2016,1,6,0,0,9,1,22,3,2,1.5\n"
        "3,2016,2,1,1,1,1,1,1,1,1,1\n"
    )
    path = tmp_path / "wide.csv"
    path.write_text(text, encoding="utf-8")
    responses = load_panel_file(path, "gss")
    got = {(r.respondent, r.question, r.wave): r.value for r in responses.data.itertuples()}
    assert got == {
        ("1", "vetyears", 1): "2", ("1", "jew16", 2): "3", ("1", "hispanic", 1): "5", ("1", "natspac", 1): "1",
        ("2", "vetyears", 2): "0", ("2", "hispanic", 1): "1", ("2", "hispanic", 2): "5", ("2", "natspac", 1): "3", ("2", "natspac", 2): "2",
    }
    assert unmapped_counts(responses) == [("vetyears", "6", 1)]


def test_the_per_item_missing_codes_are_the_codebook_rule():
    codebook = shared_data_dir() / "gss/gss_full_codebook_gssrdoc.csv.gz"
    if not codebook.is_file():
        pytest.skip("shared data not available")
    variables = {}
    for question in GSS.questions:
        codes = [o.code for o in question.options]
        variables[str(question.meta.get("gss_variable", question.id))] = codes
        if question.meta.get("y_variable"):
            variables[str(question.meta["y_variable"])] = codes
    assert derive_missing_codes(codebook, variables) == {k: list(v) for k, v in label_table()["missing_codes"].items()}
    assert label_table()["missing_codes"]["vetyears"][:2] == ["8", "9"]  # 0 is "no active duty", an answer
    assert "99" in label_table()["missing_codes"]["jew16"] and "0" in label_table()["missing_codes"]["jew16"]


def test_shipped_panels_have_nothing_unmapped():
    from surveys.loaders import load_gss_panel

    try:
        panel = load_gss_panel("2006", waves=(1, 2, 3))
    except Exception as exc:  # noqa: BLE001 - shared data absent
        pytest.skip(str(exc))
    assert panel.unmapped == [] and describe_unmapped(panel) == []


def test_wide_extract_with_labels_maps_them_or_lists_them(tmp_path):
    """Labels in a wide file used to become NaN (silently missing); now they map, or are listed."""
    path = tmp_path / "wide_labels.csv"
    path.write_text(
        "yearid,natspac_1,natspac_2,vetyears_1,vetyears_2\n"
        "1,Too Little,About Right,2 To 4 Years,Dk\n"
        "2,2,Banana,Less Than 2 Yrs,8\n",
        encoding="utf-8",
    )
    responses = load_panel_file(path, "gss")
    got = {(r.respondent, r.question, r.wave): r.value for r in responses.data.itertuples()}
    assert got == {("1", "natspac", 1): "1", ("1", "natspac", 2): "2", ("1", "vetyears", 1): "2",
                   ("2", "natspac", 1): "2", ("2", "vetyears", 1): "1"}
    assert unmapped_counts(responses) == [("natspac", "Banana", 1)]
