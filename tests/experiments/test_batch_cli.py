"""The batch commands through the CLI: run --dry-run from a bank, report and compare from run folders, demo setup."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.runs.spec import RunSpec
from experiments.runs.folder import RunFolder
from experiments.runs.folder import save_truth
from experiments.runs.runner import run_batch
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
    folder = RunFolder.open(RunSpec.build(agents, [instrument], model=MODEL, label=label), root)
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


async def test_report_with_a_wrong_or_empty_truth_fails_and_keeps_the_good_report(isolated_workspace, monkeypatch):
    import experiments.scoring.score as scoring
    from surveys.responses import ResponseSet

    folder = await make_run(isolated_workspace / "runs", AGENTS, "kept")
    good = CliRunner().invoke(app, ["report", folder.path.name, "--bootstrap", "20"])
    assert good.exit_code == 0, good.output
    metrics_before = (folder.path / "metrics.json").read_bytes()
    html_before = (folder.path / "report.html").read_bytes()

    original = scoring.load_responses
    fakes = {
        "empty.csv": ResponseSet.from_records("empty", []),
        "strangers.csv": ResponseSet.from_records("strangers", [("X1", "A", 1, "1"), ("X2", "B", 1, "2")]),
    }
    monkeypatch.setattr(scoring, "load_responses", lambda spec: fakes[spec] if spec in fakes else original(spec))
    for spec, words in (("empty.csv", "hold no answers"), ("strangers.csv", "none of the run's people")):
        result = CliRunner().invoke(app, ["report", folder.path.name, "--truth", spec])
        assert result.exit_code != 0
        assert words in str(result.exception) and "kept as they were" in str(result.exception)
        assert (folder.path / "metrics.json").read_bytes() == metrics_before
        assert (folder.path / "report.html").read_bytes() == html_before


async def test_report_json_and_compare_out_into_a_strangers_folder(isolated_workspace):
    first = await make_run(isolated_workspace / "runs", AGENTS, "one")
    second = await make_run(isolated_workspace / "runs", AGENTS, "two")
    result = CliRunner().invoke(app, ["report", first.path.name, "--bootstrap", "0", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["kind"] == "batch" and "demographic" in payload["metrics"]["conditions"]

    stranger = isolated_workspace.parent / "my-documents"
    stranger.mkdir()
    (stranger / "thesis.docx").write_text("mine")
    stranger.chmod(0o755)
    refused = CliRunner().invoke(app, ["compare", first.path.name, second.path.name, "--out", str(stranger)])
    assert refused.exit_code != 0 and "already holds other files" in str(refused.exception)
    assert stranger.stat().st_mode & 0o777 == 0o755 and (stranger / "thesis.docx").read_text() == "mine"
    fresh = isolated_workspace.parent / "comparisons" / "one-vs-two"
    done = CliRunner().invoke(app, ["compare", first.path.name, second.path.name, "--out", str(fresh), "--bootstrap", "0"])
    assert done.exit_code == 0, done.output
    assert (fresh / "compare.json").is_file() and fresh.stat().st_mode & 0o777 == 0o700


def test_run_id_that_is_a_path_is_refused_by_the_cli(isolated_workspace, tmp_path):
    for bad in ("../../x", str(tmp_path / "abs")):
        result = CliRunner().invoke(app, ["run", "--run-id", bad, "--dry-run"])
        assert result.exit_code != 0 and "not a valid run name" in str(result.exception)
    assert not (tmp_path / "abs").exists()


def test_an_existing_simulacra_home_is_used_as_it_is(tmp_path, monkeypatch):
    from simulacra.workspace import Workspace

    home = tmp_path / "existing-home"
    home.mkdir()
    home.chmod(0o750)
    monkeypatch.setenv("SIMULACRA_HOME", str(home))
    runs = Workspace.default().runs
    assert home.stat().st_mode & 0o777 == 0o750  # not chmodded: simulacra did not create it
    assert runs.stat().st_mode & 0o777 == 0o700  # what it creates is private


async def test_a_truth_covering_only_some_people_says_so(isolated_workspace, monkeypatch):
    """Scoring a subset of a run's people is legitimate, but the report that replaces the full one says so."""
    import experiments.scoring.score as scoring

    folder = await make_run(isolated_workspace / "runs", AGENTS, "partial")
    first = sorted({a.respondent for a in AGENTS})[0]
    subset = TRUTH.subset(respondents=[first])
    monkeypatch.setattr(scoring, "load_responses", lambda name: subset)
    result = CliRunner().invoke(app, ["report", folder.path.name, "--truth", "subset.csv", "--bootstrap", "0", "--json"])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.output)["metrics"]["notes"]
    people = len({a.respondent for a in AGENTS})
    assert any(f"cover 1 of the run's {people} people" in n for n in notes), notes
