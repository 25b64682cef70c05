"""Baseline agents from the paper, answering through the same `Agent.answer` as interview agents.

- `DemographicAgent`: a first-person line built from demographic fields (e.g. the GSS ones).
- `PersonaAgent`: the person's own short self-description paragraph (`PersonaAgent.from_file`).
- `CompositeAgent`: the person's answers to the other items of a survey. No predicted item reaches the
  context that predicts it:
  - `leave_out="item"` (default): questions are answered in groups of `group_size` and each group's
    context lists every known answer except those of the group;
  - `leave_out="kfold"`: the person's known items are dealt into `folds` folds (twins together, in an
    order fixed by a hash of the item, so a fold never depends on which questions a batch holds) and each
    predicted item is answered from the context without its whole fold: k prompt prefixes per person
    instead of one per item, whatever the batching, at the price of hiding 1/k of the known answers;
  in both, the twin wordings of a left-out item (GSS "natspac"/"natspacy": same `meta.paper_item` or
  `meta.item`) and every id in `exclude` (targets, near-duplicates; set by the benchmark) never appear.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from pydantic import BaseModel, Field

from simulacra.agents.base import Agent, AnswerOptions, ContextFn
from simulacra.agents.answering import render_text
from simulacra.agents.profile import persona_line
from simulacra.errors import DataFileError
from simulacra.llm import LLM
from surveys.model import Question


class _FixedContextAgent(Agent):
    """A baseline whose context is the same for every question (demographics or a persona paragraph)."""

    def context(self) -> str:
        raise NotImplementedError

    async def prepare(self, questions: Sequence[Question], *, llm: LLM, options: AnswerOptions) -> ContextFn:
        text = self.context()
        return lambda _group: text

    def context_preview(self, questions: Sequence[Question], **_: Any) -> str:
        return self.context()


class DemographicAgent(_FixedContextAgent):
    source: Literal["demographic"] = "demographic"

    def context(self) -> str:
        return render_text("context_demographic.txt", persona=persona_line(self.demographics) or "(nothing known)")


class PersonaAgent(_FixedContextAgent):
    source: Literal["persona"] = "persona"
    persona: str

    def context(self) -> str:
        return render_text("context_persona.txt", persona=self.persona.strip())

    @classmethod
    def from_file(
        cls,
        path: Path,
        agent_id: str,
        *,
        name: str | None = None,
        respondent: str | None = None,
        demographics: dict[str, str] | None = None,
    ) -> "PersonaAgent":
        """A persona agent from a text file holding the person's self-description paragraph (UTF-8)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise DataFileError(path, "no such file") from None
        except UnicodeDecodeError as exc:
            raise DataFileError(path, f"not UTF-8 text ({exc.reason})") from None
        if not text:
            raise DataFileError(path, "the persona file is empty: it should hold a paragraph describing the person", line=1)
        return cls(id=agent_id, name=name, respondent=respondent, demographics=dict(demographics or {}), persona=text)


def twin_key(question: Question) -> str:
    """Questions that are one item in two wordings share a key (GSS y-versions: natspac / natspacy)."""
    item = question.meta.get("paper_item") or question.meta.get("item")
    return str(item) if item else question.id


def shown_value(question: Question, value: Any) -> Any:
    """How an answer reads to a person: a choice's option label (the code itself when it names no option)."""
    if question.is_choice:
        try:
            return question.option(str(value)).label
        except ValueError:
            return value
    return value


def format_known_answer(question: Question, value: Any) -> str:
    return f"- {question.text.strip()}\n  My answer: {shown_value(question, value)}"


def _stable_rank(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def fold_assignment(questions: Sequence[Question], folds: int) -> dict[str, int]:
    """Twin key -> fold: the distinct items dealt round-robin into `folds` folds in the order of a hash of their
    key (balanced within one, the same for any subset of questions asked, any batch size, any resume)."""
    keys = sorted({twin_key(q) for q in questions}, key=lambda k: (_stable_rank(k), k))
    return {key: i % max(1, folds) for i, key in enumerate(keys)}


class KnownAnswers(BaseModel):
    """A person's known survey answers shown in a context, with the leave-out rules of the module doc."""

    known_answers: dict[str, Any] = Field(default_factory=dict)  # question id -> value (option code, number, text)
    questions: list[Question] = Field(default_factory=list)  # the instrument items the known answers belong to
    group_size: int = Field(default=1, ge=1)  # leave_out="item": predicted items per context
    exclude: list[str] = Field(default_factory=list)  # question ids never shown (targets, near-duplicates)
    # item -> the other items never shown while it is predicted (its near-duplicates: the run's exclusions)
    hidden_with: dict[str, list[str]] = Field(default_factory=dict)

    def inputs(self) -> dict[str, Any]:
        out = dict(super().inputs())  # type: ignore[misc]
        out["known_items"] = sorted(self.known_answers)
        if self.hidden_with:
            out["hidden_with"] = {k: list(v) for k, v in sorted(self.hidden_with.items())}
        return out

    def excluding(self, hidden: Mapping[str, Sequence[str]], dropped_fields: Iterable[str]) -> Any:
        """Also hide, while an item is predicted, the known items `hidden[item]` names (merged into `hidden_with`)."""
        agent = super().excluding(hidden, dropped_fields)  # type: ignore[misc]
        known = set(self.known_answers)
        merged = {k: set(v) for k, v in self.hidden_with.items()}
        for target, items in hidden.items():
            wanted = {i for i in items if i in known and i != target}
            if wanted:
                merged.setdefault(target, set()).update(wanted)
        merged_lists = {k: sorted(v) for k, v in sorted(merged.items()) if v}
        if merged_lists == {k: sorted(v) for k, v in self.hidden_with.items() if v}:
            return agent
        return agent.model_copy(update={"hidden_with": merged_lists})

    def known_answers_lines(self, leave_out: Sequence[Question]) -> list[str]:
        """Every known answer except the items in `leave_out`, those hidden with them, `exclude`, and the twins
        of any of these."""
        hidden_ids = {q.id for q in leave_out} | set(self.exclude)
        for question in leave_out:
            hidden_ids |= set(self.hidden_with.get(question.id, ()))
        hidden_twins = {twin_key(q) for q in leave_out} | {twin_key(q) for q in self.questions if q.id in hidden_ids}
        lines = []
        for question in self.questions:
            if question.id in hidden_ids or twin_key(question) in hidden_twins:
                continue
            value = self.known_answers.get(question.id)
            if value is not None:
                lines.append(format_known_answer(question, value))
        return lines

    def known_answers_text(self, leave_out: Sequence[Question]) -> str:
        return render_text("context_composite.txt", answers="\n".join(self.known_answers_lines(leave_out)) or "(none)")

    def fold_of(self, question: Question, folds: int) -> int:
        """The fold of `question` among this person's known items (an item they have no answer to: by hash)."""
        key = twin_key(question)
        return fold_assignment(self.questions, folds).get(key, _stable_rank(key) % max(1, folds))

    def left_out(self, group: Sequence[Question], options: AnswerOptions | None) -> list[Question]:
        """What the context answering `group` hides: the group, and under k-fold every known item of its folds."""
        if options is None or options.leave_out != "kfold":
            return list(group)
        folds = {self.fold_of(q, options.folds) for q in group}
        return list(group) + [q for q in self.questions if self.fold_of(q, options.folds) in folds]

    def leave_out_groups(self, questions: Sequence[Question], options: AnswerOptions) -> list[list[Question]]:
        questions = list(questions)
        if options.leave_out == "kfold":  # one group per fold, folds in order, questions in asked order
            by_fold: dict[int, list[Question]] = {}
            for question in questions:
                by_fold.setdefault(self.fold_of(question, options.folds), []).append(question)
            return [by_fold[f] for f in sorted(by_fold)]
        return [questions[i : i + self.group_size] for i in range(0, len(questions), self.group_size)]


class CompositeAgent(KnownAnswers, Agent):
    source: Literal["composite"] = "composite"

    def context(self, leave_out: Sequence[Question]) -> str:
        return self.known_answers_text(leave_out)

    def context_groups(self, questions: Sequence[Question], options: AnswerOptions) -> list[list[Question]]:
        return self.leave_out_groups(questions, options)

    async def prepare(self, questions: Sequence[Question], *, llm: LLM, options: AnswerOptions) -> ContextFn:
        return lambda group: self.context(self.left_out(group, options))

    def context_preview(self, questions: Sequence[Question], *, options: AnswerOptions | None = None, **_: Any) -> str:
        """The context for answering `questions` together (all of them, and under k-fold their folds, left out)."""
        return self.context(self.left_out(questions, options))
