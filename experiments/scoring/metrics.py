"""Per-person helpers the array engine (`stats`, `profiles`) does not cover: numeric survey items.

A numeric item (a number, not an option) is scored as the mean absolute error after scaling the agent's and the
person's values to 0-1 by the item's range, averaged over people with a people-only bootstrap interval. Choice
items are scored by `experiments.scoring.stats` (accuracy, correlation, normalized by retest, two-way
bootstrap) and BFI and games by `experiments.scoring.profiles`, on the same bootstrap draws.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from surveys.model import Question, QuestionKind


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


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


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(kept)) if kept else None


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
