"""End to end on the embedded model: one LLM condition and the reference conditions in one report, with a verdict."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner


@pytest.mark.embedded
def test_llm_condition_beside_the_reference_conditions_with_a_verdict(isolated_workspace):
    from experiments.cli import app

    args = ["benchmark", "gss-panel", "--people", "2", "--items", "4", "--condition", "demographic", "--context-items", "4",
            "--batch-size", "4", "--bootstrap", "50", "--seed", "1", "--min-items", "1"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    run = next((isolated_workspace / "runs").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["schema_version"] == 2
    conditions = metrics["conditions"]
    for name in ("demographic", "majority", "demographic_knn", "composite_knn", "logistic", "random_floor"):
        assert name in conditions, name
    for name in ("majority", "demographic_knn", "composite_knn", "logistic"):  # same people as the agents
        assert conditions[name]["gss"]["people"] == conditions["demographic"]["gss"]["people"] or conditions["demographic"]["gss"].get("no_valid_answers")
    dem = conditions["demographic"]["gss"]
    assert dem["coverage"]["asked"] >= 1
    assert dem["no_valid_answers"] or dem["accuracy"]["mean"] is not None
    verdict = next(v for v in metrics["verdicts"] if v["condition"] == "demographic")
    assert verdict["verdict"]
    assert "verdict" in result.output and "ref composite kNN" in result.output
    assert "Verdict" in (run / "report.html").read_text()
