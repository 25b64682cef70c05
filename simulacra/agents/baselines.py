"""Baseline agents from the paper, with the same `answer` interface as interview agents.

- `DemographicAgent`: a first-person line built from demographic fields (e.g. the GSS ones).
- `PersonaAgent`: the person's own short self-description paragraph.
- `CompositeAgent`: the person's answers to the other items of a survey. The item being predicted is
  left out of the context: questions are answered in small groups and each group's context lists every
  known answer except those of the group (and of their twin wordings, e.g. GSS "natspac"/"natspacy").
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

from pydantic import Field

from simulacra.agent import Agent, PriorStep
from simulacra.agents.answering import AnswerOptions, answer_questions, render_text
from simulacra.agents.profile import persona_line
from simulacra.llm import LLM
from surveys.model import Answer, Question


class _FixedContextAgent(Agent):
    """A baseline whose context is the same for every question (demographics or a persona paragraph)."""

    def context(self) -> str:
        raise NotImplementedError

    async def answer(
        self,
        questions: Sequence[Question],
        *,
        llm: LLM,
        prior: Sequence[PriorStep] = (),
        stimulus: str | None = None,
        options: AnswerOptions | None = None,
    ) -> list[Answer]:
        text = self.context()

        async def context_for(_batch: Sequence[Question]) -> str:
            return text

        return await answer_questions(llm, context_for, questions, prior=prior, stimulus=stimulus, options=options)


class DemographicAgent(_FixedContextAgent):
    source: Literal["demographic"] = "demographic"

    def context(self) -> str:
        return render_text("context_demographic.txt", persona=persona_line(self.demographics) or "(nothing known)")


class PersonaAgent(_FixedContextAgent):
    source: Literal["persona"] = "persona"
    persona: str

    def context(self) -> str:
        return render_text("context_persona.txt", persona=self.persona.strip())


def _twin_key(question: Question) -> str:
    """Questions that are one item in two wordings share a key (GSS y-versions: natspac / natspacy)."""
    item = question.meta.get("paper_item") or question.meta.get("item")
    return str(item) if item else question.id


def format_known_answer(question: Question, value: Any) -> str:
    shown = value
    if question.is_choice:
        try:
            shown = question.option(str(value)).label
        except ValueError:
            shown = value
    return f"- {question.text.strip()}\n  My answer: {shown}"


class CompositeAgent(Agent):
    source: Literal["composite"] = "composite"
    known_answers: dict[str, Any] = Field(default_factory=dict)  # question id -> value (option code, number, text)
    questions: list[Question] = Field(default_factory=list)  # the instrument items the known answers belong to
    group_size: int = Field(default=1, ge=1)  # predicted items per call (each group is left out of its context)

    def context(self, leave_out: Sequence[Question]) -> str:
        """Every known answer except the items in `leave_out` (and their twin wordings)."""
        left_out_ids = {q.id for q in leave_out}
        left_out_twins = {_twin_key(q) for q in leave_out}
        lines = []
        for question in self.questions:
            if question.id in left_out_ids or _twin_key(question) in left_out_twins:
                continue
            if question.id in self.known_answers and self.known_answers[question.id] is not None:
                lines.append(format_known_answer(question, self.known_answers[question.id]))
        return render_text("context_composite.txt", answers="\n".join(lines) or "(none)")

    async def answer(
        self,
        questions: Sequence[Question],
        *,
        llm: LLM,
        prior: Sequence[PriorStep] = (),
        stimulus: str | None = None,
        options: AnswerOptions | None = None,
    ) -> list[Answer]:
        options = (options or AnswerOptions()).model_copy(update={"batch_size": self.group_size})

        async def context_for(batch: Sequence[Question]) -> str:
            return self.context(batch)

        return await answer_questions(llm, context_for, questions, prior=prior, stimulus=stimulus, options=options)
