"""The one interface every agent shares (interview, demographic, persona, composite): `answer`.

The batch runner, the experiments and the interviewer's closed loop only ever call this. Concrete agents
live in `simulacra.agents`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal, Sequence

from pydantic import BaseModel, Field

from surveys.model import Answer, Question

AgentSource = Literal["interview", "demographic", "persona", "composite"]


class PriorStep(BaseModel):
    """A stimulus shown earlier in a multi-step design, and what this agent answered to it."""

    stimulus: str
    question: str | None = None
    answer: str | None = None


class Agent(ABC, BaseModel):
    id: str
    source: AgentSource
    name: str | None = None
    demographics: dict[str, str] = Field(default_factory=dict)

    @abstractmethod
    async def answer(
        self,
        questions: Sequence[Question],
        *,
        llm: "LLM",
        prior: Sequence[PriorStep] = (),
        stimulus: str | None = None,
    ) -> list[Answer]:
        """Answer `questions` as this person would, one `Answer` per question in the same order.

        `stimulus` is text shown before the questions (an experiment's vignette); `prior` holds earlier
        steps of a multi-step design. Invalid model output never raises: it comes back as an Answer with
        status `failed`, `raw` and `error` filled.
        """

    def prefix_key(self) -> str:
        """Work with the same key shares a prompt prefix: schedule it together to keep it warm."""
        return self.id


from simulacra.llm import LLM  # noqa: E402  (type only; after the class to keep imports light)
