"""The expert router and the interview agent's context (with a scripted fake model)."""

from __future__ import annotations

import json

from agent_helpers import schema_responder

from simulacra.agent import AnswerOptions
from simulacra.agents.interview import InterviewAgent
from simulacra.agents.memory import MemoryStore
from simulacra.agents.router import route_questions
from simulacra.llm import LLM, FakeBackend
from surveys.model import Option, Question, QuestionKind

PARTY = Question(id="partyid", text="Do you think of yourself as a Republican, Democrat or Independent?",
                 kind=QuestionKind.categorical,
                 options=[Option(code="0", label="Democrat"), Option(code="1", label="Independent"), Option(code="2", label="Republican")])
TRUST = Question(id="trust", text="Can most people be trusted?", kind=QuestionKind.categorical,
                 options=[Option(code="1", label="Can trust"), Option(code="2", label="Cannot trust")])


async def test_router_returns_what_the_model_says():
    backend = FakeBackend([json.dumps({"Q1": "political_scientist", "Q2": "behavioral_economist"})])
    routes = await route_questions(LLM(backend), [PARTY, TRUST])
    assert routes == {"partyid": "political_scientist", "trust": "behavioral_economist"}
    schema = backend.requests[0].json_schema
    assert schema["properties"]["Q1"]["enum"] == ["psychologist", "behavioral_economist", "political_scientist", "demographer"]


async def test_router_retries_a_wrong_expert_then_gives_up_without_raising():
    backend = FakeBackend([json.dumps({"Q1": "astrologer"}), json.dumps({"Q1": "demographer"})])
    assert await route_questions(LLM(backend), [PARTY]) == {"partyid": "demographer"}
    stubborn = FakeBackend(default=json.dumps({"Q1": "astrologer"}))
    assert await route_questions(LLM(stubborn), [PARTY]) == {"partyid": None}


def make_agent(tmp_path) -> InterviewAgent:
    agent = InterviewAgent(id="joon", name="Joon", persona="I am 30 years old.").attach(MemoryStore.persistent(tmp_path / "chroma"))
    agent.add_memory("Interviewer: Who do you vote for?\n\nJoon: I lean Democrat, slightly liberal.", importance=80)
    agent.add_memory("Interviewer: Tell me about money.\n\nJoon: I save most of what I earn.", importance=60)
    agent.add_memory("POLITICAL NOTE: leans liberal", "reflection", expert="political_scientist")
    agent.add_memory("ECONOMIC NOTE: careful saver", "reflection", expert="behavioral_economist")
    return agent


async def test_routed_experts_notes_go_with_the_context(tmp_path):
    agent = make_agent(tmp_path)
    backend = FakeBackend([json.dumps({"Q1": "political_scientist"})], default=schema_responder())
    answers = await agent.answer([PARTY], llm=LLM(backend), options=AnswerOptions(context_mode="full"))
    assert answers[0].value == "0"
    user = backend.requests[1].messages[-1]["content"]
    assert "POLITICAL NOTE" in user and "ECONOMIC NOTE" not in user
    assert user.index("I lean Democrat") < user.index("POLITICAL NOTE") < user.index("Q1. ")
    assert user.startswith("About me: I am 30 years old.")


async def test_retrieved_mode_respects_the_budget_and_full_mode_has_everything(tmp_path, monkeypatch):
    agent = make_agent(tmp_path)
    monkeypatch.setenv("SIMULACRA_TOKEN_BUDGET", "25")
    backend = FakeBackend(default=schema_responder())
    await agent.answer([PARTY], llm=LLM(backend), options=AnswerOptions(context_mode="retrieved", use_router=False))
    monkeypatch.delenv("SIMULACRA_TOKEN_BUDGET")
    user = backend.requests[0].messages[-1]["content"]
    assert ("I lean Democrat" in user) != ("I save most" in user)  # only one exchange fits 25 tokens
    backend = FakeBackend(default=schema_responder())
    await agent.answer([PARTY], llm=LLM(backend), options=AnswerOptions(context_mode="full", use_router=False))
    user = backend.requests[0].messages[-1]["content"]
    assert "I lean Democrat" in user and "I save most" in user


def test_auto_mode_picks_by_context_size(tmp_path):
    agent = make_agent(tmp_path)
    assert agent.resolve_context_mode(LLM(FakeBackend(context_size=8192))) == "full"
    for _ in range(60):
        agent.add_memory("Interviewer: And then?\n\nJoon: " + "a long story about my life " * 40)
    assert agent.resolve_context_mode(LLM(FakeBackend(context_size=8192))) == "retrieved"
    assert agent.resolve_context_mode(LLM(FakeBackend(context_size=128_000))) == "full"


async def test_shared_context_is_built_once_per_call_and_per_question_context_differs(tmp_path):
    agent = make_agent(tmp_path)
    backend = FakeBackend(default=schema_responder())
    await agent.answer([PARTY, TRUST], llm=LLM(backend),
                       options=AnswerOptions(batch_size=1, context_mode="retrieved", use_router=False))
    first, second = (r.messages[-1]["content"] for r in backend.requests)
    assert first[: first.index("Q1. ")] == second[: second.index("Q1. ")]
