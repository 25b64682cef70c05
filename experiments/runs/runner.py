"""The runner: agents x questions -> answers in a run folder, resumable and bounded. One runner for batches and
behavioral experiments (an experiment's unit asks its steps in order, each step seeing the earlier ones).

The unit of work is one agent's share of the run: its unanswered questions in a fixed, prefix-stable order
(instrument order, then question order), cut into batches of several questions. On the embedded model
(`llm.keeps_prefix_warm`) units run one after another, agent-major, so each agent's long prompt prefix stays in
llama.cpp's KV cache across its batches; against an endpoint, units run concurrently, bounded by the endpoint's
`max_concurrency`.

Every batch is one transaction in `responses.sqlite` as soon as it is answered, together with the session's
usage so far. Planning skips what is stored with status `ok`, and `failed` answers unless `retry_failed`; so
running the same command again after a crash, a Ctrl-C or a lost server continues where it stopped.

Failures (the taxonomy of the design):
- invalid model output after repair and retries -> the agent returns a `failed` Answer (stored with its raw text);
- the endpoint goes away (EndpointError, ConnectionError, timeouts) -> the run is interrupted (RunInterrupted);
  the same command resumes it;
- anything else (a request the server rejects, a memory store or embedder fault, a bug) -> the run stops with
  the error (RunStopped for errors a user can act on; other exceptions propagate as they are); everything
  answered so far is saved and nothing is recorded as failed because of it.
- `--retry-failed` asks failed answers again with `AnswerOptions.retry_round` = how many times each was asked,
  so the model answers anew (no cache hit); the earlier attempt is kept in the store's `attempts` table.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from simulacra.agent import Agent, AnswerOptions, PriorStep
from simulacra.errors import EndpointError, SimulacraError
from simulacra.llm.tokens import approx_tokens
from surveys.model import Answer, AnswerStatus, AnswerValidationError, Instrument, Question

from experiments.runs.executors.local import LocalExecutor
from experiments.runs.folder import RunFolder
from experiments.runs.identity import code_version
from experiments.runs.store import AnswerKey, StoredAnswer

log = logging.getLogger(__name__)

# What "the server went away" looks like: stop the batch cleanly, keep everything, ask for a rerun.
SERVER_GONE = (EndpointError, ConnectionError, TimeoutError, asyncio.TimeoutError)

DEFAULT_BATCH_SIZE = 5
COMPLETION_TOKENS_PER_ANSWER = 60  # for dry-run estimates: short reasoning + the value, as JSON
PROMPT_OVERHEAD_TOKENS = 200  # instructions and schema description around the agent's context


class RunInterrupted(SimulacraError):
    """The endpoint went away mid-run; everything answered so far is saved; the same command resumes."""


class RunStopped(SimulacraError):
    """A fault that is not the model's answer stopped the run; everything answered so far is saved."""


@dataclass(frozen=True)
class WorkItem:
    instrument: str
    question: Question
    sample: int = 0
    retry_round: int = 0  # >0: asked again on a --retry-failed pass (the number of earlier attempts)
    key_question: str | None = None  # the stored question id when it differs (experiments: "step/question")

    def key(self, agent_id: str) -> AnswerKey:
        return AnswerKey(agent_id, self.instrument, self.key_question or self.question.id, self.sample)


def split_batches(items: Sequence[WorkItem], size: int) -> list[list[WorkItem]]:
    """Consecutive questions of one instrument, sample and retry round, at most `size` a batch."""
    out: list[list[WorkItem]] = []
    for item in items:
        last = out[-1] if out else None
        if (last and len(last) < size and last[0].instrument == item.instrument and last[0].sample == item.sample
                and last[0].retry_round == item.retry_round):
            last.append(item)
        else:
            out.append([item])
    return out


@dataclass
class WorkUnit:
    """One agent's pending share of a run, in prefix-stable order."""

    agent: Agent
    items: list[WorkItem]

    def batches(self, size: int) -> list[list[WorkItem]]:
        return split_batches(self.items, size)


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
    """How one invocation of a run ended (batches and experiments alike)."""

    status: str  # complete | interrupted | stopped
    written: int
    failed: int
    usage: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    already: int = 0  # answers stored before this invocation
    folder: RunFolder | None = None
    results: dict[str, Any] | None = None  # experiments: the analysis written to results.json

    @property
    def asked(self) -> int:
        return self.written

    @property
    def reused(self) -> int:
        return self.already

    @property
    def complete(self) -> bool:
        """Everything of the run is answered and valid (not only this invocation)."""
        return self.folder.manifest.status == "complete" if self.folder is not None else self.status == "complete"

    @property
    def run_id(self) -> str:
        return self.folder.path.name if self.folder is not None else ""


def order_agents(agents: Sequence[Agent]) -> list[Agent]:
    """Keep agents that share a prompt prefix next to each other (first appearance order otherwise)."""
    first: dict[str, int] = {}
    for index, agent in enumerate(agents):
        first.setdefault(agent.prefix_key(), index)
    return sorted(agents, key=lambda a: first[a.prefix_key()])


def pending_item(item: WorkItem, agent_id: str, stored: dict[AnswerKey, str], asked: dict[AnswerKey, int],
                 retry_failed: bool) -> WorkItem | None:
    """The item to ask (with its retry round), or None when it is answered (or failed and not retried)."""
    key = item.key(agent_id)
    status = stored.get(key)
    if status is None:
        return item
    if status == "failed" and retry_failed:
        return WorkItem(item.instrument, item.question, item.sample, asked.get(key, 1), item.key_question)
    return None


def plan_work(
    agents: Sequence[Agent],
    instruments: Sequence[Instrument],
    stored: dict[AnswerKey, str],
    *,
    samples: int = 1,
    retry_failed: bool = False,
    asked: dict[AnswerKey, int] | None = None,
    options: AnswerOptions | None = None,
) -> list[WorkUnit]:
    """The pending units: for each agent, every (instrument, question, sample) not stored as ok, each
    instrument's questions in the agent's context-group order (a k-fold composite agent's folds one after
    another, so consecutive batches share one prompt prefix)."""
    asked = asked or {}
    units = []
    for agent in order_agents(agents):
        items = []
        for sample in range(samples):
            for instrument in instruments:
                questions = instrument.questions
                if options is not None:
                    questions = [q for group in agent.context_groups(questions, options) for q in group]
                for question in questions:
                    item = pending_item(WorkItem(instrument.id, question, sample), agent.id, stored, asked, retry_failed)
                    if item is not None:
                        items.append(item)
        if items:
            units.append(WorkUnit(agent, items))
    return units


def _question_tokens(question: Question) -> int:
    text = question.text + " " + " ".join(f"{o.code} {o.label}" for o in question.options)
    return approx_tokens(text) + 10


def estimate_cost(
    units: Sequence[WorkUnit],
    *,
    batch_size: int,
    already: int,
    price_input_per_1k: float,
    price_output_per_1k: float,
    context_size: int = 8192,
) -> Estimate:
    """A rough count (about 4 characters a token) of calls, tokens and cost, without calling the model.
    The agent's context is what `Agent.context_preview` shows for the batch (capped by the context size)."""
    calls = prompt = completion = pending = 0
    for unit in units:
        for batch in unit.batches(batch_size):
            questions = [item.question for item in batch]
            context = min(approx_tokens(unit.agent.context_preview(questions)), max(0, context_size - 1000))
            calls += 1
            pending += len(batch)
            prompt += context + PROMPT_OVERHEAD_TOKENS + sum(_question_tokens(q) for q in questions)
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
            prompt_hash=answer.prompt_hash,
        )
    if answer.status == AnswerStatus.ok:
        try:
            value = item.question.validate_value(answer.value)
        except AnswerValidationError as exc:
            return answer.model_copy(update={"status": AnswerStatus.failed, "error": str(exc)})
        return answer.model_copy(update={"value": value})
    return answer


class Runner:
    """The worker pool, sessions, failure taxonomy and progress shared by batch and experiment runs.

    Subclasses say what the units are (`plan`) and may ask a unit differently (`run_unit`); both end in
    `ask`, which has the executor answer one batch (the only answer path: `LocalExecutor` in this process,
    `RayExecutor` on actors) and stores it in one transaction. This runner is the single writer of the store.
    An LLM passed in place of an executor is answered on by a `LocalExecutor`."""

    def __init__(
        self,
        folder: RunFolder,
        executor: Any,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_failed: bool = False,
        concurrency: int | None = None,
        options: AnswerOptions | None = None,
        questions_per_call: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ):
        if batch_size < 1:
            raise SimulacraError(f"batch size must be at least 1 (got {batch_size})")
        self.folder = folder
        self.executor = executor if hasattr(executor, "answer") else LocalExecutor(executor)
        self.batch_size = batch_size
        self.retry_failed = retry_failed
        warm = bool(self.executor.keeps_prefix_warm)
        self.concurrency = max(1, concurrency or int(self.executor.slots))
        # How many of a batch's questions go in one model call. On the embedded model one question a call is
        # fastest: the agent's prefix is warm anyway, and one answer's JSON is shorter than a share of a
        # five-answer object (benchmarks/batch_throughput.py, 5 agents x 30 items, idle: 59.5 answers/min one
        # a call, 46.3 five a call, each within 1.04x of llama.cpp's own time); each answer is also independent.
        if options is None:  # what the run was opened with (its spec's options), else the defaults
            options = AnswerOptions(**folder.manifest.settings.get("answer_options", {}))
            per_call = questions_per_call or (1 if warm else batch_size)
        else:
            per_call = questions_per_call or options.batch_size
        self.options = options.model_copy(update={"batch_size": per_call})
        self.on_progress = on_progress
        self._stop = False
        self._server_error: BaseException | None = None
        self._crash: BaseException | None = None
        self._session: int | None = None
        self._start_usage: dict[str, Any] = {}
        self.progress = Progress(total=0)

    @property
    def samples(self) -> int:
        return int(self.folder.manifest.settings.get("samples", 1))

    def _usage_now(self) -> dict[str, Any]:
        return self.executor.usage()

    def _record_environment(self) -> None:
        """The executor's environment (libraries, model hash or endpoint fingerprint) into the manifest; best
        effort: a run is never lost because its environment could not be described."""
        describe = getattr(self.executor, "environment", None)
        if describe is None:
            return
        try:
            environment = describe()
        except Exception as exc:  # noqa: BLE001 - the answers are saved; say why the record is missing
            environment = {"error": f"{type(exc).__name__}: {exc}"}
        manifest = self.folder.manifest
        manifest.environment = environment
        self.folder.save_manifest(manifest)

    def _session_usage(self) -> dict[str, Any]:
        return _usage_delta(self._start_usage, self._usage_now())

    def _report(self) -> None:
        progress = self.progress
        usage = self._usage_now()
        progress.prompt_tokens = int(usage.get("prompt_tokens", 0))
        progress.completion_tokens = int(usage.get("completion_tokens", 0))
        progress.cost_usd = float(usage.get("cost_usd", 0.0))
        progress.calls = int(usage.get("calls", 0))
        progress.cached_calls = int(usage.get("cached_calls", 0))
        if self.on_progress:
            self.on_progress(progress)

    async def ask(
        self,
        agent: Agent,
        batch: Sequence[WorkItem],
        *,
        prior: Sequence[PriorStep] = (),
        stimulus: str | None = None,
    ) -> list[Answer] | None:
        """Ask one batch and store it; None when the run must stop (the reason is kept for `execute`)."""
        if self._stop:
            return None
        questions = [item.question for item in batch]
        options = self.options.model_copy(update={"retry_round": batch[0].retry_round})
        try:
            answers = await self.executor.answer(agent, questions, options=options, sample=batch[0].sample,
                                                 prior=tuple(prior), stimulus=stimulus)
        except SERVER_GONE as exc:
            self._stop = True
            self._server_error = self._server_error or exc
            return None
        except Exception as exc:  # not the model's answer: stop, keep what is saved, record nothing as failed
            self._stop = True
            self._crash = self._crash or exc
            return None
        by_id = {a.question_id: a for a in answers}
        if len(by_id) != len(answers):  # answers not keyed by question: fall back to position
            by_id = {}
        checked = [
            _checked(item, by_id.get(item.question.id) if by_id else (answers[i] if i < len(answers) else None))
            for i, item in enumerate(batch)
        ]
        self.progress.done += len(checked)
        self.progress.failed += sum(1 for a in checked if a.status != AnswerStatus.ok)
        self.folder.store.write_batch(
            (StoredAnswer(item.key(agent.id), answer, item.retry_round) for item, answer in zip(batch, checked)),
            session=self._session, usage=self._session_usage(), written=self.progress.done,
        )
        self._report()
        return checked

    async def run_unit(self, unit: WorkUnit) -> None:
        for batch in unit.batches(self.batch_size):
            if await self.ask(unit.agent, batch) is None:
                return

    async def execute(self, units: Sequence[Any], *, total: int, already: int) -> RunOutcome:
        """Run the units through the worker pool in one session; see the module docstring for how it ends."""
        self.progress = Progress(total=total, already=already)
        store = self.folder.store
        self._start_usage = self._usage_now()
        version = code_version()
        self._session = store.start_session(version)
        manifest = self.folder.manifest
        if not manifest.code_version:
            manifest.code_version = version
            self.folder.save_manifest(manifest)
        self.folder.refresh_manifest(status="running")
        queue = deque(units)
        outcome, message = "failed", "stopped by an error"
        self._report()

        async def worker() -> None:
            while queue and not self._stop:
                await self.run_unit(queue.popleft())

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, max(1, len(units))))))
            if self._crash is not None:
                outcome = "stopped"
                message = (
                    f"the run stopped: {type(self._crash).__name__}: {self._crash}. Nothing was recorded as failed "
                    f"because of it; {self.progress.done} answers of this session are saved in {self.folder.path}. "
                    "Fix the cause and run the same command again to continue."
                )
            elif self._server_error is not None:
                outcome = "interrupted"
                message = (
                    f"the model endpoint went away ({self._server_error}); {self.progress.done} answers of this session "
                    f"are saved in {self.folder.path}. Run the same command again to continue."
                )
            else:
                outcome, message = "complete", ""
        except (asyncio.CancelledError, KeyboardInterrupt):
            outcome, message = "interrupted", "interrupted by the user"
            raise
        finally:
            usage = self._session_usage()
            store.finish_session(self._session, outcome, self.progress.done, usage, message or None)
            self._record_environment()
            counts = store.counts()
            if outcome == "complete":
                status = "complete" if counts.get("failed", 0) == 0 else "incomplete"
            else:
                status = outcome
            self.folder.refresh_manifest(status=status)
        if self._crash is not None:
            if isinstance(self._crash, SimulacraError):
                raise RunStopped(message) from self._crash
            log.error("%s", message)
            raise self._crash
        if outcome == "interrupted":
            raise RunInterrupted(message)
        return RunOutcome(outcome, self.progress.done, self.progress.failed, usage, message, already, self.folder)


class BatchRunner(Runner):
    """Agents x instruments: each agent's pending questions in batches."""

    def plan(self, agents: Sequence[Agent], instruments: Sequence[Instrument]) -> tuple[list[WorkUnit], int]:
        store = self.folder.store
        stored = store.statuses()
        units = plan_work(agents, instruments, stored, samples=self.samples, retry_failed=self.retry_failed,
                          asked=store.asked_counts(), options=self.options)
        already = sum(1 for status in stored.values() if status == "ok")
        return units, already

    async def run(self, agents: Sequence[Agent], instruments: Sequence[Instrument]) -> RunOutcome:
        """Answer everything pending; raises RunInterrupted when the server goes away (all saved)."""
        ids = [a.id for a in agents]
        if len(set(ids)) != len(ids):
            raise SimulacraError("agent ids repeat in this run; every agent needs its own id")
        units, already = self.plan(agents, instruments)
        return await self.execute(units, total=sum(len(u.items) for u in units), already=already)


def estimate_run(
    folder: RunFolder,
    agents: Sequence[Agent],
    instruments: Sequence[Instrument],
    settings: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retry_failed: bool = False,
) -> Estimate:
    """What running (or resuming) this batch would cost, from the LLM settings alone (no model is opened)."""
    store = folder.store
    stored = store.statuses()
    units = plan_work(agents, instruments, stored, samples=int(folder.manifest.settings.get("samples", 1)),
                      retry_failed=retry_failed, asked=store.asked_counts())
    already = sum(1 for status in stored.values() if status == "ok")
    return estimate_cost(
        units, batch_size=batch_size, already=already,
        price_input_per_1k=settings.price_input_per_1k, price_output_per_1k=settings.price_output_per_1k,
        context_size=settings.context_size or 8192,
    )


def _usage_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, (int, float))}


async def run_batch(
    folder: RunFolder,
    agents: Sequence[Agent],
    instruments: Sequence[Instrument],
    executor: Any,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retry_failed: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    export: bool = True,
    questions_per_call: int | None = None,
    options: AnswerOptions | None = None,
    concurrency: int | None = None,
) -> RunOutcome:
    """Run (or resume) a batch on `executor` (or an LLM, answered on by a LocalExecutor) and, when it ends,
    export Parquet and CSV from the database. Commands reach this through `experiments.pipeline.run`."""
    runner = BatchRunner(folder, executor, batch_size=batch_size, retry_failed=retry_failed, on_progress=on_progress,
                         questions_per_call=questions_per_call, options=options, concurrency=concurrency)
    try:
        outcome = await runner.run(agents, instruments)
    finally:
        if export:
            folder.export()
    return outcome
