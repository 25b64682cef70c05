"""The interview agent: a person's memory stream (interview exchanges + expert reflections) that answers.

Context for answering, always in this order so the prompt prefix stays the same across calls:
persona line, then the interview (the full transcript, or the memories retrieved for the questions
within a token budget), then the notes of the experts the router picked for these questions.

Context modes (`AnswerOptions.context_mode`, default `[memory] context_mode`): `full` gives the whole transcript (the paper's method, for
long-context models); `retrieved` gives retrieved memories (for small local models); `auto` picks full
when the transcript and notes fill at most 60% of the model's context, retrieved otherwise.

By default (`AnswerOptions.per_question_context=False`) one context is built for all questions of a call (retrieval keyed by all of them, the union
of their experts' notes), so every batch shares one warm prefix. `per_question_context=True` rebuilds it
for each batch (each question's own memories and expert), as the genagents code does: closer to the
question, much more prompt to read. `use_router=False` answers without expert notes.

`CombinedAgent` (source "combined", the paper's best condition) is an interview agent that also sees the
person's known survey answers, after the interview, with the composite agent's leave-out rules.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Literal, Sequence

from pydantic import Field, PrivateAttr

from simulacra.agents.answering import render_text
from simulacra.agents.base import Agent, AnswerOptions, ContextFn
from simulacra.agents.baselines import KnownAnswers
from simulacra.agents.memory import (
    MemoryKind,
    MemoryNode,
    MemoryStore,
    RetrievalWeights,
    score_memories,
    select_within_budget,
)
from simulacra.agents.router import EXPERT_TITLES, EXPERTS, route_questions
from simulacra.config import load_settings
from simulacra.errors import SimulacraError
from simulacra.llm import LLM
from simulacra.llm.tokens import approx_tokens
from simulacra.workspace import Workspace
from surveys.model import Question

log = logging.getLogger(__name__)

ContextMode = Literal["auto", "full", "retrieved"]
FULL_CONTEXT_SHARE = 0.6  # "fits comfortably": transcript + notes within this share of the context
ANSWER_HEADROOM = 1500  # tokens kept for the task, questions and answers


class InterviewAgent(Agent):
    source: Literal["interview"] = "interview"
    persona: str = ""
    speaker: str = "Me"
    memories: list[MemoryNode] = Field(default_factory=list)
    clock: int = 0
    weights: RetrievalWeights = Field(default_factory=RetrievalWeights)
    origin: dict[str, Any] = Field(default_factory=dict)  # what it was built from, with which model

    _store: MemoryStore | None = PrivateAttr(default=None)
    _indexed: bool = PrivateAttr(default=False)
    _token_counts: dict[tuple[str, int], int] = PrivateAttr(default_factory=dict)

    # -- memory -------------------------------------------------------------------------------------------
    def attach(self, store: MemoryStore) -> "InterviewAgent":
        """Use `store` for memory vectors (the bank does this on save and load)."""
        self._store = store
        self._indexed = False
        return self

    @property
    def store(self) -> MemoryStore:
        if self._store is None:

            settings = load_settings()
            self._store = MemoryStore.for_bank(Workspace.default().agents, settings.memory.chroma_url)
        return self._store

    def ensure_indexed(self) -> None:
        if not self._indexed:
            added = self.store.index(self.id, self.memories)
            if added:
                log.info("agent %s: embedded %d memories", self.id, added)
            self._indexed = True

    def add_memory(
        self,
        text: str,
        kind: MemoryKind = "observation",
        importance: float = 50.0,
        evidence: Sequence[int] = (),
        expert: str | None = None,
        question_id: str | None = None,
    ) -> MemoryNode:
        self.clock += 1
        node = MemoryNode(
            id=max((m.id for m in self.memories), default=-1) + 1,
            kind=kind,
            text=text,
            created=self.clock,
            last_retrieved=self.clock,
            importance=importance,
            evidence=list(evidence),
            expert=expert,
            question_id=question_id,
        )
        self.memories.append(node)
        self._indexed = False
        return node

    def observations(self) -> list[MemoryNode]:
        return sorted((m for m in self.memories if m.kind == "observation"), key=lambda m: (m.created, m.id))

    def reflections(self, expert: str | None = None) -> list[MemoryNode]:
        return [m for m in self.memories if m.kind == "reflection" and (expert is None or m.expert == expert)]

    def transcript_text(self) -> str:
        return "\n\n".join(m.text.strip() for m in self.observations())

    def retrieve(
        self,
        queries: Sequence[str],
        budget: int,
        count_tokens,
        kinds: Sequence[MemoryKind] = ("observation",),
        update: bool = True,
    ) -> list[MemoryNode]:
        """Memories for `queries` within `budget` tokens, in time order; marks them retrieved (advancing
        the clock) unless `update=False`, which changes nothing on the agent.

        Relevance to several queries is the best of the per-query similarities (a memory that matters
        to any of the questions counts), so one retrieval serves a whole batch of questions.
        """
        candidates = [m for m in self.memories if m.kind in kinds]
        if not candidates:
            return []
        self.ensure_indexed()
        relevance: dict[int, float] = {}
        queries = [q for q in queries if q.strip()] or [""]
        per_query = [self.store.relevance(self.id, q) for q in queries]
        for memory in candidates:
            relevance[memory.id] = float(max(r.get(memory.id, 0.0) for r in per_query))
        now = self.clock + 1
        scores = score_memories(candidates, relevance, now, self.weights)
        chosen = select_within_budget(candidates, scores, budget, count_tokens)
        if update:
            self.clock = now
            for memory in chosen:
                memory.last_retrieved = now
        return chosen

    # -- context ------------------------------------------------------------------------------------------
    def _tokens(self, llm: LLM, text: str) -> int:
        key = (llm.model, hash(text))
        if key not in self._token_counts:
            self._token_counts[key] = llm.count_tokens(text)
        return self._token_counts[key]

    def resolve_context_mode(self, llm: LLM | None, mode: ContextMode = "auto") -> Literal["full", "retrieved"]:
        """`full` or `retrieved`; `auto` decides by the model's context size (approximately without a model)."""
        if mode != "auto":
            return mode
        notes = "\n".join(m.text for m in self.reflections())
        if llm is None:
            size = load_settings().llm.context_size or 8192
            needed = approx_tokens(self.persona + self.transcript_text()) + approx_tokens(notes) + ANSWER_HEADROOM
        else:
            size = llm.context_size
            needed = self._tokens(llm, self.persona + self.transcript_text()) + self._tokens(llm, notes) + ANSWER_HEADROOM
        return "full" if needed <= FULL_CONTEXT_SHARE * size else "retrieved"

    def expert_notes(self, experts: Sequence[str], budget: int | None, count_tokens) -> list[str]:
        """One block of notes per expert (in the fixed expert order), within `budget` tokens in all."""
        blocks: list[str] = []
        spent = 0
        for expert in [e for e in EXPERTS if e in experts]:
            lines = []
            for note in self.reflections(expert):
                cost = count_tokens(note.text) + 2
                if budget is not None and spent + cost > budget:
                    break
                lines.append(f"- {note.text.strip()}")
                spent += cost
            if lines:
                blocks.append(render_text("context_reflections.txt", expert=EXPERT_TITLES[expert], observations="\n".join(lines)))
        return blocks

    def build_context(
        self,
        questions: Sequence[Question],
        count_tokens: Callable[[str], int],
        mode: Literal["full", "retrieved"],
        experts: Sequence[str],
        budget: int,
        update: bool = True,
    ) -> str:
        """Persona line, the interview (whole or retrieved for `questions`), then the notes of `experts`."""
        if mode == "full":
            memories = self.transcript_text()
            notes_budget = None
        else:
            chosen = self.retrieve([q.text for q in questions], budget, count_tokens, update=update)
            memories = "\n\n".join(m.text.strip() for m in chosen)
            notes_budget = budget
        persona = self.persona or (f"I am {self.name}." if self.name else "I am the person interviewed below.")
        parts = [render_text("context_interview.txt", persona=persona, memories=memories)]
        parts += self.expert_notes(sorted(set(experts)), notes_budget, count_tokens)
        return "\n\n".join(parts)

    # -- answering (the loop itself is Agent.answer -> answering.answer_questions) ------------------------
    def context_groups(self, questions: Sequence[Question], options: AnswerOptions) -> list[list[Question]]:
        questions = list(questions)
        if not options.per_question_context:
            return [questions]
        if options.scoring == "logprobs":  # each scored question is its own call: its own context
            rest = [q for q in questions if not q.is_choice]
            return [[q] for q in questions if q.is_choice] + [
                rest[i : i + options.batch_size] for i in range(0, len(rest), options.batch_size)
            ]
        return [questions[i : i + options.batch_size] for i in range(0, len(questions), options.batch_size)]

    async def prepare(self, questions: Sequence[Question], *, llm: LLM, options: AnswerOptions) -> ContextFn:
        questions = list(questions)
        settings = load_settings()
        mode = self.resolve_context_mode(llm, options.context_mode or settings.memory.context_mode)
        budget = settings.memory.token_budget
        routes: dict[str, str | None] = {}
        if options.use_router and self.reflections():
            routes = await route_questions(llm, questions)
        log.debug("agent %s answers %d questions, context %s, routes %s", self.id, len(questions), mode, routes)
        count = lambda text: self._tokens(llm, text)  # noqa: E731

        def experts_for(group: Sequence[Question]) -> list[str]:
            return sorted({routes.get(q.id) for q in group} - {None})  # type: ignore[type-var]

        if options.per_question_context:
            return lambda group: self.build_context(group, count, mode, experts_for(group), budget)
        shared: dict[str, str] = {}

        def context_for(_group: Sequence[Question]) -> str:
            if "text" not in shared:  # one retrieval keyed by all questions: one warm prefix for every batch
                shared["text"] = self.build_context(questions, count, mode, experts_for(questions), budget)
            return shared["text"]

        return context_for

    def context_preview(
        self, questions: Sequence[Question], *, llm: LLM | None = None, options: AnswerOptions | None = None
    ) -> str:
        """The context for `questions` (full transcript or the retrieved view), with every expert's notes
        (routing would need the model); retrieval does not mark memories retrieved or advance the clock."""
        options = options or AnswerOptions()
        settings = load_settings()
        mode = self.resolve_context_mode(llm, options.context_mode or settings.memory.context_mode)
        count = (lambda text: self._tokens(llm, text)) if llm is not None else approx_tokens
        experts = sorted({m.expert for m in self.reflections() if m.expert}) if options.use_router else []
        return self.build_context(list(questions), count, mode, experts, settings.memory.token_budget, update=False)

    # -- identity ------------------------------------------------------------------------------------------
    def stable_content(self) -> dict[str, Any]:
        """Everything but the clock and retrieval times: memories by id, kind, text, importance, evidence,
        expert and question id."""
        data = self.model_dump(mode="json", exclude={"clock", "memories"})
        data["memories"] = [
            m.model_dump(mode="json", include={"id", "kind", "text", "importance", "evidence", "expert", "question_id"})
            for m in sorted(self.memories, key=lambda m: m.id)
        ]
        return data


class CombinedAgent(KnownAnswers, InterviewAgent):
    """The interview plus the person's known survey answers (never those of the items being predicted)."""

    source: Literal["combined"] = "combined"  # type: ignore[assignment]

    def context_groups(self, questions: Sequence[Question], options: AnswerOptions) -> list[list[Question]]:
        return self.leave_out_groups(questions, options)

    async def prepare(self, questions: Sequence[Question], *, llm: LLM, options: AnswerOptions) -> ContextFn:
        interview = await super().prepare(questions, llm=llm, options=options.model_copy(update={"per_question_context": False}))
        return lambda group: interview(group) + "\n\n" + self.known_answers_text(self.left_out(group, options))

    def context_preview(
        self, questions: Sequence[Question], *, llm: LLM | None = None, options: AnswerOptions | None = None
    ) -> str:
        shown = self.known_answers_text(self.left_out(questions, options))
        return super().context_preview(questions, llm=llm, options=options) + "\n\n" + shown

    @classmethod
    def combine(
        cls,
        interview: InterviewAgent,
        known_answers: dict[str, Any],
        questions: Sequence[Question],
        *,
        agent_id: str | None = None,
        exclude: Sequence[str] = (),
        group_size: int = 1,
        hidden_with: dict[str, list[str]] | None = None,
    ) -> "CombinedAgent":
        """A combined agent from an interview agent (its memories, persona, demographics) and known answers.

        The new agent shares the interview agent's memory store; its id defaults to `<interview id>.combined`
        and it is scored as the interview agent's respondent."""
        data = interview.model_dump(exclude={"source"})
        data.update(
            id=agent_id or f"{interview.id}.combined",
            respondent=interview.respondent or interview.id,
            known_answers=dict(known_answers),
            questions=[q.model_copy() for q in questions],
            exclude=list(exclude),
            group_size=group_size,
            hidden_with={k: list(v) for k, v in (hidden_with or {}).items()},
        )
        agent = cls.model_validate(data)
        if interview._store is not None:
            agent.attach(interview._store)
        return agent

    @classmethod
    def from_responses(
        cls,
        interview: InterviewAgent,
        responses: Any,
        instrument: Any,
        *,
        respondent: str | None = None,
        wave: int = 1,
        agent_id: str | None = None,
        exclude: Sequence[str] = (),
        group_size: int = 1,
    ) -> "CombinedAgent":
        """A combined agent from an interview agent and a `surveys.responses.ResponseSet`: the respondent's
        answers (default: the interview agent's respondent) to `instrument`'s items in one wave."""
        person = respondent or interview.respondent or interview.id
        answers = responses.wave(wave).get(person, {})
        if not answers:

            raise SimulacraError(
                f"no answers of respondent {person!r} in wave {wave} of {getattr(responses, 'name', 'the responses')}"
                " (give --respondent as the response file names the person)"
            )
        questions = [q for q in instrument.questions if q.id in answers]
        known = {q.id: answers[q.id] for q in questions}
        combined = cls.combine(interview, known, questions, agent_id=agent_id, exclude=exclude, group_size=group_size)
        combined.respondent = person
        return combined
