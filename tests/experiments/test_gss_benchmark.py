"""The GSS-panel benchmark on the real panels: seeded choice of people and items, agents, and a tiny real run."""

from __future__ import annotations

import json

import pytest

from experiments.scoring.evaluate import EvalSettings
from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.reports.report import write_report
from experiments.runs.spec import RunSpec
from experiments.runs.folder import RunFolder
from experiments.runs.folder import TRUTH_IN_RUN, load_saved_truth, save_truth
from experiments.runs.runner import run_batch
from simulacra.agents.baselines import CompositeAgent, DemographicAgent
from simulacra.llm import LLM, FakeBackend


@pytest.fixture(scope="module")
def panel_2016():
    from surveys.loaders import load_gss_panel

    return load_gss_panel("2016-2020", waves=(1, 2))


def test_plan_is_seeded_and_builds_both_baselines(panel_2016):
    plan = plan_gss_benchmark(people=4, items=6, seed=7, context_items=5, panel=panel_2016)
    again = plan_gss_benchmark(people=4, items=6, seed=7, context_items=5, panel=panel_2016)
    other = plan_gss_benchmark(people=4, items=6, seed=8, context_items=5, panel=panel_2016)
    assert (plan.people, plan.items, plan.context_items) == (again.people, again.items, again.context_items)
    assert (plan.people, plan.items) != (other.people, other.items)
    assert len(plan.items) == 6 and len(plan.people) == 4
    assert not set(plan.items) & set(plan.context_items)
    assert [q.id for q in plan.instrument.questions] == plan.items
    pairs = panel_2016.retest_pairs()
    for person in plan.people:  # every chosen person has a real retest on at least half the items
        assert len(pairs[(pairs.respondent == person) & pairs.question.isin(plan.items)]) >= 3
        demographic = next(a for a in plan.agents if a.id == f"dem-{person}")
        composite = next(a for a in plan.agents if a.id == f"comp-{person}")
        assert isinstance(demographic, DemographicAgent) and isinstance(composite, CompositeAgent)
        if "sex" not in plan.items:
            assert demographic.demographics["sex"] in {"male", "female"}
        # the composite agent knows this person's real wave-1 answers
        for qid, value in composite.known_answers.items():
            assert panel_2016.value(person, qid, 1) == value
        assert plan.respondents[composite.id] == person


def test_the_2006_panel_works_too():
    plan = plan_gss_benchmark("2006", people=3, items=4, seed=1, context_items=0, conditions=["demographic"])
    assert len(plan.agents) == 3 and len(plan.items) == 4
    assert set(plan.truth.waves) == {1, 2}


async def test_benchmark_run_with_a_scripted_model_scores_against_the_panel(tmp_path, panel_2016):
    plan = plan_gss_benchmark(people=3, items=4, seed=2, context_items=3, panel=panel_2016, group_size=4)
    # the scripted model always picks the first option of each question
    def reply(request):
        import re

        keys = re.findall(r"^(\w+)\. ", request.messages[-1]["content"], re.M)
        first = re.findall(r"Options: ([^|\n]+)", request.messages[-1]["content"])
        return json.dumps({k: {"reasoning": "r", "answer": v.strip()} for k, v in zip(keys, first)})

    folder = RunFolder.open(RunSpec.build(plan.agents, [plan.instrument], model={"model": "fake"}, truth=TRUTH_IN_RUN, respondents=plan.respondents, extra=plan.describe()), tmp_path / "runs")
    save_truth(folder, plan.truth)
    await run_batch(folder, plan.agents, [plan.instrument], LLM(FakeBackend(default=reply)), batch_size=4)
    result = write_report(folder, load_saved_truth(folder), EvalSettings(bootstrap=50, min_items=1))
    block = result.metrics["conditions"]["demographic"]["gss"]
    assert block["people"] == 3
    # every agent answered the first option: accuracy is the share of wave-1 answers equal to it
    truth = load_saved_truth(folder)
    expected = []
    for person in plan.people:
        first_wave = truth.wave(1)[person]
        second_wave = truth.wave(2)[person]
        items = [q for q in plan.items if q in first_wave and q in second_wave]
        hits = [first_wave[q] == plan.instrument.question(q).options[0].code for q in items]
        expected.append(sum(hits) / len(items))
    assert {k: result.metrics["answers"][k] for k in ("total", "ok", "failed", "expected")} == {"total": 24, "ok": 24, "failed": 0, "expected": 24}
    # the reference conditions sit beside the agents, on the same people, with a verdict per agent condition
    assert result.metrics["conditions"]["composite_knn"]["gss"]["people"] == 3
    assert {v["condition"] for v in result.metrics["verdicts"]} >= {"demographic", "composite"}
    assert block["accuracy"]["mean"] == pytest.approx(sum(expected) / len(expected))
