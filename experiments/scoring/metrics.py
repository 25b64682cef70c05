"""The paper's metrics as small pure functions (Park et al. 2024, SM 5; DESIGN.md "Scoring").

- accuracy: exact match per person; normalized = the agent's accuracy against wave 1 / the person's own
  wave-1 vs wave-2 agreement, computed per person, then averaged over people;
- correlation variant: each person's answers as one vector, nominal items one-hot with weight 1/k on each
  of the k binary variables, ordinal items one variable evenly spaced on 0-1; weighted Pearson r;
- numeric: values scaled 0-1 by the item's range, mean absolute error;
- correlations are averaged through Fisher z (z = atanh r, mean, tanh back), r clipped at +-(n-1)/n for n
  values correlated (the finite-sample stand-in for r = 1, whose z is infinite);
- demographic parity difference: best group's mean minus worst group's mean;
- bootstrap confidence intervals by resampling people (seeded, percentile);
- BFI and games (`profile_summary`): each person's profile (5 trait scores; 5 game scores on 0-1) from
  item-level values; MAE and Pearson r over the profile against the person's wave 1; the person's retest r
  (wave 2 vs wave 1). Normalized correlation two ways: the paper's mean of per-person ratios r / r_retest,
  people whose retest r is undefined (a profile that does not vary, or fewer than two scores) or <= 0
  excluded and counted; and the ratio of mean correlations (mean r / mean r_retest over the people with
  both). Mean correlations are plain means over people (with 5 values a Fisher z of r near 1 is decided by
  its clip). Intervals: two-way bootstrap, people and items resampled (BFI: the 44 items, each trait the
  mean of its drawn items, a trait with no drawn item left out; games: the 5 games, a drawn game counted
  once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from surveys.model import Question, QuestionKind

PROFILE_KEYS = ("mae", "retest_mae", "correlation", "retest_correlation", "normalized_correlation",
                "normalized_correlation_ratio_of_means")


def same_value(question: Question, a: Any, b: Any) -> bool:
    """Exact match in canonical form (option codes compared as text, numbers as numbers)."""
    if question.kind == QuestionKind.numeric:
        try:
            return math.isclose(float(a), float(b))
        except (TypeError, ValueError):
            return False
    return _code(a) == _code(b)


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def accuracy(
    questions: Mapping[str, Question],
    predicted: Mapping[str, Any],
    truth: Mapping[str, Any],
    items: Iterable[str] | None = None,
    failed: Iterable[str] = (),
) -> tuple[float | None, int]:
    """Share of items where `predicted` equals `truth`, over items both have (failed items count as wrong).

    Returns (accuracy, number of items scored); (None, 0) when nothing can be scored.
    """
    failed = set(failed)
    pool = list(items) if items is not None else list(questions)
    hits = n = 0
    for qid in pool:
        if qid not in truth or qid not in questions:
            continue
        if qid in predicted:
            n += 1
            hits += same_value(questions[qid], predicted[qid], truth[qid])
        elif qid in failed:
            n += 1
    return (hits / n if n else None), n


def encode(question: Question, value: Any) -> tuple[list[float], list[float]]:
    """An answer as correlation variables and their weights (see the module docstring)."""
    if question.kind == QuestionKind.categorical:
        k = len(question.options)
        code = _code(value)
        return [1.0 if o.code == code else 0.0 for o in question.options], [1.0 / k] * k
    if question.kind in (QuestionKind.ordinal, QuestionKind.numeric):
        scaled = question.scaled(_code(value) if question.kind == QuestionKind.ordinal else value)
        return [float(scaled)], [1.0]
    return [], []


def weighted_pearson(x: Sequence[float], y: Sequence[float], w: Sequence[float] | None = None) -> float | None:
    """Pearson r with observation weights; None when either side does not vary."""
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    w_arr = np.ones_like(x_arr) if w is None else np.asarray(w, float)
    if len(x_arr) < 2 or w_arr.sum() <= 0:
        return None
    mx = np.average(x_arr, weights=w_arr)
    my = np.average(y_arr, weights=w_arr)
    cov = np.average((x_arr - mx) * (y_arr - my), weights=w_arr)
    vx = np.average((x_arr - mx) ** 2, weights=w_arr)
    vy = np.average((y_arr - my) ** 2, weights=w_arr)
    if vx <= 1e-15 or vy <= 1e-15:
        return None
    return float(np.clip(cov / math.sqrt(vx * vy), -1.0, 1.0))


def answer_correlation(
    questions: Mapping[str, Question],
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    items: Iterable[str] | None = None,
) -> tuple[float | None, int]:
    """Weighted correlation of two people's (or agent vs person) answer vectors over shared choice items."""
    xs: list[float] = []
    ys: list[float] = []
    ws: list[float] = []
    n = 0
    pool = list(items) if items is not None else list(questions)
    for qid in pool:
        question = questions.get(qid)
        if question is None or question.kind == QuestionKind.open or qid not in a or qid not in b:
            continue
        try:
            x, weights = encode(question, a[qid])
            y, _ = encode(question, b[qid])
        except (ValueError, TypeError):
            continue
        xs += x
        ys += y
        ws += weights
        n += 1
    return weighted_pearson(xs, ys, ws), n


def scaled_mae(
    questions: Mapping[str, Question], predicted: Mapping[str, Any], truth: Mapping[str, Any], items: Iterable[str] | None = None
) -> tuple[float | None, int]:
    """Mean |predicted - truth| after scaling both to 0-1 by each item's range (numeric and ordinal items)."""
    errors = []
    pool = list(items) if items is not None else list(questions)
    for qid in pool:
        question = questions.get(qid)
        if question is None or qid not in predicted or qid not in truth:
            continue
        if question.kind not in (QuestionKind.numeric, QuestionKind.ordinal):
            continue
        p = question.scaled(predicted[qid] if question.kind == QuestionKind.numeric else _code(predicted[qid]))
        t = question.scaled(truth[qid] if question.kind == QuestionKind.numeric else _code(truth[qid]))
        errors.append(abs(float(p) - float(t)))
    return (float(np.mean(errors)) if errors else None), len(errors)


def fisher_mean(rs: Iterable[float | None], n: int | None = None) -> float | None:
    """Average correlations through Fisher z: tanh(mean(atanh(r))), r clipped at +-(n-1)/n when `n` (the number of
    values each correlation is over) is given; without `n`, an r of +-1 (infinite z) is an error, never 0.999999."""
    values = [float(r) for r in rs if r is not None and not math.isnan(r)]
    if not values:
        return None
    if n is not None:
        bound = (n - 1) / n if n > 1 else 0.0
        values = [float(np.clip(r, -bound, bound)) for r in values]
    elif any(abs(r) >= 1 for r in values):
        raise ValueError("fisher_mean: a correlation of +-1 has an infinite z; give n for the finite-sample clip")
    return float(math.tanh(float(np.mean([math.atanh(r) for r in values]))))


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(kept)) if kept else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when the ceiling is missing or zero (the person is left out)."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def mean_abs_diff(a: Mapping[str, float], b: Mapping[str, float]) -> float | None:
    keys = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    return float(np.mean([abs(a[k] - b[k]) for k in keys])) if keys else None


def pearson_over(a: Mapping[str, float], b: Mapping[str, float]) -> float | None:
    keys = [k for k in a if k in b and a[k] is not None and b[k] is not None]
    return weighted_pearson([a[k] for k in keys], [b[k] for k in keys])


@dataclass
class Parity:
    groups: dict[str, float]
    sizes: dict[str, int]
    best: str | None
    worst: str | None
    difference: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parity_difference(scores: Mapping[str, float | None], groups: Mapping[str, Any], min_size: int = 1) -> Parity:
    """Demographic parity difference: the best group's mean score minus the worst group's."""
    by_group: dict[str, list[float]] = {}
    for person, score in scores.items():
        group = groups.get(person)
        if score is None or group is None or (isinstance(group, float) and math.isnan(group)) or str(group) == "":
            continue
        by_group.setdefault(str(group), []).append(score)
    means = {g: float(np.mean(v)) for g, v in by_group.items() if len(v) >= min_size}
    sizes = {g: len(v) for g, v in by_group.items() if len(v) >= min_size}
    if len(means) < 2:
        return Parity(means, sizes, None, None, None)
    best = max(means, key=means.get)  # type: ignore[arg-type]
    worst = min(means, key=means.get)  # type: ignore[arg-type]
    return Parity(means, sizes, best, worst, means[best] - means[worst])


def bootstrap_ci(
    values: Sequence[float | None],
    statistic: Callable[[np.ndarray], float | None] | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile interval of `statistic` (default mean) over people resampled with replacement."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], float)
    if len(data) < 2 or n_boot < 1:
        return None
    rng = np.random.default_rng(seed)
    stat = statistic or (lambda x: float(np.mean(x)))
    draws = []
    for _ in range(n_boot):
        value = stat(data[rng.integers(0, len(data), len(data))])
        if value is not None and not math.isnan(value):
            draws.append(value)
    if not draws:
        return None
    alpha = (1 - level) / 2
    return float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))


def fisher_statistic(sample: np.ndarray) -> float | None:
    return fisher_mean(sample.tolist())


# -- BFI and games: profiles from item-level values, two-way bootstrap --------------------------------------
@dataclass
class ProfileData:
    """One person's item-level values on the profile's scale (BFI: each item keyed, 6 - x when reverse-keyed;
    games: each game's response on 0-1): the agent's, the person's scored wave and their retest wave."""

    agent: dict[str, float]
    human: dict[str, float]
    retest: dict[str, float]


def profile_groups(instrument: Any, family: str) -> dict[str, str]:
    """item -> the score it counts toward: its BFI trait, or (games) the game itself."""
    if family == "bfi":
        return {qid: trait for trait, key in instrument.scoring.get("traits", {}).items() for qid in key["items"]}
    return {q.id: q.id for q in instrument.questions}


def profile_values(instrument: Any, family: str, answers: Mapping[str, Any]) -> dict[str, float]:
    """Item-level values of an answer sheet (invalid or unscalable answers left out)."""
    from surveys.scoring import scale_game

    out: dict[str, float] = {}
    if family == "bfi":
        for trait, key in instrument.scoring.get("traits", {}).items():
            reverse = set(key.get("reverse", []))
            for qid in key["items"]:
                raw = answers.get(qid)
                if raw is None or (isinstance(raw, float) and math.isnan(raw)):
                    continue
                try:
                    value = int(instrument.question(qid).validate_value(raw))
                except (ValueError, KeyError, TypeError):
                    continue
                out[qid] = float(6 - value if qid in reverse else value)
        return out
    for question in instrument.questions:
        if answers.get(question.id) is None:
            continue
        try:
            out[question.id] = float(scale_game(question, answers[question.id]))
        except (ValueError, TypeError):
            continue
    return out


def _profile(values: Mapping[str, float], groups: Mapping[str, str], weights: Mapping[str, float] | None) -> dict[str, float]:
    totals: dict[str, float] = {}
    counts: dict[str, float] = {}
    for qid, value in values.items():
        w = 1.0 if weights is None else weights.get(qid, 0.0)
        if w > 0 and qid in groups:
            totals[groups[qid]] = totals.get(groups[qid], 0.0) + w * value
            counts[groups[qid]] = counts.get(groups[qid], 0.0) + w
    return {g: totals[g] / counts[g] for g in totals}


def profile_person(data: ProfileData, groups: Mapping[str, str], weights: Mapping[str, float] | None = None) -> dict[str, float | None]:
    """MAE, r and retest r over one person's profile; the per-person ratio only when the retest r is > 0."""
    agent, human = _profile(data.agent, groups, weights), _profile(data.human, groups, weights)
    retest = _profile(data.retest, groups, weights) if data.retest else {}
    r = pearson_over(agent, human)
    r_retest = pearson_over(retest, human) if retest else None
    return {"scores": float(len([g for g in agent if g in human])), "mae": mean_abs_diff(agent, human),
            "retest_mae": mean_abs_diff(retest, human) if retest else None, "correlation": r,
            "retest_correlation": r_retest, "has_retest": bool(retest),
            "normalized_correlation": r / r_retest if r is not None and r_retest is not None and r_retest > 0 else None}


def profile_statistics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Means over people of `profile_person` rows, both normalized correlations and the exclusion counts."""
    out: dict[str, float | None] = {k: mean([r.get(k) for r in rows]) for k in ("mae", "retest_mae", "correlation",
                                                                               "retest_correlation", "normalized_correlation")}
    both = [(r["correlation"], r["retest_correlation"]) for r in rows
            if r.get("correlation") is not None and r.get("retest_correlation") is not None]
    denominator = float(np.mean([b for _, b in both])) if both else None
    out["normalized_correlation_ratio_of_means"] = (float(np.mean([a for a, _ in both])) / denominator
                                                    if denominator is not None and denominator > 0 else None)
    with_retest = [r for r in rows if r.get("has_retest")]
    out["people_with_retest"] = float(len(with_retest))
    out["correlation_excluded_people"] = float(sum(1 for r in with_retest if r.get("normalized_correlation") is None))
    return out


def profile_summary(people: Sequence[ProfileData], groups: Mapping[str, str], *, n_boot: int = 1000, seed: int = 0,
                    level: float = 0.95) -> dict[str, Any]:
    """{key: {"mean", "ci", "n"}} over people, intervals from a two-way bootstrap (people and items resampled
    with replacement; an item drawn c times weighs c in its trait's mean)."""
    if not people:
        return {"people": 0}
    rows = [profile_person(p, groups) for p in people]
    point = profile_statistics(rows)
    items = sorted(groups)
    reps: dict[str, list[float]] = {k: [] for k in PROFILE_KEYS}
    if n_boot > 0 and len(people) >= 2:
        rng = np.random.default_rng(seed)
        for _ in range(n_boot):
            idx = rng.integers(0, len(people), len(people))
            counts = np.bincount(rng.integers(0, len(items), len(items)), minlength=len(items))
            weights = {q: float(c) for q, c in zip(items, counts) if c}
            stats = profile_statistics([profile_person(people[i], groups, weights) for i in idx])
            for key in PROFILE_KEYS:
                if stats[key] is not None:
                    reps[key].append(stats[key])
    alpha = (1 - level) / 2
    out: dict[str, Any] = {"people": len(people), "bootstrap": "two-way: people and items",
                           "people_with_retest": int(point["people_with_retest"] or 0),
                           "correlation_excluded_people": int(point["correlation_excluded_people"] or 0)}
    for key in PROFILE_KEYS:
        if point[key] is None:
            continue
        n = sum(1 for r in rows if r.get(key) is not None) if key != "normalized_correlation_ratio_of_means" else \
            sum(1 for r in rows if r.get("correlation") is not None and r.get("retest_correlation") is not None)
        ci = [float(np.quantile(reps[key], alpha)), float(np.quantile(reps[key], 1 - alpha))] if len(reps[key]) >= 2 else None
        out[key] = {"mean": point[key], "ci": ci, "n": n}
    out["items_per_person"] = mean([r["scores"] for r in rows])
    return out


def random_choice_accuracy(questions: Iterable[Question]) -> float | None:
    """Expected exact-match accuracy of picking uniformly among each item's options (1/k averaged)."""
    values = [1 / len(q.options) for q in questions if q.is_choice]
    return float(np.mean(values)) if values else None


def uniform_expected_abs_error(truth_scaled: float) -> float:
    """E|U - t| for U uniform on [0, 1]: (t^2 + (1 - t)^2) / 2 (the random floor of a 0-1 MAE)."""
    return (truth_scaled**2 + (1 - truth_scaled) ** 2) / 2
