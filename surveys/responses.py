"""Human response sets: respondent x question x wave -> value, with respondent demographics.

Wave 1 is the answer agents are scored against; wave 2 is the same person's retest, which sets the
ceiling (normalized accuracy = agent accuracy / the person's own wave-1 vs wave-2 agreement).
Values are canonical: option codes as strings for categorical/ordinal items, floats for numeric ones.
Loaders (wide CSV, long CSV, GSS panels) live in `surveys.loaders`.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from surveys.errors import SimulacraError

COLUMNS = ["respondent", "question", "wave", "value"]


@dataclass
class UnmappedValue:
    """A raw value a loader could not map onto the instrument's options (reported, never dropped silently)."""

    respondent: str
    question: str
    wave: int
    raw: Any
    reason: str
    line: int | None = None  # line in the source file, where the loader knows it


@dataclass
class ResponseSet:
    name: str
    data: pd.DataFrame  # columns: respondent (str), question (str), wave (int), value (object); no missing values
    demographics: pd.DataFrame = field(default_factory=pd.DataFrame)  # index: respondent; one column per field
    instrument: str | None = None
    unmapped: list[UnmappedValue] = field(default_factory=list)
    source: str = ""
    # survey weights (e.g. the GSS's wtssall): one float per respondent, index respondent; None = unweighted.
    # Set by `with_weights(column)` (or a loader's `weights=`); used by population-level figures only
    # (`answer_distribution`, `majority_answers`), never by individual accuracy.
    weight_column: str | None = None
    weight_values: pd.Series | None = None

    def __post_init__(self) -> None:
        missing = [c for c in COLUMNS if c not in self.data.columns]
        if missing:
            raise ValueError(f"response set {self.name}: missing columns {missing}")
        self.data = self.data[COLUMNS].dropna(subset=["value"]).reset_index(drop=True)
        self.data["respondent"] = self.data["respondent"].astype(str)
        self.data["question"] = self.data["question"].astype(str)
        self.data["wave"] = self.data["wave"].astype(int)

    @classmethod
    def from_records(cls, name: str, records: Iterable[tuple[str, str, int, Any]], **kwargs: Any) -> "ResponseSet":
        return cls(name=name, data=pd.DataFrame(list(records), columns=COLUMNS), **kwargs)

    # -- views -------------------------------------------------------------------------------------
    @property
    def respondents(self) -> list[str]:
        return sorted(self.data["respondent"].unique())

    @property
    def questions(self) -> list[str]:
        return sorted(self.data["question"].unique())

    @property
    def waves(self) -> list[int]:
        return sorted(self.data["wave"].unique())

    def wave(self, wave: int) -> dict[str, dict[str, Any]]:
        """{respondent: {question: value}} for one wave."""
        out: dict[str, dict[str, Any]] = {}
        for row in self.data[self.data["wave"] == wave].itertuples(index=False):
            out.setdefault(row.respondent, {})[row.question] = row.value
        return out

    def value(self, respondent: str, question: str, wave: int = 1) -> Any | None:
        rows = self.data[(self.data.respondent == respondent) & (self.data.question == question) & (self.data.wave == wave)]
        return None if rows.empty else rows["value"].iloc[0]

    def retest_pairs(self, first: int = 1, second: int = 2) -> pd.DataFrame:
        """Rows where a person answered an item in both waves: respondent, question, value_1, value_2."""
        a = self.data[self.data.wave == first][["respondent", "question", "value"]]
        b = self.data[self.data.wave == second][["respondent", "question", "value"]]
        return a.merge(b, on=["respondent", "question"], suffixes=("_1", "_2"))

    def subset(self, respondents: Iterable[str] | None = None, questions: Iterable[str] | None = None) -> "ResponseSet":
        data = self.data
        if respondents is not None:
            data = data[data.respondent.isin(set(map(str, respondents)))]
        if questions is not None:
            data = data[data.question.isin(set(questions))]
        demo = self.demographics
        if respondents is not None and not demo.empty:
            demo = demo[demo.index.isin(set(map(str, respondents)))]
        weights = self.weight_values
        if weights is not None and respondents is not None:
            weights = weights[weights.index.isin(set(map(str, respondents)))]
        return ResponseSet(self.name, data.copy(), demo, self.instrument, [], self.source, self.weight_column,
                           None if weights is None else weights.copy())

    # -- survey weights ----------------------------------------------------------------------------
    def with_weights(self, column: str) -> "ResponseSet":
        """A copy weighted by the demographics column `column` (a panel loader puts the weight column there).

        Raises WeightError naming the column when it is absent or holds a negative or non-numeric value.
        A respondent with no weight (blank) is left out of weighted figures; `weight_summary` counts them.
        """
        if column not in self.demographics.columns:
            have = ", ".join(map(str, self.demographics.columns)) or "none"
            raise WeightError(f"{self.source or self.name}: no weight column {column!r} (demographic fields: {have})")
        raw = self.demographics[column]
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna() & (raw.astype(str).str.strip() != "") & (numbers.isna() | (numbers < 0))
        if bad.any():
            raise WeightError(f"{self.source or self.name} [{column}]: weight of respondent {bad[bad].index[0]!r} "
                              f"is {raw[bad].iloc[0]!r}, not a number >= 0")
        weights = numbers.astype(float)
        weights.index = weights.index.astype(str)
        weights.name = column
        return ResponseSet(self.name, self.data.copy(), self.demographics.copy(), self.instrument, list(self.unmapped),
                           self.source, column, weights)

    @property
    def weighted(self) -> bool:
        return self.weight_values is not None

    def weights(self) -> pd.Series:
        """Weight per respondent of the data (1.0 each when unweighted; NaN where a weight is missing)."""
        people = pd.Index(self.respondents, name="respondent")
        if self.weight_values is None:
            return pd.Series(1.0, index=people, name="weight")
        return self.weight_values.reindex(people).rename("weight")

    def weight_summary(self) -> str:
        if self.weight_values is None:
            return "unweighted"
        weights = self.weights()
        missing = int(weights.isna().sum())
        text = f"weighted by {self.weight_column} (sum {weights.sum():,.1f} over {int(weights.notna().sum()):,} people"
        return text + (f"; {missing:,} without a weight, left out of weighted figures)" if missing else ")")


class WeightError(SimulacraError):
    """A named weight column that is absent or not usable (the CLI prints it as one line)."""


# -- population-level figures (weighted when the response set is) -------------------------------------
def answer_distribution(responses: ResponseSet, wave: int = 1, questions: Iterable[str] | None = None,
                        weighted: bool = True) -> pd.DataFrame:
    """Per item and answer: n (people), weight (sum of their weights) and share (weight / the item's total).

    Unweighted (or `weighted=False`), every weight is 1 and share is the plain proportion. Respondents
    without a weight are left out when weighted. Rows are sorted by question, then share (largest first).
    """
    data = responses.data[responses.data.wave == wave]
    if questions is not None:
        data = data[data.question.isin(set(questions))]
    weights = responses.weights() if weighted else pd.Series(1.0, index=pd.Index(responses.respondents))
    data = data.assign(weight=data.respondent.map(weights).to_numpy(dtype=float))
    data = data[np.isfinite(data.weight)]
    if data.empty:
        return pd.DataFrame(columns=["question", "value", "n", "weight", "share"])
    table = data.groupby(["question", "value"], sort=False).agg(n=("respondent", "size"), weight=("weight", "sum")).reset_index()
    totals = table.groupby("question")["weight"].transform("sum")
    table["share"] = np.where(totals > 0, table.weight / totals.where(totals > 0, 1.0), np.nan)
    table["_key"] = table.value.astype(str)
    table = table.sort_values(["question", "share", "n", "_key"], ascending=[True, False, False, True], kind="mergesort")
    return table.drop(columns="_key").reset_index(drop=True)


def majority_answers(responses: ResponseSet, wave: int = 1, questions: Iterable[str] | None = None,
                     weighted: bool = True) -> dict[str, Any]:
    """Per item the answer with the largest (weighted) share; ties: more people, then the smaller value as text."""
    table = answer_distribution(responses, wave, questions, weighted)
    return {question: group.value.iloc[0] for question, group in table.groupby("question", sort=True)}


# -- what could not be mapped -------------------------------------------------------------------------
def unmapped_counts(responses: ResponseSet) -> list[tuple[str, str, int]]:
    """(item, raw value, count) of the values a loader could not map, most frequent first."""
    counts = Counter((u.question, str(u.raw)) for u in responses.unmapped)
    return sorted(((q, v, n) for (q, v), n in counts.items()), key=lambda row: (-row[2], row[0], row[1]))


def describe_unmapped(responses: ResponseSet, limit: int | None = 25, width: int = 80, reasons: bool = False) -> list[str]:
    """Plain lines (each at most `width` columns) saying what could not be mapped: item, value, count.

    Empty when everything mapped. The count comes first so it is never cut; long values are shortened
    with an ellipsis. `limit` caps the listed pairs (None = all); a last line says how many more.
    `reasons`: under each pair, the loader's reason (wrapped).
    """
    why: dict[tuple[str, str], str] = {}
    for u in responses.unmapped:
        why.setdefault((u.question, str(u.raw)), u.reason)
    rows = unmapped_counts(responses)
    if not rows:
        return []
    total = sum(n for _, _, n in rows)
    lines = [f"{total:,} values could not be mapped ({len(rows):,} distinct item/value pairs; count, item, value):"]
    shown = rows if limit is None else rows[:limit]
    count_width = max(len(f"{n:,}") for _, _, n in shown)
    item_width = min(max(len(q) for q, _, _ in shown), 16)
    for question, value, count in shown:
        head = f"  {count:>{count_width},}  {question:<{item_width}}  "
        room = max(width - len(head) - 2, 8)
        text = value if len(value) <= room else value[: room - 1] + "…"
        lines.append(f'{head}"{text}"')
        if reasons and why.get((question, value)):
            lines += textwrap.wrap(why[(question, value)], width=width, initial_indent=" " * 6, subsequent_indent=" " * 6)
    if len(shown) < len(rows):
        lines.append(f"  ... {len(rows) - len(shown):,} more pairs")
    return lines
