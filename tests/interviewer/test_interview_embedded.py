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
    llm = open_llm()
    store = TranscriptStore()
    # short replies keep the tiny model's calls quick; the bounds are the same mechanism as the defaults
    settings = EngineSettings(
        max_follow_ups=1, notes_every=3, assessment_chars=200, follow_up_chars=150, max_bullets=6, bullet_chars=80
    )
    session = InterviewSession.open(script, "agent-e2e", llm, store, SpeakingRateClock(), name=agent.name, settings=settings)
    await interview_agent(session, agent, llm)

    assert session.finished
    transcript = read_transcript(store.path("agent-e2e"))
    asked = [t for t in transcript.turns if t.speaker == "interviewer" and t.kind != "closing"]
    answers = [t for t in transcript.turns if t.speaker == "respondent"]
    assert len(answers) == len(asked) >= 4 and sum(1 for a in answers if a.text.strip()) >= 3
    assert [t.question_id for t in transcript.turns if t.kind in ("scripted", "intro", "closing")] == [
        "intro", "q002", "q110", "q007", "closing"
    ]
    decisions = [t.meta["decision"] for t in transcript.turns if "decision" in t.meta]
    # the model was consulted on the life story (the tiny model's reply may be usable or be rejected by the
    # checks; both outcomes are recorded, and the interview goes on either way)
    life_story = [d for d in decisions if d["question_id"] == "q002"]
    assert life_story and life_story[0]["reason"] in ("model", "objective_met", "model_error")
    assert all(d["reason"] in ("no_budget", "time", "declined", "follow_up_limit", "model", "objective_met", "model_error") for d in decisions)
    assert session.notes.updated_at_turn >= 0 and store.notes_path("agent-e2e").is_file()

    from simulacra.agents.cli import agents_app

    # the command runs its own event loop: give it a thread of its own, as a shell would give it a process
    result = await asyncio.to_thread(CliRunner().invoke, agents_app, ["build", str(store.path("agent-e2e")), "--no-reflections"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    built = AgentBank().load("agent-e2e")
    assert built.source == "interview" and len(built.observations()) == sum(1 for a in answers if a.text.strip())
