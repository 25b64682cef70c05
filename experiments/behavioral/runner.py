"""Run studies on agents: assign conditions, ask each agent step by step, store answers, analyse.

An experiment run is a run folder like a batch (`experiments.runs`): the manifest (kind `experiment`) holds the
studies as run (definition, digest, assignment) and the seed; `responses.sqlite` holds every answer with
instrument = study id and question = `<step>/<question>`; `results.json` and `report.html` are computed from the
folder. Running the same command again resumes: answers already stored are read back and never asked again;
only missing ones (and, with `retry_failed`, failed ones) go to the agents. The same runner as batches does the
work (one worker pool, sessions with code versions, the same failure taxonomy).

The unit of work is one agent's share of the run (all its studies, steps in order), so an agent's prompt
prefix stays warm on a local model; units run concurrently against an endpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Protocol, Sequence

from experiments.behavioral.analysis import StepRecord, StudyResult, analyze_study
from experiments.behavioral.assignment import assign_conditions
from experiments.behavioral.definition import StudyDefinition
from experiments.behavioral.stats import effect_size_correlation
from experiments.runs.folder import RunFolder, StudyEntry
from experiments.runs.runner import Progress, Runner, RunOutcome, WorkItem, pending_item
from experiments.runs.spec import RunSpec
from experiments.runs.store import AnswerKey
from simulacra.agent import Agent, AnswerOptions, PriorStep
from simulacra.errors import DataFileError, SimulacraError
from simulacra.workspace import atomic_write_json
from surveys.model import Answer, AnswerStatus, Instrument, Question

log = logging.getLogger(__name__)

RESULTS = "results.json"
REPORT = "report.html"


class AgentSource(Protocol):
    """What the runner needs from an agent bank (`simulacra.agents.bank.AgentBank` fits)."""

    def ids(self) -> list[str]: ...

    def load(self, agent_id: str) -> Agent: ...


def study_digest(study: StudyDefinition) -> str:
    payload = json.dumps(study.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def step_key(step_id: str, question_id: str) -> str:
    return f"{step_id}/{question_id}"


def study_instrument(study: StudyDefinition) -> Instrument:
    """A study's questions as one instrument (question ids `<step>/<question>`), as stored in the run folder."""
    questions = [
        q.model_copy(update={"id": step_key(step.id, q.id), "instrument": study.id})
        for step in study.steps for q in step.questions
    ]
    return Instrument(id=study.id, title=study.title, questions=questions)


# -- reading an experiment run folder -----------------------------------------------------------------------
def experiment_studies(folder: RunFolder) -> list[StudyDefinition]:
    manifest = folder.manifest
    if manifest.kind != "experiment":
        raise SimulacraError(f"{folder.path}: run {manifest.id} is a {manifest.kind} run, not a behavioral experiment")
    try:
        return [StudyDefinition.model_validate(entry.definition) for entry in manifest.studies.values()]
    except ValueError as exc:
        raise DataFileError(folder.manifest_path, f"study definitions cannot be read back: {exc}", field="studies") from None


def step_records(folder: RunFolder, study: StudyDefinition) -> list[StepRecord]:
    """The stored answers of one study, grouped by agent and step (what the analysis reads)."""
    manifest = folder.manifest
    assignment = manifest.studies[study.id].assignment
    frame = folder.answers()
    frame = frame[frame["instrument"] == study.id]
    records: list[StepRecord] = []
    for (agent_id, step_id), group in _by_step(frame):
        try:
            step = study.step(step_id)
        except (KeyError, ValueError):
            continue
        condition_id = assignment.get(agent_id, "")
        answers = [
            Answer(question_id=row["question"].split("/", 1)[1], value=row["value"], reasoning=row["reasoning"] or "",
                   raw=row["raw"] or "", status=AnswerStatus(row["status"]), error=row["error"],
                   prompt_hash=row["prompt_hash"])
            for row in group
        ]
        stimulus = study.stimulus(step, study.condition(condition_id)) if condition_id else ""
        status = "ok" if all(a.status == AnswerStatus.ok for a in answers) else "failed"
        records.append(StepRecord(manifest.id, agent_id, study.id, step_id, condition_id, stimulus, answers, status, ""))
    return records


def _by_step(frame: Any) -> list[tuple[tuple[str, str], list[dict[str, Any]]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in frame.to_dict("records"):
        step_id = str(row["question"]).split("/", 1)[0]
        groups.setdefault((row["agent"], step_id), []).append(row)
    return list(groups.items())


def analyze_run(folder: RunFolder) -> dict[str, Any]:
    """Recompute every study's result from the run folder and write `results.json`."""
    manifest = folder.manifest
    studies = experiment_studies(folder)
    results: list[StudyResult] = []
    for study in studies:
        assignment = manifest.studies[study.id].assignment
        results.append(analyze_study(study, step_records(folder, study), assignment))
    r, pairs = effect_size_correlation([s.d for s in results], [s.human_d for s in results])
    summary = {
        "run_id": manifest.id,
        "model": {"name": manifest.model.get("model", "unknown"), **manifest.model},
        "seed": manifest.seed,
        "status": manifest.status,
        "agents": len(manifest.agents),
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
    atomic_write_json(folder.path / RESULTS, summary)
    return summary


# -- asking -------------------------------------------------------------------------------------------------
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
class ExperimentUnit:
    agent: Agent
    pending: int


class ExperimentRunner(Runner):
    """Each agent's studies, steps in order: a step sees the earlier steps' stimuli and the agent's own answers."""

    def __init__(self, folder: RunFolder, executor: Any, studies: Sequence[StudyDefinition], **kwargs: Any):
        super().__init__(folder, executor, **kwargs)
        self.studies = list(studies)
        manifest = folder.manifest
        self.assignments = {sid: entry.assignment for sid, entry in manifest.studies.items()}
        self.stored = folder.store.statuses()
        self.asked = folder.store.asked_counts()

    def _items(self, study: StudyDefinition, step: Any) -> list[WorkItem]:
        return [WorkItem(study.id, q, 0, 0, step_key(step.id, q.id)) for q in step.questions]

    def pending(self, agent_id: str) -> int:
        return sum(
            1 for study in self.studies for step in study.steps for item in self._items(study, step)
            if pending_item(item, agent_id, self.stored, self.asked, self.retry_failed) is not None
        )

    async def run_unit(self, unit: ExperimentUnit) -> None:
        agent = unit.agent
        store = self.folder.store
        for study in self.studies:
            condition = study.condition(self.assignments[study.id][agent.id])
            prior: list[PriorStep] = []
            for step in study.steps:
                stimulus = study.stimulus(step, condition)
                items = self._items(study, step)
                todo = [p for item in items
                        if (p := pending_item(item, agent.id, self.stored, self.asked, self.retry_failed)) is not None]
                if todo:
                    rounds = max(item.retry_round for item in todo)
                    todo = [WorkItem(i.instrument, i.question, i.sample, rounds, i.key_question) for i in todo]
                    if await self.ask(agent, todo, prior=prior, stimulus=stimulus) is None:
                        return
                answers = []
                for item in items:
                    stored = store.get(item.key(agent.id))
                    answers.append(stored.model_copy(update={"question_id": item.question.id}) if stored is not None else
                                   Answer(question_id=item.question.id, status=AnswerStatus.failed, error="not answered"))
                prior.append(prior_step(stimulus, step.questions, answers))


def plan_experiment(
    studies: Sequence[StudyDefinition],
    agents: Sequence[Agent] | AgentSource,
    *,
    model: dict[str, Any] | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int = 0,
    run_id: str | None = None,
    options: AnswerOptions | None = None,
) -> RunSpec:
    """The experiment as a RunSpec (kind `experiment`): the studies with their seeded balanced assignment of
    conditions to agents; `experiments.pipeline.run` answers it."""
    loaded = list(agents) if isinstance(agents, Sequence) else [agents.load(i) for i in sorted(agents.ids())]
    if not loaded:
        raise SimulacraError("no agents to run: the agent bank is empty")
    ids = [a.id for a in loaded]
    if len(set(ids)) != len(ids):
        raise SimulacraError("two agents share an id")
    if not studies:
        raise SimulacraError("no studies to run")
    agent_ids = sorted(ids)
    entries = {}
    for study in studies:
        assignment = assign_conditions(agent_ids, [c.id for c in study.conditions], seed=seed, study_id=study.id)
        entries[study.id] = StudyEntry(digest=study_digest(study), definition=study.model_dump(mode="json"), assignment=assignment)
    spec = RunSpec.build(sorted(loaded, key=lambda a: a.id), [study_instrument(s) for s in studies], kind="experiment",
                         model=model, temperature=temperature, max_tokens=max_tokens, seed=seed, run_id=run_id, options=options, studies=entries)
    spec._definitions = list(studies)
    return spec


async def execute_experiment(
    folder: RunFolder,
    spec: RunSpec,
    executor: Any,
    *,
    retry_failed: bool = False,
    concurrency: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunOutcome:
    """Answer an experiment's pending steps (the pipeline calls this for a spec of kind `experiment`) and analyse
    the run. Raises RunInterrupted when the endpoint goes away and RunStopped (or the original exception) when
    another fault stops the run; in both cases everything answered so far is saved and the same call resumes."""
    studies = spec._definitions or experiment_studies(folder)
    per_step = max(len(s.questions) for st in studies for s in st.steps)  # a step's questions share one call
    asked = spec.answer_options().model_copy(update={"batch_size": per_step})
    runner = ExperimentRunner(folder, executor, studies, retry_failed=retry_failed, concurrency=concurrency,
                              options=asked, on_progress=on_progress)
    units = [ExperimentUnit(agent, runner.pending(agent.id)) for agent in sorted(spec.live_agents, key=lambda a: a.id)]
    units = [u for u in units if u.pending]
    total = sum(u.pending for u in units)
    already = sum(1 for key, status in runner.stored.items() if status == "ok")
    try:
        outcome = await runner.execute(units, total=total, already=already)
    except BaseException:
        try:  # what was answered so far is exported and analysed; the run's own error is the one shown
            folder.export()
            analyze_run(folder)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not export or analyse the stopped run %s: %s", folder.path.name, exc)
        raise
    folder.export()
    outcome.results = analyze_run(folder)
    return outcome


def stored_answer(folder: RunFolder, agent_id: str, study_id: str, step_id: str, question_id: str) -> Answer | None:
    return folder.store.get(AnswerKey(agent_id, study_id, step_key(step_id, question_id)))
