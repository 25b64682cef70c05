"""Executors: where the runner's units are answered. The driver (the runner) plans units, checks answers and is
the single writer of the run store; an executor only turns (agent, questions, options, sample) into answers.

    local   in this process, on the runner's LLM (what `simulacra run` does by default)
    ray     on a pool of Ray actors, each holding one model client (the embedded model loaded once per actor,
            or an endpoint / fleet client); `pip install 'simulacra[ray]'`. See README.md in this folder.

Ray is imported only by `experiments.runs.executors.ray_executor`, and only when a Ray executor is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Iterator, Protocol, Sequence

from simulacra.agent import Agent, AnswerOptions, PriorStep
from simulacra.config import load_settings
from simulacra.errors import SimulacraError
from simulacra.transcript import read_transcript
from surveys.model import Answer, Question

from experiments.runs.executors.local import LocalExecutor, SampledLLM, sampled

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    slots: int  # how many batches it answers at once (the runner's worker count)
    keeps_prefix_warm: bool  # True: one question a call and agent-major order (the embedded model)

    async def answer(self, agent: Agent, questions: Sequence[Question], *, options: AnswerOptions, sample: int,
                     prior: Sequence[PriorStep] = (), stimulus: str | None = None) -> list[Answer]: ...

    def usage(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def open_executor(name: str, settings: Any, *, address: str | None = None, workspace: Any = None,
                  workers: int | None = None, llm: Any = None, **kwargs: Any) -> Any:
    """The executor called `name` ("local" needs `llm`; "ray" opens the actors from the LLM `settings`)."""
    if name == "local":
        if llm is None:
            raise SimulacraError("the local executor needs the run's LLM")
        return LocalExecutor(llm)
    if name == "ray":
        from experiments.runs.executors.ray_executor import RayExecutor  # Ray: the optional [ray] extra

        return RayExecutor(settings, address=address, workspace=workspace, workers=workers, **kwargs)
    raise SimulacraError(f"unknown executor {name!r} (choose {' or '.join(EXECUTORS)})")


@contextlib.contextmanager
def answering(name: str, settings: Any, workspace: Any, *, address: str | None = None,
              workers: int | None = None) -> Iterator[tuple[Any, Any]]:
    """(llm, executor) for a command: locally the workspace's LLM and a LocalExecutor on it; on Ray no local
    LLM and a Ray executor over actors built from the agents' LLM settings (closed at the end)."""
    if name == "local":
        if address or workers:
            raise SimulacraError("--ray-address and --workers go with --executor ray")
        from simulacra.llm import open_llm  # looked up when called: a test or a caller may swap the workspace's model

        llm = open_llm(settings, workspace)
        yield llm, LocalExecutor(llm)
        return
    executor = open_executor(name, settings.llm, address=address, workspace=workspace, workers=workers)
    try:
        yield None, executor
    finally:
        executor.close()


async def build_agents_on(builder: Any, transcripts: Sequence[Any], bank: Any, *, reflections: bool = True,
                          reflection_limit: int | None = None, agent_id: str | None = None,
                          progress: Any = None, force: bool = False) -> tuple[list[Any], list[tuple[str, str]]]:
    """Interview agents from transcript files, built on `builder` (a RayBuilder) and saved by this process, the
    single writer of `bank` (it embeds the memories into the bank's store when saving). Each file is one unit: a
    file that cannot be read or built is reported as (file, message) and the others are still built. A transcript
    marked unusable is refused (one error naming it) unless `force`, as in the local build."""
    built: list[Any] = []
    errors: list[tuple[str, str]] = []
    gate = asyncio.Semaphore(max(1, int(getattr(builder, "slots", 1))))

    async def one(path: Any) -> None:
        try:
            transcript = read_transcript(path)
            async with gate:
                agent = await builder.build(transcript, reflections=reflections, reflection_limit=reflection_limit,
                                            agent_id=agent_id, force=force)
            bank.save(agent)
        except (SimulacraError, OSError, ValueError) as exc:
            errors.append((str(path), str(exc)))
            return
        built.append(agent)
        if progress:
            progress(f"{path}: saved {agent.id}")

    await asyncio.gather(*(one(path) for path in transcripts))
    order = {str(p): i for i, p in enumerate(transcripts)}
    errors.sort(key=lambda e: order.get(e[0], 0))
    return built, errors


def build_agents(name: str, transcripts: Sequence[Any], bank: Any, *, settings: Any = None,
                 address: str | None = None, workers: int | None = None, reflections: bool = True,
                 reflection_limit: int | None = None, agent_id: str | None = None, progress: Any = None,
                 force: bool = False, **kwargs: Any) -> tuple[list[Any], list[tuple[str, str]], dict[str, Any]]:
    """`simulacra agents build --executor ray`: (agents built and saved, [(file, error)], usage). Handed to the
    agents CLI by the composition root (experiments.wiring.cli_objects; simulacra/ cannot import experiments/)."""
    if name != "ray":
        raise SimulacraError(f"unknown executor {name!r} for building agents (choose {' or '.join(EXECUTORS)})")
    from experiments.runs.executors.ray_executor import RayBuilder  # Ray: the optional [ray] extra

    with RayBuilder(settings or load_settings().llm, address=address, workers=workers, **kwargs) as builder:
        built, errors = asyncio.run(build_agents_on(builder, transcripts, bank, reflections=reflections,
                                                    reflection_limit=reflection_limit, agent_id=agent_id,
                                                    progress=progress, force=force))
        return built, errors, builder.usage()


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "SampledLLM", "sampled", "answering", "build_agents", "build_agents_on", "open_executor"]
