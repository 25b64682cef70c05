"""Human response sets: respondent x question x wave -> value, with respondent demographics.

Wave 1 is the answer agents are scored against; wave 2 is the same person's retest, which sets the
ceiling (normalized accuracy = agent accuracy / the person's own wave-1 vs wave-2 agreement).
Values are canonical: option codes as strings for categorical/ordinal items, floats for numeric ones.
Loaders (wide CSV, long CSV, GSS panels) live in `surveys.loaders`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

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
        return ResponseSet(self.name, data.copy(), demo, self.instrument, [], self.source)
