"""Composite agents built from the K adaptive answers (`benchmark gss-panel --adaptive K --adaptive-agents N`), with
a scripted model: what each agent knows is exactly its condition's K answers, never a target, and its figures are the
pipeline's own score of its run folder, beside the statistical predictors on the same cells."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from experiments.faithfulness.adaptive_agents import AGENT_CONDITIONS, agent_spec, choose_targets, plan_agents
from experiments.faithfulness.adaptive_benchmark import AdaptiveSettings, adaptive_benchmark
from experiments.scoring.leakage import near_duplicates
from surveys.instruments import load_instrument

PROMPTS: list[str] = []


def first_option_reply(request):
    """Always the first option of each question asked; every prompt is kept for the leakage check."""
    text = "\n".join(str(m["content"]) for m in request.messages)
    PROMPTS.append(text)
    last = request.messages[-1]["content"]
    keys = re.findall(r"^(\w+)\. ", last, re.M)
    first = re.findall(r"Options: ([^|\n]+)", last)
    return json.dumps({k: {"reasoning": "r", "answer": v.strip()} for k, v in zip(keys, first)})


@pytest.fixture(scope="module")
def benchmark():
    settings = AdaptiveSettings(ks=(3,), seed=3, bootstrap=20, min_items=2, designs=("halves",),
                                predictors=("logistic", "composite_knn"))
    return adaptive_benchmark("2016-2020", settings=settings, people=300, items=24)


def test_each_agent_knows_exactly_its_conditions_k_answers_and_no_target(benchmark):
    plan = plan_agents(benchmark, k=3, people=5, items=4, seed=1)
    matrix = benchmark.state["matrix"]
    order, toward = benchmark.state["orders"]["halves"][0]
    assert set(plan.targets) <= {matrix.items[j] for j in toward} and len(plan.targets) == 4
    dups = near_duplicates()
    assert not any(dups.get(t, set()) & set(plan.targets) for t in plan.targets)
    for condition in AGENT_CONDITIONS:
        assert len(plan.agents[condition]) == len(plan.people) == 5
        for r, agent in zip(plan.rows, plan.agents[condition]):
            asked = [matrix.items[j] for j in order[condition][r, :3] if j >= 0]
            answered = {q for q in asked if matrix.w1[r, matrix.item_index(q)] >= 0}
            assert set(agent.known_answers) == answered  # exactly the K asked (those the person answered)
            assert not set(agent.known_answers) & set(plan.targets)
            for q in answered:  # the person's own wave-1 answer, as an option code
                assert agent.known_answers[q] == matrix.code(q, int(matrix.w1[r, matrix.item_index(q)]))
    # the conditions differ in what they ask (adaptive is not random)
    assert [a.known_answers for a in plan.agents["adaptive"]] != [a.known_answers for a in plan.agents["random"]]


def test_the_agents_never_see_a_target_or_its_near_duplicate_when_answering_it(benchmark):
    plan = plan_agents(benchmark, k=3, people=5, items=4, seed=1)
    spec = agent_spec(plan, benchmark, model={"kind": "test", "model": "fake"})
    questions = benchmark.state["matrix"].questions
    dups = near_duplicates()
    for agent in spec.live_agents:
        for target in plan.targets:
            context = agent.context_preview([questions[target]])
            for hidden in {target} | dups.get(target, set()):
                assert questions[hidden].text not in context, (agent.id, target, hidden)


def test_targets_are_seeded_and_from_the_predicted_half(benchmark):
    matrix = benchmark.state["matrix"]
    _, toward = benchmark.state["orders"]["halves"][0]
    rows = benchmark.state["rows"]
    assert choose_targets(matrix, rows, list(toward), 5, 7) == choose_targets(matrix, rows, list(toward), 5, 7)
    assert choose_targets(matrix, rows, list(toward), 5, 7) != choose_targets(matrix, rows, list(toward), 5, 8)


def test_the_command_runs_the_agents_through_the_pipeline_and_reports_them_beside_the_statistics(tmp_path, monkeypatch):
    import simulacra.llm as llm_module
    from simulacra.llm import LLM, FakeBackend

    from experiments.cli import app

    monkeypatch.setenv("SIMULACRA_HOME", str(tmp_path / "simulacra-data"))
    monkeypatch.setattr(llm_module, "open_llm", lambda *a, **k: LLM(FakeBackend(default=first_option_reply)))
    PROMPTS.clear()
    args = ["benchmark", "gss-panel", "--adaptive", "3", "--adaptive-design", "halves", "--people", "300", "--items", "24",
            "--min-items", "2", "--bootstrap", "20", "--seed", "3", "--adaptive-agents", "6", "--adaptive-agent-items", "4"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "composite agents from the K=3 answers" in flat and "adaptive agents - random agents" in flat
    runs = {json.loads((p / "manifest.json").read_text())["extra"]["benchmark"]: p
            for p in (tmp_path / "simulacra-data" / "runs").iterdir() if (p / "manifest.json").is_file()}
    assert set(runs) == {"gss-panel-adaptive", "gss-panel-adaptive-agents"}
    adaptive = json.loads((runs["gss-panel-adaptive"] / "metrics.json").read_text())
    agents = adaptive["agents"]
    assert agents["run"] == runs["gss-panel-adaptive-agents"].name and agents["people"] == 6
    assert {(r["condition"], r["predictor"]) for r in agents["rows"]} == {
        (c, p) for c in AGENT_CONDITIONS for p in ("agents", "logistic", "composite_knn")}
    assert {(tuple(r["a"]), tuple(r["b"])) for r in agents["paired"]} >= {
        (("adaptive", "agents"), ("random", "agents")), (("adaptive", "agents"), ("adaptive", "logistic"))}
    # the agents' figures are the pipeline's own score of their run folder (the same cells, the same statistic)
    scored = json.loads((runs["gss-panel-adaptive-agents"] / "metrics.json").read_text())
    for condition in AGENT_CONDITIONS:
        mine = next(r for r in agents["rows"] if r["condition"] == condition and r["predictor"] == "agents")
        theirs = scored["conditions"][f"{condition}-k3"]["gss"]
        assert mine["normalized_accuracy"]["mean"] == pytest.approx(theirs["normalized_accuracy"]["mean"])
        assert mine["people"] == theirs["people"]
    assert (runs["gss-panel-adaptive-agents"] / "report.html").is_file()
    # 6 people x 3 conditions x 4 targets answered, and no prompt asked a target while showing it answered
    answers = (runs["gss-panel-adaptive-agents"] / "responses.csv").read_text().splitlines()
    assert len(answers) - 1 == 6 * 3 * 4
    # no prompt the model saw shows a target's answer line (what a composite agent's context lists)
    targets = agents["targets"]
    questions = {q.id: q for q in load_instrument("gss").questions}
    assert len(PROMPTS) >= 6 * 3 and all("\n  My answer:" in prompt for prompt in PROMPTS)  # the agents' K answers
    for prompt in PROMPTS:
        for target in targets:
            assert f"- {questions[target].text.strip()}\n  My answer:" not in prompt, target
