"""The interview agent: a person's memory stream (interview exchanges + expert reflections) that answers.

Context for answering, always in this order so the prompt prefix stays the same across calls:
persona line, then the interview (the full transcript, or the memories retrieved for the questions
within a token budget), then the notes of the experts the router picked for these questions.

Context modes (`[memory] context_mode`): `full` gives the whole transcript (the paper's method, for
long-context models); `retrieved` gives retrieved memories (for small local models); `auto` picks full
when the transcript and notes fill at most 60% of the model's context, retrieved otherwise.

By default one context is built for all questions of a call (retrieval keyed by all of them, the union
of their experts' notes), so every batch shares one warm prefix. `per_question_context=True` rebuilds it
for each batch (each question's own memories and expert), as the genagents code does: closer to the
question, much more prompt to read.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Sequence

from pydantic import Field, PrivateAttr

from simulacra.agent import Agent, PriorStep
from simulacra.agents.answering import AnswerOptions, answer_questions, render_text
from simulacra.agents.memory import MemoryKind, MemoryNode, MemoryStore, RetrievalWeights, score_memories, select_within_budget
from simulacra.agents.router import EXPERT_TITLES, EXPERTS, route_questions
from simulacra.config import Settings, load_settings
from simulacra.llm import LLM
from surveys.model import Answer, Question

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
            from simulacra.workspace import Workspace

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
        """Memories for `queries` within `budget` tokens, in time order; marks them retrieved.

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
        self.clock += 1
        scores = score_memories(candidates, relevance, self.clock, self.weights)
        chosen = select_within_budget(candidates, scores, budget, count_tokens)
        if update:
            for memory in chosen:
                memory.last_retrieved = self.clock
        return chosen

    # -- context ------------------------------------------------------------------------------------------
    def _tokens(self, llm: LLM, text: str) -> int:
        key = (llm.model, hash(text))
        if key not in self._token_counts:
            self._token_counts[key] = llm.count_tokens(text)
        return self._token_counts[key]

    def resolve_context_mode(self, llm: LLM, mode: ContextMode = "auto") -> Literal["full", "retrieved"]:
        if mode != "auto":
            return mode
        notes = "\n".join(m.text for m in self.reflections())
        needed = self._tokens(llm, self.persona + self.transcript_text()) + self._tokens(llm, notes) + ANSWER_HEADROOM
        return "full" if needed <= FULL_CONTEXT_SHARE * llm.context_size else "retrieved"

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
        llm: LLM,
        mode: Literal["full", "retrieved"],
        routes: dict[str, str | None],
        budget: int,
    ) -> str:
        count = lambda text: self._tokens(llm, text)  # noqa: E731
        if mode == "full":
            memories = self.transcript_text()
            notes_budget = None
        else:
            chosen = self.retrieve([q.text for q in questions], budget, count)
            memories = "\n\n".join(m.text.strip() for m in chosen)
            notes_budget = budget
        persona = self.persona or (f"I am {self.name}." if self.name else "I am the person interviewed below.")
        parts = [render_text("context_interview.txt", persona=persona, memories=memories)]
        experts = {routes.get(q.id) for q in questions} - {None}
        parts += self.expert_notes(sorted(experts), notes_budget, count)  # type: ignore[arg-type]
        return "\n\n".join(parts)

    # -- answering ----------------------------------------------------------------------------------------
    async def answer(
        self,
        questions: Sequence[Question],
        *,
        llm: LLM,
        prior: Sequence[PriorStep] = (),
        stimulus: str | None = None,
        options: AnswerOptions | None = None,
        context_mode: ContextMode | None = None,
        per_question_context: bool = False,
        use_router: bool = True,
        settings: Settings | None = None,
    ) -> list[Answer]:
        questions = list(questions)
        if not questions:
            return []
        settings = settings or load_settings()
        mode = self.resolve_context_mode(llm, context_mode or settings.memory.context_mode)
        budget = settings.memory.token_budget
        routes: dict[str, str | None] = {}
        if use_router and self.reflections():
            routes = await route_questions(llm, questions)
        log.debug("agent %s answers %d questions, context %s, routes %s", self.id, len(questions), mode, routes)

        if per_question_context:
            async def context_for(batch: Sequence[Question]) -> str:
                return self.build_context(batch, llm, mode, routes, budget)
        else:
            shared: dict[str, str] = {}

            async def context_for(batch: Sequence[Question]) -> str:
                if "text" not in shared:
                    shared["text"] = self.build_context(questions, llm, mode, routes, budget)
                return shared["text"]

        return await answer_questions(llm, context_for, questions, prior=prior, stimulus=stimulus, options=options)
