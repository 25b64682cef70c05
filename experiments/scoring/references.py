"""Statistical reference conditions (DESIGN.md `ReferencePredictor`): no language model, other people only.

Every predictor gives, for each person and target item, a distribution over the item's options, computed
from a model that never saw that person's answers (leave-one-out or cross-fitting over people):

- `majority`: each item's answer distribution among the other people (the majority answer as prediction),
  weighted by the panel's survey weights when it has them (a population-level reference; the others are not);
- `demographic_knn`: the k people most alike in age, sex, race and degree (fields that are the target or a
  near-duplicate of it are left out), their answers to the item;
- `composite_knn`: collaborative filtering: the k people whose wave-1 answers to the *other* items agree most
  with the person's (the target and its near-duplicates excluded from the similarity), their answers;
- `logistic`: one L2-regularised multinomial logistic regression per item on the other items' wave-1
  answers (one-hot; the target and its near-duplicates excluded), cross-fitted over people in folds, so a
  person is predicted by a model fitted on the other folds only.

`stacked_proba` is not a reference but an agent condition built on one (`<condition>+stacked`): the same
cross-fitted logistic regression with the agent's option log-probabilities as extra features.

A person's own answers to *other* items are the input (as a composite agent's context is); their answer to
the target item never is, and nobody's answers to the target's near-duplicates are used to predict it.
Predictions: arg-max of the distribution, ties to the first option (GSS order).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from experiments.scoring.panel import MISSING, PanelMatrix

SMOOTHING = 0.5  # pseudo-count per option in vote distributions (keeps log-loss finite; arg-max unchanged)
DEMOGRAPHIC_FIELDS = ("age", "sex", "race", "degree")
REFERENCE_ORDER = ("majority", "demographic_knn", "composite_knn", "logistic")
LABELS = {
    "majority": "majority of other people",
    "demographic_knn": "demographic kNN",
    "composite_knn": "composite kNN",
    "logistic": "logistic regression per item",
}


class ReferencePredictor(ABC):
    """A statistical condition: learns from other respondents only and predicts a person's answers."""

    name: ClassVar[str]

    def __init__(self, exclusions: Mapping[str, set[str]] | None = None):
        self.exclusions = {k: set(v) for k, v in (exclusions or {}).items()}

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)

    def excluded(self, target: str) -> set[str]:
        """Items never used to predict `target`: itself and its near-duplicates."""
        return {target} | self.exclusions.get(target, set())

    @abstractmethod
    def predict_proba(self, panel: PanelMatrix, targets: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
        """(len(rows), len(targets), panel.max_options) option probabilities (0 beyond an item's options)."""

    def predict(self, panel: PanelMatrix, targets: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
        """(len(rows), len(targets)) option index: the most probable option, ties to the first."""
        return np.argmax(self.predict_proba(panel, targets, rows), axis=2).astype(np.int16)


def _rows(panel: PanelMatrix, rows: np.ndarray | None) -> np.ndarray:
    return np.arange(len(panel.people)) if rows is None else np.asarray(rows, dtype=int)


def _votes_to_proba(votes: np.ndarray, k: int) -> np.ndarray:
    """Counts over options (rows x k) -> smoothed distribution over the first k options."""
    smoothed = votes[:, :k] + SMOOTHING
    return smoothed / smoothed.sum(axis=1, keepdims=True)


class Majority(ReferencePredictor):
    """Each item's answer distribution among the other people: a population-level reference, so it is weighted
    by the panel's survey weights when the panel has them (`PanelMatrix.weights`, scaled to mean 1: a person's
    vote counts their weight, a person without a weight counts 0; the person predicted is left out with their own
    weight). `weighted=False` counts every person once whatever the panel carries."""

    name = "majority"

    def __init__(self, exclusions: Mapping[str, set[str]] | None = None, weighted: bool = True):
        super().__init__(exclusions)
        self.weighted = weighted

    def predict_proba(self, panel, targets, rows=None):
        rows = _rows(panel, rows)
        out = np.zeros((len(rows), len(targets), panel.max_options))
        weights = panel.weights if self.weighted and panel.weights is not None else None
        for t, item in enumerate(targets):
            j = panel.item_index(item)
            k = len(panel.questions[item].options)
            labels = panel.truth[:, j]
            answered = labels >= 0
            if weights is None:
                counts = np.bincount(labels[answered], minlength=k).astype(float)
            else:
                counts = np.bincount(labels[answered], weights=weights[answered], minlength=k).astype(float)
            own = labels[rows]
            votes = np.tile(counts, (len(rows), 1))
            has = own >= 0
            # leave the person out (their own vote: 1, or their weight)
            votes[np.flatnonzero(has), own[has]] -= 1 if weights is None else weights[rows[has]]
            out[:, t, :k] = _votes_to_proba(np.maximum(votes, 0.0), k)
        return out


class _KNN(ReferencePredictor):
    k: int = 25

    def __init__(self, exclusions=None, k: int = 25, pool: int = 600):
        super().__init__(exclusions)
        self.k = k
        self.pool = pool

    def _vote(self, panel: PanelMatrix, order: np.ndarray, item: str) -> np.ndarray:
        """Votes of the first k people in each row's neighbour `order` who answered `item` (scored wave)."""
        j = panel.item_index(item)
        n_opt = len(panel.questions[item].options)
        labels = panel.truth[:, j][order]  # rows x pool
        answered = labels >= 0
        take = answered & (np.cumsum(answered, axis=1) <= self.k)
        votes = np.zeros((order.shape[0], panel.max_options))
        for option in range(n_opt):
            votes[:, option] = (take & (labels == option)).sum(axis=1)
        return _votes_to_proba(votes, n_opt)


class DemographicKNN(_KNN):
    name = "demographic_knn"

    def __init__(self, exclusions=None, k: int = 25, pool: int = 600, fields: Sequence[str] = DEMOGRAPHIC_FIELDS, seed: int = 0):
        super().__init__(exclusions, k, pool)
        self.fields = tuple(fields)
        self.seed = seed

    def _distance(self, panel: PanelMatrix, fields: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """Gower distance over the fields: |age difference| / range, mismatch for the others (0.5 if unknown).
        A field that is no demographics column but an item of the panel (e.g. polviews, partyid, relig) is read
        as the item's wave-1 answer code, a categorical field (the matched reference of an agent given them)."""
        demo = panel.demographics
        n = len(panel.people)
        dist = np.zeros((len(rows), n))
        used = 0
        for name in fields:
            if (demo is None or name not in demo.columns) and name in panel.items:
                codes_w1 = panel.seen[:, panel.item_index(name)]
                column = pd.Series(np.where(codes_w1 >= 0, codes_w1.astype(str), None), dtype="object")
            elif demo is None or name not in demo.columns:
                continue
            else:
                column = demo[name]
            if name == "age":
                values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
                span = np.nanmax(values) - np.nanmin(values) if np.isfinite(values).any() else 1.0
                d = np.abs(values[rows][:, None] - values[None, :]) / (span or 1.0)
            else:
                codes = column.astype("string").fillna("\x00").to_numpy(dtype=object)
                known = codes != "\x00"
                d = (codes[rows][:, None] != codes[None, :]).astype(float)
                d[~(known[rows][:, None] & known[None, :])] = 0.5
            dist += np.nan_to_num(d, nan=0.5)
            used += 1
        return dist / max(used, 1)

    def predict_proba(self, panel, targets, rows=None):
        rows = _rows(panel, rows)
        out = np.zeros((len(rows), len(targets), panel.max_options))
        rng = np.random.default_rng(self.seed)
        jitter = rng.random(len(panel.people)) * 1e-9  # seeded tie-break among equally near people
        orders: dict[tuple[str, ...], np.ndarray] = {}
        for t, item in enumerate(targets):
            fields = tuple(f for f in self.fields if f not in self.excluded(item))
            if fields not in orders:
                dist = self._distance(panel, fields, rows) + jitter[None, :]
                dist[np.arange(len(rows)), rows] = np.inf  # never the person themselves
                pool = min(self.pool, len(panel.people) - 1)
                part = np.argpartition(dist, pool - 1, axis=1)[:, :pool] if pool < dist.shape[1] else np.tile(np.arange(dist.shape[1]), (len(rows), 1))
                within = np.take_along_axis(dist, part, axis=1)
                orders[fields] = np.take_along_axis(part, np.argsort(within, axis=1, kind="stable"), axis=1)
                orders[fields] = orders[fields][:, : max(pool, 1)]
            out[:, t, : len(panel.questions[item].options)] = self._vote(panel, orders[fields], item)
        return out


class CompositeKNN(_KNN):
    name = "composite_knn"

    def __init__(self, exclusions=None, k: int = 25, shrink: float = 5.0, min_overlap: int = 5):
        super().__init__(exclusions, k)
        self.shrink = shrink
        self.min_overlap = min_overlap

    def predict_proba(self, panel, targets, rows=None):
        rows = _rows(panel, rows)
        seen = panel.seen
        answered = (seen >= 0).astype(np.float32)
        onehot, spans = _one_hot(panel)
        matches = onehot[rows] @ onehot.T  # rows x n: items both answered the same
        overlap = answered[rows] @ answered.T  # rows x n: items both answered
        out = np.zeros((len(rows), len(targets), panel.max_options))
        self_mask = np.zeros((len(rows), len(panel.people)), dtype=bool)
        self_mask[np.arange(len(rows)), rows] = True
        truth = panel.truth
        for t, item in enumerate(targets):
            m_t, o_t = matches.copy(), overlap.copy()
            for other in self.excluded(item):
                if other not in panel.items:
                    continue
                j = panel.item_index(other)
                a = seen[:, j]
                both = (a[rows][:, None] >= 0) & (a[None, :] >= 0)
                o_t -= both
                m_t -= both & (a[rows][:, None] == a[None, :])
            sim = (m_t + 0.5 * self.shrink) / (o_t + self.shrink)
            j = panel.item_index(item)
            sim[(o_t < self.min_overlap) | self_mask | (truth[:, j] < 0)[None, :]] = -np.inf
            k = min(self.k, sim.shape[1] - 1)
            top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            valid = np.isfinite(np.take_along_axis(sim, top, axis=1))
            labels = truth[:, j][top]
            n_opt = len(panel.questions[item].options)
            votes = np.zeros((len(rows), panel.max_options))
            for option in range(n_opt):
                votes[:, option] = (valid & (labels == option)).sum(axis=1)
            out[:, t, :n_opt] = _votes_to_proba(votes, n_opt)
        return out


def _one_hot(panel: PanelMatrix, skip: set[str] = frozenset()) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """People x (all options of all items) 0/1 matrix of the seen wave; spans (item, start, stop)."""
    blocks, spans, start = [], [], 0
    for j, item in enumerate(panel.items):
        if item in skip:
            continue
        k = len(panel.questions[item].options)
        block = np.zeros((len(panel.people), k), dtype=np.float32)
        values = panel.seen[:, j]
        has = values >= 0
        block[np.flatnonzero(has), values[has]] = 1.0
        blocks.append(block)
        spans.append((item, start, start + k))
        start += k
    return (np.hstack(blocks) if blocks else np.zeros((len(panel.people), 0), np.float32)), spans


class Logistic(ReferencePredictor):
    name = "logistic"

    def __init__(self, exclusions=None, C: float = 0.05, folds: int = 5, seed: int = 0, max_iter: int = 200):
        super().__init__(exclusions)
        self.C = C
        self.folds = folds
        self.seed = seed
        self.max_iter = max_iter

    def predict_proba(self, panel, targets, rows=None):
        return self.predict_proba_with(panel, targets, rows)

    def predict_proba_with(self, panel: PanelMatrix, targets: Sequence[str], rows: np.ndarray | None = None,
                           extra: np.ndarray | None = None) -> np.ndarray:
        """As `predict_proba`, with `extra` (len(panel.people), len(targets), F) features per person and target
        appended to the one-hot answers (the stacked condition: an agent's log-probabilities); same folds."""

        rows = _rows(panel, rows)
        n = len(panel.people)
        fold_of = np.random.default_rng(self.seed).permutation(n) % max(self.folds, 2)
        onehot, spans = _one_hot(panel)
        onehot = np.ascontiguousarray(onehot, dtype=np.float64)
        truth = panel.truth
        out = np.zeros((len(rows), len(targets), panel.max_options))
        limits = threadpool_limits(1)  # many small fits: threads only contend
        fallback = Majority(self.exclusions, weighted=False).predict_proba(panel, targets, rows)  # an individual model
        for t, item in enumerate(targets):
            drop = self.excluded(item)
            keep = np.concatenate([np.arange(a, b) for name, a, b in spans if name not in drop] or [np.zeros(0, int)])
            X = onehot[:, keep] if extra is None else np.hstack([onehot[:, keep], extra[:, t, :]])
            j = panel.item_index(item)
            y = truth[:, j]
            k = len(panel.questions[item].options)
            for fold in np.unique(fold_of[rows]):
                targets_rows = np.flatnonzero(fold_of[rows] == fold)
                train = (fold_of != fold) & (y >= 0)
                classes = np.unique(y[train])
                if len(classes) < 2:
                    out[targets_rows, t] = fallback[targets_rows, t]
                    continue
                model = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=1e-3)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X[train], y[train])
                proba = model.predict_proba(X[rows[targets_rows]])
                full = np.full((len(targets_rows), k), 1e-4)
                full[:, model.classes_.astype(int)] += proba
                out[targets_rows, t, :k] = full / full.sum(axis=1, keepdims=True)
        limits.restore_original_limits()
        return out


STACK_FLOOR = 0.01  # agent probabilities are clipped here before the log (a one-point answer: ln 100 apart)


def agent_features(panel: PanelMatrix, rows: np.ndarray, agent: np.ndarray, valid: np.ndarray,
                   n_options: Sequence[int]) -> np.ndarray:
    """(len(panel.people), len(targets), K) the stacked condition's extra features: for each person the agent
    answered, the centred log of its option distribution (probabilities clipped at STACK_FLOOR; stored
    probabilities, or the one-hot answer), 0 beyond an item's options; 0 for everyone else and for failed answers
    (0 = a uniform distribution: no information)."""
    n_rows, m, k_max = agent.shape
    out = np.zeros((len(panel.people), m, k_max))
    for j, k in enumerate(n_options):
        logp = np.log(np.clip(agent[:, j, :k], STACK_FLOOR, 1.0))
        logp -= logp.mean(axis=1, keepdims=True)
        out[np.asarray(rows)[valid[:, j]], j, :k] = logp[valid[:, j]]
    return out


def stacked_proba(panel: PanelMatrix, targets: Sequence[str], rows: np.ndarray, agent: np.ndarray, valid: np.ndarray,
                  exclusions: Mapping[str, set[str]] | None = None, *, seed: int = 0, folds: int = 5) -> np.ndarray:
    """The stacked condition (`<condition>+stacked`): the logistic reference with the agent's option
    log-probabilities (`agent_features`) as extra features, cross-fitted over people in the same folds, so a
    person is predicted by a model fitted on the other folds only (their own answer never enters it); people
    without an agent answer train the item part of the model with zero agent features."""
    features = agent_features(panel, rows, agent, valid, [len(panel.questions[t].options) for t in targets])
    return Logistic(exclusions, folds=folds, seed=seed).predict_proba_with(panel, targets, rows, features)


def reference_predictors(names: Sequence[str] = REFERENCE_ORDER, exclusions: Mapping[str, set[str]] | None = None, *,
                         k: int = 25, seed: int = 0, folds: int = 5) -> list[ReferencePredictor]:
    """The named reference conditions, with the near-duplicate exclusions applied to each."""
    makers = {
        "majority": lambda: Majority(exclusions),
        "demographic_knn": lambda: DemographicKNN(exclusions, k=k, seed=seed),
        "composite_knn": lambda: CompositeKNN(exclusions, k=k),
        "logistic": lambda: Logistic(exclusions, folds=folds, seed=seed),
    }
    unknown = [n for n in names if n not in makers]
    if unknown:
        raise ValueError(f"unknown reference condition(s) {', '.join(unknown)}: choose from {', '.join(makers)}")
    return [makers[n]() for n in names]


def uniform_proba(panel: PanelMatrix, targets: Sequence[str], n_rows: int) -> np.ndarray:
    out = np.zeros((n_rows, len(targets), panel.max_options))
    for t, item in enumerate(targets):
        k = len(panel.questions[item].options)
        out[:, t, :k] = 1.0 / k
    return out


__all__ = ["ReferencePredictor", "Majority", "DemographicKNN", "CompositeKNN", "Logistic", "reference_predictors",
           "agent_features", "stacked_proba",
           "REFERENCE_ORDER", "LABELS", "MISSING", "uniform_proba"]
