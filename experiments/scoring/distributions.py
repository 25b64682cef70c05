"""Distribution metrics (#13 item 4): how well answer *distributions* fit, per person and per population.

- log-loss per person: mean over scored items of -ln p(the person's answer) (p clipped at EPS), averaged
  over people;
- Brier score per person: mean over items of sum_o (p_o - [o = answer])^2 (multi-class, 0 best, 2 worst),
  averaged over people;
- population level, per item (SimBench's normalisation): 1 - TV(model, human) / TV(uniform, human), with
  TV(p, q) = 1/2 sum |p_o - q_o|; 1 = the human distribution exactly, 0 = no better than uniform, < 0 worse.
  The model's population distribution is the mean of its per-person distributions over the people scored.
  With survey weights (`ResponseSet.with_weights`, carried by `PanelMatrix.weights`) both the human and the model
  distribution are weighted means; the per-person figures (log-loss, Brier) stay unweighted, as accuracy does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EPS = 1e-6


def log_loss_per_person(proba: np.ndarray, truth: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """(n,) mean -ln p(truth) over each person's scored items; NaN where nothing is scored.

    proba: (n, m, K) distributions; truth: (n, m) option index (-1 missing); scored: (n, m) bool.
    """
    idx = np.where(truth >= 0, truth, 0)[..., None]
    p = np.take_along_axis(proba, idx, axis=2)[..., 0]
    loss = -np.log(np.clip(p, EPS, 1.0))
    return _row_mean(loss, scored)


def brier_per_person(proba: np.ndarray, truth: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """(n,) mean multi-class Brier score over each person's scored items."""
    onehot = np.zeros_like(proba)
    n, m = truth.shape
    rows, cols = np.nonzero(truth >= 0)
    onehot[rows, cols, truth[rows, cols]] = 1.0
    score = ((proba - onehot) ** 2).sum(axis=2)
    return _row_mean(score, scored)


def _row_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    counts = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(mask, values, 0.0).sum(axis=1) / counts
    out[counts == 0] = np.nan
    return out


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    return float(0.5 * np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def tv_score(model: np.ndarray, human: np.ndarray) -> float | None:
    """1 - TV(model, human) / TV(uniform, human) over one item's k options; None when human is uniform."""
    human = np.asarray(human, float)
    uniform = np.full(len(human), 1.0 / len(human))
    base = total_variation(uniform, human)
    if base <= 1e-12:
        return None
    return 1.0 - total_variation(model, human) / base


def population_tv(proba: np.ndarray, truth: np.ndarray, scored: np.ndarray, n_options: np.ndarray,
                  items: list[str] | None = None, weights: np.ndarray | None = None) -> dict[str, Any]:
    """Per item 1 - TV/TV_uniform between the model's mean distribution and the people's answers, and the mean.

    `weights` (n,): survey weights of the people (None: everyone counts once). Both sides are then weighted the
    same way: the human distribution is the weighted share of each answer, the model's the weighted mean of its
    per-person distributions, over the people scored on the item (a person of weight 0 counts for nothing; an item
    whose scored people all weigh 0 is left out)."""
    per_item: dict[str, float | None] = {}
    for j in range(truth.shape[1]):
        mask = scored[:, j] & (truth[:, j] >= 0)
        if weights is not None:
            mask &= np.asarray(weights, float) > 0
        if not mask.any():
            continue
        k = int(n_options[j])
        if weights is None:
            human = np.bincount(truth[mask, j], minlength=k)[:k].astype(float)
            model = proba[mask, j, :k].mean(axis=0)
        else:
            w = np.asarray(weights, float)[mask]
            human = np.bincount(truth[mask, j], weights=w, minlength=k)[:k].astype(float)
            model = (w[:, None] * proba[mask, j, :k]).sum(axis=0) / w.sum()
        human /= human.sum()
        model = model / model.sum() if model.sum() > 0 else model
        per_item[items[j] if items else str(j)] = tv_score(model, human)
    values = [v for v in per_item.values() if v is not None and not math.isnan(v)]
    return {"mean": float(np.mean(values)) if values else None, "items": len(values), "per_item": per_item}


def one_hot_proba(predicted: np.ndarray, n_options: np.ndarray, k_max: int, smoothing: float = 0.0) -> np.ndarray:
    """A hard answer as a distribution (for answers generated without option scores); -1 -> uniform."""
    n, m = predicted.shape
    out = np.zeros((n, m, k_max))
    for j in range(m):
        k = int(n_options[j])
        col = predicted[:, j]
        out[:, j, :k] = smoothing / k
        has = col >= 0
        out[np.flatnonzero(has), j, col[has]] += 1.0 - smoothing
        out[~has, j, :k] = 1.0 / k
    return out


def answer_distribution(predicted: np.ndarray, proba: np.ndarray | None, has_proba: np.ndarray | None,
                        n_options: np.ndarray, k_max: int) -> tuple[np.ndarray, dict[str, int]]:
    """An agent's option distribution per cell: its stored option probabilities where present, the one-hot of its
    answer elsewhere (a missing probability cell no longer discards the others). Failed cells (predicted -1) get
    a uniform placeholder that no score uses: they stay failed. Returns the distributions and how many valid
    cells came from each source ({"stored": .., "one_hot": ..})."""
    hard = one_hot_proba(predicted, n_options, k_max, smoothing=0.0)
    valid = predicted >= 0
    if proba is None or has_proba is None:
        return hard, {"stored": 0, "one_hot": int(valid.sum())}
    stored = valid & has_proba
    out = np.where(stored[..., None], proba[:, :, :k_max], hard)
    return out, {"stored": int(stored.sum()), "one_hot": int((valid & ~stored).sum())}


def describe_origin(counts: dict[str, int]) -> str:
    """'stored option probabilities' / 'answers (...)' / the mix of both, with counts."""
    stored, hard = counts.get("stored", 0), counts.get("one_hot", 0)
    if stored and not hard:
        return "stored option probabilities"
    if not stored:
        return "answers (no stored distributions; a hard answer is a one-point distribution)"
    return (f"stored option probabilities on {stored} of {stored + hard} valid answers; "
            f"one-point distributions of the answer on the other {hard}")


def paired_log_loss(a: np.ndarray, b: np.ndarray, truth: np.ndarray, scored: np.ndarray, draws, min_items: int = 1,
                    level: float = 0.95) -> dict[str, Any]:
    """Mean per-person log-loss of `a` minus that of `b` on the same cells (> 0: b fits better), with an interval
    from `draws` ((people indices, item weights) pairs, e.g. `stats.Bootstrap.draws()`: people and items
    resampled together for both). People with fewer than `min_items` scored items are left out."""
    idx = np.where(truth >= 0, truth, 0)[..., None]
    loss_a = -np.log(np.clip(np.take_along_axis(a, idx, axis=2)[..., 0], EPS, 1.0))
    loss_b = -np.log(np.clip(np.take_along_axis(b, idx, axis=2)[..., 0], EPS, 1.0))
    mask: np.ndarray = scored.astype(float)
    la, lb = np.where(scored, loss_a, 0.0), np.where(scored, loss_b, 0.0)

    def diff(people: np.ndarray, weights: np.ndarray) -> float:
        count = mask[people] @ weights
        keep = count >= min_items
        if not keep.any():
            return math.nan
        return float(((la[people] @ weights)[keep] / count[keep]).mean() - ((lb[people] @ weights)[keep] / count[keep]).mean())

    point = diff(np.arange(truth.shape[0]), np.ones(truth.shape[1]))
    reps = np.array([diff(p, w) for p, w in draws], float)
    reps = reps[np.isfinite(reps)]
    alpha = (1 - level) / 2
    ci = [float(np.quantile(reps, alpha)), float(np.quantile(reps, 1 - alpha))] if len(reps) >= 2 else None
    return {"metric": "log_loss", "difference": None if math.isnan(point) else point, "ci": ci}
