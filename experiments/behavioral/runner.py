"""Run studies on agents: assign conditions, ask each agent step by step, store answers, analyse.

The run folder (`runs/<run-id>/`) holds `manifest.json` (the studies as run, agents, seed, assignment, model,
status), `answers.sqlite` (one row per agent x study x step, written as it arrives) and `results.json`
(computed from the store). Running the same run id again resumes: steps already answered are read back
and never asked again; only missing ones (and, with `retry_failed`, failed ones) go to the agents.

The unit of work is one agent's share of the run (all its studies, steps in order), so an agent's prompt
prefix stays warm on a local model; units run concurrently against an endpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from experiments.behavioral.analysis import StudyResult, analyze_study
from experiments.behavioral.assignment import assign_conditions
from experiments.behavioral.definition import StudyDefinition
from experiments.behavioral.stats import effect_size_correlation
from experiments.behavioral.store import AnswerStore, StepRecord
from simulacra.agent import Agent, PriorStep
from simulacra.errors import DataFileError, SimulacraError
from simulacra.workspace import Workspace, atomic_write_json, private_dir
from surveys.model import Answer, AnswerStatus, Question

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
STORE = "answers.sqlite"
RESULTS = "results.json"
REPORT = "report.html"


class RunMismatch(SimulacraError):
    """A resumed run was given different agents, seed or study definitions than it started with."""


class AgentSource(Protocol):
    """What the runner needs from an agent bank (`simulacra.agents.bank.AgentBank` fits)."""

    def ids(self) -> list[str]: ...

    def load(self, agent_id: str) -> Agent: ...


class _AgentList:
    def __init__(self, agents: Sequence[Agent]):
        self._by_id = {agent.id: agent for agent in agents}
        if len(self._by_id) != len(agents):
            raise SimulacraError("two agents share an id")

    def ids(self) -> list[str]:
        return list(self._by_id)

    def load(self, agent_id: str) -> Agent:
        return self._by_id[agent_id]


def study_digest(study: StudyDefinition) -> str:
    payload = json.dumps(study.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _code_version() -> str:
    head = Path(__file__).resolve().parents[2] / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (head.parent / ref[5:]).read_text().strip()[:12]
        return ref[:12]
    except OSError:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("simulacra")
        except PackageNotFoundError:
            return "unknown"


def new_run_id() -> str:
    return "exp-" + datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class RunFolder:
    """One experiment run on disk. Reports read only from here, never from a live run."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def find(cls, run: str, workspace: Workspace | None = None) -> "RunFolder":
        """A run by id (under the workspace's runs/) or by path."""
        candidate = Path(run).expanduser()
        if (candidate / MANIFEST).is_file():
            return cls(candidate)
        workspace = workspace or Workspace.default()
        folder = workspace.root / "runs" / run
        if (folder / MANIFEST).is_file():
            return cls(folder)
        raise SimulacraError(f"no experiment run {run!r}: neither {candidate} nor {folder} holds a {MANIFEST}")

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def store_path(self) -> Path:
        return self.path / STORE

    @property
    def results_path(self) -> Path:
        return self.path / RESULTS

    @property
    def report_path(self) -> Path:
        return self.path / REPORT

    def manifest(self) -> dict[str, Any]:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SimulacraError(f"{self.path} is not an experiment run (no {MANIFEST})") from None
        except json.JSONDecodeError as exc:
            raise DataFileError(self.manifest_path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
        if data.get("kind") != "experiment":
            raise DataFileError(self.manifest_path, "this run is not a behavioral experiment run", field="kind")
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.manifest_path, manifest)

    def studies(self) -> list[StudyDefinition]:
        manifest = self.manifest()
        try:
            return [StudyDefinition.model_validate(entry["definition"]) for entry in manifest["studies"].values()]
        except (KeyError, ValueError) as exc:
            raise DataFileError(self.manifest_path, f"study definitions cannot be read back: {exc}", field="studies") from None


def analyze_run(folder: RunFolder) -> dict[str, Any]:
    """Recompute every study's result from the run folder and write `results.json`."""
    manifest = folder.manifest()
    studies = folder.studies()
    results: list[StudyResult] = []
    with AnswerStore(folder.store_path) as store:
        for study in studies:
            assignment = manifest["studies"][study.id]["assignment"]
            results.append(analyze_study(study, store.records(folder.run_id, study.id), assignment))
    r, pairs = effect_size_correlation([s.d for s in results], [s.human_d for s in results])
    summary = {
        "run_id": folder.run_id,
        "model": manifest.get("model", {}),
        "seed": manifest.get("seed"),
        "status": manifest.get("status"),
        "agents": len(manifest.get("agents", [])),
        "studies": [s.model_dump(mode="json") for s in results],
        "replicated": sum(s.verdict == "replicated" for s in results),
        "human_replicated": sum(bool(s.human_replicated) for s in results),
        "same_verdict_as_humans": sum(
            (s.verdict == "replicated") == bool(s.human_replicated) for s in results if s.human_replicated is not None
        ),
        "effect_size_r": r,
        "effect_size_pairs": pairs,
        "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_json(folder.results_path, summary)
    return summary


def answer_text(question: Question, answer: Answer) -> str:
    """How an earlier answer is shown back to the agent in a later step."""
    if answer.status != AnswerStatus.ok or answer.value is None:
        return "(no answer)"
    if question.is_choice:
        try:
            return question.option(str(answer.value)).label
        except ValueError:
            return str(answer.value)
    return str(answer.value)


def prior_step(stimulus: str, questions: Sequence[Question], answers: Sequence[Answer]) -> PriorStep:
    by_id = {a.question_id: a for a in answers}
    asked = "\n".join(q.text for q in questions)
    given = "\n".join(answer_text(q, by_id[q.id]) if q.id in by_id else "(no answer)" for q in questions)
    return PriorStep(stimulus=stimulus, question=asked, answer=given)


@dataclass
class RunOutcome:
    folder: RunFolder
    asked: int  # steps sent to agents in this invocation
    reused: int  # steps already in the store
    errors: list[str]
    results: dict[str, Any]

    @property
    def complete(self) -> bool:
        return not self.errors


def _prepare_manifest(
    folder: RunFolder, studies: Sequence[StudyDefinition], agent_ids: list[str], seed: int, llm: Any,
) -> dict[str, Any]:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if folder.manifest_path.exists():
        manifest = folder.manifest()
        if sorted(manifest["agents"]) != sorted(agent_ids):
            raise RunMismatch(
                f"run {folder.run_id} was started with {len(manifest['agents'])} other agents; "
                "resume it with the same agents or start a new run"
            )
        if manifest["seed"] != seed:
            raise RunMismatch(f"run {folder.run_id} was started with seed {manifest['seed']}, not {seed}")
    else:
        manifest = {
            "kind": "experiment",
            "run_id": folder.run_id,
            "created_at": now,
            "seed": seed,
            "agents": sorted(agent_ids),
            "studies": {},
            "model": {"name": getattr(llm, "model", "unknown"), "temperature": getattr(getattr(llm, "settings", None), "temperature", None)},
            "code_version": _code_version(),
            "status": "running",
        }
    for study in studies:
        digest = study_digest(study)
        entry = manifest["studies"].get(study.id)
        if entry is not None:
            if entry["digest"] != digest:
                raise RunMismatch(
                    f"study {study.id} changed since run {folder.run_id} started; start a new run to use the new definition"
                )
            continue
        assignment = assign_conditions(agent_ids, [c.id for c in study.conditions], seed=seed, study_id=study.id)
        manifest["studies"][study.id] = {"digest": digest, "definition": study.model_dump(mode="json"), "assignment": assignment}
    manifest["status"] = "running"
    manifest["resumed_at" if "started_at" in manifest else "started_at"] = now
    folder.write_manifest(manifest)
    return manifest


async def run_experiment(
    studies: Sequence[StudyDefinition],
    agents: Sequence[Agent] | AgentSource,
    llm: Any,
    *,
    workspace: Workspace | None = None,
    run_id: str | None = None,
    seed: int = 0,
    retry_failed: bool = False,
    concurrency: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunOutcome:
    """Run (or resume) `studies` on `agents` and write the run folder; see the module docstring."""
    source: AgentSource = _AgentList(list(agents)) if isinstance(agents, Sequence) else agents
    agent_ids = sorted(source.ids())
    if not agent_ids:
        raise SimulacraError("no agents to run: the agent bank is empty")
    if not studies:
        raise SimulacraError("no studies to run")
    workspace = workspace or Workspace.default()
    folder = RunFolder(private_dir(workspace.runs / (run_id or new_run_id())))
    manifest = _prepare_manifest(folder, studies, agent_ids, seed, llm)
    assignments = {s.id: manifest["studies"][s.id]["assignment"] for s in studies}

    store = AnswerStore(folder.store_path)
    counters = {"asked": 0, "reused": 0, "done": 0}
    errors: list[str] = []

    def stored(agent_id: str, study: StudyDefinition, step_id: str) -> StepRecord | None:
        record = store.get(folder.run_id, agent_id, study.id, step_id)
        if record is not None and retry_failed and record.status != "ok":
            return None
        return record

    def finished(agent_id: str) -> bool:
        return all(stored(agent_id, s, step.id) is not None for s in studies for step in s.steps)

    async def run_study(agent: Agent | None, agent_id: str, study: StudyDefinition) -> Agent | None:
        condition = study.condition(assignments[study.id][agent_id])
        prior: list[PriorStep] = []
        for step in study.steps:
            record = stored(agent_id, study, step.id)
            if record is None:
                if agent is None:
                    agent = source.load(agent_id)  # in the loop: a bank's lazy memory store is not thread-safe
                stimulus = study.stimulus(step, condition)
                answers = await agent.answer(step.questions, llm=llm, prior=tuple(prior), stimulus=stimulus)
                if len(answers) != len(step.questions):
                    raise SimulacraError(f"agent {agent_id} gave {len(answers)} answers to {len(step.questions)} questions")
                record = store.put(folder.run_id, agent_id, study.id, step.id, condition.id, stimulus, answers)
                counters["asked"] += 1
            else:
                counters["reused"] += 1
            prior.append(prior_step(record.stimulus, step.questions, record.answers))
        return agent

    async def run_agent(agent_id: str) -> None:
        if finished(agent_id):
            counters["reused"] += sum(len(s.steps) for s in studies)
        else:
            agent: Agent | None = None
            for study in studies:
                try:
                    agent = await run_study(agent, agent_id, study)
                except Exception as exc:  # one agent's failure must not lose the others' work
                    errors.append(f"{agent_id} / {study.id}: {type(exc).__name__}: {exc}")
                    log.warning("agent %s, study %s: %s", agent_id, study.id, exc)
        counters["done"] += 1
        if on_progress is not None:
            on_progress(counters["done"], len(agent_ids))

    settings = getattr(llm, "settings", None)
    width = concurrency or (1 if getattr(llm, "keeps_prefix_warm", False) else getattr(settings, "max_concurrency", 4))
    queue: asyncio.Queue[str] = asyncio.Queue()
    for agent_id in agent_ids:
        queue.put_nowait(agent_id)

    async def worker() -> None:
        while True:
            try:
                agent_id = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await run_agent(agent_id)

    completed = False
    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(width, len(agent_ids))))))
        completed = True
    finally:
        store.close()
        manifest = folder.manifest()
        manifest["status"] = "complete" if completed and not errors else "incomplete"
        manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        usage = getattr(llm, "usage", None)
        if usage is not None and hasattr(usage, "snapshot"):
            manifest["usage"] = usage.snapshot()
        manifest["errors"] = errors[:50]
        folder.write_manifest(manifest)
    results = analyze_run(folder)
    return RunOutcome(folder, counters["asked"], counters["reused"], errors, results)
