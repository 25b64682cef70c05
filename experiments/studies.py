"""Studies of one's own participants, as library functions (the `simulacra study ...` commands in
experiments/study_cli.py are thin shells over these): create and invite, the human answers as a response set,
export, the study's agents (interview, combined, composite, demographic, persona; the last two from the unscored
`about_you` instrument) and `evaluate_study`: plan -> RunSpec -> run -> report through experiments.pipeline, the
exclusions computed once from the scored items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from rich.console import Console

CONDITIONS = ("interview", "combined", "composite", "demographic", "persona")
ABOUT_YOU = "about_you"  # the shipped "about you" instrument: demographics and the persona paragraph, never scored


def _unscored(instrument: Any) -> bool:
    """An instrument that is asked but never scored (`scoring: {scored: false}`, e.g. about_you)."""
    return isinstance(instrument.scoring, dict) and instrument.scoring.get("scored") is False


def scored_instruments(study: Any) -> list[Any]:
    """The instruments agents answer and are scored on: not the experiments, not the unscored ones."""
    return [i for i in study.instruments if i.id not in study.experiments and not _unscored(i)]


def profile_answers(study: Any, wave_1: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """From a person's wave-1 answers to the unscored instruments: their demographics (a question's
    `meta.demographic` names the field; choice codes become their labels, as GSS panel demographics are) and
    their self-description paragraph (`meta.persona`)."""
    demographics: dict[str, str] = {}
    persona: str | None = None
    for instrument in study.instruments:
        if instrument.id in study.experiments or not _unscored(instrument):
            continue
        for question in instrument.questions:
            value = wave_1.get(question.id)
            if value is None or str(value).strip() == "":
                continue
            field = question.meta.get("demographic")
            if field:
                shown = value
                if question.is_choice:
                    try:
                        shown = question.option(str(value)).label
                    except ValueError:
                        shown = value
                elif isinstance(value, float) and value.is_integer():
                    shown = int(value)
                demographics[str(field)] = str(shown)
            elif question.meta.get("persona"):
                persona = str(value).strip()
    return demographics, persona


def study_store(workspace: Any = None):
    """The workspace's study store (default workspace when None)."""
    from interviewer.study.store import StudyStore
    from simulacra.workspace import Workspace

    return StudyStore(workspace or Workspace.default())


# -- library functions (the commands are thin shells over these) -------------------------------------------
def behavioral_experiment(name: str, base: Path):
    """A behavioral experiment (experiments/behavioral study definition, by id or YAML path relative to the
    study file) as a study instrument plus its conditions' stimuli."""
    from experiments.behavioral.definition import load_study
    from interviewer.study.model import ExperimentInfo
    from surveys.model import Instrument

    candidate = base / name
    definition = load_study(str(candidate) if candidate.suffix in (".yaml", ".yml") and candidate.is_file() else name)
    several = len(definition.steps) > 1
    questions, steps = [], {}
    for step in definition.steps:
        for question in step.questions:
            qid = f"{step.id}.{question.id}" if several else question.id
            questions.append(question.model_copy(update={"id": qid, "instrument": definition.id, "block": step.id}))
            steps[qid] = step.id
    instrument = Instrument(id=definition.id, title=definition.title, description=definition.description,
                            source=definition.citation, questions=questions, scoring={"kind": "experiment"})
    info = ExperimentInfo(
        id=definition.id, title=definition.title, conditions=[c.id for c in definition.conditions],
        labels={c.id: c.label for c in definition.conditions}, steps=steps,
        stimuli={c.id: {s.id: definition.stimulus(s, c) for s in definition.steps} for c in definition.conditions},
    )
    return instrument, info


def create_study(path: Path, *, workspace: Any = None, replace: bool = False):
    from interviewer.study.model import load_study_file

    study = load_study_file(path, behavioral_experiment)
    folder = study_store(workspace).create(study, Path(path).read_text(encoding="utf-8"), replace=replace)
    return study, folder


def invite_respondents(study_id: str, count: int, *, workspace: Any = None, base_url: str = "http://127.0.0.1:8000",
                       label: str | None = None, link_days: float | None = None,
                       respondents: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(respondent, link) for `count` new respondents (and a fresh link for each of `respondents`, which revokes
    their old one). The link lives at least until the retest has opened plus the web app's default link life."""
    from interviewer.web.tokens import DEFAULT_LINK_TTL_DAYS, SessionRegistry

    store = study_store(workspace)
    study = store.load(study_id)
    ttl = link_days or max(DEFAULT_LINK_TTL_DAYS, study.spec.retest_days + DEFAULT_LINK_TTL_DAYS)
    registry = SessionRegistry(store.workspace.sessions / "web", link_ttl_days=ttl)
    from experiments.behavioral.assignment import assign_conditions

    out = []
    wanted: list[str | None] = [*respondents, *([None] * count)]
    for respondent in wanted:
        if respondent is not None:
            other = store.study_of(respondent)
            if other is not None and other != study_id:
                from interviewer.study.model import StudyError

                raise StudyError(f"respondent {respondent} is already in study {other}")
        token, invitation = registry.invite(respondent, label or f"study:{study_id}")
        out.append((invitation.respondent, f"{base_url.rstrip('/')}/study#{token}"))
    # Experiments: the seeded balanced assignment over this batch of newcomers (those already in keep theirs).
    batch = len(store.participants(study_id))
    newcomers = [r for r, _link in out if store.participant(study_id, r) is None]
    assignments = {
        experiment: assign_conditions(newcomers, info.conditions, seed=study.spec.seed,
                                      study_id=f"{study_id}/{experiment}/{batch}")
        for experiment, info in study.experiments.items()
    }
    for respondent, _link in out:
        store.join(study_id, respondent, conditions={e: a[respondent] for e, a in assignments.items() if respondent in a})
    return out


def study_responses(study_id: str, *, workspace: Any = None):
    """The study's human answers as a ResponseSet (waves 1 and 2)."""
    from surveys.responses import ResponseSet

    store = study_store(workspace)
    study = store.load(study_id)
    return ResponseSet.from_records(f"study-{study_id}", store.response_records(study), source=str(store.folder(study_id)))


def export_study(study_id: str, out: Path | None = None, *, workspace: Any = None,
                 with_external_ids: bool = False) -> list[Path]:
    """The study's export (interviewer/study/export.py): long CSVs of both waves (responses.csv and one
    responses-<instrument>.csv each, what `simulacra report --truth FILE` reads), answers.csv with answer
    times and item positions, item_order.csv, participants.csv (wave completion times, retest interval), the
    instruments as asked; external_ids.csv only with `with_external_ids`. Files are 0600 (personal data)."""
    from interviewer.study.export import export_study as write_export
    from interviewer.web.tokens import SessionRegistry

    store = study_store(workspace)
    return write_export(store, study_id, Path(out) if out else None, with_external_ids=with_external_ids,
                        registry=SessionRegistry(store.workspace.sessions / "web"))


async def build_study_agents(study_id: str, llm: Any, *, workspace: Any = None, conditions: Sequence[str] = CONDITIONS,
                             reflections: bool = True, progress: Any = None,
                             exclusions: Any = None) -> tuple[list[Any], dict[str, str], list[str]]:
    """The study's agents: per participant with wave-1 answers, an interview agent from their transcript (built
    once and kept in the workspace's agent bank), a combined agent (interview + their other answers to scored
    items), a composite agent (their answers to scored items, each left out in turn), a demographic agent
    (their "about you" answers, else the transcript's demographics; fields repeating a scored item are left
    out) and a persona agent (their "about you" paragraph). Unscored answers (about_you) never enter a
    combined or composite context, and no scored answer enters a demographic or persona context.
    The run's exclusions (`exclusions_for` the scored items; computed here when not given) apply to every kind:
    a composite or combined agent predicting an item never sees its near-duplicates, a demographic agent never
    gets a field that is or maps to a scored item (the fields dropped are recorded in `exclusions`).
    Returns (agents, agent id -> respondent, notes on what could not be built)."""
    from interviewer.storage import TranscriptStore
    from simulacra.agents.bank import AgentBank
    from experiments.scoring.leakage import exclusions_for, field_item
    from simulacra.agents.baselines import CompositeAgent, DemographicAgent, PersonaAgent
    from simulacra.agents.build import build_agent_from_transcript
    from simulacra.agents.interview import CombinedAgent

    store = study_store(workspace)
    study = store.load(study_id)
    questions = [q for i in scored_instruments(study) for q in i.questions]
    scored_ids = {q.id for q in questions}
    exclusions = exclusions if exclusions is not None else exclusions_for(scored_ids)
    closed = exclusions.closed()
    transcripts = TranscriptStore(store.workspace.transcripts)
    bank = AgentBank(store.workspace.agents)
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        from interviewer.study.model import StudyError

        raise StudyError(f"unknown condition(s) {', '.join(unknown)}; choose from {', '.join(CONDITIONS)}")
    agents: list[Any] = []
    respondents: dict[str, str] = {}
    notes: list[str] = []
    for participant in store.participants(study_id):
        person = participant.respondent
        saved = store.answers(study_id, person)
        wave_1 = {q: v for (w, _i, q), v in saved.items() if w == 1}
        known = {q: v for q, v in wave_1.items() if q in scored_ids}
        about, paragraph = profile_answers(study, wave_1)
        if not known:
            notes.append(f"{person}: no wave-1 answers to scored items (skipped)")
            continue
        interview = None
        if {"interview", "combined", "demographic"} & set(conditions):
            agent_id = f"{study_id}.{person}"
            if agent_id in bank.ids():
                interview = bank.load(agent_id)
            else:
                transcript = transcripts.load(person)
                if transcript is None or not any(t.speaker == "respondent" for t in transcript.turns):
                    notes.append(f"{person}: no interview transcript (no interview, combined or demographic agent)")
                else:
                    if progress:
                        progress(f"building the interview agent of {person}")
                    interview = await build_agent_from_transcript(transcript, llm, bank=bank, agent_id=agent_id,
                                                                  reflections=reflections)
        if interview is not None and "interview" in conditions:
            agents.append(interview)
        if interview is not None and "combined" in conditions:
            agents.append(CombinedAgent.combine(interview, known, questions, agent_id=f"{study_id}.{person}.combined",
                                                hidden_with=_hidden_with(exclusions, known)))
        if "composite" in conditions:
            agents.append(CompositeAgent(id=f"{study_id}.{person}.composite", respondent=person, known_answers=known,
                                         questions=[q.model_copy() for q in questions],
                                         hidden_with=_hidden_with(exclusions, known)))
        if "demographic" in conditions:
            found = {**(dict(interview.demographics) if interview is not None else {}), **about}
            dropped = sorted(f for f in found if field_item(f) in closed)
            exclusions.dropped_fields.update({f: field_item(f) for f in dropped})
            allowed = set(found) - set(dropped)
            if dropped:
                notes.append(f"{person}: demographic field(s) {', '.join(dropped)} left out (they repeat a scored item)")
            demographics = {k: v for k, v in found.items() if k in allowed}
            if demographics:
                agents.append(DemographicAgent(id=f"{study_id}.{person}.demographic", respondent=person,
                                               demographics=demographics))
            else:
                notes.append(f"{person}: no demographics known (no demographic agent; list {ABOUT_YOU} among the "
                             "study's instruments to ask them)")
        if "persona" in conditions:
            if paragraph:
                agents.append(PersonaAgent(id=f"{study_id}.{person}.persona", respondent=person, persona=paragraph))
            else:
                notes.append(f"{person}: no self-description paragraph (no persona agent; list {ABOUT_YOU} among the "
                             "study's instruments to ask it)")
    for agent in agents:
        respondents[agent.id] = agent.respondent or agent.id
    return agents, respondents, notes


def _hidden_with(exclusions: Any, known: dict[str, Any]) -> dict[str, list[str]]:
    """Per predicted item, the known items it must not be shown with (its near-duplicates among them)."""
    out = {target: [i for i in items if i in known] for target, items in exclusions.hidden.items()}
    return {target: items for target, items in out.items() if items}


async def evaluate_study(study_id: str, llm: Any, *, workspace: Any = None, model: dict[str, Any] | None = None,
                         conditions: Sequence[str] = CONDITIONS, reflections: bool = True, bootstrap: int = 1000,
                         min_items: int | None = None, batch_size: int = 5, run_id: str | None = None, new_run: bool = False,
                         show_progress: bool = False, progress: Any = None, executor: Any = None):
    """Build the study's agents, plan them as a RunSpec on the study's scored instruments (the study's answers as
    its truth, the exclusions computed once), run it through the pipeline and write the report.
    Returns (run folder, ReportResult, notes). `executor`: where answers are made (default: locally on `llm`)."""
    from experiments.pipeline import report, run_async
    from experiments.runs.spec import RunSpec
    from experiments.pipeline import EvalSettings
    from experiments.scoring.leakage import exclusions_for
    from interviewer.study.model import StudyError

    store = study_store(workspace)
    study = store.load(study_id)
    truth = study_responses(study_id, workspace=store.workspace)
    instruments = scored_instruments(study)
    if not instruments:
        raise StudyError(f"study {study_id} has no scored instrument (only {', '.join(i.id for i in study.instruments)})")
    scored_ids = {q.id for i in instruments for q in i.questions}
    truth.data = truth.data[truth.data["question"].isin(scored_ids)].reset_index(drop=True)  # the targets only
    if truth.data.empty:
        raise StudyError(f"study {study_id} has no answers yet; nothing to evaluate")
    exclusions = exclusions_for([q.id for i in instruments for q in i.questions])
    agents, respondents, notes = await build_study_agents(study_id, llm, workspace=store.workspace, conditions=conditions,
                                                          reflections=reflections, progress=progress, exclusions=exclusions)
    if not agents:
        raise StudyError(f"study {study_id}: no agent could be built ({'; '.join(notes) or 'no participants'})")
    if study.experiments:
        notes.append(f"experiments ({', '.join(study.experiments)}) are not scored here: run them with `simulacra experiment`")
    spec = RunSpec.build(agents, instruments, model=model or {"model": getattr(llm, "model", "")}, batch_size=batch_size,
                         truth=truth, exclusions=exclusions, respondents=respondents, label=f"study {study_id}",
                         run_id=run_id, extra={"study": study_id, "retest_days": study.spec.retest_days})
    outcome = await run_async(spec, executor, llm=llm, workspace=store.workspace, new_run=new_run,
                              console=Console(stderr=True) if show_progress else None)
    result = report(outcome.folder, None, EvalSettings(bootstrap=bootstrap, min_items=min_items))
    return outcome.folder, result, notes
