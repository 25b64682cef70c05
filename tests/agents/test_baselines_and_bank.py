"""Baseline agents' contexts, and the agent bank on disk."""

from __future__ import annotations

import os

import pytest
from agent_helpers import schema_responder

from simulacra.agents.bank import AgentBank, UnknownAgentError
from simulacra.agents.baselines import CompositeAgent, DemographicAgent, PersonaAgent
from simulacra.agents.interview import InterviewAgent
from simulacra.errors import DataFileError, SimulacraError
from simulacra.llm import LLM, FakeBackend


async def test_composite_leaves_the_predicted_item_and_its_twin_out(gss):
    items = {q.id: q for q in gss.questions}
    natspac, natenvir, natheal = items["natspac"], items["natenvir"], items["natheal"]
    twin = natspac.model_copy(update={"id": "natspacy", "text": "Y-WORDING of space exploration"})
    agent = CompositeAgent(
        id="c1", known_answers={"natspac": "1", "natspacy": "1", "natenvir": "3", "natheal": "2"},
        questions=[natspac, twin, natenvir, natheal],
    )
    backend = FakeBackend(default=schema_responder())
    answers = await agent.answer([natspac, natenvir], llm=LLM(backend))
    assert [a.question_id for a in answers] == ["natspac", "natenvir"]
    first, second = (r.messages[-1]["content"] for r in backend.requests)
    context_1 = first[: first.index("Task:")]
    context_2 = second[: second.index("Task:")]
    assert "space exploration program" not in context_1 and "Y-WORDING" not in context_1
    assert "environment" in context_1 and "My answer: too much" in context_1
    assert "space exploration program" in context_2 and "Y-WORDING" in context_2
    assert "protecting the environment" not in context_2
    assert "My answer: too little" in context_2  # labels, not codes


async def test_demographic_context_is_a_first_person_line():
    agent = DemographicAgent(id="d1", demographics={"first_name": "Ethan", "age": "25", "political_views": "Slightly liberal",
                                                     "street_address": "123 Elmwood Drive"})
    context = agent.context()
    assert context.startswith("About me: I am 25 years old.")
    assert "Political views: Slightly liberal." in context
    assert "Elmwood" not in context and "Ethan" not in context


def test_bank_roundtrip_for_every_kind(bank, gss, tmp_path):
    q = gss.questions[0]
    agents = [
        DemographicAgent(id="d1", demographics={"age": "40"}),
        PersonaAgent(id="p1", persona="I fix bicycles."),
        CompositeAgent(id="c1", known_answers={q.id: "2"}, questions=[q]),
        InterviewAgent(id="i1", name="Ann", persona="I am Ann."),
    ]
    agents[3].add_memory("Interviewer: Hi\n\nAnn: Hello there, I live in Ohio.", importance=70)
    for agent in agents:
        path = bank.save(agent)
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert bank.ids() == ["c1", "d1", "i1", "p1"]
    for agent in agents:
        loaded = bank.load(agent.id)
        assert type(loaded) is type(agent) and loaded.model_dump() == agent.model_dump()
    summary = {s.id: s for s in bank.list()}
    assert summary["i1"].observations == 1 and summary["i1"].source == "interview"
    # the vectors live in the bank's own chroma folder; a new bank object reads them back
    assert (bank.root / "chroma").is_dir()
    assert AgentBank(bank.root).store.count("i1") == 1


def test_bank_errors_name_the_problem(bank):
    with pytest.raises(UnknownAgentError, match="nobody"):
        bank.load("nobody")
    with pytest.raises(SimulacraError, match="not a valid agent name"):
        bank.path("../etc")
    (bank.root / "broken").mkdir(parents=True)
    (bank.root / "broken" / "agent.json").write_text('{"agent": {"id": "broken", "source": "alien"}}')
    with pytest.raises(DataFileError, match=r"agent\.source"):
        bank.load("broken")
    (bank.root / "broken" / "agent.json").write_text("{not json")
    with pytest.raises(DataFileError, match="agent.json:1"):
        bank.load("broken")


def test_default_bank_is_the_workspace(isolated_workspace):
    assert AgentBank().root == isolated_workspace / "agents"
