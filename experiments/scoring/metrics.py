"""The paper's metrics as small pure functions (Park et al. 2024, SM 5; DESIGN.md "Scoring").

- accuracy: exact match per person; normalized = the agent's accuracy against wave 1 / the person's own
  wave-1 vs wave-2 agreement, computed per person, then averaged over people;
- correlation variant: each person's answers as one vector, nominal items one-hot with weight 1/k on each
  of the k binary variables, ordinal items one variable evenly spaced on 0-1; weighted Pearson r;
- numeric: values scaled 0-1 by the item's range, mean absolute error;
- correlations are averaged through Fisher z (z = atanh r, mean, tanh back);
- demographic parity difference: best group's mean minus worst group's mean;
- bootstrap confidence intervals by resampling people (seeded, percentile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from surveys.model import Question, QuestionKind

R_CLIP = 0.999999


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


def fisher_mean(rs: Iterable[float | None]) -> float | None:
    """Average correlations through Fisher z: tanh(mean(atanh(r)))."""
    values = [float(np.clip(r, -R_CLIP, R_CLIP)) for r in rs if r is not None and not math.isnan(r)]
    if not values:
        return None
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


def random_choice_accuracy(questions: Iterable[Question]) -> float | None:
    """Expected exact-match accuracy of picking uniformly among each item's options (1/k averaged)."""
    values = [1 / len(q.options) for q in questions if q.is_choice]
    return float(np.mean(values)) if values else None


def uniform_expected_abs_error(truth_scaled: float) -> float:
    """E|U - t| for U uniform on [0, 1]: (t^2 + (1 - t)^2) / 2 (the random floor of a 0-1 MAE)."""
    return (truth_scaled**2 + (1 - truth_scaled) ** 2) / 2
