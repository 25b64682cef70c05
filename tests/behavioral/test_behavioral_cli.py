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


def test_list_shows_the_five_studies():
    result = runner.invoke(app, ["experiment", "list"])
    assert result.exit_code == 0, result.output
    for study_id in ("ames_fiske_2015", "cooney_2016", "halevy_halali_2015", "rai_2017", "schilke_2015"):
        assert study_id in result.output


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
    assert "8 step(s) asked" in result.output and "schilke_2015" in result.output

    results = json.loads((isolated_workspace / "runs" / "cli-run" / "results.json").read_text())
    schilke = results["studies"][0]
    assert schilke["n"] == 8 and schilke["verdict"] == "replicated" and schilke["direction"] == 1

    again = runner.invoke(app, ["experiment", "run", "schilke_2015", "--agents", str(bank), "--run-id", "cli-run", "--seed", "4"])
    assert again.exit_code == 0, again.output
    assert "0 step(s) asked, 8 already answered" in again.output
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
