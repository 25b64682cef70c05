"""End to end on the real embedded model (SmolLM2-135M, llama.cpp): build, reflect, answer, ask."""

from __future__ import annotations

import pytest
from agent_helpers import sample_transcript_jsonl
from typer.testing import CliRunner

from simulacra.agents.answering import AnswerOptions
from simulacra.agents.build import build_agent_from_transcript
from simulacra.agents.cli import agents_app
from simulacra.agents.router import EXPERTS
from simulacra.llm import open_llm
from surveys.model import AnswerStatus

pytestmark = pytest.mark.embedded


async def test_build_reflect_and_answer_gss_items(tmp_path, sample_dir, bank, gss):
    llm = open_llm(cache=False)
    transcript = sample_transcript_jsonl(sample_dir, tmp_path / "joon.jsonl", exchanges=2, answer_chars=300)
    agent = await build_agent_from_transcript(transcript, llm, bank=bank, reflection_limit=1)
    assert len(agent.observations()) == 2
    assert all(0 <= m.importance <= 100 for m in agent.memories)
    experts = {m.expert for m in agent.reflections()}
    assert experts and experts <= set(EXPERTS)
    assert all(len(m.text) >= 8 for m in agent.reflections())

    items = {q.id: q for q in gss.questions}
    questions = [items["natspac"], items["partyid"], items["polviews"]]
    loaded = bank.load(agent.id)
    answers = await loaded.answer(questions, llm=llm, options=AnswerOptions(batch_size=3))
    assert [a.question_id for a in answers] == ["natspac", "partyid", "polviews"]
    for question, answer in zip(questions, answers):
        assert answer.status == AnswerStatus.ok, answer.error
        assert answer.value in {o.code for o in question.options}

    scored = await loaded.answer(questions[:1], llm=llm, options=AnswerOptions(scoring="logprobs"))
    assert scored[0].value in {"1", "2", "3"} and abs(sum(scored[0].probabilities.values()) - 1) < 1e-6
    assert llm.usage.prompt_tokens_evaluated < llm.usage.prompt_tokens  # the warm prefix was reused


def test_cli_ask(tmp_path, sample_dir):
    import asyncio

    from simulacra.agents.bank import AgentBank

    folder = tmp_path / "bank"
    transcript = sample_transcript_jsonl(sample_dir, tmp_path / "joon.jsonl", exchanges=1, answer_chars=200)
    asyncio.run(build_agent_from_transcript(transcript, open_llm(), bank=AgentBank(folder), reflections=False))
    result = CliRunner().invoke(
        agents_app, ["ask", "joon", "Do you enjoy your work?", "-o", "Yes", "-o", "No", "--agents", str(folder)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].strip() in {"Yes", "No"}


async def test_every_kind_answers_on_the_embedded_model(tmp_path, gss):
    """Interview, demographic, persona, composite and combined agents, generated and option-scored,
    through the one `Agent.answer` (2 items each, no routing: kept small for CI)."""
    from simulacra.agent import AnswerOptions as Options
    from simulacra.agents.baselines import CompositeAgent, DemographicAgent, PersonaAgent
    from simulacra.agents.interview import CombinedAgent, InterviewAgent
    from simulacra.agents.memory import MemoryStore

    items = {q.id: q for q in gss.questions}
    targets = [items["partyid"], items["natspac"]]
    known_items = [items["polviews"], items["natenvir"]]
    known = {q.id: q.options[0].code for q in known_items}
    interview = InterviewAgent(id="joon", persona="I am 30 and live in Palo Alto.").attach(MemoryStore.persistent(tmp_path / "chroma"))
    interview.add_memory("Interviewer: Who do you vote for?\n\nMe: I lean Democrat, fairly liberal.", importance=80)
    interview.add_memory("Interviewer: What about science?\n\nMe: I love space research.", importance=60)
    agents = [
        interview,
        DemographicAgent(id="d1", demographics={"age": "30", "sex": "Male", "political views": "Liberal"}),
        PersonaAgent(id="p1", persona="I am a 30-year-old liberal researcher who loves space science."),
        CompositeAgent(id="c1", known_answers=known, questions=known_items),
        CombinedAgent.combine(interview, known, known_items),
    ]
    llm = open_llm(cache=False)
    for agent in agents:
        for options in (Options(batch_size=2, use_router=False, reasoning=False),
                        Options(scoring="logprobs", use_router=False, debias="permute" if agent.source == "persona" else "none")):
            answers = await agent.answer(targets, llm=llm, options=options)
            assert [a.question_id for a in answers] == ["partyid", "natspac"], agent.source
            for question, answer in zip(targets, answers):
                assert answer.status == AnswerStatus.ok, (agent.source, answer.error)
                assert answer.value in {o.code for o in question.options} and answer.prompt_hash
                if options.scoring == "logprobs":
                    assert abs(sum(answer.probabilities.values()) - 1) < 1e-6
