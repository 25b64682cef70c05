"""`simulacra experiment list | validate | run | report`, with a scripted model and a bank of demographic agents."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from simulacra.llm import LLM, FakeBackend

runner = CliRunner()
YES = "Yes, I would type the free sample"
NO = "No, I would not type the free sample"


def scripted_typist(request) -> str:
    """Answers like a low-power typist would be expected to: a free sample only when relying on the work."""
    prompt = "\n".join(m["content"] for m in request.messages)
    answer = YES if "rely on this work" in prompt else NO
    return json.dumps({"Q1": {"reasoning": "thinking about my situation", "answer": answer}})


@pytest.fixture
def fake_llm(monkeypatch):
    backend = FakeBackend(default=scripted_typist)
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: LLM(backend))
    return backend


STUDIES = ("ames_fiske_2015", "cooney_2016", "halevy_halali_2015", "rai_2017", "schilke_2015")


def test_list_shows_the_five_studies_whole_when_piped_and_as_json():
    result = runner.invoke(app, ["experiment", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for study_id in STUDIES:  # piped: one plain line a study, the id first and whole
        assert any(line.startswith(study_id + "\t") for line in lines)
    assert "…" not in result.output
    as_json = runner.invoke(app, ["experiment", "list", "--json"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    assert [r["id"] for r in rows] == sorted(STUDIES) or {r["id"] for r in rows} >= set(STUDIES)
    assert {"id", "title", "design", "test", "human_d", "source"} <= set(rows[0])


def test_validate_reports_each_file(tmp_path):
    from experiments.behavioral.definition import BUILTIN_DIR

    good = BUILTIN_DIR / "cooney_2016.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("receive+fair: 1", "receive+fair: -1"), encoding="utf-8")
    result = runner.invoke(app, ["experiment", "validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert "ok" in result.output and "cooney_2016" in result.output
    assert "bad.yaml:" in result.output and "analysis.contrast" in result.output


def test_run_then_rerun_then_report(demographic_bank, fake_llm, isolated_workspace):
    bank = demographic_bank(8)
    result = runner.invoke(app, ["experiment", "run", "schilke_2015", "--agents", str(bank), "--run-id", "cli-run", "--seed", "4"])
    assert result.exit_code == 0, result.output
    asked = len(fake_llm.requests)
    assert asked == 8
    assert "run cli-run: 8 answer(s) asked, 0 already stored" in result.output and "schilke_2015" in result.output
    assert "…" not in result.output  # an 80-column pipe: plain lines, no cell cut to a letter or two

    results = json.loads((isolated_workspace / "runs" / "cli-run" / "results.json").read_text())
    schilke = results["studies"][0]
    assert schilke["n"] == 8 and schilke["verdict"] == "replicated" and schilke["direction"] == 1

    again = runner.invoke(app, ["experiment", "run", "schilke_2015", "--agents", str(bank), "--run-id", "cli-run", "--seed", "4"])
    assert again.exit_code == 0, again.output
    assert "0 answer(s) asked, 8 already stored" in again.output
    assert len(fake_llm.requests) == asked

    out = isolated_workspace / "side-by-side.html"
    report = runner.invoke(app, ["experiment", "report", "cli-run", "--out", str(out)])
    assert report.exit_code == 0, report.output
    flat = " ".join(report.output.split())  # the terminal table wraps at 80 columns here
    assert "replicated: agents 1/1, humans 1/1" in flat and "r(agent d, human d) = n/a over 1 studies" in flat
    html = out.read_text()
    assert "data:image/png;base64," in html and "Schilke, Reimann &amp; Cook 2015" in html
    assert "Reconstructed from the published description" in html


def test_run_with_a_missing_bank_is_a_clear_error(tmp_path):
    from simulacra.errors import SimulacraError

    result = runner.invoke(app, ["experiment", "run", "schilke_2015", "--agents", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    assert isinstance(result.exception, SimulacraError) and "does not exist" in str(result.exception)


def test_report_and_compare_open_behavioral_experiment_runs(demographic_bank, fake_llm, isolated_workspace):
    bank = demographic_bank(6)
    for run_id, seed in (("exp-a", 1), ("exp-b", 2)):
        result = runner.invoke(app, ["experiment", "run", "schilke_2015", "--agents", str(bank), "--run-id", run_id,
                                     "--seed", str(seed), "--json"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert payload["run_id"] == run_id and payload["results"]["studies"][0]["study_id"] == "schilke_2015"

    report = runner.invoke(app, ["report", "exp-a"])
    assert report.exit_code == 0, report.output
    assert "schilke_2015: chi-square" in report.output and (isolated_workspace / "runs" / "exp-a" / "report.html").is_file()
    as_json = runner.invoke(app, ["report", "exp-a", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["runs"][0]["studies"][0]["n"] == 6

    out = isolated_workspace / "cmp"
    compare = runner.invoke(app, ["compare", "exp-a", "exp-b", "--out", str(out)])
    assert compare.exit_code == 0, compare.output
    assert "run exp-a" in compare.output and "run exp-b" in compare.output
    assert (out / "compare.html").is_file()


def test_list_on_a_narrow_terminal_keeps_ids_whole(monkeypatch):
    import experiments.experiment_cli as cli
    from rich.console import Console

    narrow = Console(width=60, force_terminal=True, record=True)
    monkeypatch.setattr(cli, "console", narrow)
    result = runner.invoke(app, ["experiment", "list"])
    assert result.exit_code == 0, result.output
    text = narrow.export_text()
    for study_id in STUDIES:
        assert study_id in text
