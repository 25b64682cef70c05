"""A study: the paper's whole flow for one's own participants (interview -> surveys -> retest).

A study file is small YAML:

```yaml
id: pilot                      # required; letters, digits, '-', '_' (the folder studies/<id>/)
title: Our pilot               # optional
interview:                     # optional; default: the paper's script, required before the surveys
  script: default              #   a script id or a YAML path (relative to the study file)
  required: true               #   false: the surveys start at once (no interview)
instruments:                   # required, asked in this order (unless order: random)
  - games                      #   a shipped instrument id (gss, bfi44, games, about_you) or an instrument YAML path
  - {id: gss, questions: [happy, natspac]}   # a subset by question ids
  - {id: bfi44, shuffle: true} #   the items in a seeded random order per person (as the paper did for BFI)
experiments: [ames_fiske_2015] # optional: behavioral experiments (ids or YAML paths), asked after the
                               #   instruments; each person's condition from the seeded balanced assignment
order: fixed                   # fixed | random: the instruments' order per person (seeded)
seed: 0                        # the seed of every per-person order
retest_days: 14                # phase 2 (the retest, no interview) opens this many days after phase 1
```

Each instrument is frozen into the study folder when the study is created (the wording asked is the
wording stored), so an instrument edited later cannot change what a running study asks.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulacra.errors import SimulacraError
from surveys.model import Instrument, Question

SCHEMA_VERSION = 1
_STUDY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class StudyError(SimulacraError):
    """A study file or study operation the user can fix (the message names the file and field)."""


class InterviewPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    script: str = "default"
    required: bool = True


class InstrumentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str  # a shipped id or a path to an instrument file
    questions: list[str] | None = None  # a subset by question ids (in the instrument's order)
    shuffle: bool = False  # the items in a seeded random order per person

    @field_validator("questions")
    @classmethod
    def _some(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("an empty question list asks nothing; leave `questions` out to ask them all")
        return value


class StudySpec(BaseModel):
    """The study as written by the researcher (YAML), validated."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    id: str
    title: str = ""
    interview: InterviewPart = Field(default_factory=InterviewPart)
    instruments: list[InstrumentRef]
    experiments: list[str] = Field(default_factory=list)  # behavioral experiments (resolved by the experiments layer)
    order: Literal["fixed", "random"] = "fixed"
    seed: int = 0
    retest_days: float = Field(default=14.0, ge=0, le=3650)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _STUDY_ID.match(value):
            raise ValueError(f"{value!r} is not a study id (letters, digits, '-' and '_', at most 64, no path)")
        return value

    @field_validator("instruments", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"id": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("instruments")
    @classmethod
    def _not_empty(cls, value: list[InstrumentRef]) -> list[InstrumentRef]:
        if not value:
            raise ValueError("a study needs at least one instrument")
        return value

    @model_validator(mode="after")
    def _version(self) -> "StudySpec":
        if self.schema_version > SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is newer than this simulacra reads ({SCHEMA_VERSION})")
        return self


class ExperimentInfo(BaseModel):
    """A behavioral experiment inside a study, as data: its questions are the study instrument of the same id;
    what differs between conditions is the stimulus shown before each step's questions."""

    id: str
    title: str
    conditions: list[str]  # condition ids (the respondent's is fixed when they are invited)
    labels: dict[str, str] = Field(default_factory=dict)  # condition id -> label (operator view)
    steps: dict[str, str] = Field(default_factory=dict)  # question id -> step id
    stimuli: dict[str, dict[str, str]] = Field(default_factory=dict)  # condition id -> step id -> stimulus text

    def stimulus(self, condition: str | None, question_id: str) -> str | None:
        if condition is None:
            return None
        return self.stimuli.get(condition, {}).get(self.steps.get(question_id, ""))


class Study(BaseModel):
    """A created study: the spec plus its frozen instruments (what is stored in studies/<id>/study.json)."""

    schema_version: int = SCHEMA_VERSION
    spec: StudySpec
    instruments: list[Instrument]  # resolved and subset, in the spec's order; ids unique
    shuffled: list[str] = Field(default_factory=list)  # instrument ids whose items are shuffled per person
    experiments: dict[str, ExperimentInfo] = Field(default_factory=dict)  # instrument id -> experiment (asked last)
    created_at: str = ""

    @property
    def id(self) -> str:
        return self.spec.id

    def instrument(self, instrument_id: str) -> Instrument:
        for instrument in self.instruments:
            if instrument.id == instrument_id:
                return instrument
        raise KeyError(instrument_id)

    def question(self, instrument_id: str, question_id: str) -> Question:
        return self.instrument(instrument_id).question(question_id)

    def plan(self, respondent: str) -> list[tuple[str, str]]:
        """The (instrument, question) order this person is asked, the same in both waves (seeded by study
        seed, study id and respondent, so it never changes between requests or restarts)."""
        rng = random.Random(_seed(self.spec.seed, self.id, respondent))
        instruments = [i for i in self.instruments if i.id not in self.experiments]
        if self.spec.order == "random":
            rng.shuffle(instruments)
        instruments += [i for i in self.instruments if i.id in self.experiments]  # the experiments come last
        steps: list[tuple[str, str]] = []
        for instrument in instruments:
            ids = [q.id for q in instrument.questions]
            if instrument.id in self.shuffled:
                rng.shuffle(ids)
            steps += [(instrument.id, qid) for qid in ids]
        return steps

    def all_questions(self) -> list[Question]:
        return [q for instrument in self.instruments for q in instrument.questions]


def _seed(seed: int, study_id: str, respondent: str) -> int:
    return int(hashlib.sha256(f"{seed}:{study_id}:{respondent}".encode()).hexdigest()[:16], 16)


def _format_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error.get("loc", ()))
        msg = error.get("msg", "invalid").removeprefix("Value error, ")
        lines.append(f"{path} [{loc or 'study'}]: {msg}")
    return "\n".join(lines)


def parse_study(text: str, path: Path) -> StudySpec:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StudyError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(document, dict):
        raise StudyError(f"{path}: a study file is a mapping (id, instruments, ...)")
    try:
        return StudySpec.model_validate(document)
    except ValidationError as exc:
        raise StudyError(_format_error(path, exc)) from None


ExperimentLoader = Callable[[str, Path], "tuple[Instrument, ExperimentInfo]"]


def resolve_study(spec: StudySpec, base: Path, source: Path | None = None,
                  experiment_loader: ExperimentLoader | None = None) -> Study:
    """Load and subset the instruments (paths relative to `base`); every problem names the file and field.
    Experiments are resolved by `experiment_loader(name, base)` (the experiments layer's study definitions)."""
    from surveys.instruments import list_instruments, load_instrument

    where = source or base
    shipped = set(list_instruments())
    instruments: list[Instrument] = []
    shuffled: list[str] = []
    for index, ref in enumerate(spec.instruments):
        field = f"{where} [instruments[{index}]"  # closed by each message: "]" or ".questions]"
        if ref.id in shipped:
            target: str | Path = ref.id
        else:
            candidate = Path(ref.id).expanduser()
            candidate = candidate if candidate.is_absolute() else base / candidate
            if not candidate.is_file():
                raise StudyError(f"{field}]: {ref.id!r} is neither a shipped instrument ({', '.join(sorted(shipped))}) nor a file")
            target = candidate
        try:
            instrument = load_instrument(target).model_copy(deep=True)
        except SimulacraError as exc:
            raise StudyError(f"{field}]: {exc}") from None
        if ref.questions is not None:
            known = {q.id for q in instrument.questions}
            unknown = [q for q in ref.questions if q not in known]
            if unknown:
                raise StudyError(f"{field}.questions]: instrument {instrument.id} has no question(s) {', '.join(unknown)}")
            wanted = set(ref.questions)
            instrument.questions = [q for q in instrument.questions if q.id in wanted]
        if any(i.id == instrument.id for i in instruments):
            raise StudyError(f"{field}]: instrument {instrument.id} is listed twice (merge the question lists)")
        seen = {q.id for i in instruments for q in i.questions}
        clash = [q.id for q in instrument.questions if q.id in seen]
        if clash:
            raise StudyError(f"{field}]: question id(s) {', '.join(clash[:5])} already used by another instrument")
        instruments.append(instrument)
        if ref.shuffle:
            shuffled.append(instrument.id)
    experiments: dict[str, ExperimentInfo] = {}
    for index, name in enumerate(spec.experiments):
        field = f"{where} [experiments[{index}]]"
        if experiment_loader is None:
            raise StudyError(f"{field}: experiments are resolved by `simulacra study create` (experiments layer)")
        try:
            instrument, info = experiment_loader(name, base)
        except SimulacraError as exc:
            raise StudyError(f"{field}: {exc}") from None
        if any(i.id == instrument.id for i in instruments):
            raise StudyError(f"{field}: {instrument.id} is listed twice or clashes with an instrument id")
        seen = {q.id for i in instruments for q in i.questions}
        clash = [q.id for q in instrument.questions if q.id in seen]
        if clash:
            raise StudyError(f"{field}: question id(s) {', '.join(clash[:5])} already used by another instrument")
        instruments.append(instrument)
        experiments[instrument.id] = info
    if spec.interview.required and spec.interview.script:
        from interviewer.script import load_script

        script = spec.interview.script
        candidate = base / script
        try:
            load_script(str(candidate) if candidate.is_file() else script)
        except SimulacraError as exc:
            raise StudyError(f"{where} [interview.script]: {exc}") from None
    return Study(spec=spec, instruments=instruments, shuffled=shuffled, experiments=experiments)


def load_study_file(path: str | Path, experiment_loader: ExperimentLoader | None = None) -> Study:
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"{path}: no such study file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StudyError(f"{path}: not UTF-8 text") from None
    return resolve_study(parse_study(text, path), path.parent, path, experiment_loader)
