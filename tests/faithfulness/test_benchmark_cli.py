"""The benchmark command end to end with a scripted model: agents, references and verdicts in one report."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner


def first_option_reply(request):
    """A scripted model that always picks the first option of each question."""
    text = request.messages[-1]["content"]
    keys = re.findall(r"^(\w+)\. ", text, re.M)
    first = re.findall(r"Options: ([^|\n]+)", text)
    return json.dumps({k: {"reasoning": "r", "answer": v.strip()} for k, v in zip(keys, first)})


def test_benchmark_command_reports_agents_beside_references_with_verdicts(isolated_workspace, monkeypatch):
    import simulacra.llm as llm_module
    from simulacra.llm import LLM, FakeBackend

    from experiments.cli import app

    monkeypatch.setattr(llm_module, "open_llm", lambda *a, **k: LLM(FakeBackend(default=first_option_reply)))
    args = ["benchmark", "gss-panel", "--people", "3", "--items", "4", "--context-items", "3", "--batch-size", "4",
            "--composite-group", "4", "--bootstrap", "30", "--seed", "2", "--min-items", "1"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    run = next((isolated_workspace / "runs").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    names = list(metrics["conditions"])
    assert names[:2] == ["composite", "demographic"]
    assert {"majority", "demographic_knn", "composite_knn", "logistic", "random_floor"} <= set(names)
    assert {v["condition"] for v in metrics["verdicts"]} >= {"composite", "demographic"}
    assert "verdict" in result.output and "ref logistic" in result.output
    # the human answers saved with the run hold the targets and the composite agents' context items
    saved = set(json.loads(json.dumps(metrics["run"]["instruments"])))
    assert saved == {"gss"}
    truth = (run / "truth" / "responses.csv").read_text()
    manifest = json.loads((run / "manifest.json").read_text())
    for item in manifest["extra"]["context_items"]:
        assert f",{item}," in truth
    assert manifest["extra"]["design"] == "same-wave"
