"""Human responses: user CSVs (wide, long) and the real GSS panels, with nothing dropped silently."""

from __future__ import annotations

import pandas as pd
import pytest

from surveys.errors import DataFileError
from surveys.instruments import load_instrument
from surveys.loaders import load_gss_panel, load_long_csv, load_responses, load_wide_csv
from surveys.paths import shared_data_dir
from surveys.scoring import person_agreement, retest_agreement


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# -- wide and long CSV -------------------------------------------------------------------------------
def test_wide_csv_maps_codes_and_labels_and_reports_the_rest(tmp_path):
    path = _write(
        tmp_path / "people.csv",
        "respondent,demo_age,natspac,abany,happy\n"
        "p1,34,1,yes,very happy\n"
        "p2,61,too much,2.0,\n"
        "p3,,maybe,9,3\n",
    )
    responses = load_wide_csv(path, "gss", wave=2)
    values = {(r.respondent, r.question): r.value for r in responses.data.itertuples()}
    assert values == {
        ("p1", "natspac"): "1", ("p1", "abany"): "1", ("p1", "happy"): "1",
        ("p2", "natspac"): "3", ("p2", "abany"): "2",
        ("p3", "happy"): "3",
    }
    assert responses.waves == [2] and responses.instrument == "gss"
    assert responses.demographics.loc["p1", "age"] == "34" and pd.isna(responses.demographics.loc["p3", "age"])
    unmapped = sorted((u.respondent, u.question, u.raw, u.line) for u in responses.unmapped)
    assert unmapped == [("p3", "abany", "9", 4), ("p3", "natspac", "maybe", 4)]
    assert all("not" in u.reason or "neither" in u.reason for u in responses.unmapped)


def test_wide_csv_numeric_questions_are_range_checked(tmp_path):
    path = _write(tmp_path / "games.csv", "respondent,dictator,prisoners_dilemma\na,2.5,Cooperate\nb,7,defect\n")
    responses = load_wide_csv(path, "games")
    assert responses.value("a", "dictator") == 2.5 and responses.value("a", "prisoners_dilemma") == "cooperate"
    assert [(u.respondent, u.question) for u in responses.unmapped] == [("b", "dictator")]
    assert "outside the range" in responses.unmapped[0].reason


@pytest.mark.parametrize(
    "text, field, line",
    [
        ("id,natspac\np1,1\n", "respondent", 1),
        ("respondent,natspac,natspcc\np1,1,2\n", "natspcc", 1),
        ("respondent,natspac\np1,1\np1,2\n", "respondent", 3),
    ],
)
def test_wide_csv_structural_errors_name_file_field_and_line(tmp_path, text, field, line):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(DataFileError) as err:
        load_wide_csv(path, "gss")
    assert (err.value.field, err.value.line) == (field, line) and str(path) in str(err.value)


def test_long_csv_waves_demographics_and_unmapped(tmp_path):
    path = _write(
        tmp_path / "long.csv",
        "respondent,question,wave,value\n"
        "p1,bfi1,1,4\n"
        "p1,bfi1,2,5\n"
        "p1,demo_sex,1,female\n"
        "p1,bfi99,1,3\n"
        "p1,bfi1,1,2\n"
        "p2,bfi2,,Agree strongly\n"
        "p2,bfi3,1,6\n",
    )
    responses = load_long_csv(path, "bfi44")
    assert responses.value("p1", "bfi1", 1) == "4" and responses.value("p1", "bfi1", 2) == "5"
    assert responses.value("p2", "bfi2", 1) == "5"  # label, wave defaulting to 1
    assert responses.demographics.loc["p1", "sex"] == "female"
    reasons = {u.line: u.reason for u in responses.unmapped}
    assert set(reasons) == {5, 6, 8}
    assert "not a question" in reasons[5] and "first was kept" in reasons[6] and "bfi3" in reasons[8]


def test_long_csv_bad_wave_is_an_error_with_line(tmp_path):
    path = _write(tmp_path / "long.csv", "respondent,question,wave,value\np1,bfi1,1,4\np1,bfi1,second,5\n")
    with pytest.raises(DataFileError) as err:
        load_long_csv(path, "bfi44")
    assert (err.value.line, err.value.field) == (3, "wave")


def test_load_responses_detects_format_and_instrument(tmp_path):
    wide = _write(tmp_path / "w.csv", "respondent,bfi1,bfi2\na,1,2\n")
    long = _write(tmp_path / "l.csv", "respondent,question,wave,value\na,dictator,1,3\n")
    assert load_responses(wide).instrument == "bfi44"
    assert load_responses(long).instrument == "games"
    with pytest.raises(DataFileError, match="gss-panel-2016"):
        load_responses(tmp_path / "missing.csv")


# -- GSS panels ----------------------------------------------------------------------------------------
def _reference(panel: str, interval: str | None = None) -> pd.DataFrame:
    table = pd.read_csv(shared_data_dir() / "gss" / "gss_panel_test_retest_by_item.csv")
    table = table[table["panel"].astype(str) == panel]
    if interval:
        table = table[table["interval_years"].str.contains(interval, regex=False)]
    return table.set_index("variable")


def test_gss_2016_2020_panel_loads_with_waves_and_demographics():
    responses = load_gss_panel("2016-2020")
    assert len(responses.respondents) == 1823  # panstat == 1: re-interviewed in 2020
    assert responses.waves == [1, 2] and responses.instrument == "gss"
    assert 170 <= len(responses.questions) <= 177
    assert set(responses.data["question"]) <= {q.id for q in load_instrument("gss").questions}
    demo = responses.demographics
    assert {"age", "sex", "race", "degree"} <= set(demo.columns) and len(demo) == 1823
    assert set(demo["sex"].dropna()) == {"male", "female"} and set(demo["sample"].dropna()) == {2016, 2018}
    income = responses.data[responses.data.question == "income"]["value"]
    assert "13" not in set(income)  # GSS "refused" is missing, not an answer
    assert set(responses.data[responses.data.question == "reg16"]["value"]) <= {"0", "1", "2", "3", "4"}


def test_gss_2016_2020_per_item_agreement_matches_the_reference_file():
    ours = retest_agreement(load_gss_panel("2016-2020", y_versions="ignore")).set_index("item")
    reference = _reference("2016-2020")
    for item in ("marital", "abany", "natspac", "happy", "polviews", "cappun", "trust", "satjob", "owngun", "zodiac"):
        assert ours.loc[item, "agreement"] == pytest.approx(reference.loc[item, "exact_agreement"], abs=0.01), item
        assert ours.loc[item, "n_pairs"] == reference.loc[item, "n_pairs"], item
    # every item whose codes are not folded matches closely
    folded = {"income", "uscitzn", "reg16", "hispanic", "divorced", "attend"}
    shared = [i for i in ours.index if i in reference.index and i not in folded]
    assert len(shared) > 140
    diff = (ours.loc[shared, "agreement"] - reference.loc[shared, "exact_agreement"]).abs()
    assert diff.max() < 0.01


def test_gss_y_versions_count_for_the_base_item():
    merged = retest_agreement(load_gss_panel("2016-2020")).set_index("item")
    base_only = retest_agreement(load_gss_panel("2016-2020", y_versions="ignore")).set_index("item")
    assert merged.loc["natspac", "n_pairs"] > base_only.loc["natspac", "n_pairs"] + 500
    assert merged.loc["marital", "n_pairs"] == base_only.loc["marital", "n_pairs"]  # no y-version
    people = person_agreement(load_gss_panel("2016-2020"))
    assert 0.65 < people["agreement"].mean() < 0.75  # README: per-person mean 0.698


def test_gss_2006_panel_three_waves_from_text_labels():
    responses = load_gss_panel("2006", waves=(1, 2, 3), y_versions="ignore")
    assert responses.waves == [1, 2, 3] and len(responses.respondents) == 2000
    assert responses.unmapped == []  # every label in the file maps onto an option
    first = retest_agreement(responses, 1, 2).set_index("item")
    second = retest_agreement(responses, 2, 3).set_index("item")
    for item, ref in (("satjob", "wave1->wave2"), ("attend", "wave1->wave2"), ("polviews", "wave2->wave3")):
        ours = first if ref == "wave1->wave2" else second
        expected = _reference("2006", ref).loc[item]
        assert ours.loc[item, "agreement"] == pytest.approx(expected["exact_agreement"], abs=0.01), item
        assert ours.loc[item, "n_pairs"] == expected["n_pairs"], item
    assert responses.demographics.loc[responses.respondents[0], "sex"] in {"male", "female"}


def test_gss_values_off_the_instruments_options_are_reported(tmp_path):
    gss = load_instrument("gss")
    narrowed = gss.model_copy(update={"questions": [gss.question("happy").model_copy(update={"options": gss.question("happy").options[:2]})]})
    responses = load_gss_panel("2016-2020", instrument=narrowed)
    assert responses.unmapped and {u.question for u in responses.unmapped} == {"happy"}
    assert all(u.raw == 3 and "not an option" in u.reason for u in responses.unmapped)
    assert set(responses.data["value"]) == {"1", "2"}


def test_named_response_sets_and_bad_arguments():
    assert load_responses("gss-panel-2016").name == "gss-panel-2016-2020"
    with pytest.raises(ValueError):
        load_gss_panel("2012")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        load_gss_panel("2016-2020", waves=(1, 3))


def test_cached_panel_is_not_shared_between_callers():
    first = load_gss_panel("2016-2020")
    first.data.drop(first.data.index, inplace=True)
    assert len(load_gss_panel("2016-2020").data) > 100_000


def test_attend_2020_codes_are_shifted_back_onto_gss_codes():
    responses = load_gss_panel("2016-2020")
    wave2 = responses.data[(responses.data.question == "attend") & (responses.data.wave == 2)]["value"]
    assert "0" in set(wave2) and "8" not in set(wave2)  # 2020 ran 1..8 for GSS 0..7
    agreement = retest_agreement(responses).set_index("item").loc["attend", "agreement"]
    assert 0.35 < agreement < 0.55  # the 2006-2010 panels: 0.45-0.46; raw codes would give 0.19
