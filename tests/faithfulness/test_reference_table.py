"""`simulacra benchmark gss-panel --references-only`: the reference table with no model, in seconds."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def test_references_only_prints_the_table_and_writes_markdown(tmp_path):
    from experiments.cli import app

    out = tmp_path / "table.md"
    args = ["benchmark", "gss-panel", "--references-only", "--people", "150", "--items", "12", "--bootstrap", "20",
            "--min-items", "5", "--markdown", str(out)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    for label in ("majority of other people", "demographic kNN", "composite kNN", "logistic regression per item", "random floor"):
        assert label in result.output
    assert "retest interval" in result.output and "2016 sample" in result.output
    text = out.read_text()
    assert text.startswith("Reference conditions on gss-panel-2016-2020 (same-wave): 150 people x 12 items")


def test_references_only_json_and_cross_wave():
    from experiments.cli import app

    args = ["benchmark", "gss-panel", "--condition", "stats", "--people", "120", "--items", "10", "--bootstrap", "0",
            "--min-items", "5", "--design", "cross-wave", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert data["design"] == "cross-wave" and data["people"] == 120 and data["items"] == 10
    majority = data["conditions"]["majority"]
    assert 0.2 < majority["accuracy"]["mean"] < 0.9
    assert majority["people"] + majority["excluded_people"] <= 120


def test_a_panel_file_that_does_not_fit_is_a_clear_error(tmp_path):
    from experiments.cli import app

    bad = tmp_path / "bad.csv"
    bad.write_text("firstid,natspac\n1,1\n", encoding="utf-8")
    from simulacra.errors import SimulacraError

    result = CliRunner().invoke(app, ["benchmark", "gss-panel", "--references-only", "--panel-file", str(bad)])
    assert result.exit_code != 0
    # a SimulacraError (the root command prints it without a traceback), naming the file and what is missing
    assert isinstance(result.exception, SimulacraError)
    assert "neither layout" in str(result.exception) and str(bad) in str(result.exception)
