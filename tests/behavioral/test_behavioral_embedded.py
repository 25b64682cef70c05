"""End to end on the real embedded model: a handful of demographic agents take one study; the report is written."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experiments.cli import app

pytestmark = pytest.mark.embedded


def test_schilke_on_four_demographic_agents_produces_the_report(demographic_bank, isolated_workspace):
    bank = demographic_bank(4)
    runner = CliRunner()
    result = runner.invoke(app, ["experiment", "run", "schilke_2015", "--agents", str(bank), "--run-id", "e2e", "--seed", "1"])
    assert result.exit_code == 0, result.output
    folder = isolated_workspace / "runs" / "e2e"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["kind"] == "experiment" and manifest["model"]["kind"] == "embedded"
    assignment = manifest["studies"]["schilke_2015"]["assignment"]
    assert sorted(list(assignment.values()).count(c) for c in ("high_power", "low_power")) == [2, 2]

    study = json.loads((folder / "results.json").read_text())["studies"][0]
    assert study["n"] + study["n_excluded"] == 4 and study["n"] >= 3  # the grammar keeps answers valid
    assert study["verdict"] in {"replicated", "not replicated"}
    assert study["human_d"] == 0.33

    frame = __import__("experiments.runs", fromlist=["RunFolder"]).RunFolder(folder).answers()
    assert len(frame) == 4 and frame["prompt_hash"].notna().all()  # each step's answer in the shared store

    report = runner.invoke(app, ["report", "e2e"])
    assert report.exit_code == 0, report.output
    html = (folder / "report.html").read_text()
    assert "data:image/png;base64," in html and study["verdict"] in html
