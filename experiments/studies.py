"""Studies of one's own participants, as library functions (the `simulacra study ...` commands in
experiments/study_cli.py are thin shells over these): create and invite, the human answers as a response set,
export, the study's agents (interview, combined, composite, demographic, persona; the last two from the unscored
`about_you` instrument) and `evaluate_study`: plan -> RunSpec -> run -> report through experiments.pipeline, the
exclusions computed once from the scored items.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
from rich.console import Console

from experiments.behavioral.assignment import assign_conditions
from experiments.behavioral.definition import load_study
from experiments.pipeline import EvalSettings, report, run_async
from experiments.runs.spec import RunSpec
from experiments.scoring.leakage import exclusions_for, field_item
from experiments.scoring.matched import POPULATION_PREFIX
from interviewer.storage import TranscriptStore
from interviewer.study import adaptive as adaptive_runtime
from interviewer.study.export import export_study as write_export
from interviewer.study.model import ExperimentInfo, StudyError, load_study_file
from interviewer.study.store import StudyStore
from interviewer.web.tokens import DEFAULT_LINK_TTL_DAYS, SessionRegistry
from simulacra.agents.bank import AgentBank
from simulacra.agents.baselines import CompositeAgent, DemographicAgent, PersonaAgent, shown_value
from simulacra.agents.build import build_agent_from_transcript
from simulacra.agents.interview import CombinedAgent
from simulacra.workspace import Workspace, atomic_write_json
from surveys.loaders import load_gss_panel, load_responses
from surveys.model import Instrument
from surveys.responses import ResponseSet

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
                shown = shown_value(question, value)
                if not question.is_choice and isinstance(value, float) and value.is_integer():
                    shown = int(value)
                demographics[str(field)] = str(shown)
            elif question.meta.get("persona"):
                persona = str(value).strip()
    return demographics, persona


def study_store(workspace: Any = None):
    """The workspace's study store (default workspace when None)."""
    return StudyStore(workspace or Workspace.default())


# -- library functions (the commands are thin shells over these) -------------------------------------------
def behavioral_experiment(name: str, base: Path):
    """A behavioral experiment (experiments/behavioral study definition, by id or YAML path relative to the
    study file) as a study instrument plus its conditions' stimuli."""
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
    study = load_study_file(path, behavioral_experiment)
    folder = study_store(workspace).create(study, Path(path).read_text(encoding="utf-8"), replace=replace)
    return study, folder


def invite_respondents(study_id: str, count: int, *, workspace: Any = None, base_url: str = "http://127.0.0.1:8000",
                       label: str | None = None, link_days: float | None = None,
                       respondents: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(respondent, link) for `count` new respondents (and a fresh link for each of `respondents`, which revokes
    their old one). The link lives at least until the retest has opened plus the web app's default link life."""
    store = study_store(workspace)
    study = store.load(study_id)
    ttl = link_days or max(DEFAULT_LINK_TTL_DAYS, study.spec.retest_days + DEFAULT_LINK_TTL_DAYS)
    registry = SessionRegistry(store.workspace.sessions / "web", link_ttl_days=ttl)

    out = []
    wanted: list[str | None] = [*respondents, *([None] * count)]
    for respondent in wanted:
        if respondent is not None:
            other = store.study_of(respondent)
            if other is not None and other != study_id:

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
    store = study_store(workspace)
    study = store.load(study_id)
    return ResponseSet.from_records(f"study-{study_id}", store.response_records(study), source=str(store.folder(study_id)))


def export_study(study_id: str, out: Path | None = None, *, workspace: Any = None,
                 with_external_ids: bool = False) -> list[Path]:
    """The study's export (interviewer/study/export.py): long CSVs of both waves (responses.csv and one
    responses-<instrument>.csv each, what `simulacra report --truth FILE` reads), answers.csv with answer
    times and item positions, item_order.csv, participants.csv (wave completion times, retest interval), the
    instruments as asked; external_ids.csv only with `with_external_ids`. Files are 0600 (personal data)."""
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


# shipped instrument id -> the shipped population whose wave-1 answers its references learn from (#23 item 7)
SHIPPED_POPULATIONS = {"gss": "gss-panel-2016-2020"}


def _parse_time(value: Any) -> Any:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def retest_days(store: Any, study: Any, respondent: str) -> float | None:
    """A person's retest interval in days, from their wave timestamps: wave-2 completion minus wave-1 completion
    (as the export's participants.csv; a wave not marked complete ends at its last saved answer); None without a
    retest."""
    participant = store.participant(study.id, respondent)
    times = store.answer_times(study.id, respondent)
    ends = []
    for wave in (1, 2):
        marked = (participant.completed or {}).get(str(wave)) if participant is not None else None
        stamps = [t for t in (_parse_time(v) for (w, _i, _q), v in times.items() if w == wave) if t is not None]
        end = _parse_time(marked) or (max(stamps) if stamps else None)
        ends.append(end)
    if ends[0] is None or ends[1] is None:
        return None
    return (ends[1] - ends[0]).total_seconds() / 86400


def study_demographics(store: Any, study: Any) -> Any:
    """Per participant: their `about_you` demographics (`profile_answers`: the fields a demographic agent is given,
    GSS labels) and `retest_interval_days` (`retest_days`), indexed by respondent: the truth's demographics, so
    demographic references see what demographic agents see and the report states each person's retest interval."""

    rows: dict[str, dict[str, Any]] = {}
    for participant in store.participants(study.id):
        person = participant.respondent
        saved = store.answers(study.id, person)
        about, _paragraph = profile_answers(study, {q: v for (w, _i, q), v in saved.items() if w == 1})
        rows[person] = {**about, "retest_interval_days": retest_days(store, study, person)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = frame.index.astype(str)
    frame.index.name = "respondent"
    return frame


def study_population(instruments: Sequence[Any], population: Any = None, columns: Sequence[str] = ()) -> Any:
    """The population the study's references also learn from, or None: the wave-1 answers to the scored items of
    `population` (a ResponseSet, a response set name or a file: `simulacra study evaluate --population FILE`), else
    of the shipped population of each scored shipped instrument (`SHIPPED_POPULATIONS`: wave 1 of the GSS
    2016-2020 panel for GSS items). Respondent ids get `POPULATION_PREFIX`: these people have no agent, so they
    are never scored; they only enlarge the people references learn from (never the person themself: every
    reference leaves the predicted person out). Demographic columns kept: those in `columns` (the study's)."""

    scored = {q.id for i in instruments for q in i.questions}
    if population is not None:
        source = population if isinstance(population, ResponseSet) else load_responses(str(population))
        items = scored
    else:
        shipped = [i for i in instruments if i.id in SHIPPED_POPULATIONS]
        if not shipped:
            return None
        items = {q.id for i in shipped for q in i.questions}
        source = load_gss_panel(SHIPPED_POPULATIONS[shipped[0].id].removeprefix("gss-panel-"), "gss", waves=(1,))  # type: ignore[arg-type]
    data = source.data[(source.data["wave"] == 1) & source.data["question"].isin(items)].copy()
    if data.empty:
        return None
    data["respondent"] = POPULATION_PREFIX + data["respondent"].astype(str)
    demographics = source.demographics
    if demographics is not None and not demographics.empty:
        demographics = demographics[[c for c in demographics.columns if c in set(columns)]].copy()
        demographics.index = POPULATION_PREFIX + demographics.index.astype(str)
        demographics = demographics[demographics.index.isin(set(data["respondent"]))]
    return ResponseSet(name=source.name, data=data.reset_index(drop=True), demographics=demographics,
                       instrument=source.instrument, source=source.source)


def with_population(truth: Any, population: Any) -> Any:
    """The study's truth with the population's wave-1 rows (and demographics) appended."""

    data = pd.concat([truth.data, population.data], ignore_index=True)
    frames = [d for d in (truth.demographics, population.demographics) if d is not None and not d.empty]
    demographics = pd.concat(frames) if frames else truth.demographics
    return ResponseSet(name=truth.name, data=data, demographics=demographics, instrument=truth.instrument,
                       source=truth.source)


async def evaluate_study(study_id: str, llm: Any, *, workspace: Any = None, model: dict[str, Any] | None = None,
                         conditions: Sequence[str] = CONDITIONS, reflections: bool = True, bootstrap: int = 1000,
                         min_items: int | None = None, batch_size: int = 5, run_id: str | None = None, new_run: bool = False,
                         show_progress: bool = False, progress: Any = None, executor: Any = None,
                         population: Any = None):
    """Build the study's agents, plan them as a RunSpec on the study's scored instruments (the study's answers as
    its truth, the exclusions computed once), run it through the pipeline and write the report.
    The truth carries each participant's `about_you` demographics and retest interval (`study_demographics`) and,
    for the references to learn from, a population's wave-1 answers (`study_population`: `population`, else the
    shipped population of a shipped instrument such as GSS), marked by `POPULATION_PREFIX` and never scored.
    Returns (run folder, ReportResult, notes). `executor`: where answers are made (default: locally on `llm`)."""
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
    if study.adaptive:  # agents answer the items some participant was asked (each person is scored on theirs)
        asked = set(truth.data.loc[truth.data["wave"] == 1, "question"])
        instruments = [i.model_copy(update={"questions": [q for q in i.questions if q.id in asked]})
                       if i.id in study.adaptive else i for i in instruments]
        instruments = [i for i in instruments if i.questions]
    truth.demographics = study_demographics(store, study)
    people = population_info = None
    pop = study_population(instruments, population, [c for c in truth.demographics.columns if c != "retest_interval_days"])
    if pop is not None:
        truth = with_population(truth, pop)
        people = int(pop.data["respondent"].nunique())
        population_info = {"name": pop.name, "source": pop.source, "people": people, "wave": 1,
                           "items": sorted(set(pop.data["question"]))}
    exclusions = exclusions_for([q.id for i in instruments for q in i.questions])
    agents, respondents, notes = await build_study_agents(study_id, llm, workspace=store.workspace, conditions=conditions,
                                                          reflections=reflections, progress=progress, exclusions=exclusions)
    if not agents:
        raise StudyError(f"study {study_id}: no agent could be built ({'; '.join(notes) or 'no participants'})")
    if study.experiments:
        notes.append(f"experiments ({', '.join(study.experiments)}) are not scored here: run them with `simulacra experiment`")
    if population_info is not None:
        notes.append(f"references learn from the study's other participants plus {people} people of "
                     f"{population_info['name']} (wave 1, {len(population_info['items'])} items; never scored)")
    extra: dict[str, Any] = {"study": study_id, "retest_days": study.spec.retest_days}
    if population_info is not None:
        extra["population"] = population_info
    if study.adaptive:
        extra["adaptive"] = {i: info.model_dump(exclude={"population_file"}) for i, info in study.adaptive.items()}
    spec = RunSpec.build(agents, instruments, model=model or {"model": getattr(llm, "model", "")}, batch_size=batch_size,
                         truth=truth, exclusions=exclusions, respondents=respondents, label=f"study {study_id}",
                         run_id=run_id, extra=extra)
    outcome = await run_async(spec, executor, llm=llm, workspace=store.workspace, new_run=new_run,
                              console=Console(stderr=True) if show_progress else None)
    result = report(outcome.folder, None, EvalSettings(bootstrap=bootstrap, min_items=min_items))
    if study.adaptive:
        checked = adaptive_predictions(store, study)
        atomic_write_json(outcome.folder.path / ADAPTIVE_REPORT, checked)
        notes += [adaptive_note(block) for block in checked["instruments"]]
    return outcome.folder, result, notes


ADAPTIVE_REPORT = "adaptive.json"


def adaptive_predictions(store: Any, study: Any) -> dict[str, Any]:
    """For each adaptive instrument: the selector's prediction (most likely answer given the person's own wave-1
    answers to the items they were asked, from the study's frozen population without them) of every item they
    were not asked, checked against their retest answer to it where there is one (`adaptive: {retest: all}`),
    beside the population's majority answer on the same person-items."""
    folder = store.folder(study.id)
    blocks = []
    for instrument_id, info in study.adaptive.items():
        people = adaptive_runtime.population(folder, study, instrument_id)
        majority = _majority(people.data, study.instrument(instrument_id))
        predicted = checked = agree = agree_majority = persons = 0
        for participant in store.participants(study.id):
            saved = store.answers(study.id, participant.respondent)
            answered = {q: v for (w, i, q), v in saved.items() if w == 1 and i == instrument_id}
            if not answered:
                continue
            persons += 1
            guesses = adaptive_runtime.selector(folder, study, instrument_id, participant.respondent).predict(answered)
            predicted += len(guesses)
            for question, guess in guesses.items():
                retest = saved.get((2, instrument_id, question))
                if retest is None:
                    continue
                checked += 1
                agree += int(str(guess) == str(retest))
                agree_majority += int(majority.get(question) == str(retest))
        blocks.append({
            "instrument": instrument_id, "max_items": info.max_items, "budget_seconds": info.budget_seconds,
            "retest": info.retest, "population": info.population, "population_people": info.people,
            "people": persons, "predicted": predicted, "checked": checked,
            "agreement": agree / checked if checked else None,
            "majority_agreement": agree_majority / checked if checked else None,
        })
    return {"report": "adaptive-predictions", "version": 1, "instruments": blocks,
            "what": "the selector's most likely answer to each item a person was not asked (from their answers to the "
                    "items asked) vs their retest answer to it; the population's majority answer on the same "
                    "person-items beside it"}


def _majority(data: Any, instrument: Any) -> dict[str, str]:
    """The most common wave-1 answer per item (ties: the option listed first)."""
    out = {}
    for question in instrument.questions:
        counts = data.loc[data["question"] == question.id, "value"].astype(str).value_counts()
        if len(counts):
            order = {o.code: n for n, o in enumerate(question.options)}
            out[question.id] = min(counts.index, key=lambda code: (-counts[code], order.get(code, len(order))))
    return out


def adaptive_note(block: dict[str, Any]) -> str:
    """One line on an adaptive instrument's predictions of the items not asked."""
    head = f"adaptive {block['instrument']}: {block['predicted']} person-items not asked were predicted"
    if not block["checked"]:
        why = " (the retest asks only the items asked; adaptive: {retest: all} asks the rest too)" \
            if block["retest"] == "same" else ""
        return f"{head}; none has a retest answer to check them against{why}"
    return (f"{head}; on the {block['checked']} with a retest answer they agree {block['agreement']:.2f} "
            f"(the population's majority answer: {block['majority_agreement']:.2f}); see {ADAPTIVE_REPORT}")
