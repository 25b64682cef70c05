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


@pytest.mark.embedded
def test_composite_agents_from_the_k_adaptive_answers_on_the_embedded_model(isolated_workspace):
    """#28: agents built from each condition's K answers answer on the real model, through their own run folder,
    and are reported beside the statistical predictors on the same cells."""
    from experiments.cli import app

    args = ["benchmark", "gss-panel", "--adaptive", "3", "--adaptive-design", "halves", "--people", "300", "--items", "24",
            "--min-items", "1", "--bootstrap", "20", "--seed", "3", "--adaptive-agents", "2", "--adaptive-agent-items", "3"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    runs = {json.loads((p / "manifest.json").read_text())["extra"]["benchmark"]: p
            for p in (isolated_workspace / "runs").iterdir() if (p / "manifest.json").is_file()}
    agents = json.loads((runs["gss-panel-adaptive"] / "metrics.json").read_text())["agents"]
    scored = json.loads((runs["gss-panel-adaptive-agents"] / "metrics.json").read_text())
    assert scored["answers"]["total"] == 2 * 3 * 3
    for condition in ("adaptive", "random", "fixed"):
        block = scored["conditions"][f"{condition}-k3"]["gss"]
        assert block["no_valid_answers"] is False and block["coverage"]["asked"] == 2 * 3
        mine = next(r for r in agents["rows"] if r["condition"] == condition and r["predictor"] == "agents")
        assert mine["normalized_accuracy"]["mean"] == pytest.approx(block["normalized_accuracy"]["mean"])
    assert "composite agents from the K=3 answers" in " ".join(result.output.split())
