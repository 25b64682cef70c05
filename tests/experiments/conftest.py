"""Fixtures for batch and evaluation tests: small fake agents that really call the (scripted) model.

(pyproject's `pythonpath = ["."]` keeps `import experiments` on the real package, not this folder.)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, Sequence

import pytest

from simulacra.agent import Agent, PriorStep
from simulacra.llm import LLM, FakeBackend
from simulacra.llm.types import ChatRequest
from surveys.model import Answer, AnswerStatus, Instrument, Option, Question, QuestionKind


def pick(agent_id: str, question: Question) -> Any:
    """A deterministic 'opinion' of a fake agent: an option chosen by hashing agent and question."""
    digest = int(hashlib.sha256(f"{agent_id}/{question.id}".encode()).hexdigest(), 16)
    if question.is_choice:
        return question.options[digest % len(question.options)].code
    if question.kind == QuestionKind.numeric:
        return question.min + digest % int(question.max - question.min + 1)
    return "text"


def fake_reply(request: ChatRequest) -> str:
    """The scripted model: reads the agent id and questions from the prompt JSON and answers them."""
    payload = json.loads(request.messages[-1]["content"])
    return json.dumps({q["id"]: q["answer"] for q in payload["questions"]})


class FakeAgent(Agent):
    """Asks the model one call per batch with its id and the questions; answers what the model says."""

    source: Literal["interview", "demographic", "persona", "composite"] = "demographic"
    fail_questions: list[str] = []

    async def prepare(self, questions, *, llm, options):  # noqa: ANN001,ANN201  (answer is overridden below)
        return lambda group: self.context_preview(group)

    def context_preview(self, questions: Sequence[Question], **kwargs: Any) -> str:
        return f"You are {self.id}."

    async def answer(self, questions: Sequence[Question], *, llm: LLM, options: Any = None, prior: Sequence[PriorStep] = (),
                     stimulus: str | None = None) -> list[Answer]:
        payload = {"agent": self.id, "questions": [{"id": q.id, "answer": pick(self.id, q)} for q in questions]}
        result = await llm.chat([{"role": "system", "content": f"You are {self.id}."}, {"role": "user", "content": json.dumps(payload)}])
        values = json.loads(result.text)
        out = []
        for question in questions:
            if question.id in self.fail_questions:
                out.append(Answer(question_id=question.id, status=AnswerStatus.failed, raw=result.text, error="invalid"))
            else:
                out.append(Answer(question_id=question.id, value=values[question.id], reasoning="because"))
        return out


def make_instrument(n: int = 7, instrument_id: str = "mini") -> Instrument:
    questions = []
    for i in range(n):
        if i % 3 == 2:
            questions.append(Question(id=f"q{i}", text=f"Question {i}?", kind=QuestionKind.categorical,
                                      options=[Option(code=c, label=c) for c in ("red", "green", "blue")]))
        else:
            questions.append(Question(id=f"q{i}", text=f"Question {i}?", kind=QuestionKind.ordinal,
                                      options=[Option(code=str(k), label=f"level {k}") for k in (1, 2, 3, 4)]))
    return Instrument(id=instrument_id, title="A small battery", questions=questions)


@pytest.fixture
def instrument() -> Instrument:
    return make_instrument()


@pytest.fixture
def agents() -> list[FakeAgent]:
    return [FakeAgent(id=f"agent-{i}") for i in range(3)]


@pytest.fixture
def fake_llm():
    def factory(**kwargs: Any) -> LLM:
        return LLM(FakeBackend(default=fake_reply, **kwargs))

    return factory
