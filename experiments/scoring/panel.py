"""Human answers as arrays: people x choice items, each cell the index of the chosen option (-1 = missing).

The statistics (reference predictors, bootstrap, distribution metrics) work on these arrays, vectorised,
so the whole 2016-2020 GSS panel (1,823 people x 148 items) is scored in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from surveys.model import Question
from surveys.responses import ResponseSet

MISSING = -1


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class PanelMatrix:
    """Wave-1 answers (`w1`) and retest answers (`w2`) of `people` to the choice `items`, as option indices."""

    people: np.ndarray  # (n,) respondent ids as str
    items: list[str]  # (m,) question ids
    questions: dict[str, Question]
    w1: np.ndarray  # (n, m) int, option index or -1
    w2: np.ndarray  # (n, m) int, option index or -1
    demographics: pd.DataFrame = field(default_factory=pd.DataFrame)  # indexed by respondent id (str)
    scored_wave: int = 1  # 1: the paper's design (scored on wave 1); 2: cross-wave (agents see wave 1, scored on wave 2)
    # survey weights (n,), scaled to mean 1 over the people with one (0 = no weight); None = unweighted. Used by
    # population-level figures only (the majority reference, 1 - TV/TV_uniform), never by individual accuracy
    weights: np.ndarray | None = None
    weight_column: str | None = None

    @property
    def seen(self) -> np.ndarray:
        """What a person's agent (or a reference predictor) may know of them: wave 1, minus left-out items."""
        return self.w1

    @property
    def truth(self) -> np.ndarray:
        """The answers predictions are scored against."""
        return self.w1 if self.scored_wave == 1 else self.w2

    @property
    def retest(self) -> np.ndarray:
        """The same people's other wave: their agreement with themselves is the per-person ceiling."""
        return self.w2 if self.scored_wave == 1 else self.w1

    @property
    def n_options(self) -> np.ndarray:
        return np.array([len(self.questions[q].options) for q in self.items], dtype=int)

    @property
    def max_options(self) -> int:
        return int(self.n_options.max()) if self.items else 0

    def item_index(self, item: str) -> int:
        return self.items.index(item)

    def person_index(self) -> dict[str, int]:
        return {str(p): i for i, p in enumerate(self.people)}

    def code(self, item: str, index: int) -> str | None:
        return None if index < 0 else self.questions[item].options[int(index)].code

    def encode(self, item: str, value: Any) -> int:
        """The option index of an answer value (code), or -1 when it is not an option."""
        codes = {o.code: i for i, o in enumerate(self.questions[item].options)}
        return codes.get(_code(value), MISSING) if value is not None else MISSING

    def subset(self, people: Sequence[str] | None = None, items: Sequence[str] | None = None) -> "PanelMatrix":
        rows = np.arange(len(self.people)) if people is None else np.array([self.person_index()[str(p)] for p in people], dtype=int)
        cols = list(range(len(self.items))) if items is None else [self.items.index(q) for q in items]
        return PanelMatrix(
            self.people[rows], [self.items[c] for c in cols], self.questions,
            self.w1[np.ix_(rows, cols)], self.w2[np.ix_(rows, cols)],
            self.demographics.reindex([str(p) for p in self.people[rows]]) if not self.demographics.empty else self.demographics,
            self.scored_wave,
            None if self.weights is None else self.weights[rows],
            self.weight_column,
        )

    @classmethod
    def from_responses(cls, truth: ResponseSet, questions: Sequence[Question], wave: int = 1, retest_wave: int = 2) -> "PanelMatrix":
        """Choice questions only; people = everyone with at least one wave-`wave` answer to them."""
        choice = [q for q in questions if q.is_choice]
        qmap = {q.id: q for q in choice}
        data = truth.data[truth.data["question"].isin(set(qmap))]
        people = sorted({str(r) for r in data.loc[data["wave"] == wave, "respondent"]})
        items = [q.id for q in choice]
        return cls(np.array(people, dtype=object), items, qmap,
                   _matrix(data, wave, people, items, qmap), _matrix(data, retest_wave, people, items, qmap),
                   _demographics(truth, people), weights=_weights(truth, people),
                   weight_column=truth.weight_column if truth.weighted else None)


def _matrix(data: pd.DataFrame, wave: int, people: list[str], items: list[str], qmap: dict[str, Question]) -> np.ndarray:
    out = np.full((len(people), len(items)), MISSING, dtype=np.int16)
    rows = data[data["wave"] == wave]
    if rows.empty or not people:
        return out
    person_pos = pd.Index(people)
    r = person_pos.get_indexer(rows["respondent"].astype(str))
    item_pos = pd.Index(items)
    c = item_pos.get_indexer(rows["question"].astype(str))
    codes = rows["value"].map(_code).to_numpy(dtype=object)
    values = np.full(len(rows), MISSING, dtype=np.int16)
    for j, item in enumerate(items):
        mask = c == j
        if not mask.any():
            continue
        lookup = {o.code: i for i, o in enumerate(qmap[item].options)}
        values[mask] = [lookup.get(v, MISSING) for v in codes[mask]]
    keep = (r >= 0) & (c >= 0)
    out[r[keep], c[keep]] = values[keep]
    return out


def _demographics(truth: ResponseSet, people: list[str]) -> pd.DataFrame:
    demo = truth.demographics
    if demo is None or demo.empty:
        return pd.DataFrame(index=pd.Index(people, name="respondent"))
    demo = demo.copy()
    demo.index = demo.index.astype(str)
    return demo[~demo.index.duplicated()].reindex(people)


def _weights(truth: ResponseSet, people: list[str]) -> np.ndarray | None:
    """The response set's survey weights of `people`, scaled to mean 1 over those with a weight (a person without
    one weighs 0); None when the response set is unweighted. The scale is the panel's own, so a smoothing
    pseudo-count means as much as in an unweighted count (`references.Majority`)."""
    if not truth.weighted:
        return None
    values = truth.weights().reindex(pd.Index(people, dtype=object)).to_numpy(dtype=float)
    values = np.where(np.isfinite(values) & (values > 0), values, 0.0)
    positive = values > 0
    return values / values[positive].mean() if positive.any() else values
