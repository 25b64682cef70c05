"""Answering with a scripted fake model: batching, schema, validation, repair, failure, logprobs, prefixes."""

from __future__ import annotations

import json

from agent_helpers import schema_responder

from simulacra.agents.answering import AnswerOptions, batch_schema
from simulacra.agents.baselines import PersonaAgent
from simulacra.llm import LLM, FakeBackend
from surveys.model import AnswerStatus, Option, Question, QuestionKind

SPACE = Question(
    id="natspac", text="Are we spending too much, too little, or about the right amount on space exploration?",
    kind=QuestionKind.ordinal,
    options=[Option(code="1", label="too little"), Option(code="2", label="about right"), Option(code="3", label="too much")],
)
PARTY = Question(
    id="partyid", text="Generally speaking, do you think of yourself as a Republican, Democrat, Independent?",
    kind=QuestionKind.categorical,
    options=[Option(code="0", label="Democrat"), Option(code="1", label="Independent"), Option(code="2", label="Republican")],
)
TEMP = Question(id="temp", text="What is the lowest winter temperature you find comfortable, in degrees C?",
                kind=QuestionKind.numeric, min=-30, max=30)
OPEN = Question(id="why", text="What do you value most in life?", kind=QuestionKind.open)

CONTEXT = "How I describe myself: I am a nurse in Ohio who loves baseball."


NURSE = PersonaAgent(id="nurse", persona="I am a nurse in Ohio who loves baseball.")


async def answer_questions(llm, agent, questions, **kwargs):
    """Every agent answers through Agent.answer (one shared loop); the fixed-context persona agent here."""
    return await agent.answer(questions, llm=llm, **kwargs)


def reply(**items):
    return json.dumps({k: {"reasoning": "short", "answer": v} for k, v in items.items()})


async def test_batched_answers_map_labels_to_codes_in_one_call():
    backend = FakeBackend([reply(Q1="about right", Q2="Independent", Q3=-12.5, Q4="My family.")])
    answers = await answer_questions(LLM(backend), NURSE, [SPACE, PARTY, TEMP, OPEN], options=AnswerOptions(batch_size=4))
    assert [a.value for a in answers] == ["2", "1", -12.5, "My family."]
    assert all(a.status == AnswerStatus.ok for a in answers)
    assert answers[2].value < 0  # the sign is kept
    assert answers[0].reasoning == "short"
    assert len(backend.requests) == 1


async def test_schema_offers_only_the_options_shown():
    schema = batch_schema(["Q1", "Q2"], [SPACE, TEMP])
    assert schema["properties"]["Q1"]["properties"]["answer"]["enum"] == ["too little", "about right", "too much"]
    assert schema["properties"]["Q2"]["properties"]["answer"] == {"type": "number", "minimum": -30, "maximum": 30}
    assert list(schema["properties"]["Q1"]["properties"]) == ["reasoning", "answer"]  # reasoning first
    backend = FakeBackend([reply(Q1="too much")])
    await answer_questions(LLM(backend), NURSE, [SPACE])
    assert backend.requests[0].json_schema["properties"]["Q1"]["properties"]["answer"]["enum"][2] == "too much"


async def test_answer_outside_options_is_rejected_and_retried():
    backend = FakeBackend([reply(Q1="way too much"), reply(Q1="too much")])
    answers = await answer_questions(LLM(backend), NURSE, [SPACE])
    assert answers[0].status == AnswerStatus.ok and answers[0].value == "3"
    assert len(backend.requests) == 2
    repair = backend.requests[1].messages[-1]["content"]
    assert "way too much" in repair and "not one of the options" in repair


async def test_out_of_range_number_is_retried():
    backend = FakeBackend([reply(Q1=-45), reply(Q1=-5)])
    answers = await answer_questions(LLM(backend), NURSE, [TEMP])
    assert answers[0].value == -5.0 and len(backend.requests) == 2


async def test_invalid_output_becomes_a_failed_answer_keeping_valid_items():
    backend = FakeBackend(default=reply(Q1="too much", Q2="Whig"))
    answers = await answer_questions(LLM(backend), NURSE, [SPACE, PARTY], options=AnswerOptions(batch_size=2, max_attempts=2))
    assert answers[0].status == AnswerStatus.ok and answers[0].value == "3"
    assert answers[1].status == AnswerStatus.failed
    assert "Whig" in answers[1].raw and "Q2" in answers[1].error
    assert len(backend.requests) == 2


async def test_garbage_output_fails_without_raising():
    backend = FakeBackend(default="I think maybe the second one")
    answers = await answer_questions(LLM(backend), NURSE, [SPACE], options=AnswerOptions(max_attempts=2))
    assert answers[0].status == AnswerStatus.failed and answers[0].raw == "I think maybe the second one"


async def test_batches_share_the_context_prefix_and_questions_come_last():
    backend = FakeBackend(default=schema_responder())
    questions = [SPACE, PARTY, TEMP, OPEN]
    await answer_questions(LLM(backend), NURSE, questions, options=AnswerOptions(batch_size=1))
    users = [r.messages[-1]["content"] for r in backend.requests]
    assert len(users) == 4
    assert all(u.startswith(CONTEXT) for u in users)
    systems = {r.messages[0]["content"] for r in backend.requests}
    assert len(systems) == 1
    for user, question in zip(users, questions):
        assert question.text in user
        assert user.index(question.text) > user.index("Task:")
    # everything before the question is identical across calls
    prefixes = {u[: u.index("Q1. ")] for u in users}
    assert len(prefixes) == 1


async def test_prior_steps_and_stimulus_are_shown():
    from simulacra.agent import PriorStep

    backend = FakeBackend(default=schema_responder())
    await answer_questions(
        LLM(backend), NURSE, [OPEN],
        prior=[PriorStep(stimulus="You received $5.", question="How much do you give?", answer="2")],
        stimulus="Now imagine you received $10.",
    )
    user = backend.requests[0].messages[-1]["content"]
    assert "You received $5." in user and "You answered: 2" in user and "Now imagine you received $10." in user
    assert user.index("You received $5.") < user.index("Q1. ")


async def test_logprob_scoring_fills_probabilities():
    def logprobs(messages, letters):
        assert letters == ["A", "B", "C"]
        assert "B) about right" in messages[-1]["content"]
        return {"A": -3.0, "B": -0.2, "C": -2.0}

    backend = FakeBackend(logprobs=logprobs, default=schema_responder())
    answers = await answer_questions(LLM(backend), NURSE, [SPACE, OPEN], options=AnswerOptions(scoring="logprobs"))
    assert answers[0].value == "2"
    assert sum(answers[0].probabilities.values()) == 1.0 or abs(sum(answers[0].probabilities.values()) - 1) < 1e-9
    assert answers[0].probabilities["2"] > answers[0].probabilities["3"] > answers[0].probabilities["1"]
    assert answers[1].value == "because of what they said"  # open questions are generated


async def test_agent_answer_interface():
    agent = PersonaAgent(id="p1", persona="I am a retired teacher who reads the news every day.")
    backend = FakeBackend([reply(Q1="Democrat")])
    answers = await agent.answer([PARTY], llm=LLM(backend))
    assert answers[0].question_id == "partyid" and answers[0].value == "0"
    assert backend.requests[0].messages[-1]["content"].startswith("How I describe myself: I am a retired teacher")
