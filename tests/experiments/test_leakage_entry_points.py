"""No leakage on any entry point (issue #22 item 4): every agent kind, built through each entry point that
answers questions, is run through the pipeline with a recording fake model, and every prompt it really sent is
searched for what it may never see while it predicts a target (the target's answer, its near-duplicates' answers,
a demographic field that is or maps to a target). The study path has its own test (tests/study/test_study_leakage.py)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leak_check import leaks
from experiments.cli import app
from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.pipeline import run
from experiments.runs.folder import RunFolder
from simulacra.agents.bank import AgentBank
from simulacra.agents.baselines import CompositeAgent, DemographicAgent
from simulacra.llm import LLM, FakeBackend
from surveys.instruments import load_instrument

GSS = load_instrument("gss")
QUESTIONS = {q.id: q for q in GSS.questions}


def fill(schema: dict):
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: fill(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [fill(schema.get("items", {}))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    return "because"


def recording_llm() -> tuple[LLM, FakeBackend]:
    backend = FakeBackend(default=lambda request: json.dumps(fill(request.json_schema or {})))
    return LLM(backend), backend


def test_the_benchmark_entry_point_sends_no_target_or_near_duplicate_answer(isolated_workspace):
    plan = plan_gss_benchmark(people=3, items=8, seed=2, context_items=12)
    spec = plan.spec(model={"model": "fake"}, batch_size=4)
    llm, backend = recording_llm()
    outcome = run(spec, llm=llm)
    assert outcome.folder.manifest.exclusions["hidden"].keys() == set(plan.items)
    assert len(backend.requests) >= len(plan.agents)
    assert leaks(backend.requests, QUESTIONS, spec.exclusions.hidden, plan.items) == []


def test_run_with_truth_applies_the_exclusions_to_agents_built_before(isolated_workspace, monkeypatch, tmp_path):
    """Agents in a bank were built without knowing what a later run predicts: the run's exclusions still reach
    them (a composite agent predicting abpoor never shows abany/abnomore/absingle; a demographic agent never
    shows political views while polviews is predicted)."""
    bank = AgentBank(isolated_workspace / "agents")
    known = {"abany": "1", "abnomore": "2", "absingle": "1", "abpoor": "2", "natspac": "1", "natenvir": "2"}
    bank.save(CompositeAgent(id="p1-composite", respondent="p1", known_answers=known,
                             questions=[QUESTIONS[q] for q in known]))
    bank.save(DemographicAgent(id="p1-demographic", respondent="p1",
                               demographics={"age": "40", "political_views": "liberal", "religion": "none"}))
    truth = tmp_path / "truth.csv"
    truth.write_text("respondent,question,wave,value\n" + "".join(
        f"p1,{q},{w},{v}\n" for q, v in known.items() for w in (1, 2)) + "p1,polviews,1,2\np1,polviews,2,2\n")
    llm, backend = recording_llm()
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: llm)
    result = CliRunner().invoke(app, ["run", "--instrument", "gss", "--questions", "abpoor,polviews,natspac",
                                      "--truth", str(truth), "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    (folder,) = [RunFolder(p) for p in (isolated_workspace / "runs").iterdir() if (p / "manifest.json").is_file()]
    exclusions = folder.manifest.exclusions
    assert set(exclusions["hidden"]["abpoor"]) == {"abany", "abnomore", "absingle"}
    assert exclusions["dropped_fields"] == {"political_views": "polviews"}
    assert leaks(backend.requests, QUESTIONS, exclusions["hidden"], ["abpoor", "polviews", "natspac"]) == []
    # and the check can fail: the composite agent does show its other answers when they are allowed
    assert any("My answer:" in m["content"] and QUESTIONS["natenvir"].text.strip() in m["content"]
               for r in backend.requests for m in r.messages)
    # the same agent predicting natspac (no near-duplicates) still sees abany: exclusions are per target
    natspac_prompts = [r for r in backend.requests if QUESTIONS["natspac"].text.strip() + "\nOptions" in
                       "\n".join(m["content"] for m in r.messages)]
    assert natspac_prompts


def test_the_checker_finds_a_leak_when_there_is_one():
    """The search is not vacuous: a composite agent without the run's exclusions leaks abany into abpoor."""
    import asyncio

    from simulacra.agent import AnswerOptions

    known = {"abany": "1", "abpoor": "2"}
    agent = CompositeAgent(id="x", known_answers=known, questions=[QUESTIONS[q] for q in known])
    llm, backend = recording_llm()
    asyncio.run(agent.answer([QUESTIONS["abpoor"]], llm=llm, options=AnswerOptions()))
    found = leaks(backend.requests, QUESTIONS, {}, ["abpoor"])
    assert found == ["predicting abpoor: the known answer to abany is in the prompt"]
    fixed = agent.excluding({"abpoor": ["abany"]}, [])
    llm, backend = recording_llm()
    asyncio.run(fixed.answer([QUESTIONS["abpoor"]], llm=llm, options=AnswerOptions()))
    assert leaks(backend.requests, QUESTIONS, {}, ["abpoor"]) == []
    demographic = DemographicAgent(id="d", demographics={"political_views": "liberal"})
    llm, backend = recording_llm()
    asyncio.run(demographic.answer([QUESTIONS["polviews"]], llm=llm, options=AnswerOptions()))
    assert leaks(backend.requests, QUESTIONS, {}, ["polviews"]) == ["demographic field 'Political views' repeats target polviews"]
