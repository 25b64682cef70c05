"""metrics.json as a typed model: a schema version, the top-level layout and the blocks reports read.

Every block is a pydantic model whose known fields are typed (a statistic is `Stat`: mean, interval, n; a
condition's block is `ConditionBlock`; a verdict is `Verdict`), so a block that is not what reports expect fails
when it is written, not when it is read. Blocks keep their JSON shapes: a field that was not set is not written
(no `null` keys appear), fields not named here are kept as they are (`extra="allow"`), and a block reads like
the mapping it was (`block["people"]`, `block.get("accuracy")`). `load_metrics` refuses a file of another
schema version with a clear message instead of misreading it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from simulacra.errors import SimulacraError

SCHEMA_VERSION = 2


class Block(BaseModel):
    """A metrics block: typed known fields, other fields kept; only what was set is written."""

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _only_what_was_set(self, handler: Any) -> Any:
        data = handler(self)
        kept = self.model_fields_set | set(self.model_extra or {})
        return {k: v for k, v in data.items() if k in kept}

    def __getitem__(self, key: str) -> Any:
        if key in self.model_fields_set or key in (self.model_extra or {}):
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self.model_fields_set or key in (self.model_extra or {})

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default


class Stat(Block):
    """One statistic of a condition: the point value, its 95% interval (two-way bootstrap) and how many it is over."""

    mean: float | None = None
    ci: list[float] | None = None
    n: int | None = None


class ConditionBlock(Block):
    """One condition on one instrument (or one sample of it, or its failed-excluded version)."""

    kind: str | None = None  # agent, reference, floor, population, placebo, stacked
    label: str | None = None
    people: int = 0
    excluded_people: int | None = None
    items_per_person: float | None = None
    accuracy: Stat | None = None
    retest_agreement: Stat | None = None
    normalized_accuracy: Stat | None = None
    normalized_accuracy_ratio_of_means: Stat | None = None
    normalized_accuracy_paper: Stat | None = None
    paper_consistency: Stat | None = None
    correlation: Stat | None = None
    retest_correlation: Stat | None = None
    normalized_correlation: Stat | None = None
    normalized_correlation_ratio_of_means: Stat | None = None
    mae: Stat | None = None
    retest_mae: Stat | None = None
    numeric_mae: Stat | None = None
    failed_excluded: "ConditionBlock | None" = None
    by_sample: dict[str, "ConditionBlock"] | None = None


class Verdict(Block):
    """An agent condition against a reference: the paired difference on a metric, its interval, in words."""

    condition: str
    verdict: str
    metric: str | None = None
    reference: str | None = None
    difference: float | None = None
    ci: list[float] | None = None
    instrument: str | None = None


class RunInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    status: str | None = None
    model: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    code_version: dict[str, Any] = Field(default_factory=dict)
    agents: int = 0
    instruments: dict[str, int] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)


class TruthInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    source: str | None = None
    people_in_truth: int
    wave: int
    retest_wave: int
    design: str = "same-wave"
    retest_interval: str = ""


class AnswerCounts(BaseModel):
    model_config = ConfigDict(extra="allow")
    total: int
    ok: int
    failed: int
    expected: int | None = None
    headline: str = "failed answers count as wrong"


class Metrics(BaseModel):
    """The content of metrics.json."""

    model_config = ConfigDict(extra="allow")
    schema_version: int = SCHEMA_VERSION
    run: RunInfo
    truth: TruthInfo
    answers: AnswerCounts
    conditions: dict[str, dict[str, ConditionBlock]]  # condition -> instrument -> block
    families: dict[str, str]
    verdicts: list[Verdict] = Field(default_factory=list)
    parity: dict[str, Any] = Field(default_factory=dict)
    per_item: list[dict[str, Any]] = Field(default_factory=list)
    per_person: list[dict[str, Any]] = Field(default_factory=list)
    unscored_agents: list[dict[str, Any]] = Field(default_factory=list)
    unscored_instruments: list[str] = Field(default_factory=list)  # instruments the human answers do not cover
    notes: list[str] = Field(default_factory=list)  # what the scoring left out and why, in words
    settings: dict[str, Any] = Field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def load_metrics(path: Path) -> dict[str, Any]:
    """A saved metrics.json, validated; a file of another schema version is refused with its version named."""

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SimulacraError(f"{path}: cannot read metrics ({exc})") from None
    version = data.get("schema_version", 1) if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise SimulacraError(f"{path}: metrics schema version {version}, this simulacra writes {SCHEMA_VERSION}: "
                             "run `simulacra report` on the run again")
    try:
        return Metrics.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        raise SimulacraError(f"{path}: not a valid metrics file: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from None
