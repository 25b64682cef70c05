"""Score a run folder against human answers: the numbers behind `metrics.json` and `report.html`.

Everything is computed from the run folder (manifest, instruments, responses.sqlite) and a ResponseSet of
human answers (wave 1 = what agents are scored against, wave 2 = the same people's retest, the ceiling).
Agents are grouped into conditions by their source (interview, demographic, persona, composite) and
scored per person; two floors are scored the same way from the human data alone: the majority answer
(each item's most common wave-1 answer among the *other* people) and uniform random choice.

Survey instruments (choice items) are scored by `experiments.scoring.survey`: every agent condition beside
the statistical reference conditions (majority, demographic kNN, composite kNN, logistic regression; all
learn from other people only) and the random floor, on the same people and items, with two-way bootstrap
intervals, failed answers scored both ways (as wrong: the headline; and excluded), distribution metrics,
population-informed versions of the agent conditions and a verdict per agent condition against the best
reference and against its matched reference, which sees exactly the condition's agents' inputs
(`experiments.scoring.matched`); a verdict on fewer than 10 people or 10 items says "too small to judge".
Respondents whose id starts with `POPULATION_PREFIX` (a study's population: `experiments.studies.study_population`)
have no agent: references learn from them, nobody scores them. BFI and games: profiles (trait scores, game
responses) on the same two-way bootstrap (`experiments.scoring.profiles`).

Conventions, stated once:
- when a person has a retest, only items they answered in both waves are scored, so the agent's accuracy
  and the person's own agreement cover the same items; a person without a retest gets raw metrics only;
- a failed answer (invalid model output) counts as wrong for accuracy and is left out of correlations and
  errors; `coverage` reports how many answers were valid;
- with several samples per question, the agent's answer is the most common one (a number: their mean);
- correlations are averaged over people through Fisher z; ratios (normalized scores) arithmetically.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from experiments.runs.folder import RunFolder
from experiments.scoring import metrics as m
from experiments.scoring.groups import age_group
from experiments.scoring.matched import POPULATION_PREFIX, plan_matched
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.profiles import ProfileData, profile_groups, profile_summary, profile_values
from experiments.scoring.results import SCHEMA_VERSION, Metrics
from experiments.scoring.survey import AgentCells, SurveySettings, score_survey
from simulacra.errors import SimulacraError
from surveys.instruments import load_instrument
from surveys.model import Instrument, Question, QuestionKind
from surveys.responses import ResponseSet

log = logging.getLogger(__name__)

DEFAULT_MIN_ITEMS = 20

FLOOR_MAJORITY = "majority_floor"
FLOOR_RANDOM = "random_floor"
AGENT_CONDITIONS = ["interview", "combined", "composite", "demographic", "persona"]
CONDITION_ORDER = (
    AGENT_CONDITIONS + [f"{c}+{kind}" for c in AGENT_CONDITIONS for kind in ("population", "placebo", "stacked")]
    + ["majority", "demographic_knn", "composite_knn", "logistic", FLOOR_MAJORITY, FLOOR_RANDOM]
)
RANDOM_DRAWS = 20
NOT_DEMOGRAPHIC = {"year", "sample", "wave", "id", "respondent", "weight", "name", "first_name", "last_name",
                   "retest_interval_days"}


@dataclass
class EvalSettings:
    wave: int = 1
    retest_wave: int = 2
    bootstrap: int = 1000
    seed: int = 0
    parity_fields: list[str] | None = None  # None: age, sex, race, degree where present
    parity_min_group: int = 30  # parity differences only between groups of at least this many people
    min_items: int | None = None  # people with fewer scored items are excluded (and counted); None: 20, or half
    # the items asked per person when fewer than 40 were asked (a small run keeps its people)
    min_item_people: int = 30  # the per-item table lists items with at least this many people
    references: tuple[str, ...] = ("majority", "demographic_knn", "composite_knn", "logistic")
    population: bool = True  # add each agent condition's population-informed version
    design: str | None = None  # same-wave | cross-wave; None: what the run's manifest says (default same-wave)


@dataclass
class PersonScores:
    condition: str
    respondent: str
    instrument: str
    values: dict[str, float | None] = field(default_factory=dict)


def instrument_family(instrument: Instrument) -> str:
    kind = str(instrument.scoring.get("kind", instrument.scoring.get("type", ""))).lower()
    if kind in ("bfi", "bfi44", "big_five", "big5", "traits") or instrument.id.lower().startswith("bfi"):
        return "bfi"
    if kind in ("games", "economic_games", "game") or instrument.id.lower() in ("games", "economic_games"):
        return "games"
    return "survey"


# -- answers from the run ------------------------------------------------------------------------------
def agent_answers(frame: pd.DataFrame, questions: Mapping[str, Question]) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """{agent: {question: value}} of valid answers (samples combined) and {agent: {failed questions}}."""
    ok: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    failed: dict[str, set[str]] = defaultdict(set)
    for row in frame.itertuples(index=False):
        if row.question not in questions:
            continue
        if row.status == "ok" and row.value is not None:
            ok[row.agent][row.question].append(row.value)
        else:
            failed[row.agent].add(row.question)
    combined: dict[str, dict[str, Any]] = {}
    for agent, by_q in ok.items():
        combined[agent] = {}
        for qid, values in by_q.items():
            question = questions[qid]
            if question.kind == QuestionKind.numeric:
                combined[agent][qid] = float(np.mean([float(v) for v in values]))
            else:
                combined[agent][qid] = Counter(str(v) for v in values).most_common(1)[0][0]
    return combined, {a: qs - set(combined.get(a, {})) for a, qs in failed.items()}


# -- per-person scoring ------------------------------------------------------------------------------
class Scorer:
    """Scores predictions for one instrument against one ResponseSet (wave 1 with wave-2 retest)."""

    def __init__(self, instrument: Instrument, truth: ResponseSet, settings: EvalSettings):
        self.instrument = instrument
        self.family = instrument_family(instrument)
        self.questions = {q.id: q for q in instrument.questions}
        self.settings = settings
        data = truth.data[truth.data.question.isin(set(self.questions))]
        self.w1 = _wave(data, settings.wave)
        self.w2 = _wave(data, settings.retest_wave)
        self.choice_items = [q.id for q in instrument.questions if q.is_choice]
        self.numeric_items = [q.id for q in instrument.questions if q.kind == QuestionKind.numeric]

    def items_for(self, person: str, pool: Iterable[str]) -> list[str]:
        first = self.w1.get(person, {})
        second = self.w2.get(person, {})
        items = [q for q in pool if q in first]
        if any(q in second for q in items):
            items = [q for q in items if q in second]
        return items

    # -- floors ----------------------------------------------------------------------------------------
    def majority_answers(self, person: str) -> dict[str, Any]:
        """Each item's most common wave-1 answer among everyone else (ties: the first option)."""
        cache = self.__dict__.setdefault("_majority_cache", {})
        if person not in cache:
            cache[person] = self._majority(person)
        return cache[person]

    def _majority(self, person: str) -> dict[str, Any]:
        counts = self._counts()
        out: dict[str, Any] = {}
        own = self.w1.get(person, {})
        for qid, counter in counts.items():
            question = self.questions[qid]
            tally = Counter(counter)
            if qid in own:
                tally[_key(question, own[qid])] -= 1
            if question.kind == QuestionKind.numeric:
                values = [float(v) for v, c in tally.items() for _ in range(max(c, 0))]
                if values:
                    out[qid] = float(np.median(values))
                continue
            order = {o.code: i for i, o in enumerate(question.options)}
            ranked = sorted((c for c in tally.items() if c[1] > 0), key=lambda kv: (-kv[1], order.get(kv[0], 1e9)))
            if ranked:
                out[qid] = ranked[0][0]
        return out

    def _counts(self) -> dict[str, Counter]:
        if not hasattr(self, "_count_cache"):
            counts: dict[str, Counter] = defaultdict(Counter)
            for answers in self.w1.values():
                for qid, value in answers.items():
                    counts[qid][_key(self.questions[qid], value)] += 1
            self._count_cache = counts
        return self._count_cache

    def random_answers(self, rng: np.random.Generator, items: Iterable[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for qid in items if items is not None else self.questions:
            question = self.questions[qid]
            if question.is_choice:
                out[qid] = question.options[int(rng.integers(len(question.options)))].code
            elif question.kind == QuestionKind.numeric:
                value = rng.uniform(question.min, question.max)
                out[qid] = round(value) if question.integer else value
        return out


def _key(question: Question, value: Any) -> Any:
    return float(value) if question.kind == QuestionKind.numeric else m._code(value)


def _wave(data: pd.DataFrame, wave: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in data[data.wave == wave].itertuples(index=False):
        out.setdefault(str(row.respondent), {})[str(row.question)] = row.value
    return out


def demographic_groups(demographics: pd.DataFrame, people: list[str], fields: list[str] | None) -> dict[str, dict[str, Any]]:
    """{field: {person: group}} for parity; ages are binned; fields with 2-12 groups among these people."""
    if demographics is None or demographics.empty:
        return {}
    table = demographics.copy()
    table.index = table.index.astype(str)
    table = table[table.index.isin(set(people))]
    out: dict[str, dict[str, Any]] = {}
    for column in fields or [c for c in table.columns if str(c).lower() not in NOT_DEMOGRAPHIC]:
        if column not in table.columns:
            continue
        series = table[column]
        if column.lower() in ("age", "age_1", "age_w1"):
            series = series.map(age_group)
        series = series.dropna().astype(str)
        series = series[series != ""]
        if fields is None and not (2 <= series.nunique() <= 12):
            continue
        out[column] = series.to_dict()
    return out


def evaluate(folder: RunFolder, truth: ResponseSet, settings: EvalSettings | None = None) -> dict[str, Any]:
    """All metrics of a run against human answers, as the JSON-ready dict written to metrics.json.

    Raises SimulacraError when the human answers score nobody in the run (a wrong or empty truth file).
    """

    settings = settings or EvalSettings()
    manifest = folder.manifest
    design = settings.design or (manifest.extra or {}).get("design") or "same-wave"
    if design == "cross-wave" and settings.wave == 1:
        settings = dataclasses.replace(settings, wave=2, retest_wave=1, design=design)
    instruments = folder.instruments()
    frame = folder.answers()
    truth_people = set(truth.respondents)
    if truth.data.empty or not truth_people:
        raise SimulacraError(f"the human answers {truth.name!r} ({truth.source or 'no file'}) are empty: nothing to score against")

    by_condition: dict[str, list[Any]] = defaultdict(list)
    unscored: list[dict[str, Any]] = []
    for entry in manifest.agents:
        if entry.respondent in truth_people:
            by_condition[entry.source].append(entry)
        else:
            unscored.append({"agent": entry.id, "source": entry.source, "respondent": entry.respondent})
    if manifest.agents and not by_condition:
        raise SimulacraError(
            f"none of the run's {len(manifest.agents)} agents' respondents is in the human answers {truth.name!r} "
            f"({truth.source or 'no file'}): is this the right truth file?"
        )

    per_person: list[dict[str, Any]] = []
    per_item: list[dict[str, Any]] = []
    conditions: dict[str, dict[str, Any]] = defaultdict(dict)
    verdicts: list[dict[str, Any]] = []
    parity: dict[str, Any] = {}
    effective_min: dict[str, int] = {}
    rng = np.random.default_rng(settings.seed)
    for instrument in instruments:
        family = instrument_family(instrument)
        scorer = Scorer(instrument, truth, settings)
        predictions, failures = agent_answers(frame, scorer.questions)
        if family == "survey" and scorer.choice_items:
            survey = _score_survey_instrument(instrument, truth, frame, by_condition, settings, run_exclusions(manifest))
            if survey is not None:
                result, min_items = survey
                effective_min[instrument.id] = min_items
                for name, block in result.conditions.items():
                    conditions[name][instrument.id] = block
                per_person += [{**row, "instrument": instrument.id} for row in result.per_person]
                per_item += [{**row, "instrument": instrument.id} for row in result.per_item]
                verdicts += [{**row, "instrument": instrument.id} for row in result.verdicts]
                parity[instrument.id] = result.parity
            if scorer.numeric_items:
                _numeric_blocks(scorer, by_condition, predictions, failures, settings, conditions, instrument.id)
            continue
        # BFI and games: profiles per person from item-level values on the engine's two-way bootstrap
        # (`profiles.profile_summary`); floors: the majority answers of the other people, one seeded
        # uniform-random answer sheet per person
        groups = profile_groups(instrument, family)
        rows_by_condition: dict[str, list[ProfileData]] = defaultdict(list)
        people_scored: set[str] = set()

        def profile_of(person: str, answers: Mapping[str, Any]) -> ProfileData:
            return ProfileData(*(profile_values(instrument, family, a) for a in (answers, scorer.w1.get(person, {}), scorer.w2.get(person, {}))))

        for condition, entries in by_condition.items():
            seen: set[str] = set()
            for entry in entries:
                if entry.respondent in seen or entry.respondent not in scorer.w1:
                    continue
                seen.add(entry.respondent)
                rows_by_condition[condition].append(profile_of(entry.respondent, predictions.get(entry.id, {})))
            people_scored |= seen
        for person in sorted(people_scored):
            rows_by_condition[FLOOR_MAJORITY].append(profile_of(person, scorer.majority_answers(person)))
            rows_by_condition[FLOOR_RANDOM].append(profile_of(person, scorer.random_answers(rng)))
        for condition, rows in rows_by_condition.items():
            conditions[condition][instrument.id] = profile_summary(rows, groups, n_boot=settings.bootstrap, seed=settings.seed)

    counts = frame["status"].value_counts().to_dict() if not frame.empty else {}
    notes = exclusion_notes(conditions, effective_min, settings)
    notes += [note for i in instruments if instrument_family(i) == "bfi" for note in partial_traits(i)]
    metrics = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": manifest.id,
            "status": manifest.status,
            "model": manifest.model,
            "settings": manifest.settings,
            "code_version": manifest.code_version,
            "agents": len(manifest.agents),
            "instruments": {i.id: len(i.questions) for i in manifest.instruments},
            "usage": manifest.usage,
        },
        "truth": {
            "name": truth.name,
            "source": truth.source,
            "people_in_truth": len({p for p in truth_people if not p.startswith(POPULATION_PREFIX)}),
            "population_people": len({p for p in truth_people if p.startswith(POPULATION_PREFIX)}),
            "population": (manifest.extra or {}).get("population"),
            "wave": settings.wave,
            "retest_wave": settings.retest_wave,
            "design": "same-wave" if settings.wave == 1 else "cross-wave",
            "retest_interval": retest_interval(truth),
            "retest_interval_days": person_retest_days(truth),
        },
        "answers": {"total": int(len(frame)), "ok": int(counts.get("ok", 0)), "failed": int(counts.get("failed", 0)),
                    "expected": manifest.total_answers, "headline": "failed answers count as wrong",
                    "also": "failed answers excluded (see each condition's failed_excluded block)"},
        "conditions": {c: conditions[c] for c in _ordered(conditions)},
        "families": {i.id: instrument_family(i) for i in instruments},
        "verdicts": verdicts,
        "parity": parity,
        "per_item": per_item,
        "per_person": per_person,
        "unscored_agents": unscored,
        "notes": notes,
        "settings": {
            "bootstrap": settings.bootstrap,
            "bootstrap_kind": "two-way: people and items resampled with replacement",
            "seed": settings.seed,
            "ci_level": 0.95,
            "min_items": settings.min_items,
            "min_items_effective": effective_min,
            "parity_min_group": settings.parity_min_group,
            "min_item_people": settings.min_item_people,
            "references": list(settings.references),
            "parity_fields": settings.parity_fields,
        },
    }
    return Metrics.model_validate(metrics).model_dump(mode="json")


def exclusion_notes(conditions: Mapping[str, Mapping[str, Any]], effective_min: Mapping[str, int],
                    settings: EvalSettings) -> list[str]:
    """In words, the people an agent condition lost to the minimum of scored items (nobody scored is said loudest)."""
    notes = []
    for name in _ordered(conditions):
        for instrument, block in conditions[name].items():
            if name in REFERENCE_CONDITIONS or block.get("kind") in ("reference", "floor"):
                continue
            people, excluded = int(block.get("people", 0) or 0), int(block.get("excluded_people", 0) or 0)
            if not excluded or instrument not in effective_min:
                continue
            minimum = effective_min[instrument]
            how = "--min-items (default: 20, or half the items asked when fewer than 40 were asked)"
            if people == 0:
                notes.append(f"{instrument} {name}: all {excluded} people excluded: fewer than {minimum} scored items "
                             f"each (items answered in both waves); lower the minimum with {how}")
            else:
                notes.append(f"{instrument} {name}: {excluded} of {people + excluded} people excluded: fewer than "
                             f"{minimum} scored items each; see {how}")
    return notes


REFERENCE_CONDITIONS = {"majority", "demographic_knn", "composite_knn", "logistic", FLOOR_MAJORITY, FLOOR_RANDOM}


def partial_traits(instrument: Instrument) -> list[str]:
    """BFI traits measured by fewer than their items (a study asking a subset), flagged in words: the trait key of
    the shipped instrument of the same id when there is one, else the instrument's own."""
    key = instrument.scoring.get("traits", {}) if isinstance(instrument.scoring, dict) else {}
    try:
        key = load_instrument(instrument.id).scoring.get("traits", {}) or key
    except Exception:  # noqa: BLE001 - a user instrument: its own key
        pass
    asked = {q.id for q in instrument.questions}
    out = []
    for trait, spec in key.items():
        items = list(spec.get("items", []))
        n = sum(1 for q in items if q in asked)
        if 0 < n < len(items):
            out.append(f"{instrument.id} trait {trait}: measured by {n} of its {len(items)} items (flagged: a partial "
                       "score, less reliable than the full scale)")
    return out


def person_retest_days(truth: ResponseSet) -> dict[str, float] | None:
    """Each person's retest interval in days, when the truth's demographics carry it (`retest_interval_days`: a
    study's, from each person's wave timestamps); None otherwise."""
    demo = truth.demographics
    if demo is None or demo.empty or "retest_interval_days" not in demo.columns:
        return None
    values = pd.to_numeric(demo["retest_interval_days"], errors="coerce")
    return {str(p): float(v) for p, v in values.items() if np.isfinite(v) and not str(p).startswith(POPULATION_PREFIX)}


def _duration(days: float) -> str:
    if days < 1 / 24:
        return f"{days * 1440:.0f} minutes"
    if days < 2:
        return f"{days * 24:.1f} hours"
    return f"{days:.1f} days"


def retest_interval(truth: ResponseSet) -> str:
    """The time between the scored wave and the retest: each person's own from their wave timestamps when the
    truth carries them (a study), with the distribution over people; else as far as the response set says."""
    days = person_retest_days(truth)
    if days:
        values = np.array(sorted(days.values()))
        text = (f"each person's own, from their wave timestamps: median {_duration(float(np.median(values)))} "
                f"(range {_duration(float(values[0]))} to {_duration(float(values[-1]))}) over {len(values)} people")
        if len(values) <= 10:
            text += "; " + ", ".join(f"{p}: {_duration(v)}" for p, v in sorted(days.items()))
        return text
    name = f"{truth.name} {truth.source or ''}"
    if "2016" in name and "2020" in name or "gss-panel-2016" in name:
        return "2 or 4 years: the 2018 sample re-interviewed in 2020 (2 years), the 2016 sample in 2020 (4 years); reported apart"
    if "2006" in name:
        return "2 years (2006 -> 2008)"
    return "as in the response set (wave 1 vs wave 2); not stated"


def _feature_questions(instrument: Instrument, truth: ResponseSet) -> list[Question]:
    """The instrument's choice items plus any other items of the truth's instrument present in the truth data
    (e.g. a benchmark's context items): what reference predictors may learn from."""
    questions = [q for q in instrument.questions if q.is_choice]
    have = {q.id for q in questions}
    extra_ids = set(truth.data["question"].astype(str).unique()) - have
    if extra_ids and truth.instrument:
        try:

            source = load_instrument(truth.instrument)
            questions += [q for q in source.questions if q.id in extra_ids and q.is_choice]
        except Exception:  # noqa: BLE001 - a user instrument we cannot load: learn from the scored items only
            log.debug("reference features: instrument %s not loadable; using the scored items only", truth.instrument)
    return questions


def run_exclusions(manifest: Any) -> dict[str, set[str]] | None:
    """The exclusions the run's spec recorded (target -> hidden items), or None for a run from before RunSpec."""
    hidden = (manifest.exclusions or {}).get("hidden") if manifest.spec_version else None
    return None if hidden is None else {target: set(items) for target, items in hidden.items()}


def _score_survey_instrument(instrument: Instrument, truth: ResponseSet, frame: pd.DataFrame, by_condition,
                             settings: EvalSettings, exclusions: dict[str, set[str]] | None = None):

    panel = PanelMatrix.from_responses(truth, _feature_questions(instrument, truth), wave=1, retest_wave=2)
    panel.scored_wave = settings.wave
    targets = [q.id for q in instrument.questions if q.is_choice and q.id in panel.items]
    index = panel.person_index()
    people = sorted({e.respondent for entries in by_condition.values() for e in entries if e.respondent in index}, key=lambda p: index[p])
    if not people or not targets:
        return None
    rows = np.array([index[p] for p in people], dtype=int)
    row_of = {p: i for i, p in enumerate(people)}
    col_of = {q: j for j, q in enumerate(targets)}
    k_max = panel.max_options
    agents: dict[str, AgentCells] = {}
    sub = frame[frame["question"].isin(set(targets))] if not frame.empty else frame
    for condition, entries in by_condition.items():
        shape = (len(people), len(targets))
        cells = AgentCells(np.zeros(shape, bool), np.full(shape, -1, np.int16), np.zeros(shape, bool),
                           np.zeros(shape + (k_max,)), np.zeros(shape, bool))
        owner = {}
        for entry in entries:
            if entry.respondent in row_of and entry.respondent not in owner.values():
                owner[entry.id] = entry.respondent
        rows_frame = sub[sub["agent"].isin(set(owner))] if not sub.empty else sub
        votes: dict[tuple[int, int], list[int]] = defaultdict(list)
        for row in rows_frame.itertuples(index=False):
            i, j = row_of[owner[row.agent]], col_of[row.question]
            cells.asked[i, j] = True
            code = panel.encode(row.question, row.value) if row.status == "ok" and row.value is not None else -1
            if code >= 0:
                votes[(i, j)].append(code)
                probabilities = getattr(row, "probabilities", None)
                if isinstance(probabilities, dict) and probabilities and not cells.has_proba[i, j]:
                    options = panel.questions[row.question].options
                    vector = np.array([float(probabilities.get(o.code, 0.0) or 0.0) for o in options])
                    if vector.sum() > 0:
                        cells.proba[i, j, : len(options)] = vector / vector.sum()
                        cells.has_proba[i, j] = True
        for (i, j), codes in votes.items():
            cells.predicted[i, j] = Counter(codes).most_common(1)[0][0]
        cells.failed = cells.asked & (cells.predicted < 0)
        agents[condition] = cells
    asked_per_person = max((int(c.asked.sum(axis=1).max()) for c in agents.values() if c.asked.size), default=len(targets))
    if settings.min_items is not None:
        min_items = max(1, settings.min_items)
    else:
        min_items = max(1, min(DEFAULT_MIN_ITEMS, (asked_per_person or len(targets)) // 2))
    survey_settings = SurveySettings(
        min_items=min_items, bootstrap=settings.bootstrap, seed=settings.seed, references=settings.references,
        population=settings.population, parity_min_group=settings.parity_min_group,
        min_item_people=settings.min_item_people, parity_fields=settings.parity_fields, exclusions=exclusions,
        matched=plan_matched(by_condition, panel, exclusions),
    )
    return score_survey(panel, targets, rows, agents, survey_settings), min_items


def _numeric_blocks(scorer: Scorer, by_condition, predictions, failures, settings: EvalSettings, conditions, instrument_id: str) -> None:
    """Numeric items of a survey instrument: scaled MAE per person (people-only bootstrap)."""
    for condition, entries in by_condition.items():
        rows = []
        for entry in entries:
            if entry.respondent in scorer.w1:
                first = scorer.w1[entry.respondent]
                items = scorer.items_for(entry.respondent, scorer.numeric_items)
                mae, n = m.scaled_mae(scorer.questions, predictions.get(entry.id, {}), first, items)
                if n:
                    rows.append(mae)
        if rows:
            ci = m.bootstrap_ci(rows, n_boot=settings.bootstrap, seed=settings.seed)
            conditions[condition].setdefault(instrument_id, {"people": len(rows)})["numeric_mae"] = {
                "mean": m.mean(rows), "ci": list(ci) if ci else None, "n": len(rows)}


def _ordered(names: Iterable[str]) -> list[str]:
    names = set(names)
    known = [c for c in CONDITION_ORDER if c in names]
    return known + sorted(names - set(known))
