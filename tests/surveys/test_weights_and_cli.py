"""Survey weights (hand-computed fixture) and `responses load` / `responses export` on panel files."""

from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest
import typer
from typer.testing import CliRunner

from surveys import cli as surveys_cli
from surveys.loaders import load_panel_file, load_responses
from surveys.responses import WeightError, answer_distribution, majority_answers

# natspac: p1 "1" (weight 3), p2 "2" (1), p3 "2" (1), p4 "3" (0.5), p5 "1" (no weight)
# cappun:  p1 "2" (3), p2 "1" (1), p3 "1" (1), p4 "1" (0.5)
# unweighted: natspac 1: 2 people, 2: 2 people, 3: 1 -> tie 1/2 broken by the smaller value "1"? no: equal n -> "1" < "2"
#   (p5 counts when unweighted); weighted (p5 left out): 1 -> 3, 2 -> 2, 3 -> 0.5 of 5.5
#   cappun unweighted 1 -> 3 of 4 (majority "1"); weighted 1 -> 2.5, 2 -> 3 of 5.5 (majority "2")
LONG = (
    "respondent,question,wave,value\n"
    "p1,natspac,1,1\np2,natspac,1,2\np3,natspac,1,2\np4,natspac,1,3\np5,natspac,1,1\n"
    "p1,cappun,1,2\np2,cappun,1,1\np3,cappun,1,1\np4,cappun,1,1\n"
    "p1,demo_w,1,3\np2,demo_w,1,1\np3,demo_w,1,1\np4,demo_w,1,0.5\np5,demo_w,1,\n"
)


@pytest.fixture()
def weighted(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text(LONG, encoding="utf-8")
    return load_responses(path, "gss").with_weights("w")


def test_weighted_distribution_by_hand(weighted):
    table = answer_distribution(weighted)
    natspac = {r.value: (r.n, r.weight, round(r.share, 6)) for r in table[table.question == "natspac"].itertuples()}
    assert natspac == {"1": (1, 3.0, round(3 / 5.5, 6)), "2": (2, 2.0, round(2 / 5.5, 6)), "3": (1, 0.5, round(0.5 / 5.5, 6))}
    cappun = {r.value: round(r.share, 6) for r in table[table.question == "cappun"].itertuples()}
    assert cappun == {"2": round(3 / 5.5, 6), "1": round(2.5 / 5.5, 6)}
    assert "1 without a weight" in weighted.weight_summary()


def test_weighted_majority_differs_from_unweighted(weighted):
    assert majority_answers(weighted) == {"cappun": "2", "natspac": "1"}
    assert majority_answers(weighted, weighted=False) == {"cappun": "1", "natspac": "1"}  # natspac tie 2-2: smaller value
    plain = answer_distribution(weighted, weighted=False)
    assert plain[plain.question == "natspac"].n.sum() == 5  # p5 counts when unweighted


def test_weight_errors_name_the_column(tmp_path, weighted):
    with pytest.raises(WeightError, match="no weight column 'wtssall'"):
        weighted.with_weights("wtssall")
    path = tmp_path / "bad.csv"
    path.write_text(LONG.replace("p4,demo_w,1,0.5", "p4,demo_w,1,-2"), encoding="utf-8")
    with pytest.raises(WeightError, match="p4"):
        load_responses(path, "gss").with_weights("w")


WIDE_PANEL = (
    "yearid,samptype,panstat,natspac_1a,natspac_1b,natspac_2,cappun_1a,cappun_1b,cappun_2,wtssall_1a,wtssall_1b,wtssall_2\n"
    "1,2016,1,1,,1,2,,2,2.0,,9\n"
    "2,2018,1,,2,2,,1,1,,0.5,9\n"
    "3,2016,1,3,,7,1,,1,1.0,,9\n"
    "4,2016,2,1,,1,1,,1,1.0,,9\n"
)


def test_panel_file_weights_are_the_first_interviews(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(WIDE_PANEL, encoding="utf-8")
    responses = load_panel_file(path, weights="wtssall")
    assert responses.weights().to_dict() == {"1": 2.0, "2": 0.5, "3": 1.0}  # _1a / _1b by samptype, not _2
    assert majority_answers(responses) == {"cappun": "2", "natspac": "1"}  # cappun: 2 (2.0) vs 1 (1.5)
    with pytest.raises(Exception, match="no weight column 'wtss_x'.*wtssall"):
        load_panel_file(path, weights="wtss_x")


@pytest.fixture()
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """root"""

    surveys_cli.register(root)
    return root


def _run(app, *args):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})


def test_responses_load_reads_wide_panel_files_and_lists_unmapped(app, tmp_path):
    path = tmp_path / "gss_panel_extract.csv"
    path.write_text(WIDE_PANEL, encoding="utf-8")
    result = _run(app, "responses", "load", str(path), "--summary", "--weights", "wtssall")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich wraps the header line at 80 columns
    assert "3 people" in text and "1 values not mapped" in text
    assert "weighted by wtssall (sum 3.5 over 3 people)" in text
    assert "retest pairs" in result.output
    listed = [line.split() for line in result.output.splitlines() if line.strip().startswith("1  natspac")]
    assert listed == [["1", "natspac", '"7"']]


def test_responses_load_reads_long_panel_files(app, tmp_path):
    path = tmp_path / "long_panel.csv"
    path.write_text("firstid,wave,natspac,cappun\n1,1,Too Little,Favor\n1,2,Too Little,Oppose\n2,1,About Right,Banana\n2,2,Too much,Favor\n",
                    encoding="utf-8")
    result = _run(app, "responses", "load", str(path), "--summary")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich wraps the header line at 80 columns
    assert "2 people" in text and "1 values not mapped" in text
    assert any(line.split() == ["1", "cappun", '"Banana"'] for line in result.output.splitlines())
    assert all(len(line) <= 80 for line in result.output.splitlines())


def test_responses_export_writes_labelled_files(app, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(WIDE_PANEL, encoding="utf-8")
    out = tmp_path / "out"
    result = _run(app, "responses", "export", str(path), "--out", str(out), "--format", "sav,csv", "--weights", "wtssall")
    assert result.exit_code == 0, result.output
    data, meta = pyreadstat.read_sav(str(out / "panel-file-wide.sav"))
    assert meta.variable_value_labels["natspac"] == {1: "too little", 2: "about right", 3: "too much"}
    assert meta.column_names_to_labels["cappun"].startswith("Do you favor or oppose the death penalty")
    rows = {(r.respondent, int(r.wave)): r for r in data.itertuples()}
    assert rows[("2", 1)].natspac == 2 and rows[("2", 1)].demo_wtssall == 0.5 and rows[("1", 2)].cappun == 2
    assert not (out / "panel-file-wide.dta").exists() and (out / "panel-file-wide_long.csv").exists()
    long = pd.read_csv(out / "panel-file-wide_long.csv", dtype=str)
    assert set(long.loc[long.question == "natspac", "label"]) == {"too little", "about right", "too much"}
    bad = _run(app, "responses", "export", str(path), "--out", str(out), "--format", "xlsx")
    assert bad.exit_code != 0 and "xlsx" in str(bad.exception)


@pytest.mark.parametrize("header, panel", [
    ("firstid,wave,natspac", True),
    ("respondent,wave,natspac", True),
    ("yearid,natspac_1a,natspac_2", True),
    ("id,natspac_1,natspac_2", True),
    ("respondent,question,wave,value", False),
    ("respondent,trust_1,trust_2", False),  # a wide response CSV whose question ids end in _1 / _2
    ("respondent,natspac,demo_age", False),
])
def test_panel_files_are_told_from_response_csvs(tmp_path, header, panel):
    path = tmp_path / "f.csv"
    path.write_text(header + "\n", encoding="utf-8")
    assert surveys_cli.is_panel_file(path) is panel
