"""The batch commands through the CLI: run --dry-run from a bank, report and compare from run folders, demo setup."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.runs.folder import save_truth
from experiments.runs.runner import open_run, run_batch
from simulacra.llm import LLM, FakeBackend
from test_evaluate import AGENTS, MODEL, TRUTH, FixedAgent, survey_instrument


def test_run_dry_run_counts_calls_from_the_bank_and_spends_nothing(isolated_workspace):
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.baselines import DemographicAgent

    bank = AgentBank()
    for i, sex in enumerate(["male", "female"]):
        bank.save(DemographicAgent(id=f"person-{i}", demographics={"age": "40", "sex": sex}))
    result = CliRunner().invoke(app, ["run", "--instrument", "gss", "--limit", "7", "--batch-size", "3", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "nothing was sent to the model" in result.output
    # 2 agents x 7 questions in batches of 3: 3 calls each
    lines = {line.strip().rsplit(" ", 1)[0].strip(): line.strip().rsplit(" ", 1)[1] for line in result.output.splitlines()
             if line.startswith("  ")}
    assert lines["model calls"] == "6" and lines["answers to ask"] == "14"
    as_json = CliRunner().invoke(app, ["run", "--instrument", "gss", "--limit", "7", "--batch-size", "3", "--dry-run", "--json"])
    assert as_json.exit_code == 0, as_json.output
    estimate = json.loads(as_json.output)
    assert estimate["calls"] == 6 and estimate["pending_answers"] == 14 and estimate["dry_run"] is True
    runs = list((isolated_workspace / "runs").iterdir())
    assert len(runs) == 1 and not (runs[0] / "responses.csv").exists()


async def make_run(root, agents, label):
    instrument = survey_instrument()
    folder = open_run(root, agents, [instrument], model=MODEL, label=label)
    await run_batch(folder, agents, [instrument], LLM(FakeBackend()))
    save_truth(folder, TRUTH)
    return folder


async def test_report_and_compare_commands(isolated_workspace):
    runs = isolated_workspace / "runs"
    first = await make_run(runs, AGENTS, "first")
    perfect = [FixedAgent(id=a.id, source=a.source, respondent=a.respondent,
                          given={q: TRUTH.value(a.respondent, q) or v for q, v in a.given.items()}) for a in AGENTS]
    second = await make_run(runs, perfect, "second")

    result = CliRunner().invoke(app, ["report", first.path.name, "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    assert "demographic" in result.output and "majority" in result.output
    metrics = json.loads((first.path / "metrics.json").read_text())
    assert metrics["conditions"]["demographic"]["mini"]["normalized_accuracy"]["mean"] == pytest.approx((2 / 3 + 1.5) / 2)
    assert (first.path / "report.html").is_file()

    CliRunner().invoke(app, ["report", str(second.path), "--bootstrap", "50"])
    out = isolated_workspace / "cmp"
    result = CliRunner().invoke(app, ["compare", first.path.name, second.path.name, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "paired tests" in result.output
    compared = json.loads((out / "compare.json").read_text())
    test = next(t for t in compared["paired_tests"] if t["condition"] == "demographic" and t["metric"] == "accuracy")
    assert test["difference"] == pytest.approx(1 - 2 / 3)


def test_user_errors_print_one_line_and_exit_nonzero(monkeypatch, capsys):
    import sys

    from experiments.cli import main

    monkeypatch.setattr(sys, "argv", ["simulacra", "report", "no-such-run"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "no run 'no-such-run'" in err and "Traceback" not in err


def test_demo_rebuilds_the_genagents_layout_from_the_flat_sample_files(isolated_workspace):
    from simulacra.agents.build import genagents_folders
    from simulacra.workspace import Workspace

    from experiments.demo import sample_agent_folder

    folder = sample_agent_folder(Workspace.default())
    assert genagents_folders(folder) == [folder]
    assert json.loads((folder / "meta.json").read_text())["id"] == folder.name
    nodes = json.loads((folder / "memory_stream" / "nodes.json").read_text())
    assert len(nodes) == 116
    assert (folder / "scratch.json").stat().st_mode & 0o777 == 0o600
    assert sample_agent_folder(Workspace.default()) == folder  # idempotent
