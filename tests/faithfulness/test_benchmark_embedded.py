"""End to end on the embedded model: one LLM condition and the reference conditions in one report, with a verdict."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

REFERENCES = ("majority", "demographic_knn", "composite_knn", "logistic")


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
    for name in ("demographic", *REFERENCES, "random_floor"):
        assert name in conditions, name
    dem = conditions["demographic"]["gss"]
    # the embedded model answers under a grammar: the condition must have a score, not "no valid answers"
    assert dem["no_valid_answers"] is False
    assert dem["coverage"]["asked"] == 2 * 4 and 1 <= dem["coverage"]["valid"] <= dem["coverage"]["asked"]
    assert dem["people"] == 2
    for name in REFERENCES:  # the same people as the agents
        assert conditions[name]["gss"]["people"] == dem["people"], name
    assert 0.0 <= dem["accuracy"]["mean"] <= 1.0
    assert dem["normalized_accuracy_paper"]["mean"] is not None  # GSS items carry the paper's 2-week consistency
    verdict = next(v for v in metrics["verdicts"] if v["condition"] == "demographic")
    assert verdict["reference"] in REFERENCES and math.isfinite(verdict["reference_value"])
    assert isinstance(verdict["difference"], float) and verdict["ci"] is not None and verdict["ci"][0] <= verdict["ci"][1]
    # 2 people x 4 items is below the stated minimum for a verdict: it says so in words, whatever its interval
    assert verdict["verdict"] == ("too small to judge: 2 people and 4 items (a verdict needs at least 10 people "
                                  "and 10 items)"), verdict
    assert "verdict" in result.output and "ref composite kNN" in result.output
    assert f"{verdict['difference']:+.3f}" in result.output
    assert "Verdict" in (run / "report.html").read_text()
