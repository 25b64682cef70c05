"""Score choice-item conditions (agents, reference predictors, floors) on the same people and items.

Used by `evaluate` for every survey instrument of a run and by the full-panel reference table. Inputs are
option-index arrays over people x target items (see `panel.PanelMatrix`); outputs are JSON-ready blocks:

- each condition: raw accuracy first, retest agreement, normalized accuracy by the person's own retest (mean of
  per-person ratios, the paper's rule, and ratio of means), normalized accuracy by the paper's 2-week item
  consistency (`normalized_accuracy_paper`, GSS items), correlations (Fisher-z mean) and both normalized
  correlations (mean of per-person ratios, guarded; ratio of mean r), each with a two-way (people x items)
  bootstrap interval; the spread of per-person ratios (see `stats`); people below `min_items` excluded and
  counted; coverage (valid / asked); failed answers scored as wrong (the headline) and excluded; no valid
  answers -> no score;
- distribution metrics (log-loss, Brier per person; 1 - TV/TV_uniform per item);
- the population-informed version of each agent condition (`<condition>+population`), its placebo
  (`<condition>+placebo`: another person's agent distribution) and the stacked condition (`<condition>+stacked`:
  the agent's log-probabilities as features of the cross-fitted logistic regression); failures stay failed;
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

from experiments.scoring import matched
from experiments.scoring import stats as st
from experiments.scoring.distributions import (
    answer_distribution,
    brier_per_person,
    describe_origin,
    log_loss_per_person,
    paired_log_loss,
    population_tv,
)
from experiments.scoring.groups import age_group
from experiments.scoring.leakage import exclusions
from experiments.scoring.mixing import placebo_agent, population_informed, weight_interval
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import LABELS, REFERENCE_ORDER, reference_predictors, stacked_proba

RANDOM = "random_floor"
# which reference's distribution an agent condition is mixed with (the one that sees what the agent sees)
MIX_WITH = {"demographic": "demographic_knn", "composite": "composite_knn", "combined": "composite_knn"}
SAMPLE_INTERVALS = {"2016": "2016 -> 2020 (4 years)", "2018": "2018 -> 2020 (2 years)"}


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
    # target -> items no reference may learn from when predicting it: the run's exclusions (RunSpec), computed once;
    # None (a run from before RunSpec, or the reference table): the near-duplicate table's
    exclusions: dict[str, set[str]] | None = None
    # agent condition -> what its matched reference sees (`matched.plan_matched`, from the manifest's agent inputs);
    # None: no matched verdicts (the reference table)
    matched: dict[str, Any] | None = None


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
    excluded = settings.exclusions if settings.exclusions is not None else exclusions(panel.items)
    predictors = reference_predictors(list(settings.references), excluded, k=settings.k, seed=settings.seed, folds=settings.folds)
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
        # stored probabilities where present, the answer's one-point distribution elsewhere (never all-or-nothing)
        proba, sources = answer_distribution(a.predicted, a.proba, a.has_proba, sub.n_options, sub.max_options)
        agent_proba[name] = (proba, describe_origin(sources))

    # -- population-informed, placebo and stacked conditions (#23 item 3) -------------------------------------
    # a failed agent answer stays failed in each (coverage = the agent's); see `_population_conditions`
    mixed_cells: dict[str, st.Cells] = {}
    extra_kind: dict[str, str] = {}
    if settings.population:
        mixed_cells = _population_conditions(panel, sub, targets, rows, agent_cells, agent_proba, ref_proba, excluded,
                                              settings, boot, result, extra_kind)

    # -- summaries ----------------------------------------------------------------------------------------
    samples = _samples(sub) if settings.by_sample else {}
    ordered: list[tuple[str, st.Cells, str]] = (
        [(n, c, "agent") for n, c in agent_cells.items()] + [(n, c, extra_kind.get(n, "population")) for n, c in mixed_cells.items()]
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
        if kind in ("agent", "population", "placebo", "stacked"):  # the mixtures keep the agent's failures
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
    for name, cells in list(agent_cells.items()) + [(n, c) for n, c in mixed_cells.items() if extra_kind.get(n) != "placebo"]:
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
        row = {"condition": name, "reference": best, "reference_label": LABELS.get(best, best),
               "reference_value": best_value, **diff,
               "verdict": matched.too_small(all_sums[name], settings.min_items) or matched.verdict_word(diff)}
        if settings.matched and name in settings.matched and name in agent_cells:  # #23 item 2: like-for-like
            row["matched"] = matched.matched_verdict(settings.matched[name], panel, sub, targets, rows, cells,
                                                     all_sums[name], excluded, boot, min_items=settings.min_items,
                                                     k=settings.k, seed=settings.seed)
            result.conditions[name]["matched"] = settings.matched[name].as_json()
        result.verdicts.append(row)

    for name, block in result.conditions.items():  # the real mixture against its placebo, paired
        placebo = block.get("placebo")
        if placebo and name in all_sums and placebo["condition"] in all_sums:
            diff = st.paired_difference(all_sums[name], all_sums[placebo["condition"]], boot, "normalized_accuracy",
                                        settings.min_items)
            placebo.update({**diff, "verdict": _placebo_word(diff)})

    result.per_item = _items(sub, {**agent_cells, **mixed_cells, **ref_cells}, settings.min_item_people)
    result.parity = _parity(sub, all_sums, boot, settings, _polviews(panel, rows))
    return result


def _population_conditions(panel: PanelMatrix, sub: PanelMatrix, targets: list[str], rows: np.ndarray,
                           agent_cells: dict[str, st.Cells], agent_proba: dict[str, tuple[np.ndarray, str]],
                           ref_proba: dict[str, np.ndarray], excluded: dict[str, set[str]], settings: SurveySettings,
                           boot: st.Bootstrap, result: SurveyResult, extra_kind: dict[str, str]) -> dict[str, st.Cells]:
    """For each agent condition with valid answers from at least two people:

    - `<condition>+population`: w * agent + (1 - w) * reference (`MIX_WITH`), w fitted leave-one-person-out on
      log-loss; predicted only where the agent answered validly (a failed answer stays failed: the agent's
      coverage); the pooled weight with a two-way bootstrap interval is reported;
    - `<condition>+placebo`: the same mixture with another person's agent distribution for the same item (a
      seeded derangement, `mixing.placebo_donors`): what the mixture gains from the agent knowing the item and
      the population, not the person. The real mixture minus the placebo (paired, two-way bootstrap) is the
      test of person-specific information (`_placebo_word`);
    - `<condition>+stacked`: the cross-fitted logistic reference with the agent's option log-probabilities as
      extra features (`references.stacked_proba`), also only where the agent answered validly."""
    out: dict[str, st.Cells] = {}
    for name, cells in agent_cells.items():
        proba, origin = agent_proba[name]
        valid = cells.asked & (cells.predicted >= 0)
        if not valid.any():
            continue
        scored = cells.scored("failed_excluded")
        ref_name = MIX_WITH.get(name, "majority")
        if ref_name in ref_proba and np.count_nonzero(scored.any(axis=1)) >= 2:
            reference = ref_proba[ref_name]
            mixture = population_informed(proba, reference, sub.truth, scored)
            placebo_proba = placebo_agent(proba, valid, reference, seed=settings.seed)
            placebo = population_informed(placebo_proba, reference, sub.truth, scored)
            mixed_name, placebo_name = f"{name}+population", f"{name}+placebo"
            ref_label = LABELS.get(ref_name, ref_name)
            for cname, mix, kind in ((mixed_name, mixture, "population"), (placebo_name, placebo, "placebo")):
                predicted = np.where(valid, np.argmax(mix.proba, axis=2), -1)
                out[cname] = st.Cells.from_panel(sub, predicted, asked=cells.asked, failed=cells.failed)
                extra_kind[cname] = kind
                agent_proba[cname] = (mix.proba, f"mixture of {name} ({origin}) and {ref_label}"
                                      + (" (placebo: another person's agent distribution for the item)" if kind == "placebo" else ""))
                agent_source = proba if kind == "population" else placebo_proba
                result.conditions[cname] = {
                    "mixed_with": ref_name, "weights": _weights(mix.weights, scored),
                    "weight": weight_interval(agent_source, reference, sub.truth, scored, boot.draws())}
            result.conditions[mixed_name]["placebo"] = {"condition": placebo_name}
            result.conditions[placebo_name]["placebo_of"] = mixed_name
            ll = paired_log_loss(placebo.proba, mixture.proba, sub.truth, scored, boot.draws(), settings.min_items)
            result.conditions[mixed_name]["placebo"]["log_loss_difference"] = ll  # placebo minus real: > 0 real better
        if "logistic" in settings.references:
            stacked = stacked_proba(panel, targets, rows, proba, valid, excluded, seed=settings.seed,
                                    folds=settings.folds)[:, :, : sub.max_options]
            stacked_name = f"{name}+stacked"
            predicted = np.where(valid, np.argmax(stacked, axis=2), -1)
            out[stacked_name] = st.Cells.from_panel(sub, predicted, asked=cells.asked, failed=cells.failed)
            extra_kind[stacked_name] = "stacked"
            agent_proba[stacked_name] = (stacked, f"logistic regression per item with {name}'s option log-probabilities "
                                                  f"({origin}) as features, cross-fitted over people")
            result.conditions[stacked_name] = {"stacked_on": "logistic"}
    return out


def _placebo_word(diff: dict[str, Any]) -> str:
    ci = diff.get("ci")
    if diff.get("difference") is None:
        return "not estimable"
    if ci and ci[0] > 0:
        return "the model adds person-specific information (the real mixture beats its placebo)"
    if not ci:
        return "no interval: person-specific information not shown"
    return "no evidence of person-specific information: the real mixture does not beat its placebo (interval reaches 0)"




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
    tv = population_tv(proba, sub.truth, scored, sub.n_options, sub.items, weights=sub.weights)  # population level: weighted
    out = {"from": origin, "log_loss": _f(np.nanmean(ll)) if len(ll) else None, "brier": _f(np.nanmean(br)) if len(br) else None,
           "population_tv_score": tv["mean"], "tv_items": tv["items"]}
    if sub.weights is not None:
        out["population_weighted_by"] = sub.weight_column
    return out


def _samples(sub: PanelMatrix) -> dict[str, np.ndarray]:
    demo = sub.demographics
    if demo is None or demo.empty or "sample" not in demo.columns:
        return {}
    values = demo["sample"].astype("string").fillna("").to_numpy(dtype=object)
    out = {s: np.flatnonzero(values == s) for s in SAMPLE_INTERVALS if (values == s).any()}
    return out if len(out) > 1 else {}


def _sample_summary(sums: st.PersonSums, idx: np.ndarray, settings: SurveySettings) -> dict[str, Any]:
    part = sums.rows(idx)
    boot = st.Bootstrap(len(idx), part.scored.shape[1], max(settings.bootstrap // 2, 0), settings.seed)
    full = st.summarize(part, boot, settings.min_items)
    return {k: full[k] for k in ("people", "excluded_people", "accuracy", "retest_agreement", "normalized_accuracy",
                                 "normalized_accuracy_ratio_of_means", "normalized_accuracy_paper") if k in full}


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


POLVIEWS_GROUPS = ("liberal", "moderate", "conservative")  # GSS polviews 1-3 / 4 / 5-7


def _polviews_group(value: Any) -> str | None:
    """A polviews answer (code 1-7, or its label) as liberal / moderate / conservative."""
    text = None if value is None else str(value).strip().lower()
    if not text or text in ("nan", "<na>", "none"):
        return None
    try:
        code = int(float(text))
    except ValueError:
        return next((g for g in POLVIEWS_GROUPS if g in text), "moderate" if "middle" in text else None)
    return None if not 1 <= code <= 7 else "liberal" if code <= 3 else "moderate" if code == 4 else "conservative"


def _polviews(panel: PanelMatrix, rows: np.ndarray) -> list[str | None] | None:
    """Each scored person's wave-1 polviews (liberal / moderate / conservative) from the panel's answers, or
    None when the panel does not carry the item."""
    if "polviews" not in panel.items:
        return None
    question = panel.questions["polviews"]
    answers = panel.w1[np.asarray(rows, int), panel.item_index("polviews")]
    return [_polviews_group(question.options[int(a)].code) if a >= 0 else None for a in answers]


def _parity(sub: PanelMatrix, all_sums: dict[str, st.PersonSums], boot: st.Bootstrap, settings: SurveySettings,
            polviews: list[str | None] | None = None) -> dict[str, Any]:
    """Parity of per-person normalized accuracy (own retest) per condition and demographic field: two-way
    bootstrap (people x items), the fixed-groups interval, the permutation test (see `stats.parity`).
    Political ideology (`polviews`, grouped liberal / moderate / conservative) is a default field: from the
    demographics when they carry it, else from the panel's wave-1 answers."""
    demo = sub.demographics if sub.demographics is not None else None
    columns = list(demo.columns) if demo is not None and not demo.empty else []
    labels: dict[str, list[Any]] = {}
    default = [c for c in ("age", "sex", "race", "degree") if c in columns] + ["polviews"]
    for name in settings.parity_fields or default:
        if name in columns:
            values = demo[name].reindex([str(p) for p in sub.people]).tolist()
            if name == "age":
                labels[name] = [age_group(v) for v in values]
            elif name == "polviews":
                labels[name] = [_polviews_group(v) for v in values]
            else:
                labels[name] = [None if v is None or str(v) in ("", "nan", "<NA>") else str(v) for v in values]
        elif name == "polviews" and polviews is not None:
            labels[name] = polviews
    if not labels:
        return {}
    out: dict[str, Any] = {}
    parity_boot = st.Bootstrap(boot.n_people, boot.n_items, min(settings.bootstrap, 1000), settings.seed)
    for condition, sums in all_sums.items():
        fields = st.parity_two_way(sums, labels, parity_boot, key="normalized_accuracy", min_items=settings.min_items,
                                   min_group=settings.parity_min_group, seed=settings.seed)
        if np.isfinite(st.person_values(sums, min_items=settings.min_items, correlations=False)["normalized_accuracy"]).any():
            out[condition] = {"metric": "normalized_accuracy", "fields": fields}
    return out
