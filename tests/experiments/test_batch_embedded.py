"""End to end on the real embedded model: a tiny GSS-panel benchmark through the CLI writes its report."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner


@pytest.mark.embedded
def test_tiny_gss_panel_benchmark_writes_report_and_metrics(isolated_workspace):
    from experiments.cli import app

    args = ["benchmark", "gss-panel", "--people", "2", "--items", "2", "--condition", "demographic",
            "--batch-size", "2", "--bootstrap", "20", "--seed", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    runs = list((isolated_workspace / "runs").iterdir())
    assert len(runs) == 1
    run = runs[0]
    metrics = json.loads((run / "metrics.json").read_text())  # its content is H4's (tests/faithfulness)
    assert metrics["run"]["model"]["kind"] == "embedded" and "demographic" in metrics["conditions"]
    from experiments.runs.folder import RunFolder

    frame = RunFolder(run).answers()
    assert len(frame) == 4 and frame["prompt_hash"].notna().all()  # each answer pinned to its prompt
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "normalized" in html
    assert (run / "responses.parquet").is_file() and (run / "responses.csv").is_file()
    assert "report:" in result.output

    # the same command again resumes: nothing left to ask, the model is not called
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    sessions = RunFolder(run).store.sessions()
    assert [s["answers_written"] for s in sessions] == [4, 0]
    assert sessions[1]["usage"].get("calls", 0) == 0
