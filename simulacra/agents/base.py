"""The one interface every agent shares (interview, demographic, persona, composite, combined): `answer`.

The batch runner, the experiments and the interviewer's closed loop only ever call
`agent.answer(questions, *, llm, options, prior, stimulus)`; they never ask which kind of agent they hold.
Every kind answers through one shared loop (`simulacra.agents.answering.answer_questions`); a kind only
says what its context is (`context_groups` + `prepare`). Concrete agents live in `simulacra.agents`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from pydantic import BaseModel, Field

from simulacra.agents.answering import answer_questions
from simulacra.agents.options import AgentSource, AnswerOptions, ContextFn, PriorStep
from simulacra.llm import provenance
from surveys.model import Answer, Question

if TYPE_CHECKING:
    from simulacra.llm import LLM


class Agent(ABC, BaseModel):
    id: str
    source: AgentSource
    name: str | None = None
    demographics: dict[str, str] = Field(default_factory=dict)
    respondent: str | None = None  # whose human answers score this agent (None: the id)

    async def answer(
        self,
        questions: Sequence[Question],
        *,
        llm: "LLM",
        options: AnswerOptions | None = None,
        prior: Sequence[PriorStep] = (),
        stimulus: str | None = None,
    ) -> list[Answer]:
        """Answer `questions` as this person would, one `Answer` per question in the same order.

        `stimulus` is text shown before the questions (an experiment's vignette); `prior` holds earlier
        steps of a multi-step design. Invalid model output (after repair and retries) comes back as an
        Answer with status `failed`, `raw`, `error` and `attempts`; any other fault (endpoint gone, request
        rejected, memory store, embedder, a bug) raises.
        """

        # every model call made for this answer (routing, answering, repairs) is tagged with whose words it is
        # made from, so withdrawing the person deletes those cache entries (simulacra.llm.provenance)
        with provenance.about(self.scored_as):
            return await answer_questions(self, questions, llm=llm, options=options, prior=prior, stimulus=stimulus)

    # -- what a kind defines -------------------------------------------------------------------------------
    @abstractmethod
    async def prepare(self, questions: Sequence[Question], *, llm: "LLM", options: AnswerOptions) -> ContextFn:
        """Anything that needs the model before contexts can be built (e.g. routing to experts); returns a
        function giving the context text for a group of questions (see `context_groups`)."""

    def context_groups(self, questions: Sequence[Question], options: AnswerOptions) -> list[list[Question]]:
        """Questions that share one context (default: all of them). A kind that leaves items out of its
        context splits here; each group is then asked in batches of `options.batch_size`."""
        return [list(questions)]

    @abstractmethod
    def context_preview(self, questions: Sequence[Question], **kwargs: Any) -> str:
        """The context text the agent would read when answering `questions` (no model call, no side effects).

        Used by leak tests and cost estimates. Where routing would need the model, every expert's notes are
        shown (a superset of what answering uses)."""

    # -- what it sees --------------------------------------------------------------------------------------
    def inputs(self) -> dict[str, Any]:
        """What this agent knows of the person, as data (recorded with a run, so that a matched reference
        condition can be given exactly the same): its demographic fields; kinds with known answers add them."""
        return {"demographic_fields": sorted(self.demographics)} if self.demographics else {}

    # -- exclusions ----------------------------------------------------------------------------------------
    def excluding(self, hidden: Mapping[str, Sequence[str]], dropped_fields: Iterable[str]) -> "Agent":
        """This agent under a run's exclusions (computed once per run; see experiments.runs.spec.Exclusions):
        demographic fields that are or map to a target left out; kinds that show known answers also hide, while an
        item is predicted, the items in `hidden[item]`. Returns self when nothing changes (same fingerprint)."""
        dropped = set(dropped_fields) & set(self.demographics)
        if not dropped:
            return self
        return self.model_copy(update={"demographics": {k: v for k, v in self.demographics.items() if k not in dropped}})

    # -- identity ------------------------------------------------------------------------------------------
    def prefix_key(self) -> str:
        """Work with the same key shares a prompt prefix: schedule it together to keep it warm."""
        return self.id

    def stable_content(self) -> dict[str, Any]:
        """What identifies the agent's behaviour: everything but volatile state (clocks, retrieval times)."""
        return self.model_dump(mode="json")

    def fingerprint(self) -> str:
        """sha256 (hex) of the agent's stable content; retrieval and `agents ask` do not change it."""
        text = json.dumps(self.stable_content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def scored_as(self) -> str:
        """The respondent whose human answers score this agent."""
        return self.respondent or self.id
