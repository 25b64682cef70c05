"""The notebook API (experiments.api) on the real GSS panel with a scripted model: agents, runs through the
pipeline, scoring, tables, comparison, and the leak rule on this entry point."""

from __future__ import annotations

import json
import re

import pytest

import experiments.api as sim
from experiments.runs.folder import RunFolder
from experiments.scoring.leakage import near_duplicates
from simulacra.agent import AnswerOptions
from simulacra.agents.baselines import CompositeAgent, DemographicAgent
from simulacra.errors import SimulacraError
from simulacra.llm import LLM, FakeBackend
from surveys.instruments import load_instrument

ITEMS = ["abany", "cappun", "gunlaw"]


def first_option(request) -> str:
    """The scripted model: the first option of every question in the prompt."""
    text = request.messages[-1]["content"]
    keys = re.findall(r"^(\w+)\. ", text, re.M)
    first = re.findall(r"Options: ([^|\n]+)", text)
    return json.dumps({k: {"reasoning": "r", "answer": v.strip()} for k, v in zip(keys, first)})


class Recorder:
    """A scripted model that keeps every prompt it was sent."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, request) -> str:
        self.prompts.append("\n".join(m["content"] for m in request.messages))
        return first_option(request)


@pytest.fixture(scope="module")
def panel():
    return sim.load_responses("gss-panel-2016-2020")


@pytest.fixture(scope="module")
def gss():
    return load_instrument("gss")


def known_line(question) -> str:
    """How a known answer appears in a context (the start of its line: the question's own wording)."""
    return f"- {question.text.strip()}\n  My answer:"


def test_composite_agents_never_show_a_target_or_its_near_duplicates(panel, gss):
    targets = ["degree", "abany"]
    wave_1 = panel.wave(1)
    # people who answered a target and its near-duplicates in wave 1 (educ for degree, abpoor ... for abany)
    ids = [p for p, a in wave_1.items() if {"degree", "educ", "abany", "abpoor", "abnomore"} <= set(a)][:3]
    assert len(ids) == 3
    # the near-duplicates are asked for as context on purpose: the API must still keep them out
    agents = sim.composite_agents(panel, ids, targets=targets, context=["educ", "abpoor", "abnomore", "cappun", "gunlaw"])
    dups = near_duplicates()
    assert {"educ"} <= dups["degree"] and {"abpoor", "abnomore"} <= dups["abany"]
    for agent in agents:
        assert {"degree", "abany", "cappun"} <= set(agent.known_answers)  # the targets are known (left out in turn)
        for target in targets:
            for options in (AnswerOptions(), AnswerOptions(leave_out="kfold", folds=2)):
                shown = agent.context_preview([gss.question(target)], options=options)
                if options.leave_out == "item":  # the other known answers are still shown (k-fold hides its fold)
                    assert known_line(gss.question("cappun")) in shown
                for hidden in {target} | dups[target]:
                    assert known_line(gss.question(hidden)) not in shown, (agent.id, target, hidden)


def test_combined_agents_never_show_a_target_or_its_near_duplicates(panel, gss):
    from simulacra.agents.interview import InterviewAgent

    person = next(p for p, a in panel.wave(1).items() if {"degree", "educ", "cappun", "gunlaw"} <= set(a))
    interview = InterviewAgent(id="ana", respondent=person, persona="I am Ana.")
    [combined] = sim.combined_agents([interview], panel, targets=["degree", "cappun"], context=["educ", "gunlaw"])
    assert combined.scored_as == person and {"degree", "cappun", "gunlaw"} <= set(combined.known_answers)
    shown = combined.context_preview([gss.question("degree")], options=AnswerOptions())
    assert "I am Ana." in shown and known_line(gss.question("cappun")) in shown
    for hidden in ("degree", "educ"):
        assert known_line(gss.question(hidden)) not in shown


def test_load_agents_reads_the_workspace_bank(isolated_workspace):
    from simulacra.agents.bank import AgentBank

    AgentBank().save(DemographicAgent(id="d1", demographics={"age": "40"}))
    AgentBank().save(DemographicAgent(id="d2", demographics={"age": "50"}))
    assert [a.id for a in sim.load_agents()] == ["d1", "d2"]
    assert [a.demographics for a in sim.load_agents(["d2"])] == [{"age": "50"}]
    with pytest.raises(SimulacraError, match="no agents in"):
        sim.load_agents(bank=isolated_workspace / "empty")


def test_run_instrument_applies_the_runs_exclusions_to_agents_built_elsewhere(panel, gss):
    person = next(p for p, a in panel.wave(1).items() if {"degree", "educ", "cappun"} <= set(a))
    known = {q: panel.value(person, q, 1) for q in ("degree", "educ", "cappun")}
    # hand-built agents that know nothing of the exclusions: a composite with the near-duplicate educ in its
    # context, a demographic agent whose "education" field repeats the target degree
    composite = CompositeAgent(id="comp-x", respondent=person, known_answers=known,
                               questions=[gss.question(q) for q in known])
    demographic = DemographicAgent(id="dem-x", respondent=person, demographics={"education": "Quillfeather College", "age": "40"})
    recorder = Recorder()
    run = sim.run_instrument([composite, demographic], "gss", questions=["degree"], llm=LLM(FakeBackend(default=recorder)))
    assert run.status == "complete" and run.written == 2
    composite_prompts = [p for p in recorder.prompts if "My answer:" in p]
    assert composite_prompts, recorder.prompts
    for prompt in composite_prompts:
        assert known_line(gss.question("educ")) not in prompt  # the near-duplicate of the predicted item
        assert known_line(gss.question("degree")) not in prompt
        assert known_line(gss.question("cappun")) in prompt  # other answers are still shown
    assert not any("Quillfeather" in p for p in recorder.prompts)  # the demographic field repeating the target
    manifest = run.folder.manifest
    assert manifest.exclusions["hidden"]["degree"] == ["educ"]
    assert manifest.exclusions["dropped_fields"] == {"education": "degree"}


def test_demographic_agents_leave_out_fields_that_repeat_a_target(panel):
    ids = sim.sample_people(panel, ["degree", "cappun"], n=3, seed=1)
    with_target = sim.demographic_agents(panel, ids, targets=["degree", "cappun"])
    without = sim.demographic_agents(panel, ids, targets=["cappun"])
    assert [a.id for a in with_target] == [f"dem-{p}" for p in ids]
    assert all("degree" not in a.demographics for a in with_target)
    assert any("degree" in a.demographics for a in without)


def test_run_score_table_report_and_compare_through_the_api(panel, isolated_workspace):
    ids = sim.sample_people(panel, ITEMS, n=3, seed=0)
    agents = sim.demographic_agents(panel, ids, targets=ITEMS) + sim.composite_agents(panel, ids, targets=ITEMS, context=5)
    llm = LLM(FakeBackend(default=first_option))
    run = sim.run_instrument(agents, "gss", questions=ITEMS, truth=panel, llm=llm)
    assert run.status == "complete" and run.written == 6 * 3
    assert run.folder.path.parent == isolated_workspace / "runs"

    metrics = sim.score(run, min_items=1, bootstrap=20)
    assert isinstance(metrics, sim.Metrics)
    assert metrics.conditions["demographic"]["gss"]["people"] == 3
    # every agent answered the first option: accuracy is the share of wave-1 answers equal to it
    gss = load_instrument("gss")
    hits = []
    for person in ids:
        w1, w2 = panel.wave(1)[person], panel.wave(2)[person]
        items = [q for q in ITEMS if q in w1 and q in w2]
        hits.append(sum(w1[q] == gss.question(q).options[0].code for q in items) / len(items))
    assert metrics.conditions["composite"]["gss"]["accuracy"]["mean"] == pytest.approx(sum(hits) / len(hits))

    frame = sim.table(metrics)
    assert {"demographic agents", "composite agents"} <= set(frame.condition)
    assert set(frame.kind) == {"agents", "reference"}
    row = frame[frame.condition == "composite agents"].iloc[0]
    assert row.accuracy == pytest.approx(sum(hits) / len(hits)) and row.people == 3

    result = sim.report(run.folder.path.name, min_items=1, bootstrap=20)  # a run id works too
    assert result.html_path.is_file() and (run.folder.path / "metrics.json").is_file()

    again = sim.run_instrument(agents, "gss", questions=ITEMS, truth=panel, llm=llm)  # the same call resumes
    assert again.folder.path == run.folder.path and again.written == 0 and again.already == 18

    other = sim.run_instrument(agents[:3], "gss", questions=ITEMS, truth=panel, llm=llm, label="demographic only")
    assert other.folder.path != run.folder.path
    sim.report(other, min_items=1, bootstrap=20)
    compared = sim.compare([run, other], bootstrap=20)
    assert json.dumps(compared)  # a plain dict (compare.json holds the same)
    assert len(list((isolated_workspace / "runs").glob("compare-*/compare.html"))) == 1


def test_the_saved_truth_holds_only_the_targets_and_what_the_agents_know(panel):
    ids = sim.sample_people(panel, ITEMS, n=2, seed=3)
    agents = sim.composite_agents(panel, ids, targets=ITEMS, context=4)
    run = sim.run_instrument(agents, "gss", questions=ITEMS, truth=panel, llm=LLM(FakeBackend(default=first_option)))
    from experiments.runs.folder import load_saved_truth

    saved = load_saved_truth(run.folder)
    known = set().union(*(a.known_answers for a in agents))
    assert set(saved.questions) == set(ITEMS) | known
    assert len(saved.respondents) > 100  # everyone: the reference conditions learn from the other people


async def test_the_api_is_synchronous_even_inside_a_running_event_loop(panel):
    """Jupyter runs cells inside an event loop, where asyncio.run refuses: the API must still work there."""
    ids = sim.sample_people(panel, ITEMS, n=1, seed=0)
    run = sim.run_instrument(sim.demographic_agents(panel, ids, targets=ITEMS), "gss", questions=ITEMS, truth=panel,
                             llm=LLM(FakeBackend(default=first_option)))
    assert run.status == "complete" and run.written == 3
    # the run was made on a worker thread: its folder is still readable here (sqlite refuses other threads' handles)
    assert len(run.folder.answers()) == 3
    assert sim.score(run, min_items=1, bootstrap=10).conditions["demographic"]["gss"]["people"] == 1


def test_benchmark_gss_panel_plans_runs_and_reports(isolated_workspace):
    result = sim.benchmark_gss_panel(people=2, items=3, context_items=3, seed=4, bootstrap=20, min_items=1,
                                     llm=LLM(FakeBackend(default=first_option)))
    assert {"demographic", "composite", "majority"} <= set(result.metrics["conditions"])
    assert result.html_path.is_file()
    folder = RunFolder(result.metrics_path.parent)
    assert folder.manifest.extra["benchmark"] == "gss-panel" and len(folder.manifest.agents) == 4


def test_references_and_their_table():
    found = sim.references(people=60, items=4, bootstrap=10)
    frame = sim.table(found)
    assert found.items == 4 and "panel" in frame.columns
    assert {"reference"} <= set(frame.kind) and (frame.people > 0).all()
