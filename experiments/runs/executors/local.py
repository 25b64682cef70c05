"""The local executor: answers in this process on one LLM. It is the runner's default (the one answer path of a
run on this machine); `experiments.runs.executors.ray_executor` is the other."""

from __future__ import annotations

from typing import Any, Sequence

from simulacra.agent import Agent, AnswerOptions, PriorStep
from simulacra.environment import run_environment
from simulacra.llm.fleet import prefix_scope
from surveys.model import Answer, Question


class SampledLLM:
    """The same LLM, with `sample=k` on every call, so repeated samples are distinct cache entries."""

    def __init__(self, llm: Any, sample: int):
        self._llm = llm
        self._sample = sample

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)

    async def chat(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("sample", self._sample)
        return await self._llm.chat(*args, **kwargs)

    async def structured(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("sample", self._sample)
        return await self._llm.structured(*args, **kwargs)


def sampled(llm: Any, sample: int) -> Any:
    return llm if sample == 0 else SampledLLM(llm, sample)


class LocalExecutor:
    """Answers in this process on one LLM. On the embedded model (`keeps_prefix_warm`) one batch at a time, so an
    agent's prompt prefix stays in llama.cpp's cache; against an endpoint, up to its `max_concurrency` at once."""

    def __init__(self, llm: Any, concurrency: int | None = None):
        self.llm = llm
        self.keeps_prefix_warm = bool(llm.keeps_prefix_warm)
        self.slots = concurrency or (1 if self.keeps_prefix_warm else int(llm.settings.max_concurrency))

    async def answer(self, agent: Agent, questions: Sequence[Question], *, options: AnswerOptions, sample: int,
                     prior: Sequence[PriorStep] = (), stimulus: str | None = None) -> list[Answer]:
        with prefix_scope(agent.prefix_key()):  # an inference fleet routes the agent's calls to one replica
            return await agent.answer(questions, llm=sampled(self.llm, sample), options=options, prior=tuple(prior),
                                      stimulus=stimulus)

    def usage(self) -> dict[str, Any]:
        return self.llm.usage.snapshot()

    def environment(self) -> dict[str, Any]:
        """What answers were computed with (recorded in the run's manifest)."""
        return run_environment(self.llm.settings, self.llm)

    def close(self) -> None:
        return None
