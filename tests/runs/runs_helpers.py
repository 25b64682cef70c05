"""Small agents and instruments for the run-model tests (no embedded model)."""

from __future__ import annotations

import json
from typing import Any, Literal, Sequence

from simulacra.agent import Agent, AnswerOptions, PriorStep
from simulacra.llm import LLM, FakeBackend
from surveys.model import Answer, Instrument, Option, Question, QuestionKind

MODEL = {"kind": "test", "model": "fake-model"}


def instrument(n: int = 6, instrument_id: str = "mini") -> Instrument:
    return Instrument(id=instrument_id, title="A small battery", questions=[
        Question(id=f"q{i}", text=f"Question {i}?", kind=QuestionKind.ordinal,
                 options=[Option(code=str(k), label=f"level {k}") for k in (1, 2, 3, 4)])
        for i in range(n)
    ])


def echo_reply(request: Any) -> str:
    payload = json.loads(request.messages[-1]["content"])
    return json.dumps({q: "2" for q in payload["questions"]})


def fake_llm(**kwargs: Any) -> LLM:
    return LLM(FakeBackend(default=echo_reply, **kwargs))


class EchoAgent(Agent):
    """One model call per batch; answers what the model says. `explode_on_call` raises like a broken memory
    store on that call (1-based), before the model is asked."""

    source: Literal["demographic"] = "demographic"
    explode_on_call: int | None = None
    explode_with: str = "runtime"
    calls: int = 0
    seen_options: list[dict] = []

    def stable_content(self) -> dict[str, Any]:  # counters are volatile state, as an agent's retrieval clock is
        return self.model_dump(mode="json", exclude={"calls", "seen_options"})

    async def prepare(self, questions, *, llm, options):  # noqa: ANN001,ANN201
        return lambda group: self.context_preview(group)

    def context_preview(self, questions: Sequence[Question], **kwargs: Any) -> str:
        return f"You are {self.id}."

    async def answer(self, questions: Sequence[Question], *, llm: LLM, options: AnswerOptions | None = None,
                     prior: Sequence[PriorStep] = (), stimulus: str | None = None) -> list[Answer]:
        self.calls += 1
        self.seen_options.append((options or AnswerOptions()).model_dump())
        if self.explode_on_call is not None and self.calls >= self.explode_on_call:
            if self.explode_with == "rejected":
                from simulacra.errors import RequestRejectedError

                raise RequestRejectedError("the server rejected the request: prompt too long (400)")
            raise RuntimeError("chromadb: the memory store is unreadable")
        payload = {"agent": self.id, "questions": [q.id for q in questions]}
        result = await llm.chat([{"role": "user", "content": json.dumps(payload)}])
        values = json.loads(result.text)
        return [Answer(question_id=q.id, value=values[q.id], prompt_hash="ph-" + q.id) for q in questions]
