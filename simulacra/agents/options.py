"""What every agent kind shares with the answering loop: how to ask (`AnswerOptions`) and earlier steps.

Kept apart from `simulacra.agents.base` so the answering loop and the agent interface import it without
importing each other.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

from pydantic import BaseModel, Field

from surveys.model import Question

AgentSource = Literal["interview", "demographic", "persona", "composite", "combined"]


class AnswerOptions(BaseModel):
    """How to ask. Every agent kind accepts every option; options that do not apply to a kind are ignored."""

    batch_size: int = Field(default=5, ge=1)  # questions per model call
    scoring: Literal["generate", "logprobs"] = "generate"  # logprobs: choice items scored over option letters
    reasoning: bool = True
    max_attempts: int | None = None
    retry_round: int = Field(default=0, ge=0)  # >0 on a --retry-failed pass: a fresh model call
    context_mode: Literal["auto", "full", "retrieved"] | None = None  # interview agents (None: settings)
    per_question_context: bool = False  # interview agents: rebuild the context for every batch
    use_router: bool = True  # interview agents: route questions to expert notes
    leave_out: Literal["item", "kfold"] = "item"  # composite/combined agents: what leaves the context
    folds: int = Field(default=5, ge=2)
    debias: Literal["none", "permute", "calibrate"] = "none"  # logprob scoring only


class PriorStep(BaseModel):
    """A stimulus shown earlier in a multi-step design, and what this agent answered to it."""

    stimulus: str
    question: str | None = None
    answer: str | None = None


ContextFn = Callable[[Sequence[Question]], str]
