"""The Ray executor: a run's batches answered on a pool of Ray actors, each holding one model client.

- Each actor (`AnswerWorker`) builds its LLM once from the run's LLM settings (sent as JSON): the embedded
  llama.cpp model loaded once per actor, or an endpoint / fleet client. Agents travel as their pydantic JSON
  (put in Ray's object store once per agent, rebuilt and kept by the actor); an interview agent's memory
  vectors are read where the driver's bank keeps them: a chromadb server (`SIMULACRA_CHROMA_URL`, any
  machine) or the bank's embedded chromadb folder (same machine only).
- All batches of one agent go to one actor (the least busy one when the agent is first seen), so the agent's
  prompt prefix stays warm in that actor's model or on that actor's fleet replica.
- The driver (the runner) is the single writer of the run store: actors return answers and their usage; the
  runner checks and writes each batch in one transaction, and an `ok` answer is never written twice.
- Faults: an actor that dies (killed, OOM, node lost) is restarted by Ray (`max_restarts`) and its in-flight
  batch is retried on it (`max_task_retries`); the answer comes back once. Application errors are not retried
  by Ray: they reach the runner's failure taxonomy unchanged (endpoint gone -> interrupted, anything else ->
  stopped). An actor that stays dead stops the run with everything saved; the same command resumes it.
- Usage (tokens, cost, calls) is each actor incarnation's running total, summed on the driver.
"""

from __future__ import annotations

import asyncio
import math
import os
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Sequence

try:
    import ray
    from ray.exceptions import RayActorError, RayTaskError
except ImportError as exc:  # pragma: no cover - the optional extra
    raise ImportError("the Ray executor needs Ray: pip install 'simulacra[ray]'") from exc

from experiments.runs.executors.local import SampledLLM
from simulacra.agent import Agent, AnswerOptions, PriorStep
from simulacra.agents.bank import AGENT_CLASSES
from simulacra.agents.build import build_agent_from_transcript
from simulacra.agents.interview import InterviewAgent
from simulacra.agents.memory import MemoryStore
from simulacra.config import LLMSettings, load_settings
from simulacra.environment import run_environment
from simulacra.errors import SimulacraError
from simulacra.llm import LLM, ResponseCache, make_backend
from simulacra.llm.fleet import parse_replica, prefix_scope
from simulacra.transcript import Transcript
from simulacra.workspace import Workspace
from surveys.model import Answer, Question

# what the actors need of the driver's environment (workspace, offline model files, memory settings)
_ENV_PREFIXES = ("SIMULACRA_HOME", "SIMULACRA_CHROMA_URL", "SIMULACRA_EMBEDDING", "SIMULACRA_CONTEXT_MODE",
                 "SIMULACRA_TOKEN_BUDGET", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME")
AGENTS_KEPT = 64  # rebuilt agents an actor keeps (its current agents; older ones are rebuilt when they return)


class RayWorkerLost(SimulacraError):
    """A Ray actor died and stayed dead after its restarts; everything answered so far is saved."""


def agent_payload(agent: Agent) -> dict[str, Any]:
    """An agent as it travels: its pydantic JSON, its kind, and where its memory vectors are (interview agents)."""
    store = getattr(agent, "_store", None)
    where = getattr(store, "where", None)
    if where == "memory":
        raise SimulacraError(f"agent {agent.id}'s memories are in an in-process chromadb; a Ray worker cannot read "
                             "them (use a bank folder or a chromadb server, SIMULACRA_CHROMA_URL)")
    return {"source": agent.source, "agent": agent.model_dump(mode="json"), "memory": where}


def rebuild_agent(payload: dict[str, Any], stores: dict[str, Any]) -> Agent:
    agent = AGENT_CLASSES[payload["source"]].model_validate(payload["agent"])
    where = payload.get("memory")
    if where and hasattr(agent, "attach"):
        if where not in stores:
            stores[where] = MemoryStore.server(where) if "://" in where else MemoryStore.persistent(Path(where))
        agent.attach(stores[where])
    return agent


def worker_llm(settings: dict[str, Any], home: str | None, cache: bool,
               backend_factory: Callable[[LLMSettings], Any] | None = None) -> Any:
    """An actor's one model client, built from the driver's LLM settings (JSON)."""

    llm_settings = LLMSettings.model_validate(settings)
    workspace = Workspace(Path(home)) if home and Path(home).is_dir() else None
    backend = backend_factory(llm_settings) if backend_factory else make_backend(llm_settings, workspace)
    limit = getattr(backend, "total_concurrency", None)
    if limit:
        llm_settings = llm_settings.model_copy(update={"max_concurrency": limit})
    store = ResponseCache(workspace.cache / "llm.sqlite") if cache and workspace is not None else None
    return LLM(backend, llm_settings, store)


class AnswerWorker:
    """One Ray actor: one model client, answering batches for the driver (see the module docstring)."""

    def __init__(self, settings: dict[str, Any], home: str | None, cache: bool,
                 backend_factory: Callable[[LLMSettings], Any] | None = None):
        self.incarnation = uuid.uuid4().hex[:12]
        self.llm = worker_llm(settings, home, cache, backend_factory)
        self.agents: OrderedDict[str, Agent] = OrderedDict()
        self.stores: dict[str, Any] = {}

    def _agent(self, key: str, payload: dict[str, Any]) -> Agent:
        agent = self.agents.get(key)
        if agent is None:
            agent = self.agents[key] = rebuild_agent(payload, self.stores)
            while len(self.agents) > AGENTS_KEPT:
                self.agents.popitem(last=False)
        self.agents.move_to_end(key)
        return agent

    async def answer(self, key: str, payload: dict[str, Any], questions: list[dict[str, Any]], options: dict[str, Any],
                     sample: int, prior: list[dict[str, Any]], stimulus: str | None, prefix: str) -> dict[str, Any]:

        agent = self._agent(key, payload)
        llm = self.llm if sample == 0 else SampledLLM(self.llm, sample)
        with prefix_scope(prefix):
            answers = await agent.answer([Question.model_validate(q) for q in questions], llm=llm,
                                         options=AnswerOptions.model_validate(options),
                                         prior=tuple(PriorStep.model_validate(p) for p in prior), stimulus=stimulus)
        return {"answers": [a.model_dump(mode="json") for a in answers], "usage": self.llm.usage.snapshot(),
                "incarnation": self.incarnation, "pid": os.getpid()}

    def ping(self) -> dict[str, Any]:
        return {"incarnation": self.incarnation, "pid": os.getpid()}


def _fleet_limit(settings: LLMSettings) -> int:
    if settings.uses_fleet:

        return sum(parse_replica(url, settings.max_concurrency)[1] for url in settings.base_urls)
    return int(settings.max_concurrency)


class _ActorPool:
    """What the answering and the building pools share: usage summed over actor incarnations, and shutdown."""

    actors: list[Any]
    _usage: dict[Any, dict[str, Any]]
    _started: bool

    def usage(self) -> dict[str, Any]:
        total: dict[str, Any] = {}
        for snapshot in list(self._usage.values()):
            for k, v in snapshot.items():
                if isinstance(v, (int, float)):
                    total[k] = total.get(k, 0) + v
        return total

    def _record_usage(self, incarnation: str, snapshot: dict[str, Any]) -> None:
        """Keep an actor's running totals. Replies from one actor can arrive out of order (it answers several
        calls at once), so an older snapshot must not overwrite a newer one: totals only grow, keep the max."""
        kept = self._usage.setdefault(incarnation, {})
        for k, v in snapshot.items():
            if isinstance(v, (int, float)):
                kept[k] = max(kept.get(k, v), v)

    def close(self) -> None:
        for actor in self.actors:
            try:
                ray.kill(actor)
            except Exception:  # already gone
                pass
        self.actors = []
        if self._started:
            ray.shutdown()
            self._started = False

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RayExecutor(_ActorPool):
    """Answers the runner's batches on Ray actors. `address`: None starts a local cluster sized to this machine
    (at most 2 CPUs, no dashboard, loopback only); "auto" or "ray://host:port" joins an existing one."""

    def environment(self) -> dict[str, Any]:
        """What the actors answer with, as this driver sees it (the same LLM settings and installed libraries)."""
        return run_environment(self.settings)

    def __init__(
        self,
        settings: LLMSettings,
        *,
        address: str | None = None,
        workspace: Any = None,
        workers: int | None = None,
        per_worker: int | None = None,
        cache: bool = True,
        backend_factory: Callable[[LLMSettings], Any] | None = None,
        keeps_prefix_warm: bool | None = None,
        max_restarts: int = 3,
        max_task_retries: int = 3,
        num_cpus: int | None = None,
        actor_cpus: float | None = None,
        timeout: float | None = None,
    ):
        self.settings = settings
        self.keeps_prefix_warm = (not settings.uses_endpoint) if keeps_prefix_warm is None else keeps_prefix_warm
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus or min(2, os.cpu_count() or 1), include_dashboard=False,
                         log_to_driver=False, _node_ip_address="127.0.0.1")
            self._started = True
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.workers = workers or cpus
        if self.keeps_prefix_warm:  # one model, one call at a time per actor
            per_worker = 1
        self.per_worker = per_worker or max(1, math.ceil(_fleet_limit(settings) / self.workers))
        self.slots = self.workers * self.per_worker
        if actor_cpus is None:  # a local model computes; an endpoint client mostly waits
            actor_cpus = min(1.0, cpus / self.workers) if self.keeps_prefix_warm else 0.0
        home = str(workspace.root) if workspace is not None else os.environ.get("SIMULACRA_HOME")
        env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
        if home:
            env["SIMULACRA_HOME"] = home
        remote = ray.remote(AnswerWorker).options(
            num_cpus=actor_cpus, max_restarts=max_restarts, max_task_retries=max_task_retries,
            max_concurrency=self.per_worker, runtime_env={"env_vars": env} if env else None,
        )
        payload = settings.model_dump(mode="json")
        self.actors = [remote.remote(payload, home, cache, backend_factory) for _ in range(self.workers)]
        self.timeout = timeout
        self._inflight = [0] * self.workers
        self._home: dict[str, int] = {}  # agent id -> actor index (affinity)
        self._refs: dict[str, tuple[str, Any]] = {}  # agent id -> (cache key, object ref of its payload)
        self._usage: dict[str, dict[str, Any]] = {}  # actor incarnation -> its latest usage totals
        self.incarnations: set[str] = set()

    def wait_ready(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Every actor built (models loaded); returns their incarnations and process ids."""
        found = ray.get([actor.ping.remote() for actor in self.actors], timeout=timeout)
        self.incarnations.update(f["incarnation"] for f in found)
        return found

    def _actor_for(self, agent_id: str) -> int:
        index = self._home.get(agent_id)
        if index is None:
            assigned = [0] * self.workers
            for i in self._home.values():
                assigned[i] += 1
            index = min(range(self.workers), key=lambda i: (self._inflight[i], assigned[i], i))
            self._home[agent_id] = index
        return index

    def _ref(self, agent: Agent) -> tuple[str, Any]:
        entry = self._refs.get(agent.id)
        if entry is None:
            entry = self._refs[agent.id] = (f"{agent.id}:{uuid.uuid4().hex[:8]}", ray.put(agent_payload(agent)))
        return entry

    async def answer(self, agent: Agent, questions: Sequence[Question], *, options: AnswerOptions, sample: int,
                     prior: Sequence[PriorStep] = (), stimulus: str | None = None) -> list[Answer]:
        key, ref = self._ref(agent)
        index = self._actor_for(agent.id)
        self._inflight[index] += 1
        try:
            call = self.actors[index].answer.remote(
                key, ref, [q.model_dump(mode="json") for q in questions], options.model_dump(mode="json"), sample,
                [p.model_dump(mode="json") for p in prior], stimulus, agent.prefix_key(),
            )
            result = await (asyncio.wait_for(call, self.timeout) if self.timeout else call)
        except RayTaskError as exc:  # the agent's or the model's own error: the runner's taxonomy decides
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, BaseException) else exc) from None
        except RayActorError as exc:
            raise RayWorkerLost(f"Ray worker {index} died and was not brought back ({exc}); everything answered "
                                "so far is saved: run the same command again to continue") from None
        finally:
            self._inflight[index] -= 1
        self.incarnations.add(result["incarnation"])
        self._record_usage(result["incarnation"], result["usage"])
        return [Answer.model_validate(a) for a in result["answers"]]



# -- building agents -----------------------------------------------------------------------------------------


class BuildWorker:
    """One Ray actor building interview agents from transcripts on its one model client. It writes nothing to the
    agent bank: the agent goes back as pydantic JSON and the driver saves it. Memory vectors needed while building
    (retrieval for the experts' reflections) live in an in-process chromadb, or in the chromadb server when
    SIMULACRA_CHROMA_URL names one (then they are already there when the driver saves the agent)."""

    def __init__(self, settings: dict[str, Any], home: str | None, cache: bool,
                 backend_factory: Callable[[LLMSettings], Any] | None = None):
        self.incarnation = uuid.uuid4().hex[:12]
        self.llm = worker_llm(settings, home, cache, backend_factory)
        self._store: Any = None

    def _memory(self) -> Any:
        if self._store is None:

            url = load_settings().memory.chroma_url
            self._store = MemoryStore.server(url) if url else MemoryStore.ephemeral()
        return self._store

    async def build(self, transcript: dict[str, Any], reflections: bool, reflection_limit: int | None,
                    agent_id: str | None, force: bool = False) -> dict[str, Any]:

        agent = await build_agent_from_transcript(
            Transcript.model_validate(transcript), self.llm, reflections=reflections,
            reflection_limit=reflection_limit, agent_id=agent_id, store=self._memory(), force=force,
        )
        return {"agent": agent.model_dump(mode="json"), "usage": self.llm.usage.snapshot(),
                "incarnation": self.incarnation, "pid": os.getpid()}

    def ping(self) -> dict[str, Any]:
        return {"incarnation": self.incarnation, "pid": os.getpid()}


class RayBuilder(_ActorPool):
    """Builds interview agents on a pool of Ray actors (`BuildWorker`), one transcript per call. An actor that dies
    mid-build is restarted by Ray and the transcript built again on it (`max_restarts` / `max_task_retries`); the
    agent comes back once and the caller (the driver) saves it once. `address` as for `RayExecutor`."""

    def __init__(self, settings: LLMSettings, *, address: str | None = None, workspace: Any = None,
                 workers: int | None = None, cache: bool = True,
                 backend_factory: Callable[[LLMSettings], Any] | None = None, max_restarts: int = 3,
                 max_task_retries: int = 3, num_cpus: int | None = None, timeout: float | None = None):
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus or min(2, os.cpu_count() or 1), include_dashboard=False,
                         log_to_driver=False, _node_ip_address="127.0.0.1")
            self._started = True
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.workers = workers or cpus
        local_model = not settings.uses_endpoint
        per_worker = 1 if local_model else max(1, math.ceil(_fleet_limit(settings) / self.workers))
        home = str(workspace.root) if workspace is not None else os.environ.get("SIMULACRA_HOME")
        env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
        if home:
            env["SIMULACRA_HOME"] = home
        remote = ray.remote(BuildWorker).options(
            num_cpus=min(1.0, cpus / self.workers) if local_model else 0.0, max_restarts=max_restarts,
            max_task_retries=max_task_retries, max_concurrency=per_worker,
            runtime_env={"env_vars": env} if env else None,
        )
        payload = settings.model_dump(mode="json")
        self.actors = [remote.remote(payload, home, cache, backend_factory) for _ in range(self.workers)]
        self.slots = self.workers * per_worker
        self.timeout = timeout
        self._inflight = [0] * self.workers
        self._usage: dict[str, dict[str, Any]] = {}
        self.incarnations: set[str] = set()

    def wait_ready(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        found = ray.get([actor.ping.remote() for actor in self.actors], timeout=timeout)
        self.incarnations.update(f["incarnation"] for f in found)
        return found

    async def build(self, transcript: Any, *, reflections: bool = True, reflection_limit: int | None = None,
                    agent_id: str | None = None, force: bool = False) -> Any:
        """One interview agent (not saved) from a `Transcript`; one marked unusable only with `force`."""

        index = min(range(self.workers), key=lambda i: (self._inflight[i], i))
        self._inflight[index] += 1
        try:
            call = self.actors[index].build.remote(transcript.model_dump(mode="json"), reflections,
                                                   reflection_limit, agent_id, force)
            result = await (asyncio.wait_for(call, self.timeout) if self.timeout else call)
        except RayTaskError as exc:  # the builder's or the model's own error, unchanged
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, BaseException) else exc) from None
        except RayActorError as exc:
            raise RayWorkerLost(f"Ray worker {index} died and was not brought back ({exc})") from None
        finally:
            self._inflight[index] -= 1
        self.incarnations.add(result["incarnation"])
        self._record_usage(result["incarnation"], result["usage"])
        return InterviewAgent.model_validate(result["agent"])

