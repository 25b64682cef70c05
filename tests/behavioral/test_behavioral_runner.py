"""Running studies: answers stored as they arrive, resume never re-asks, multi-step context, verdicts."""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from typing import Literal

import pytest

from experiments.behavioral.definition import load_study
from experiments.pipeline import plan_experiment, run_async
from experiments.runs import RunFolder
from experiments.runs.folder import RunMismatchError
from experiments.runs.runner import RunInterrupted
from simulacra.agent import Agent
from simulacra.llm import LLM, FakeBackend
from simulacra.workspace import Workspace
from surveys.model import Answer, AnswerStatus, QuestionKind

CALLS: Counter = Counter()  # (agent id, first question id) -> times asked
SEEN: dict[tuple[str, str], dict] = {}  # (agent id, first question id) -> what the agent was shown


class ScriptedAgent(Agent):
    """Answers by rule: picks `yes`/high values when the stimulus contains `trigger`, else the opposite."""

    source: Literal["demographic"] = "demographic"
    trigger: str = "rely on this work"
    broken: bool = False  # raise like a vanished endpoint
    fail_answers: bool = False  # return answers marked failed (invalid model output)

    def stable_content(self):  # the switches stand for transient faults, not for another agent
        return self.model_dump(mode="json", exclude={"broken", "fail_answers"})

    async def prepare(self, questions, *, llm, options):  # answer is overridden below
        return lambda group: ""

    def context_preview(self, questions, **kwargs):
        return f"I am {self.id}."

    async def answer(self, questions, *, llm, options=None, prior=(), stimulus=None):
        if self.broken:
            raise ConnectionError("endpoint went away")
        CALLS[(self.id, questions[0].id)] += 1
        SEEN[(self.id, questions[0].id)] = {"stimulus": stimulus, "prior": list(prior)}
        hit = self.trigger in (stimulus or "") or any(self.trigger in p.stimulus for p in prior)
        answers = []
        for question in questions:
            if self.fail_answers:
                answers.append(Answer(question_id=question.id, status=AnswerStatus.failed, raw="{", error="invalid"))
            elif question.kind == QuestionKind.open:
                answers.append(Answer(question_id=question.id, value=f"story of {self.id}"))
            else:
                codes = [o.code for o in question.options]
                answers.append(Answer(question_id=question.id, value=codes[0] if hit else codes[-1]))
        return answers


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    SEEN.clear()


async def run_experiment(studies, agents, *, run_id=None, seed=0, new_run=False, **kwargs):
    """The pipeline (plan_experiment -> run) with a scripted model (these agents never ask it)."""
    spec = plan_experiment(studies, agents, model={"model": "fake"}, run_id=run_id, seed=seed)
    return await run_async(spec, llm=LLM(FakeBackend()), new_run=new_run, **kwargs)


def agents(n: int, **kwargs) -> list[ScriptedAgent]:
    return [ScriptedAgent(id=f"p{i:02d}", **kwargs) for i in range(n)]


async def test_a_rerun_never_re_asks_an_agent_that_answered():
    studies = [load_study("schilke_2015"), load_study("halevy_halali_2015")]
    answers_each = sum(len(step.questions) for s in studies for step in s.steps)
    first = await run_experiment(studies, agents(8), run_id="r1", seed=5)
    assert first.asked == 8 * answers_each and first.reused == 0 and first.complete
    assert sum(CALLS.values()) == 8 * 3 and set(CALLS.values()) == {1}  # one call per agent and step

    again = await run_experiment(studies, agents(8), run_id="r1", seed=5)
    assert again.asked == 0 and again.reused == 8 * answers_each
    assert sum(CALLS.values()) == 24  # nobody was asked again
    assert again.results["studies"] == first.results["studies"]


async def test_an_endpoint_that_goes_away_interrupts_and_the_same_call_resumes_the_missing_steps():
    study = load_study("schilke_2015")
    crowd = agents(6)
    crowd[2].broken = True
    with pytest.raises(RunInterrupted, match="Run the same command again"):
        await run_experiment([study], crowd, run_id="r2", seed=1, concurrency=1)
    folder = RunFolder.resolve("r2")
    assert folder.manifest.status == "interrupted" and folder.manifest.kind == "experiment"
    kept = folder.answers()
    assert len(kept) == 2 and (kept["status"] == "ok").all()  # answered before the fault; nothing marked failed

    resumed = await run_experiment([study], agents(6), run_id="r2", seed=1)
    assert resumed.asked == 4 and resumed.reused == 2 and resumed.complete
    assert set(CALLS.values()) == {1} and len(CALLS) == 6
    assert folder.manifest.status == "complete"


async def test_assignment_is_balanced_stored_and_each_agent_sees_its_condition():
    study = load_study("cooney_2016")
    outcome = await run_experiment([study], agents(10), run_id="r3", seed=2)
    assignment = outcome.folder.manifest.studies["cooney_2016"].assignment
    sizes = Counter(assignment.values())
    assert set(sizes) == {c.id for c in study.conditions} and max(sizes.values()) - min(sizes.values()) <= 1
    for agent_id, condition_id in assignment.items():
        condition = study.condition(condition_id)
        shown = SEEN[(agent_id, "upset")]["stimulus"]
        assert shown == study.stimulus(study.steps[0], condition)
        assert ("flipping a coin" in shown) == (condition.levels["procedure"] == "fair")
        assert ("you get the $1 bonus" in shown) == (condition.levels["outcome"] == "receive")


async def test_later_steps_see_the_earlier_stimulus_and_the_agents_own_answer():
    study = load_study("halevy_halali_2015")
    outcome = await run_experiment([study], agents(4), run_id="r4", seed=0)
    assignment = outcome.folder.manifest.studies[study.id].assignment
    for agent_id, condition_id in assignment.items():
        first = SEEN[(agent_id, "description")]
        second = SEEN[(agent_id, "benefit")]
        assert first["prior"] == []
        assert len(second["prior"]) == 1
        step = second["prior"][0]
        assert step.stimulus == first["stimulus"]
        assert ("stepped in" in step.stimulus) == (condition_id == "intervened")
        assert step.question == "In two or three sentences, describe what happened."
        assert step.answer == f"story of {agent_id}"
        assert second["stimulus"].startswith("Now think about the conflict")


async def test_an_effect_in_the_hypothesised_direction_replicates_and_the_reverse_does_not():
    study = load_study("schilke_2015")
    # low power ("rely on this work") -> "yes": more trust under low power, as hypothesised
    good = await run_experiment([study], agents(20), run_id="r5", seed=0)
    result = good.results["studies"][0]
    assert result["verdict"] == "replicated" and result["direction"] == 1 and result["p"] < 0.05
    assert result["groups"]["low_power"]["proportion"] == 1.0 and result["groups"]["high_power"]["proportion"] == 0.0
    assert result["human_d"] == pytest.approx(0.33)

    reverse = await run_experiment([study], agents(20, trigger="extra spending money"), run_id="r6", seed=0)
    result = reverse.results["studies"][0]
    assert result["significant"] and result["direction"] == -1 and result["verdict"] == "not replicated"
    on_disk = json.loads((reverse.folder.path / "results.json").read_text())
    assert on_disk["studies"][0]["verdict"] == "not replicated"


async def test_failed_answers_are_kept_and_only_re_asked_on_request():
    study = load_study("schilke_2015")
    first = await run_experiment([study], agents(4, fail_answers=True), run_id="r7", seed=0)
    assert first.results["studies"][0]["n_excluded"] == 4 and first.failed == 4
    assert first.results["studies"][0]["verdict"] == "insufficient data"
    await run_experiment([study], agents(4), run_id="r7", seed=0)
    assert sum(CALLS.values()) == 4
    retried = await run_experiment([study], agents(4), run_id="r7", seed=0, retry_failed=True)
    assert retried.asked == 4 and sum(CALLS.values()) == 8
    assert retried.results["studies"][0]["n"] == 4
    # the failed first attempts are kept in the run's history
    from experiments.runs.store import AnswerKey

    history = retried.folder.store.history(AnswerKey("p00", study.id, f"{study.steps[0].id}/{study.outcome.id}"))
    assert [h["status"] for h in history] == ["failed", "ok"] and history[0]["raw"] == "{"


async def test_a_resume_with_other_agents_a_seed_or_a_changed_study_is_refused_with_what_changed():
    study = load_study("schilke_2015")
    await run_experiment([study], agents(4), run_id="r8", seed=0)
    with pytest.raises(RunMismatchError, match="agents added: p04"):
        await run_experiment([study], agents(5), run_id="r8", seed=0)
    with pytest.raises(RunMismatchError, match="seed 0 -> 1"):
        await run_experiment([study], agents(4), run_id="r8", seed=1)
    changed = study.model_copy(deep=True)
    changed.steps[0].stimulus += " Extra sentence."
    with pytest.raises(RunMismatchError, match="study schilke_2015 definition changed"):
        await run_experiment([changed], agents(4), run_id="r8", seed=0)
    fresh = await run_experiment([changed], agents(4), run_id="r8", seed=0, new_run=True)
    assert fresh.folder.path.name != "r8" and fresh.complete


async def test_answers_live_in_the_shared_run_store_keyed_by_study_and_step():
    study = load_study("halevy_halali_2015")
    outcome = await run_experiment([study], agents(3), run_id="r9", seed=0)
    store_file = outcome.folder.path / "responses.sqlite"
    assert stat.S_IMODE(os.stat(store_file).st_mode) == 0o600
    assert outcome.folder.path.parent == Workspace.default().runs
    assert not (outcome.folder.path / "answers.sqlite").exists()
    frame = outcome.folder.answers()
    assert set(frame["instrument"]) == {study.id}
    assert set(frame["question"]) == {"recall/description", "ratings/benefit", "ratings/cost"}
    assert set(frame["agent"]) == {"p00", "p01", "p02"}
    assert outcome.folder.sessions()[-1]["outcome"] == "complete"


async def test_report_puts_all_studies_of_several_runs_side_by_side(isolated_workspace):
    from rich.console import Console
    from scipy import stats as sps

    from experiments.behavioral.definition import load_studies
    from experiments.behavioral.report import collect, print_report, write_html

    studies = load_studies(["all"])
    # agents lean to the first option whenever the stimulus mentions a trigger present in some conditions only
    one = await run_experiment(studies, agents(24, trigger="deliberately"), run_id="rep-a", seed=0)
    two = await run_experiment(studies, agents(24, trigger="rely on this work"), run_id="rep-b", seed=1)
    collected = collect([RunFolder.resolve("rep-a"), RunFolder.resolve("rep-b")])
    assert [c["run_id"] for c in collected] == ["rep-a", "rep-b"]
    ames = next(s for s in collected[0]["studies"] if s["study_id"] == "ames_fiske_2015")
    assert ames["verdict"] == "replicated" and ames["groups"]["intentional"]["proportion"] == 1.0
    schilke = next(s for s in collected[1]["studies"] if s["study_id"] == "schilke_2015")
    assert schilke["verdict"] == "replicated"
    for results in collected:
        pairs = [(s["d"], s["human_d"]) for s in results["studies"] if s["d"] is not None]
        if results["effect_size_r"] is not None:
            assert results["effect_size_r"] == pytest.approx(sps.pearsonr(*zip(*pairs))[0])
        assert results["effect_size_pairs"] == len(pairs)

    console = Console(width=200, record=True, force_terminal=True)
    print_report(console, collected)
    text = console.export_text()
    assert text.count("│ ames_fiske_2015") == 2 and "run rep-b" in text
    # piped or narrow: plain lines, nothing cut
    piped = Console(width=80, record=True, force_terminal=False)
    print_report(piped, collected)
    plain = piped.export_text()
    assert "│" not in plain and "…" not in plain and plain.count("ames_fiske_2015: chi-square") == 2
    assert "agents: replicated; humans: replicated" in plain
    html = write_html(collected, isolated_workspace / "both.html").read_text()
    assert "Run rep-a" in html and "Run rep-b" in html and html.count("<tr>") >= 10
    assert one.results["studies"] and two.results["studies"]
