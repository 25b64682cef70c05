"""`simulacra surveys ...` and `simulacra responses ...` through typer, on a root app of their own."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from surveys import cli as surveys_cli
from surveys.errors import DataFileError


@pytest.fixture()
def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """root"""

    surveys_cli.register(root)
    return root


def run(app, *args):
    result = CliRunner().invoke(app, list(args), catch_exceptions=True, env={"COLUMNS": "200"})
    return result


def test_surveys_list_and_show(app):
    listed = run(app, "surveys", "list")
    assert listed.exit_code == 0 and all(i in listed.output for i in ("gss", "bfi44", "games", "177"))
    shown = run(app, "surveys", "show", "gss", "--limit", "5")
    assert shown.exit_code == 0
    assert all(q in shown.output for q in ("natspac", "natenvir", "natheal", "natcity", "natdrug"))
    assert "nateduc" not in shown.output and "172 more" in shown.output
    one = run(app, "surveys", "show", "bfi44", "-q", "bfi6", "--full")
    assert "reserved" in one.output and "reverse_keyed: True" in one.output


def test_surveys_validate_good_and_bad_files(app, tmp_path):
    good = tmp_path / "ok.yaml"
    good.write_text(
        "id: ok\ntitle: OK\nquestions:\n  - id: q\n    text: Yes or no?\n    kind: categorical\n"
        "    options: [{code: y, label: yes}, {code: n, label: no}]\n",
        encoding="utf-8",
    )
    result = run(app, "surveys", "validate", str(good))
    assert result.exit_code == 0 and "ok" in result.output and "1 questions" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("kind: categorical", "kind: multiple"), encoding="utf-8")
    result = run(app, "surveys", "validate", str(bad))
    assert isinstance(result.exception, DataFileError)  # the root command prints it as one line, exit 1
    assert "bad.yaml:6" in str(result.exception) and "questions[0].kind" in str(result.exception)


def test_responses_load_summary_on_the_gss_panel(app, tmp_path):
    export = tmp_path / "out" / "answers.csv"
    result = run(app, "responses", "load", "gss-panel-2016", "--summary", "--items", "5", "--export", str(export))
    assert result.exit_code == 0, result.output
    assert "1,823 people" in result.output and "retest pairs" in result.output
    assert "per-item" in result.output and "abany" in result.output and "mean per-person agreement" in result.output
    assert export.stat().st_mode & 0o777 == 0o600
    assert export.read_text().splitlines()[0] == "respondent,question,wave,value"


def test_responses_load_reports_unmapped_values_of_a_csv(app, tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("respondent,question,wave,value\na,happy,1,1\na,happy,2,very happy\nb,happy,1,7\n", encoding="utf-8")
    result = run(app, "responses", "load", str(path), "--instrument", "gss", "--summary")
    assert result.exit_code == 0, result.output
    assert "1 people" in result.output and "1 values not mapped" in result.output  # b had no valid answer
    assert "'7' is neither an option code nor an option label of happy" in result.output
