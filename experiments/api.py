"""A small synchronous Python API for notebooks and scripts, on the one pipeline (`experiments.pipeline`).

    import experiments.api as sim

    people = sim.load_responses("gss-panel-2016-2020")            # human answers (a ResponseSet)
    items = ["abany", "cappun", "gunlaw"]
    ids = sim.sample_people(people, items, n=2)                    # re-interviewed people who answered them
    agents = sim.demographic_agents(people, ids, targets=items) + sim.composite_agents(people, ids, targets=items)
    run = sim.run_instrument(agents, "gss", questions=items, truth=people, scoring="logprobs")
    metrics = sim.score(run)                                       # typed Metrics, from the run folder only
    sim.table(metrics)                                             # agents beside the reference conditions
    sim.report(run)                                                # metrics.json + report.html in the run folder
    sim.compare([run_a, run_b])                                    # differences and paired tests
    sim.references("2016-2020", people=200, items=20)              # the reference conditions alone (no model)
    sim.benchmark_gss_panel(people=4, items=6, scoring="logprobs") # the GSS-panel benchmark, planned and run

Every function that answers questions plans a `RunSpec` and calls `experiments.pipeline.run`; nothing here
produces an answer or a metric itself. The leak rule holds here as on every command: `run_instrument` computes
the run's exclusions once (`exclusions_for` the questions asked and the agents' demographic fields) and passes
them into the spec, which applies them to every agent however it was built (a composite or combined agent never
sees a near-duplicate of the item it predicts; a demographic field repeating a target is left out). Functions
run synchronously, also inside Jupyter (whose own event loop is left alone). The workspace is
`Workspace.default()` (SIMULACRA_HOME) unless one is passed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeAlias, TypeVar

import numpy as np
import pandas as pd

from simulacra.agent import Agent, AnswerOptions
from simulacra.agents.bank import AgentBank
from simulacra.agents.baselines import CompositeAgent, DemographicAgent, KnownAnswers, PersonaAgent
from simulacra.agents.build import build_agent_from_transcript, import_genagents
from simulacra.agents.interview import CombinedAgent, InterviewAgent
from simulacra.config import load_settings
from simulacra.errors import SimulacraError
from simulacra.llm import LLM, describe_backend, open_llm
from simulacra.workspace import Workspace
from surveys.instruments import load_instrument
from surveys.loaders import load_responses as _load_responses
from surveys.model import Instrument
from surveys.responses import ResponseSet

from experiments import pipeline
from experiments.faithfulness.gss_benchmark import (
    CONDITIONS,
    DEMOGRAPHIC_FIELDS,
    ITEM_FIELDS,
    choose_people,
    demographic_profile,
    plan_gss_benchmark,
)
from experiments.faithfulness.reference_table import ReferenceTable, reference_table
from experiments.pipeline import EvalSettings, Exclusions, RunSpec
from experiments.reports.compare import compare_runs, default_out_dir
from experiments.reports.report import CONDITION_LABELS, ReportResult, headline_rows, is_reference
from experiments.runs import RunFolder, RunOutcome, select_questions
from experiments.runs.executors import answering
from experiments.runs.options import answer_options
from experiments.scoring.leakage import exclusions_for
from experiments.scoring.results import Metrics

__all__ = [
    "load_responses", "load_instrument", "sample_people", "exclusions",
    "load_agents", "build_agent", "import_agents", "demographic_agents", "composite_agents", "combined_agents",
    "persona_agent", "run_instrument", "score", "report", "compare", "references", "benchmark_gss_panel", "table",
    "Run", "Metrics", "ReferenceTable", "ReportResult", "Exclusions",
]

T = TypeVar("T")
Run: TypeAlias = RunOutcome  # what run_instrument and benchmark_gss_panel return: status, counts and the run `folder`
TABLE_METRICS = ["accuracy", "retest_agreement", "normalized_accuracy", "correlation", "normalized_correlation"]


# -- running coroutines from synchronous code ---------------------------------------------------------------
def _sync(call: Callable[[], T]) -> T:
    """`call()` (which runs its own event loop, e.g. `pipeline.run`), in a worker thread when this thread already
    runs a loop (Jupyter), where `asyncio.run` would refuse."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def _llm(llm: LLM | None, workspace: Workspace) -> LLM:
    return llm if llm is not None else open_llm(load_settings(), workspace)


# -- human answers -------------------------------------------------------------------------------------------
def load_responses(name_or_path: str | Path, instrument: Instrument | str | None = None, wave: int = 1) -> ResponseSet:
    """Human answers: a GSS panel ("gss-panel-2016-2020", "gss-panel-2006"; waves 1 and 2) or a CSV file
    (long with question/value columns, else wide with answers in `wave`)."""
    return _load_responses(name_or_path, instrument, wave=wave)


def sample_people(people: ResponseSet, items: Sequence[str], n: int, *, seed: int = 0) -> list[str]:
    """`n` people (seeded) who answered at least half of `items` in both waves (the benchmark's rule)."""
    chosen = choose_people(people, list(items), n, np.random.default_rng(seed))
    if not chosen:
        raise SimulacraError(f"nobody in {people.name} answered half of {', '.join(items)} in both waves")
    return chosen


def exclusions(targets: Sequence[str], demographic_fields: Sequence[str] = ()) -> Exclusions:
    """What no predictor of `targets` may see (near-duplicates; demographic fields repeating a target)."""
    return exclusions_for(targets, demographic_fields)


# -- agents --------------------------------------------------------------------------------------------------
def _bank(bank: AgentBank | str | Path | None, workspace: Workspace) -> AgentBank:
    return bank if isinstance(bank, AgentBank) else AgentBank(Path(bank) if bank is not None else workspace.agents)


def load_agents(ids: Sequence[str] | None = None, *, bank: AgentBank | str | Path | None = None,
                workspace: Workspace | None = None) -> list[Agent]:
    """Agents from a bank folder (default: the workspace's agents/): the given ids, else all of them."""
    found = _bank(bank, workspace or Workspace.default())
    wanted = list(ids) if ids is not None else found.ids()
    if not wanted:
        raise SimulacraError(f"no agents in {found.root}: build or import some first")
    return [found.load(agent_id) for agent_id in wanted]


def build_agent(transcript: str | Path, *, agent_id: str | None = None, reflections: bool = True,
                bank: AgentBank | str | Path | None = None, llm: LLM | None = None,
                workspace: Workspace | None = None) -> InterviewAgent:
    """An interview agent from a transcript (JSONL), with its memories and expert reflections, saved in the bank."""
    workspace = workspace or Workspace.default()
    target = _bank(bank, workspace)
    model = _llm(llm, workspace)
    return _sync(lambda: asyncio.run(build_agent_from_transcript(Path(transcript), model, bank=target, agent_id=agent_id,
                                                                 reflections=reflections)))


def import_agents(folder: str | Path, *, reflections: bool = True, replace: bool = False,
                  bank: AgentBank | str | Path | None = None, llm: LLM | None = None,
                  workspace: Workspace | None = None) -> list[Agent]:
    """Import a genagents agent folder (or a population of them) into the bank."""
    workspace = workspace or Workspace.default()
    target = _bank(bank, workspace)
    model = _llm(llm, workspace) if reflections else llm
    return _sync(lambda: asyncio.run(import_genagents(Path(folder), model, target, reflections=reflections,
                                                      replace=replace)))


def _instrument(instrument: Instrument | str) -> Instrument:
    return instrument if isinstance(instrument, Instrument) else load_instrument(instrument)


def _context_questions(people: ResponseSet, ids: Sequence[str], targets: Sequence[str], instrument: Instrument,
                       context: int | Sequence[str], wave: int, excluded: Exclusions) -> list:
    """The targets plus the context items (given, or the first `context` items of the instrument that most of
    the people answered), never a near-duplicate of a target."""
    closed = excluded.closed()
    if isinstance(context, int):
        answers = people.subset(respondents=ids).wave(wave)
        counts: dict[str, int] = {}
        for row in answers.values():
            for qid in row:
                counts[qid] = counts.get(qid, 0) + 1
        need = max(1, (len(ids) + 1) // 2)
        extra = [q.id for q in instrument.questions if q.id not in closed and counts.get(q.id, 0) >= need][:context]
    else:
        extra = [q for q in context if q not in closed]
    wanted = set(targets) | set(extra)
    missing = set(targets) - {q.id for q in instrument.questions}
    if missing:
        raise SimulacraError(f"no question {', '.join(sorted(missing))} in instrument {instrument.id}")
    return [q for q in instrument.questions if q.id in wanted]


def _hidden_with(excluded: Exclusions, known: dict[str, Any] | Sequence[str]) -> dict[str, list[str]]:
    out = {target: [i for i in items if i in known] for target, items in excluded.hidden.items()}
    return {target: items for target, items in out.items() if items}


def _people(people: ResponseSet, ids: Sequence[str] | None) -> list[str]:
    return [str(i) for i in ids] if ids is not None else people.respondents


def demographic_agents(people: ResponseSet, ids: Sequence[str] | None = None, *, targets: Sequence[str] = (),
                       instrument: Instrument | str = "gss", exclusions: Exclusions | None = None) -> list[DemographicAgent]:
    """A demographic agent per person (id `dem-<person>`): their wave-1 age, sex, race, degree, political views,
    party and religion, without any field that is (or is a near-duplicate of) a target."""
    inst = _instrument(instrument)
    excluded = exclusions or exclusions_for(targets, [*DEMOGRAPHIC_FIELDS, *ITEM_FIELDS.values()])
    return [DemographicAgent(id=f"dem-{person}", respondent=person,
                             demographics=demographic_profile(people, person, inst, list(targets), excluded))
            for person in _people(people, ids)]


def composite_agents(people: ResponseSet, ids: Sequence[str] | None = None, *, targets: Sequence[str],
                     context: int | Sequence[str] = 20, instrument: Instrument | str = "gss", wave: int = 1,
                     group_size: int = 1, exclusions: Exclusions | None = None) -> list[CompositeAgent]:
    """A composite agent per person (id `comp-<person>`): their wave-`wave` answers to the targets and to
    `context` further items (a number: the first items most of them answered; or item ids). Each predicted item
    is left out of the context that predicts it, with its near-duplicates and twin wordings."""
    inst = _instrument(instrument)
    excluded = exclusions or exclusions_for(targets)
    chosen = _people(people, ids)
    questions = _context_questions(people, chosen, targets, inst, context, wave, excluded)
    answers = people.subset(respondents=chosen, questions=[q.id for q in questions]).wave(wave)
    never = sorted(excluded.closed() - set(targets))
    agents = []
    for person in chosen:
        known = dict(answers.get(person, {}))
        agents.append(CompositeAgent(id=f"comp-{person}", respondent=person, known_answers=known,
                                     questions=[q for q in questions if q.id in known], group_size=group_size,
                                     exclude=never, hidden_with=_hidden_with(excluded, known)))
    return agents


def combined_agents(interview_agents: Sequence[InterviewAgent], people: ResponseSet, *, targets: Sequence[str],
                    context: int | Sequence[str] = 20, instrument: Instrument | str = "gss", wave: int = 1,
                    exclusions: Exclusions | None = None) -> list[CombinedAgent]:
    """A combined agent per interview agent (id `<id>.combined`): its interview plus its respondent's answers to
    the targets and context items (as `composite_agents`), each predicted item left out with its near-duplicates."""
    inst = _instrument(instrument)
    excluded = exclusions or exclusions_for(targets)
    persons = [a.scored_as for a in interview_agents]
    questions = _context_questions(people, persons, targets, inst, context, wave, excluded)
    answers = people.subset(respondents=persons, questions=[q.id for q in questions]).wave(wave)
    never = sorted(excluded.closed() - set(targets))
    out = []
    for agent, person in zip(interview_agents, persons):
        known = dict(answers.get(person, {}))
        if not known:
            raise SimulacraError(f"no wave-{wave} answers of {person!r} in {people.name} for agent {agent.id}")
        combined = CombinedAgent.combine(agent, known, [q for q in questions if q.id in known], exclude=never,
                                         hidden_with=_hidden_with(excluded, known))
        combined.respondent = person
        out.append(combined)
    return out


def persona_agent(path: str | Path, agent_id: str, *, respondent: str | None = None) -> PersonaAgent:
    """A persona agent from a text file holding the person's self-description paragraph."""
    return PersonaAgent.from_file(Path(path), agent_id, respondent=respondent)


# -- running -------------------------------------------------------------------------------------------------
def _truth_for_run(truth: Any, targets: Sequence[str], agents: Sequence[Agent]) -> Any:
    """A ResponseSet cut to what the run scores and what its agents know (the references learn from the same)."""
    if not isinstance(truth, ResponseSet):
        return str(truth) if isinstance(truth, Path) else truth
    keep = set(targets)
    for agent in agents:
        if isinstance(agent, KnownAnswers):
            keep |= set(agent.known_answers)
    cut = truth.subset(questions=sorted(keep))
    cut.name = truth.name
    return cut


@contextlib.contextmanager
def _executor(executor: Any, llm: LLM | None, workspace: Workspace, workers: int | None) -> Iterator[tuple[Any, Any]]:
    """(llm, executor) for a run: an executor object as given; "ray" through the commands' `answering`; else
    None (pipeline.run answers locally on `llm`, or on the workspace's model)."""
    if isinstance(executor, str):
        if executor == "local":
            yield llm, None
            return
        with answering(executor, load_settings(), workspace, workers=workers) as pair:
            yield pair
        return
    yield llm, executor


def _model(llm: LLM | None) -> dict[str, Any]:
    return describe_backend(load_settings()) if llm is None else {"kind": "given", "model": llm.model}


def _options(scoring: str | None, debias: str | None, leave_out: str | None, folds: int | None) -> AnswerOptions | None:
    return answer_options(scoring, debias, leave_out, folds)


def _execute(spec: RunSpec, *, executor: Any, llm: LLM | None, workspace: Workspace, new_run: bool, retry_failed: bool,
             workers: int | None) -> RunOutcome:
    def job() -> RunOutcome:
        outcome = pipeline.run(spec, runs_on, llm=model, workspace=workspace, new_run=new_run, retry_failed=retry_failed)
        if outcome.folder is not None:
            outcome.folder.close()  # its answer store may belong to a worker thread: reopened where it is next read
        return outcome

    with _executor(executor, llm, workspace, workers) as (model, runs_on):
        return _sync(job)


def run_instrument(
    agents: Sequence[Agent],
    instruments: str | Instrument | Sequence[str | Instrument] = "gss",
    *,
    questions: Sequence[str] | None = None,
    limit: int | None = None,
    truth: ResponseSet | str | Path | None = None,
    design: str = "same-wave",
    scoring: str | None = None,
    debias: str | None = None,
    leave_out: str | None = None,
    folds: int | None = None,
    samples: int = 1,
    batch_size: int = 5,
    label: str = "",
    run_id: str | None = None,
    new_run: bool = False,
    retry_failed: bool = False,
    executor: Any = None,
    workers: int | None = None,
    llm: LLM | None = None,
    workspace: Workspace | None = None,
) -> Run:
    """The agents answer the instruments (the given `questions`, else the first `limit` of each, else all) in a
    run folder of the workspace (resumable: the same call again continues the same run).

    `truth`: the human answers to score against (a ResponseSet, kept in the run; or a response set name or
    file). `scoring` "generate" or "logprobs", `debias`, `leave_out`, `folds`: the answer options.
    `executor`: "local" (default), "ray", or an executor object; `llm`: the model to answer with (default: the
    workspace's). Returns the run (`.folder`, `.status`, counts)."""
    workspace = workspace or Workspace.default()
    wanted = instruments if isinstance(instruments, (list, tuple)) else [instruments]
    chosen = select_questions([_instrument(i) for i in wanted], questions, limit)
    targets = [q.id for i in chosen for q in i.questions]
    fields = sorted({f for a in agents for f in a.demographics})
    excluded = exclusions_for(targets, fields)  # once for the run: RunSpec.build applies it to every agent
    settings = load_settings()
    spec = RunSpec.build(
        agents, chosen, model=_model(llm), options=_options(scoring, debias, leave_out, folds), samples=samples,
        batch_size=batch_size, temperature=None if llm is not None else settings.llm.temperature,
        max_tokens=None if llm is not None else settings.llm.max_tokens, truth=_truth_for_run(truth, targets, agents),
        design=design, exclusions=excluded, label=label, run_id=run_id, extra={"api": "run_instrument"},
    )
    return _execute(spec, executor=executor, llm=llm, workspace=workspace, new_run=new_run, retry_failed=retry_failed,
                    workers=workers)


# -- scoring -------------------------------------------------------------------------------------------------
RunRef: TypeAlias = RunOutcome | RunFolder | ReportResult | str | Path  # a run, its folder, id or path


def _folder(run: RunRef, workspace: Workspace | None = None) -> RunFolder:
    if isinstance(run, RunOutcome):
        if run.folder is None:
            raise SimulacraError("this run has no folder")
        return run.folder
    if isinstance(run, RunFolder):
        return run
    if isinstance(run, ReportResult):
        return RunFolder(run.metrics_path.parent)
    return RunFolder.resolve(run, workspace)


def _settings(bootstrap: int, seed: int, min_items: int | None, design: str | None = None) -> EvalSettings:
    return EvalSettings(bootstrap=bootstrap, seed=seed, min_items=min_items, design=design)


def score(run: RunRef, truth: ResponseSet | str | None = None, *, min_items: int | None = None,
          bootstrap: int = 1000, seed: int = 0, workspace: Workspace | None = None) -> Metrics:
    """The run's metrics, from its folder alone (against `truth` when given, else the human answers it keeps or
    names). `min_items`: people with fewer scored items are left out (default 20, or half the items asked)."""
    return pipeline.score(_folder(run, workspace), truth, _settings(bootstrap, seed, min_items))


def report(run: RunRef, truth: ResponseSet | str | None = None, *, min_items: int | None = None,
           bootstrap: int = 1000, seed: int = 0, workspace: Workspace | None = None) -> ReportResult:
    """Score the run and write metrics.json and report.html into its folder (`.html_path`, `.metrics`)."""
    return pipeline.report(_folder(run, workspace), truth, _settings(bootstrap, seed, min_items))


def compare(runs: Sequence[RunRef], truth: str | None = None, *, out: str | Path | None = None,
            bootstrap: int = 1000, workspace: Workspace | None = None) -> dict[str, Any]:
    """Several runs side by side (the first is the reference): per metric the differences and paired tests.
    compare.html and compare.json are written to `out` (default: runs/compare-<hash>/)."""
    workspace = workspace or Workspace.default()
    folders = [_folder(r, workspace) for r in runs]
    if len(folders) < 2:
        raise SimulacraError("compare needs at least two runs")
    target = Path(out) if out is not None else default_out_dir(workspace.runs, folders)
    result, _json, _html = compare_runs(folders, truth, target, EvalSettings(bootstrap=bootstrap))
    return result


def references(panel: str = "2016-2020", *, people: int | None = None, items: int | None = None,
               design: str = "same-wave", min_items: int | None = None, bootstrap: int = 200, seed: int = 0,
               panel_file: str | Path | None = None, weights: str | None = None) -> ReferenceTable:
    """The statistical reference conditions (majority, kNN, logistic regression, random floor) on a GSS panel
    or a seeded subset of `people` x `items`; no model. `table(result)` shows it. `min_items`: people with fewer
    scored items are left out (default 20, or half the items when fewer than 40 are chosen, as for runs).
    `weights`: a survey weight column (e.g. wtssall) for the population figures; individual accuracy unweighted."""
    if min_items is None:
        min_items = 20 if items is None or items >= 40 else max(1, items // 2)
    return reference_table(panel, panel_file=str(panel_file) if panel_file else None, design=design,
                           min_items=min_items, bootstrap=bootstrap, seed=seed, people=people, items=items, weights=weights)


def benchmark_gss_panel(
    panel: str = "2016-2020",
    *,
    people: int = 20,
    items: int = 20,
    seed: int = 0,
    context_items: int = 20,
    conditions: Sequence[str] = CONDITIONS,
    design: str = "same-wave",
    group_size: int = 1,
    scoring: str | None = None,
    debias: str | None = None,
    leave_out: str | None = None,
    folds: int | None = None,
    batch_size: int = 5,
    min_items: int | None = None,
    bootstrap: int = 1000,
    run_id: str | None = None,
    new_run: bool = False,
    executor: Any = None,
    workers: int | None = None,
    llm: LLM | None = None,
    workspace: Workspace | None = None,
    weights: str | None = None,
) -> ReportResult:
    """`simulacra benchmark gss-panel` from Python: seeded people and items of a GSS panel as demographic and
    composite agents, run, scored against their wave-1 answers (normalized by their own retest) and reported.
    Returns the report (`.metrics`, `.html_path`). `weights`: a survey weight column (e.g. wtssall) for the
    population figures (majority reference, 1 - TV/TV_uniform); individual accuracy stays unweighted."""
    workspace = workspace or Workspace.default()
    plan = plan_gss_benchmark(panel, people=people, items=items, seed=seed, context_items=context_items,
                              conditions=conditions, group_size=group_size, design=design, weights=weights)
    settings = load_settings()
    spec = plan.spec(model=_model(llm), options=_options(scoring, debias, leave_out, folds), batch_size=batch_size,
                     temperature=None if llm is not None else settings.llm.temperature,
                     max_tokens=None if llm is not None else settings.llm.max_tokens, run_id=run_id)
    outcome = _execute(spec, executor=executor, llm=llm, workspace=workspace, new_run=new_run, retry_failed=False,
                       workers=workers)
    return pipeline.report(_folder(outcome), None, _settings(bootstrap, seed, min_items))


# -- tables --------------------------------------------------------------------------------------------------
def _stat(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("mean")
    return None if value is None else float(value)


def table(result: Metrics | ReportResult | ReferenceTable | dict[str, Any]) -> pd.DataFrame:
    """A run's metrics (or a reference table) as a DataFrame: one row a condition (and instrument), agents first,
    then the statistical reference conditions; accuracy, retest agreement, normalized accuracy, correlations."""
    if isinstance(result, ReferenceTable):
        source = "reference"
        rows = [(condition, result.panel, block) for condition, block in result.conditions.items()]
    else:
        metrics = result.as_dict() if isinstance(result, Metrics) else result.metrics if isinstance(result, ReportResult) else result
        source = "run"
        rows = [(condition, instrument, block) for instrument in metrics["families"]
                for condition, block in headline_rows(metrics, instrument)]
    records = []
    for condition, where, block in rows:
        record: dict[str, Any] = {
            "condition": CONDITION_LABELS.get(condition, condition),
            "kind": "reference" if is_reference(condition) else "agents",
            "instrument" if source == "run" else "panel": where,
            "people": block.get("people", 0),
        }
        record.update({name: _stat(block.get(name)) for name in TABLE_METRICS})
        records.append(record)
    return pd.DataFrame.from_records(records)
