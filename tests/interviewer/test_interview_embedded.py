"""End to end on the real embedded model: the interviewer interviews an agent (a GSS demographic agent from
the shared data) through a 3-question script, and `simulacra agents build` accepts the transcript."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from interviewer.agent_loop import interview_agent
from interviewer.clock import SpeakingRateClock
from interviewer.engine import EngineSettings, InterviewSession
from interviewer.script import parse_script
from interviewer.storage import TranscriptStore
from simulacra.agents.bank import AgentBank
from simulacra.agents.build import import_demographic_csv
from simulacra.llm import open_llm
from simulacra.transcript import read_transcript
from surveys.paths import shared_data_dir

from interview_fakes import assert_follow_ups_pass

pytestmark = pytest.mark.embedded

SCRIPT = """\
id: e2e
title: Three questions from the paper's script
blocks:
  - id: intro
    questions:
      - {id: intro, kind: intro, budget_s: 0, text: "Hi, {name}! My name is Isabella. Let's get started!"}
  - id: life_story
    questions:
      - id: q002
        budget_s: 240
        objective: Learn where the person grew up and the main events of their life.
        text: "To start, I would like to begin with a big question: tell me the story of your life."
  - id: hopes_values
    questions:
      - {id: q110, budget_s: 30, text: "What do you value the most in your life?"}
      - {id: q007, budget_s: 30, text: "Tell me about anyone else in your life we haven't discussed. Are there people outside of your family who are important to you?"}
  - id: closing
    questions:
      - {id: closing, kind: closing, budget_s: 0, text: "That was the last question. Thank you, {name}!"}
"""


async def test_interviewing_an_agent_gives_a_transcript_agents_build_accepts(tmp_path):
    script = parse_script(SCRIPT, tmp_path / "e2e.yaml")
    csv_path = shared_data_dir() / "genagents_sample" / "gss_demographic_agents_scratch.csv"
    (agent,) = import_demographic_csv(csv_path, AgentBank(tmp_path / "people"), limit=1)
    llm = open_llm(role="interviewer")
    store = TranscriptStore()
    # short replies keep the tiny model's calls quick; the bounds are the same mechanism as the defaults
    settings = EngineSettings(
        max_follow_ups=1, notes_every=3, assessment_chars=200, follow_up_chars=150, max_bullets=6, bullet_chars=80
    )
    session = InterviewSession.open(script, "agent-e2e", llm, store, SpeakingRateClock(), name=agent.name, settings=settings)
    await interview_agent(session, agent, llm)
    answers_checked = [t.meta.get("agent_check") for t in session.turns if t.speaker == "respondent" and t.kind == "answer"]
    assert any(answers_checked)  # the agent's answers were checked

    assert session.finished
    transcript = read_transcript(store.path("agent-e2e"))
    asked = [t for t in transcript.turns if t.speaker == "interviewer" and t.kind != "closing"]
    answers = [t for t in transcript.turns if t.speaker == "respondent"]
    assert len(answers) == len(asked) >= 4 and sum(1 for a in answers if a.text.strip()) >= 3
    assert [t.question_id for t in transcript.turns if t.kind in ("scripted", "intro", "closing")] == [
        "intro", "q002", "q110", "q007", "closing"
    ]
    decisions = [t.meta["decision"] for t in transcript.turns if "decision" in t.meta]
    # the model was consulted on the life story, or the answer was not an answer (the tiny model's reply may be
    # usable or be refused by the checks; every outcome is recorded, and the interview goes on either way)
    life_story = [d for d in decisions if d["question_id"] == "q002"]
    reasons = {"model", "objective_met", "model_error", "probe", "failed_checks", "not_answered"}
    assert life_story and (life_story[0]["reason"] in reasons or life_story[0]["reason"].startswith("answer_"))
    assert all(d["schema_version"] == 1 for d in decisions)
    # every follow-up the interviewer said passes the checks (issue #14: nothing unchecked reaches a person)
    assert_follow_ups_pass(transcript.turns, script, agent.name)
    assert session.notes.updated_at_turn >= 0 and store.notes_path("agent-e2e").is_file()

    from simulacra.agents.cli import agents_app

    # the command runs its own event loop: give it a thread of its own, as a shell would give it a process
    result = await asyncio.to_thread(CliRunner().invoke, agents_app, ["build", str(store.path("agent-e2e")), "--no-reflections"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    built = AgentBank().load("agent-e2e")
    assert built.source == "interview" and len(built.observations()) == sum(1 for a in answers if a.text.strip())


async def test_interview_yield_at_tiny_scale(isolated_workspace):
    """`interview-yield` end to end on the embedded model: one GSS panel person, two held-out items, the life-story
    block, three answers; through the pipeline: a run folder with the ratio to the twin, its interval and the
    reference conditions."""
    from experiments.interview_yield import run_interview_yield
    from experiments.runs.folder import RunFolder

    report = await run_interview_yield(people=1, targets=2, context_items=6, blocks=["life_story"], turns=3, lengths=[1],
                                       bootstrap=20)
    rows = {row["condition"]: row for row in report["conditions"]}
    assert {"twin", "interview"} <= set(rows) and "majority" in report["references"]
    assert report["person_items"] == 2 and rows["twin"]["answered"] >= 1
    for row in rows.values():
        assert 0.0 <= row["accuracy"] <= 1.0 and len(row["ci95"]) == 2
    folder = RunFolder.resolve(report["run"])
    assert (folder.path / "yield.md").is_file() and (folder.path / "metrics.json").is_file()
    assert any((isolated_workspace / "interview-yield").glob("*/transcripts/*.jsonl"))


async def test_the_issues_closed_loop_on_the_embedded_model_no_longer_says_saved(tmp_path):
    """Issue #25 on the embedded default (temperature 0: the same replies every run), as `simulacra interview
    --respondent-agent <the genagents sample agent> --max-minutes 2` runs it. Before the fix the agent was asked
    the intro, answered its checkpoint message ("Saved"), and, shown that exchange as a prior step, said "Saved"
    to every question after it (reproduced on the original tree: 15 x "Saved", then "Yes" x 16 and echoes of the
    questions). Now the intro is not put to the agent, its first reply to the life story is judged, refused and
    asked for once more, and no "Saved" reaches the transcript. (The stop line itself is tested with a scripted
    agent in test_adequacy.py: on this model the answers no longer degenerate far enough to reach it, and ten
    answers of the sample agent take 15-30 minutes here.)"""
    from experiments.demo import sample_agent_folder
    from interviewer.script import load_script, shorten
    from interviewer.validation import embedding_similarity
    from simulacra.agents.build import import_genagents
    from simulacra.workspace import Workspace

    (agent,) = await import_genagents(sample_agent_folder(Workspace.default()), None, AgentBank(), reflections=False)
    store = TranscriptStore()
    llm, agent_llm = open_llm(role="interviewer"), open_llm(role="agents")
    heard: list[tuple[str, list[str]]] = []
    answer = agent.answer

    async def listening(questions, **kwargs):  # what the agent is told: the line and the prior steps
        heard.append((questions[0].text, [step.stimulus + " | " + step.answer for step in kwargs.get("prior", [])]))
        return await answer(questions, **kwargs)

    object.__setattr__(agent, "answer", listening)
    session = InterviewSession.open(shorten(load_script("default"), 2), f"agent-{agent.id}", llm, store, SpeakingRateClock(),
                                    name=agent.name, meta={"respondent_agent": agent.id}, similarity_fn=embedding_similarity())
    try:
        await interview_agent(session, agent, agent_llm, max_turns=2)
    finally:
        await llm.aclose()
        await agent_llm.aclose()
    transcript = read_transcript(store.path(f"agent-{agent.id}"))
    answers = [t for t in transcript.turns if t.speaker == "respondent"]
    assert answers[0].text == "" and answers[0].meta["agent_status"] == "not_asked"  # the intro
    assert not any("checkpoint" in line or "Saved" in " ".join(prior) for line, prior in heard)
    assert heard[0][0].startswith("To start, I would like to begin with a big question")
    said = [a.text for a in answers[1:]]
    assert len(said) == 2 and all(text.strip() and "saved" not in text.casefold() for text in said)
    first = answers[1].meta["agent_check"]
    assert first["first_problems"] and first["regenerated"] == 1  # its first reply was refused and asked for again
    assert all(a.adequacy in ("adequate", "non_answer") for a in answers[1:])
    assert not transcript.meta.get("unusable")
