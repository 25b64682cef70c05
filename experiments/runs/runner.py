"""The batch runner: agents x instruments -> answers in a run folder, resumable and bounded.

The unit of work is one agent's share of the run: its unanswered questions in a fixed, prefix-stable order
(instrument order, then question order), cut into batches of several questions per call
(`agent.answer` takes a list). On the embedded model (`llm.keeps_prefix_warm`) units run one after another,
agent-major, so each agent's long prompt prefix stays in llama.cpp's KV cache across its batches; against an
endpoint, units run concurrently, bounded by the endpoint's `max_concurrency` (which `LLM` enforces too).

Every batch is one transaction in `responses.sqlite` as soon as it is answered. Planning skips what is
stored with status `ok`, and `failed` answers unless `retry_failed`; so running the same command again after
a crash, a Ctrl-C or a lost server continues where it stopped and never asks a question twice.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from simulacra.agent import Agent
from simulacra.errors import EndpointError, SimulacraError
from simulacra.llm.fake import approx_tokens
from surveys.model import Answer, AnswerStatus, AnswerValidationError, Instrument, Question

from experiments.runs.folder import RunFolder
from experiments.runs.store import AnswerKey, StoredAnswer

log = logging.getLogger(__name__)

# What "the server went away" looks like: stop the batch cleanly, keep everything, ask for a rerun.
SERVER_GONE = (EndpointError, ConnectionError, TimeoutError, asyncio.TimeoutError)

DEFAULT_BATCH_SIZE = 5
COMPLETION_TOKENS_PER_ANSWER = 60  # for dry-run estimates: short reasoning + the value, as JSON
PROMPT_OVERHEAD_TOKENS = 200  # instructions and schema description around the agent's context


class BatchInterrupted(SimulacraError):
    """The endpoint went away mid-batch; everything answered so far is saved."""


@dataclass(frozen=True)
class WorkItem:
    instrument: str
    question: Question
    sample: int = 0

    def key(self, agent_id: str) -> AnswerKey:
        return AnswerKey(agent_id, self.instrument, self.question.id, self.sample)


@dataclass
class WorkUnit:
    """One agent's pending share of a run, in prefix-stable order."""

    agent: Agent
    items: list[WorkItem]

    def batches(self, size: int) -> list[list[WorkItem]]:
        """Consecutive questions of one instrument and sample, at most `size` a call."""
        out: list[list[WorkItem]] = []
        for item in self.items:
            last = out[-1] if out else None
            if last and len(last) < size and last[0].instrument == item.instrument and last[0].sample == item.sample:
                last.append(item)
            else:
                out.append([item])
        return out


@dataclass
class Progress:
    total: int  # answers this session will ask for
    done: int = 0
    failed: int = 0
    already: int = 0  # answers found stored before this session began
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    cached_calls: int = 0


@dataclass
class Estimate:
    """What a run would cost before anything is spent (`--dry-run`)."""

    agents: int
    pending_answers: int
    already_answered: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunOutcome:
    status: str  # complete | interrupted
    written: int
    failed: int
    usage: dict[str, Any] = field(default_factory=dict)
    message: str = ""


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


def order_agents(agents: Sequence[Agent]) -> list[Agent]:
    """Keep agents that share a prompt prefix next to each other (first appearance order otherwise)."""
    first: dict[str, int] = {}
    for index, agent in enumerate(agents):
        first.setdefault(agent.prefix_key(), index)
    return sorted(agents, key=lambda a: first[a.prefix_key()])


def plan_work(
    agents: Sequence[Agent],
    instruments: Sequence[Instrument],
    stored: dict[AnswerKey, str],
    *,
    samples: int = 1,
    retry_failed: bool = False,
) -> list[WorkUnit]:
    """The pending units: for each agent, every (instrument, question, sample) not stored as ok."""
    units = []
    for agent in order_agents(agents):
        items = []
        for sample in range(samples):
            for instrument in instruments:
                for question in instrument.questions:
                    item = WorkItem(instrument.id, question, sample)
                    status = stored.get(item.key(agent.id))
                    if status == "ok" or (status == "failed" and not retry_failed):
                        continue
                    items.append(item)
        if items:
            units.append(WorkUnit(agent, items))
    return units


def _question_tokens(question: Question) -> int:
    text = question.text + " " + " ".join(f"{o.code} {o.label}" for o in question.options)
    return approx_tokens(text) + 10


def _agent_context_tokens(agent: Agent, context_size: int, memory_budget: int = 1500) -> int:
    """The agent's context length: its rendered context when it can show it, else its definition's size."""
    text: str | None = None
    if agent.source == "interview":  # retrieved memories within the memory token budget, plus notes
        return min(2 * memory_budget, max(0, context_size - 1000))
    context = getattr(agent, "context", None)
    if callable(context):
        for args in ((), ([],)):
            try:
                text = str(context(*args))
                break
            except TypeError:
                continue
            except Exception:
                break
    if text is None:
        try:
            text = agent.model_dump_json()
        except Exception:
            text = agent.id
    return min(approx_tokens(text), max(0, context_size - 1000))


def estimate_cost(
    units: Sequence[WorkUnit],
    *,
    batch_size: int,
    already: int,
    price_input_per_1k: float,
    price_output_per_1k: float,
    context_size: int = 8192,
) -> Estimate:
    """A rough count (about 4 characters a token) of calls, tokens and cost, without calling the model."""
    calls = prompt = completion = pending = 0
    for unit in units:
        context = _agent_context_tokens(unit.agent, context_size) + PROMPT_OVERHEAD_TOKENS
        for batch in unit.batches(batch_size):
            calls += 1
            pending += len(batch)
            prompt += context + sum(_question_tokens(item.question) for item in batch)
            completion += COMPLETION_TOKENS_PER_ANSWER * len(batch)
    cost = prompt / 1000 * price_input_per_1k + completion / 1000 * price_output_per_1k
    agents = len({unit.agent.id for unit in units})
    return Estimate(agents, pending, already, calls, prompt, completion, cost)


def _checked(item: WorkItem, answer: Answer | None) -> Answer:
    """The agent's answer, or a failed one when it is missing, for another question, or invalid."""
    if answer is None:
        return Answer(question_id=item.question.id, status=AnswerStatus.failed, error="the agent returned no answer for this question")
    if answer.question_id != item.question.id:
        return Answer(
            question_id=item.question.id,
            status=AnswerStatus.failed,
            raw=answer.raw,
            error=f"the agent answered question {answer.question_id!r} in place of {item.question.id!r}",
        )
    if answer.status == AnswerStatus.ok:
        try:
            value = item.question.validate_value(answer.value)
        except AnswerValidationError as exc:
            return answer.model_copy(update={"status": AnswerStatus.failed, "error": str(exc)})
        return answer.model_copy(update={"value": value})
    return answer


class BatchRunner:
    def __init__(
        self,
        folder: RunFolder,
        llm: Any,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_failed: bool = False,
        concurrency: int | None = None,
        questions_per_call: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ):
        if batch_size < 1:
            raise SimulacraError(f"batch size must be at least 1 (got {batch_size})")
        self.folder = folder
        self.llm = llm
        self.batch_size = batch_size
        self.retry_failed = retry_failed
        warm = bool(getattr(llm, "keeps_prefix_warm", False))
        default = 1 if warm else int(getattr(getattr(llm, "settings", None), "max_concurrency", 4))
        self.concurrency = max(1, concurrency or default)
        # How many of a batch's questions go in one model call (agents that take `options`). On the embedded
        # model one question a call is fastest: the agent's prefix is warm anyway, and a grammar for
        # several answers slows generation (measured: 5 questions one at a time 27 s, in one call 41 s).
        self.questions_per_call = questions_per_call or (1 if warm else None)
        self.on_progress = on_progress
        self._stop = False
        self._server_error: BaseException | None = None
        self._crash: BaseException | None = None

    @property
    def samples(self) -> int:
        return int(self.folder.manifest.settings.get("samples", 1))

    def plan(self, agents: Sequence[Agent], instruments: Sequence[Instrument]) -> tuple[list[WorkUnit], int]:
        stored = self.folder.store.statuses()
        units = plan_work(agents, instruments, stored, samples=self.samples, retry_failed=self.retry_failed)
        already = sum(1 for status in stored.values() if status == "ok")
        return units, already

    def estimate(self, agents: Sequence[Agent], instruments: Sequence[Instrument]) -> Estimate:
        units, already = self.plan(agents, instruments)
        settings = getattr(self.llm, "settings", None)
        return estimate_cost(
            units,
            batch_size=self.batch_size,
            already=already,
            price_input_per_1k=getattr(settings, "price_input_per_1k", 0.0),
            price_output_per_1k=getattr(settings, "price_output_per_1k", 0.0),
            context_size=getattr(settings, "context_size", None) or 8192,
        )

    def _answer_kwargs(self, agent: Agent) -> dict[str, Any]:
        if not self.questions_per_call or "options" not in inspect.signature(agent.answer).parameters:
            return {}
        from simulacra.agents.answering import AnswerOptions

        return {"options": AnswerOptions(batch_size=self.questions_per_call)}

    def _llm_for(self, sample: int) -> Any:
        return self.llm if sample == 0 else SampledLLM(self.llm, sample)

    def _report(self, progress: Progress) -> None:
        usage = self.llm.usage.snapshot() if hasattr(self.llm, "usage") else {}
        progress.prompt_tokens = int(usage.get("prompt_tokens", 0))
        progress.completion_tokens = int(usage.get("completion_tokens", 0))
        progress.cost_usd = float(usage.get("cost_usd", 0.0))
        progress.calls = int(usage.get("calls", 0))
        progress.cached_calls = int(usage.get("cached_calls", 0))
        if self.on_progress:
            self.on_progress(progress)

    async def _run_unit(self, unit: WorkUnit, progress: Progress) -> None:
        store = self.folder.store
        for batch in unit.batches(self.batch_size):
            if self._stop:
                return
            questions = [item.question for item in batch]
            try:
                answers = await unit.agent.answer(questions, llm=self._llm_for(batch[0].sample), **self._answer_kwargs(unit.agent))
            except SERVER_GONE as exc:
                self._stop = True
                self._server_error = exc
                return
            except SimulacraError as exc:  # e.g. a prompt that cannot fit: these questions fail, the run goes on
                log.warning("agent %s: batch failed: %s", unit.agent.id, exc)
                answers = [
                    Answer(question_id=q.id, status=AnswerStatus.failed, error=f"{type(exc).__name__}: {exc}")
                    for q in questions
                ]
            except Exception as exc:  # a bug: stop, keep what is saved, and let it surface
                self._stop = True
                self._crash = exc
                return
            by_id = {a.question_id: a for a in answers if isinstance(a, Answer)}
            if len(by_id) != len(answers):  # answers not keyed by question: fall back to position
                by_id = {}
            checked = [
                _checked(item, by_id.get(item.question.id) if by_id else (answers[i] if i < len(answers) else None))
                for i, item in enumerate(batch)
            ]
            store.write_batch(StoredAnswer(item.key(unit.agent.id), answer) for item, answer in zip(batch, checked))
            progress.done += len(checked)
            progress.failed += sum(1 for a in checked if a.status != AnswerStatus.ok)
            self._report(progress)

    async def run(self, agents: Sequence[Agent], instruments: Sequence[Instrument]) -> RunOutcome:
        """Answer everything pending; raises BatchInterrupted when the server goes away (all saved)."""
        ids = [a.id for a in agents]
        if len(set(ids)) != len(ids):
            raise SimulacraError("agent ids repeat in this run; every agent needs its own id")
        units, already = self.plan(agents, instruments)
        progress = Progress(total=sum(len(u.items) for u in units), already=already)
        store = self.folder.store
        session = store.start_session()
        self.folder.refresh_manifest(status="running")
        start_usage = self.llm.usage.snapshot() if hasattr(self.llm, "usage") else {}
        queue = deque(units)
        outcome, message = "failed", "stopped by an error"
        self._report(progress)

        async def worker() -> None:
            while queue and not self._stop:
                await self._run_unit(queue.popleft(), progress)

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, max(1, len(units))))))
            if self._server_error is not None:
                outcome = "interrupted"
                message = (
                    f"the model endpoint went away ({self._server_error}); {progress.done} answers of this session "
                    f"are saved in {self.folder.path}. Run the same command again to continue."
                )
            elif self._crash is None:
                outcome, message = "complete", ""
        except (asyncio.CancelledError, KeyboardInterrupt):
            outcome, message = "interrupted", "interrupted by the user"
            raise
        finally:
            usage = _usage_delta(start_usage, self.llm.usage.snapshot() if hasattr(self.llm, "usage") else {})
            store.finish_session(session, outcome, progress.done, usage, message or None)
            counts = store.counts()
            complete = outcome == "complete" and counts.get("failed", 0) == 0
            status = "complete" if complete else ("incomplete" if outcome == "complete" else "interrupted")
            self.folder.refresh_manifest(status=status)
        if self._crash is not None:
            raise self._crash
        if outcome == "interrupted":
            raise BatchInterrupted(message)
        return RunOutcome(outcome, progress.done, progress.failed, usage, message)


def _usage_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, (int, float))}


async def run_batch(
    folder: RunFolder,
    agents: Sequence[Agent],
    instruments: Sequence[Instrument],
    llm: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retry_failed: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    export: bool = True,
    questions_per_call: int | None = None,
) -> RunOutcome:
    """Run (or resume) a batch and, when it ends, export Parquet and CSV from the database."""
    runner = BatchRunner(folder, llm, batch_size=batch_size, retry_failed=retry_failed, on_progress=on_progress,
                         questions_per_call=questions_per_call)
    try:
        outcome = await runner.run(agents, instruments)
    finally:
        if export:
            folder.export()
    return outcome


def open_run(
    runs_dir: Any,
    agents: Sequence[Agent],
    instruments: Sequence[Instrument],
    *,
    model: dict[str, Any],
    settings: dict[str, Any] | None = None,
    run_id: str | None = None,
    truth: str | None = None,
    label: str = "",
    respondents: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> RunFolder:
    """Create the run folder for this batch, or reopen it when the same batch ran before (resume).

    `respondents` maps agent id -> the person whose human answers score it (default: the agent's
    `respondent` attribute if it has one, else its id).
    """
    from experiments.runs.folder import AgentEntry, InstrumentEntry, RunManifest, agent_fingerprint, code_version, default_run_id

    respondents = respondents or {}
    entries = [
        AgentEntry(
            id=agent.id,
            source=str(agent.source),
            respondent=respondents.get(agent.id) or getattr(agent, "respondent", None) or agent.id,
            name=agent.name,
            fingerprint=agent_fingerprint(agent),
        )
        for agent in agents
    ]
    settings = {"samples": 1, **(settings or {})}
    manifest = RunManifest(
        id=run_id or "pending",
        agents=entries,
        instruments=[InstrumentEntry(id=i.id, title=i.title, questions=[q.id for q in i.questions]) for i in instruments],
        model=model,
        settings=settings,
        truth=truth,
        label=label,
        code_version=code_version(),
        extra=extra or {},
    )
    if not run_id:
        manifest.id = default_run_id(manifest)
    return RunFolder.create(runs_dir, manifest, list(instruments), explicit_id=bool(run_id))


async def execute_run(
    folder: RunFolder,
    agents: Sequence[Agent],
    instruments: Sequence[Instrument],
    llm: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retry_failed: bool = False,
    label: str = "answering",
    console: Any = None,
    show_progress: bool = True,
) -> RunOutcome:
    """Run or resume a batch with a progress bar on the terminal; the run's exports are written when it ends."""
    if not show_progress:
        return await run_batch(folder, agents, instruments, llm, batch_size=batch_size, retry_failed=retry_failed)
    from experiments.runs.progress import ProgressBar

    with ProgressBar(label, console) as bar:
        return await run_batch(folder, agents, instruments, llm, batch_size=batch_size, retry_failed=retry_failed,
                               on_progress=bar.update)
