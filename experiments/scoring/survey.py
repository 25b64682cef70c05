"""Score choice-item conditions (agents, reference predictors, floors) on the same people and items.

Used by `evaluate` for every survey instrument of a run and by the full-panel reference table. Inputs are
option-index arrays over people x target items (see `panel.PanelMatrix`); outputs are JSON-ready blocks:

- each condition: raw accuracy first, retest agreement, normalized accuracy (mean of per-person ratios, the
  paper's rule, and ratio of means), Fisher-z correlations and their ratio, each with a two-way (people x
  items) bootstrap interval; people below `min_items` excluded and counted; coverage (valid / asked);
  failed answers scored as wrong (the headline) and excluded; no valid answers -> no score;
- distribution metrics (log-loss, Brier per person; 1 - TV/TV_uniform per item);
- the population-informed version of each agent condition (`<condition>+population`);
- a verdict per agent condition: its paired difference from the best reference condition, with an interval;
- results apart for the 2016 and 2018 samples of the 2016-2020 panel (4- and 2-year retest intervals);
- parity differences for groups of at least `parity_min_group` people; a per-item table for items with at
  least `min_item_people` people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from experiments.scoring import stats as st
from experiments.scoring.distributions import brier_per_person, log_loss_per_person, one_hot_proba, population_tv
from experiments.scoring.mixing import population_informed
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import LABELS, REFERENCE_ORDER, reference_predictors

RANDOM = "random_floor"
# which reference's distribution an agent condition is mixed with (the one that sees what the agent sees)
MIX_WITH = {"demographic": "demographic_knn", "composite": "composite_knn", "combined": "composite_knn"}
SAMPLE_INTERVALS = {"2016": "2016 -> 2020 (4 years)", "2018": "2018 -> 2020 (2 years)"}
AGE_BINS = [(18, 29), (30, 44), (45, 64), (65, 200)]


@dataclass
class SurveySettings:
    min_items: int = 20
    bootstrap: int = 1000
    seed: int = 0
    references: Sequence[str] = REFERENCE_ORDER
    k: int = 25
    folds: int = 5
    population: bool = True
    parity_min_group: int = 30
    min_item_people: int = 30
    parity_fields: list[str] | None = None
    by_sample: bool = True


@dataclass
class AgentCells:
    """An agent condition's answers on rows x targets."""

    asked: np.ndarray
    predicted: np.ndarray  # option index, -1 = no valid answer
    failed: np.ndarray
    proba: np.ndarray | None = None  # (rows, targets, K) stored option distributions; NaN rows where absent
    has_proba: np.ndarray | None = None  # (rows, targets) bool


@dataclass
class SurveyResult:
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    per_item: list[dict[str, Any]] = field(default_factory=list)
    parity: dict[str, Any] = field(default_factory=dict)
    per_person: list[dict[str, Any]] = field(default_factory=list)
    min_items: int = 20
    references: list[str] = field(default_factory=list)


def _no_answers_block(cells: st.Cells) -> dict[str, Any]:
    asked = int(cells.scored(st.HEADLINE_MODE).sum())
    return {"kind": "agent", "no_valid_answers": True, "people": 0, "coverage": _coverage(cells)} | {
        k: {"mean": None, "ci": None} for k in st.STAT_KEYS} | {"asked": asked}


def _coverage(cells: st.Cells) -> dict[str, Any]:
    asked = cells.scored(st.HEADLINE_MODE) | (cells.scored("failed_excluded"))
    valid = int((asked & (cells.predicted >= 0)).sum())
    failed = int((asked & cells.failed).sum())
    total = int(asked.sum())
    return {"asked": total, "valid": valid, "failed": failed, "share": (valid / total) if total else None}


def score_survey(panel: PanelMatrix, targets: list[str], rows: np.ndarray, agents: dict[str, AgentCells],
                 settings: SurveySettings, *, reference_asked: np.ndarray | None = None) -> SurveyResult:
    """Every condition on `rows` (people indices into `panel`) x `targets` (items of `panel`)."""
    from experiments.scoring.leakage import exclusions

    result = SurveyResult(min_items=settings.min_items, references=list(settings.references))
    sub = panel.subset(people=[panel.people[i] for i in rows], items=targets)
    base = st.Cells.from_panel(sub, np.full(sub.truth.shape, -1, np.int16))
    boot = st.Bootstrap(len(rows), len(targets), settings.bootstrap, settings.seed)
    if reference_asked is None:
        reference_asked = np.zeros(sub.truth.shape, bool)
        for cells in agents.values():
            reference_asked |= cells.asked
        if not agents:
            reference_asked[:] = True

    # -- reference conditions (and the random floor) --------------------------------------------------
    predictors = reference_predictors(list(settings.references), exclusions(panel.items), k=settings.k, seed=settings.seed, folds=settings.folds)
    ref_proba: dict[str, np.ndarray] = {}
    ref_cells: dict[str, st.Cells] = {}
    for predictor in predictors:
        proba = predictor.predict_proba(panel, targets, rows)[:, :, : sub.max_options]  # the targets' options only
        ref_proba[predictor.name] = proba
        ref_cells[predictor.name] = st.Cells.from_panel(sub, np.argmax(proba, axis=2), asked=reference_asked)

    agent_cells: dict[str, st.Cells] = {}
    agent_proba: dict[str, tuple[np.ndarray, str]] = {}
    for name, a in agents.items():
        cells = st.Cells.from_panel(sub, a.predicted, asked=a.asked, failed=a.failed)
        agent_cells[name] = cells
        hard = one_hot_proba(a.predicted, sub.n_options, sub.max_options, smoothing=0.0)
        if a.proba is not None and a.has_proba is not None and a.has_proba[a.asked].all() and a.asked.any():
            stored = a.proba[:, :, : sub.max_options]  # the targets' options only (as the references are cut)
            agent_proba[name] = (np.where(a.has_proba[..., None], stored, hard), "stored option probabilities")
        else:
            agent_proba[name] = (hard, "answers (no stored distributions; a hard answer is a one-point distribution)")

    # -- population-informed conditions -----------------------------------------------------------------
    mixed_cells: dict[str, st.Cells] = {}
    if settings.population:
        for name, (proba, origin) in list(agent_proba.items()):
            cells = agent_cells[name]
            ref_name = MIX_WITH.get(name, "majority")
            if ref_name not in ref_proba or (cells.predicted >= 0).sum() == 0:
                continue
            scored = cells.scored("failed_excluded")
            if len(np.unique(np.flatnonzero(scored.any(axis=1)))) < 2:
                continue
            mixture = population_informed(proba, ref_proba[ref_name], sub.truth, scored)
            mixed_name = f"{name}+population"
            predicted = np.where(cells.asked, np.argmax(mixture.proba, axis=2), -1)
            mixed_cells[mixed_name] = st.Cells.from_panel(sub, predicted, asked=cells.asked)
            agent_proba[mixed_name] = (mixture.proba, f"mixture of {name} ({origin}) and {LABELS.get(ref_name, ref_name)}")
            result.conditions[mixed_name] = {"mixed_with": ref_name, "weights": _weights(mixture.weights, scored)}

    # -- summaries ----------------------------------------------------------------------------------------
    samples = _samples(sub) if settings.by_sample else {}
    ordered: list[tuple[str, st.Cells, str]] = (
        [(n, c, "agent") for n, c in agent_cells.items()] + [(n, c, "population") for n, c in mixed_cells.items()]
        + [(n, c, "reference") for n, c in ref_cells.items()]
    )
    all_sums: dict[str, st.PersonSums] = {}
    for name, cells, kind in ordered:
        block = result.conditions.setdefault(name, {})
        if kind == "agent" and not (cells.asked & (cells.predicted >= 0)).any():
            block.update(_no_answers_block(cells))
            continue
        sums = st.person_sums(cells, st.HEADLINE_MODE)
        all_sums[name] = sums
        block.update({"kind": kind, "label": LABELS.get(name, name), **st.summarize(sums, boot, settings.min_items),
                      "coverage": _coverage(cells), "no_valid_answers": False})
        if kind == "agent":
            block["failed_excluded"] = st.summarize(st.person_sums(cells, "failed_excluded"), boot, settings.min_items)
        proba, origin = (ref_proba[name], "predicted distributions") if kind == "reference" else agent_proba[name]
        block["distribution"] = _distribution(proba, cells, sub, settings.min_items, origin)
        if samples:
            block["by_sample"] = {s: _sample_summary(sums, idx, settings) for s, idx in samples.items()}
        table = st.person_table(sums, settings.min_items)
        for i, person in enumerate(sub.people):
            if table["items"][i] > 0:
                result.per_person.append({"condition": name, "respondent": str(person),
                                          **{k: _f(v[i]) for k, v in table.items()}})

    # random floor: expected accuracy 1/k on the reference cells (no correlation: it is not one answer)
    random_sums = st.person_sums(st.Cells.from_panel(sub, np.zeros(sub.truth.shape, np.int16), asked=reference_asked))
    random_sums.correct = random_sums.scored / np.maximum(sub.n_options, 1)[None, :]
    random_sums.corr_agent = np.zeros_like(random_sums.corr_agent)
    all_sums[RANDOM] = random_sums
    result.conditions[RANDOM] = {"kind": "floor", "label": "random floor (1/k)", **st.summarize(random_sums, boot, settings.min_items)}
    table = st.person_table(random_sums, settings.min_items)
    for i, person in enumerate(sub.people):
        if table["items"][i] > 0:
            result.per_person.append({"condition": RANDOM, "respondent": str(person),
                                      **{k: _f(v[i]) for k, v in table.items() if "correlation" not in k}})
    uniform = np.zeros((len(rows), len(targets), sub.max_options))
    for j, k in enumerate(sub.n_options):
        uniform[:, j, :k] = 1.0 / k
    result.conditions[RANDOM]["distribution"] = _distribution(uniform, ref_cells[next(iter(ref_cells))] if ref_cells else base, sub,
                                                              settings.min_items, "uniform")

    # -- verdicts: each agent (and population-informed) condition vs the best reference on its cells ----------
    for name, cells in list(agent_cells.items()) + list(mixed_cells.items()):
        if name not in all_sums:
            result.verdicts.append({"condition": name, "verdict": "no valid answers: no score", "difference": None, "ci": None})
            continue
        best, best_value, best_sums = None, -math.inf, None
        for ref_name in ref_cells:
            ref_on_cells = st.person_sums(st.Cells.from_panel(sub, ref_cells[ref_name].predicted, asked=cells.asked))
            value = st.statistics(ref_on_cells, min_items=settings.min_items)["normalized_accuracy"]
            if np.isfinite(value) and value > best_value:
                best, best_value, best_sums = ref_name, value, ref_on_cells
        if best is None:
            result.verdicts.append({"condition": name, "verdict": "no reference to compare with", "difference": None, "ci": None})
            continue
        diff = st.paired_difference(all_sums[name], best_sums, boot, "normalized_accuracy", settings.min_items)
        result.verdicts.append({"condition": name, "reference": best, "reference_label": LABELS.get(best, best),
                                "reference_value": best_value, **diff, "verdict": _verdict_word(diff)})

    result.per_item = _items(sub, {**agent_cells, **mixed_cells, **ref_cells}, settings.min_item_people)
    result.parity = _parity(sub, result.per_person, settings)
    return result


def _verdict_word(diff: dict[str, Any]) -> str:
    ci = diff.get("ci")
    if diff.get("difference") is None:
        return "not estimable"
    if not ci:
        return "better" if diff["difference"] > 0 else "worse" if diff["difference"] < 0 else "equal"
    if ci[0] > 0:
        return "better than the best reference"
    if ci[1] < 0:
        return "worse than the best reference"
    return "not distinguishable from the best reference"


def _weights(weights: np.ndarray, scored: np.ndarray) -> dict[str, Any]:
    used = weights[scored.any(axis=1)]
    return {"mean": float(used.mean()) if len(used) else None, "min": float(used.min()) if len(used) else None,
            "max": float(used.max()) if len(used) else None}


def _f(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _distribution(proba: np.ndarray, cells: st.Cells, sub: PanelMatrix, min_items: int, origin: str) -> dict[str, Any]:
    scored = cells.scored("failed_excluded")
    counts = scored.sum(axis=1)
    keep = counts >= min_items
    ll = log_loss_per_person(proba, sub.truth, scored)[keep]
    br = brier_per_person(proba, sub.truth, scored)[keep]
    tv = population_tv(proba, sub.truth, scored, sub.n_options, sub.items)
    return {"from": origin, "log_loss": _f(np.nanmean(ll)) if len(ll) else None, "brier": _f(np.nanmean(br)) if len(br) else None,
            "population_tv_score": tv["mean"], "tv_items": tv["items"]}


def _samples(sub: PanelMatrix) -> dict[str, np.ndarray]:
    demo = sub.demographics
    if demo is None or demo.empty or "sample" not in demo.columns:
        return {}
    values = demo["sample"].astype("string").fillna("").to_numpy(dtype=object)
    out = {s: np.flatnonzero(values == s) for s in SAMPLE_INTERVALS if (values == s).any()}
    return out if len(out) > 1 else {}


def _sample_summary(sums: st.PersonSums, idx: np.ndarray, settings: SurveySettings) -> dict[str, Any]:
    part = st.PersonSums(sums.scored[idx], sums.correct[idx], sums.agree[idx], sums.retest_scored[idx],
                         sums.corr_agent[:, idx], sums.corr_retest[:, idx])
    boot = st.Bootstrap(len(idx), part.scored.shape[1], max(settings.bootstrap // 2, 0), settings.seed)
    full = st.summarize(part, boot, settings.min_items)
    return {k: full[k] for k in ("people", "excluded_people", "accuracy", "retest_agreement", "normalized_accuracy",
                                 "normalized_accuracy_ratio_of_means")}


def _items(sub: PanelMatrix, conditions: dict[str, st.Cells], min_people: int) -> list[dict[str, Any]]:
    rows = []
    for j, item in enumerate(sub.items):
        question = sub.questions[item]
        row: dict[str, Any] = {"question": item, "text": question.description or question.text[:80]}
        people = 0
        for name, cells in conditions.items():
            scored = cells.scored()[:, j]
            n = int(scored.sum())
            people = max(people, n)
            row[f"{name}_accuracy"] = float((cells.predicted[scored, j] == cells.truth[scored, j]).mean()) if n >= min_people else None
        pairs = (sub.truth[:, j] >= 0) & (sub.retest[:, j] >= 0)
        row["people"] = people
        if people < min_people:
            continue
        row["retest_agreement"] = float((sub.retest[pairs, j] == sub.truth[pairs, j]).mean()) if pairs.any() else None
        for name in conditions:
            acc, ret = row.get(f"{name}_accuracy"), row["retest_agreement"]
            row[f"{name}_normalized"] = acc / ret if acc is not None and ret else None
        row["random_floor_accuracy"] = 1 / len(question.options)
        rows.append(row)
    return rows


def _age_group(value: Any) -> str | None:
    try:
        age = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(age):
        return None
    for low, high in AGE_BINS:
        if low <= age <= high:
            return f"{low}-{high}" if high < 200 else f"{low}+"
    return None


def _parity(sub: PanelMatrix, per_person: list[dict[str, Any]], settings: SurveySettings) -> dict[str, Any]:
    demo = sub.demographics
    if demo is None or demo.empty:
        return {}
    fields = settings.parity_fields or [c for c in ("age", "sex", "race", "degree") if c in demo.columns]
    out: dict[str, Any] = {}
    by_condition: dict[str, dict[str, float]] = {}
    for row in per_person:
        if row.get("normalized_accuracy") is not None:
            by_condition.setdefault(row["condition"], {})[row["respondent"]] = row["normalized_accuracy"]
    for condition, scores in by_condition.items():
        people = list(scores)
        entry = {"metric": "normalized_accuracy", "fields": {}}
        for name in fields:
            if name not in demo.columns:
                continue
            groups = demo[name].reindex(people)
            labels = [(_age_group(v) if name == "age" else (None if v is None or str(v) in ("", "nan", "<NA>") else str(v))) for v in groups]
            entry["fields"][name] = st.parity(np.array([scores[p] for p in people]), labels, min_group=settings.parity_min_group,
                                              boot_replicates=min(settings.bootstrap, 1000), seed=settings.seed)
        out[condition] = entry
    return out
