"""metrics.json as a typed model (#11 item 7): a schema version and the blocks reports read.

The blocks keep their JSON shapes (dicts) so reports and comparisons read them directly; the model pins
the top-level layout and the version, and `load_metrics` refuses a file of another version with a clear
message instead of misreading it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 2


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
    conditions: dict[str, dict[str, dict[str, Any]]]  # condition -> instrument -> block
    families: dict[str, str]
    verdicts: list[dict[str, Any]] = Field(default_factory=list)
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
    from simulacra.errors import SimulacraError

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
