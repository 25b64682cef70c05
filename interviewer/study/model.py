"""A study: the paper's whole flow for one's own participants (interview -> surveys -> retest).

A study file is small YAML:

```yaml
id: pilot                      # required; the name rule of surveys/names.py (the folder studies/<id>/)
title: Our pilot               # optional
interview:                     # optional; default: the paper's script, required before the surveys
  script: default              #   a script id or a YAML path (relative to the study file)
  required: true               #   false: the surveys start at once (no interview)
instruments:                   # required, asked in this order (unless order: random)
  - games                      #   a shipped instrument id (gss, bfi44, games, about_you) or an instrument YAML path
  - {id: gss, questions: [happy, natspac]}   # a subset by question ids
  - {id: bfi44, shuffle: true} #   the items in a seeded random order per person (as the paper did for BFI)
  - {id: gss, adaptive: {max_items: 12}, population: gss-panel-2016-2020}   # one item at a time, chosen by
                               #   surveys.adaptive from the answers so far (max_items and/or budget_minutes;
                               #   retest: same | all); population: default the GSS panel's wave 1 for gss
experiments: [ames_fiske_2015] # optional: behavioral experiments (ids or YAML paths), asked after the
                               #   instruments; each person's condition from the seeded balanced assignment
order: fixed                   # fixed | random: the instruments' order per person (seeded)
seed: 0                        # the seed of every per-person order
retest_days: 14                # phase 2 (the retest, no interview) opens this many days after phase 1
about_you_in_retest: false     # optional: ask about_you again in the retest (default: once, in wave 1)
consent:                       # optional: the wording an ethics board approved (plain text; a blank line
  text: |                      #   starts a paragraph, "- " a bullet); default: a text stating the retest delay
    ...
  retest_invitation: ...       #   shown when round 1 is done ({retest_at}: when round 2 opens, {retest_delay})
platform:                      # optional: a participant-platform link /study/join/<id>?PROLIFIC_PID=...
  id_param: PROLIFIC_PID       #   the URL parameter carrying the platform's participant id
  completion_url: https://app.prolific.com/submissions/complete?cc=ABC   # where a finished person is sent
  completion_code: ABC         #   the code shown at the end (either or both)
  retest_completion_url: ...   #   optional: other ones for round 2 (default: the same)
  retest_completion_code: ...
quotas:                        # optional: at most N participants per answer of a choice question
  - {field: sex, cells: {male: 50, female: 50}}   # a question id or an about_you demographic field;
                                                   # cells by option label or code
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
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from interviewer.script import load_script
from simulacra.errors import SimulacraError
from surveys.errors import DataFileError, number_too_long
from surveys.instruments import list_instruments, load_instrument, refuse_alias_bombs
from surveys.loaders import RESPONSE_SETS, load_responses
from surveys.model import Instrument, Question
from surveys.names import check_name

SCHEMA_VERSION = 1
ABOUT_YOU = "about_you"  # the shipped "about you" instrument (demographics and the persona paragraph)


class StudyError(SimulacraError):
    """A study file or study operation the user can fix (the message names the file and field)."""


class InterviewPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    script: str = "default"
    required: bool = True


class AdaptivePart(BaseModel):
    """An adaptive instrument: the items are chosen one at a time by expected information gain
    (`surveys.adaptive`), from the answers so far, until `max_items` are asked or the time budget is spent."""

    model_config = ConfigDict(extra="forbid")
    max_items: int | None = Field(default=None, ge=1, le=10_000)
    budget_minutes: float | None = Field(default=None, gt=0, le=24 * 60)
    retest: Literal["same", "all"] = "same"  # the retest asks the items asked in round 1 (same), or every item (all)

    @model_validator(mode="after")
    def _a_limit(self) -> "AdaptivePart":
        if self.max_items is None and self.budget_minutes is None:
            raise ValueError("an adaptive instrument needs max_items or budget_minutes (or both)")
        return self


class InstrumentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str  # a shipped id or a path to an instrument file
    questions: list[str] | None = None  # a subset by question ids (in the instrument's order)
    shuffle: bool = False  # the items in a seeded random order per person
    adaptive: AdaptivePart | None = None  # the items chosen one at a time (see AdaptivePart)
    population: str | None = None  # adaptive: the response set the choices learn from (name or file)

    @field_validator("questions")
    @classmethod
    def _some(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("an empty question list asks nothing; leave `questions` out to ask them all")
        return value


class ConsentPart(BaseModel):
    """The wording participants read: an ethics board's approved consent text and the retest invitation."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=20_000)
    retest_invitation: str | None = Field(default=None, max_length=5_000)

    @field_validator("text", "retest_invitation")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty text; leave the field out to use the default wording")
        return value.strip() if value is not None else None


_PARAM = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PlatformPart(BaseModel):
    """A participant platform (Prolific and the like): the link carries the platform's participant id in a
    URL parameter; a finished participant gets a completion code and/or is sent to a completion URL."""

    model_config = ConfigDict(extra="forbid")
    id_param: str = "PROLIFIC_PID"
    completion_url: str | None = None
    completion_code: str | None = None
    retest_completion_url: str | None = None
    retest_completion_code: str | None = None

    @field_validator("id_param")
    @classmethod
    def _param(cls, value: str) -> str:
        if not _PARAM.match(value):
            raise ValueError(f"{value!r} is not a URL parameter name (a letter, then letters, digits or '_')")
        return value

    @field_validator("completion_url", "retest_completion_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^\s/?#]+[^\s]*$", value) or any(c in value for c in "<>\"'`"):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("completion_code", "retest_completion_code")
    @classmethod
    def _code(cls, value: str | None) -> str | None:
        if value is not None and not _CODE.match(value):
            raise ValueError(f"{value!r} is not a completion code (letters, digits, '.', '_', '-')")
        return value

    def completion(self, wave: int) -> dict[str, str | None]:
        """The completion URL and code of a wave (the retest's fall back on the first round's)."""
        if wave == 2:
            return {"url": self.retest_completion_url or self.completion_url,
                    "code": self.retest_completion_code or self.completion_code}
        return {"url": self.completion_url, "code": self.completion_code}


class QuotaRef(BaseModel):
    """At most N participants per answer of one choice question (`field`: a question id or an about_you
    demographic field such as `sex`; `cells`: option label or code -> how many)."""

    model_config = ConfigDict(extra="forbid")
    field: str
    cells: dict[str, int]

    @field_validator("cells", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:  # `{1: 50}` in YAML: the option code "1"
        if isinstance(value, dict):
            return {str(k) if isinstance(k, (int, float)) and not isinstance(k, bool) else k: v for k, v in value.items()}
        return value

    @field_validator("cells")
    @classmethod
    def _cells(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("a quota needs at least one cell (option: how many)")
        bad = [k for k, n in value.items() if not 0 <= n <= 10_000_000]
        if bad:
            raise ValueError(f"cell {bad[0]!r}: a quota is a count from 0 to 10,000,000")
        return value


class Quota(BaseModel):
    """A resolved quota: the question asked and option code -> capacity."""

    instrument: str
    question: str
    cells: dict[str, int]


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
    about_you_in_retest: bool = False  # about_you is asked once (wave 1) unless the study says otherwise
    consent: ConsentPart = Field(default_factory=ConsentPart)
    platform: PlatformPart | None = None
    quotas: list[QuotaRef] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_name(value, kind="study")

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


class AdaptiveInfo(BaseModel):
    """A resolved adaptive instrument: its limits and the population its choices learn from, frozen into the
    study folder (`population_file`: wave-1 answers to the instrument's questions, long CSV, gzip) when the
    study is created."""

    max_items: int | None = None
    budget_seconds: float | None = None
    retest: Literal["same", "all"] = "same"
    population: str  # as the study file names it (or the shipped default)
    population_file: str  # the frozen copy in studies/<id>/
    people: int
    items: int  # questions of the instrument with population answers
    sha256: str  # of the frozen copy's CSV text


class Study(BaseModel):
    """A created study: the spec plus its frozen instruments (what is stored in studies/<id>/study.json)."""

    schema_version: int = SCHEMA_VERSION
    spec: StudySpec
    instruments: list[Instrument]  # resolved and subset, in the spec's order; ids unique
    shuffled: list[str] = Field(default_factory=list)  # instrument ids whose items are shuffled per person
    experiments: dict[str, ExperimentInfo] = Field(default_factory=dict)  # instrument id -> experiment (asked last)
    quotas: list[Quota] = Field(default_factory=list)
    adaptive: dict[str, AdaptiveInfo] = Field(default_factory=dict)  # instrument id -> its adaptive settings
    created_at: str = ""
    _populations: dict[str, Any] = PrivateAttr(default_factory=dict)  # instrument id -> population frame (create)

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

    def in_retest(self, instrument_id: str) -> bool:
        """Whether an instrument is asked again in wave 2 (about_you: only with `about_you_in_retest`)."""
        return instrument_id != ABOUT_YOU or self.spec.about_you_in_retest

    def plan(self, respondent: str, wave: int = 1) -> list[tuple[str, str]]:
        """The (instrument, question) order this person is asked (seeded by study seed, study id and
        respondent, so it never changes between requests or restarts); wave 2 asks the same in the same order,
        less the instruments asked once (about_you)."""
        steps = self._plan(respondent)
        return steps if wave == 1 else [step for step in steps if self.in_retest(step[0])]

    def _plan(self, respondent: str) -> list[tuple[str, str]]:
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

    def consent_text(self) -> str:
        """The consent wording: the study's own, else a default that states the configured retest delay."""
        if self.spec.consent.text:
            return self.spec.consent.text
        delay = retest_delay_text(self.spec.retest_days)
        if self.spec.interview.required:
            opening = ("You are invited to a research study: an interview with an AI interviewer about your life and "
                       f"your views, then a few short surveys, and the same surveys once more {delay} later.")
        else:
            opening = f"You are invited to answer a few short surveys for a research study, now and once more {delay} later."
        return (f"{opening}\n\n"
                "- Each answer is saved as soon as you give it. If you close this page, open the same link to continue.\n"
                "- You may stop at any time, or withdraw and have everything deleted.\n"
                "- Your answers become part of a research dataset.")

    def retest_invitation(self, retest_at: str | None = None) -> str:
        """What a person reads when round 1 is done: {retest_delay} filled in, and {retest_at} when given (the
        page fills it with the date in the reader's own time zone)."""
        text = self.spec.consent.retest_invitation or (
            "Everything you answered is saved. The second round opens on {retest_at}, "
            "{retest_delay} after you finished. Please come back then with the same link. It is not open yet.")
        text = text.replace("{retest_delay}", retest_delay_text(self.spec.retest_days))
        return text.replace("{retest_at}", retest_at) if retest_at is not None else text



def retest_delay_text(days: float) -> str:
    """`14` -> "14 days", `1` -> "1 day", `0.5` -> "12 hours", `0` -> "right after"."""
    if days <= 0:
        return "right after"
    if days < 1:
        hours = round(days * 24)
        return f"{hours} hour{'s' if hours != 1 else ''}" if hours >= 1 else f"{max(1, round(days * 1440))} minutes"
    shown = f"{days:g}" if days < 1e6 else f"{days:.0f}"
    return f"{shown} day{'s' if days != 1 else ''}"


def _seed(seed: int, study_id: str, respondent: str) -> int:
    return int(hashlib.sha256(f"{seed}:{study_id}:{respondent}".encode()).hexdigest()[:16], 16)


def _is_file(path: Path) -> bool:
    """`path.is_file()`, and False for a name no file can have (too long, a NUL byte) instead of an error."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _format_error(path: Path, exc: ValidationError) -> str:
    lines = []
    # a misspelt field also shows up as a missing one: the misspelling (the cause) comes first
    for error in sorted(exc.errors(), key=lambda e: e.get("type") != "extra_forbidden"):
        loc = ".".join(str(p) for p in error.get("loc", ()))
        msg = error.get("msg", "invalid").removeprefix("Value error, ")
        lines.append(f"{path} [{loc or 'study'}]: {msg}")
    more = f" (and {len(lines) - 1} more problem{'s' if len(lines) > 2 else ''})" if len(lines) > 1 else ""
    return lines[0] + more  # one line: the CLI prints it as the error


def parse_study(text: str, path: Path) -> StudySpec:
    try:
        refuse_alias_bombs(text, path)  # before the loader expands the aliases
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # its text spans lines (the mark and a snippet): keep the problem and line
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise StudyError(f"{path}{f':{mark.line + 1}' if mark else ''}: not valid YAML ({problem})") from None
    except DataFileError as exc:  # an alias bomb
        raise StudyError(str(exc)) from None
    except ValueError as exc:  # an integer past Python's int-from-text limit
        raise StudyError(str(number_too_long(path, text, exc))) from None
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

    where = source or base
    shipped = set(list_instruments())
    instruments: list[Instrument] = []
    shuffled: list[str] = []
    adaptive: dict[str, AdaptiveInfo] = {}
    populations: dict[str, Any] = {}
    for index, ref in enumerate(spec.instruments):
        field = f"{where} [instruments[{index}]"  # closed by each message: "]" or ".questions]"
        if ref.id in shipped:
            target: str | Path = ref.id
        else:
            candidate = Path(ref.id).expanduser()
            candidate = candidate if candidate.is_absolute() else base / candidate
            if not _is_file(candidate):
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
                raise StudyError(f"{field}.questions]: instrument {instrument.id} has no question(s) {', '.join(map(repr, unknown))}")
            wanted = set(ref.questions)
            instrument.questions = [q for q in instrument.questions if q.id in wanted]
        if any(i.id == instrument.id for i in instruments):
            raise StudyError(f"{field}]: instrument {instrument.id} is listed twice (merge the question lists)")
        seen = {q.id for i in instruments for q in i.questions}
        clash = [q.id for q in instrument.questions if q.id in seen]
        if clash:
            raise StudyError(f"{field}]: question id(s) {', '.join(clash[:5])} already used by another instrument")
        if ref.population is not None and ref.adaptive is None:
            raise StudyError(f"{field}.population]: a population is read only by an adaptive instrument "
                             "(add adaptive: {max_items: K})")
        if ref.adaptive is not None:
            if ref.shuffle:
                raise StudyError(f"{field}.shuffle]: an adaptive instrument chooses its own order; leave out shuffle")
            adaptive[instrument.id], populations[instrument.id] = _adaptive_population(ref, instrument, base, field)
        instruments.append(instrument)
        if ref.shuffle:
            shuffled.append(instrument.id)
    experiments: dict[str, ExperimentInfo] = {}
    for index, name in enumerate(spec.experiments):
        field = f"{where} [experiments[{index}]]"
        if experiment_loader is None:
            raise StudyError(f"{field}: experiments are resolved by `simulacra study create` (experiments layer)")
        if "\x00" in name or any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in Path(name).parts):
            shown = repr(name) if len(name) <= 60 else repr(name[:57]) + "..."
            raise StudyError(f"{field}: {shown} is neither an experiment id nor a file name (too long, or a NUL byte)")
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

        script = spec.interview.script
        candidate = base / script
        try:
            load_script(str(candidate) if _is_file(candidate) else script)
        except SimulacraError as exc:
            raise StudyError(f"{where} [interview.script]: {exc}") from None
    quotas = [_resolve_quota(quota, index, instruments, where) for index, quota in enumerate(spec.quotas)]
    for index, quota in enumerate(quotas):
        if quota.instrument in adaptive:
            raise StudyError(f"{where} [quotas[{index}].field]: {quota.question} is in the adaptive instrument "
                             f"{quota.instrument} (it may never be asked); put the quota on a fixed instrument")
    study = Study(spec=spec, instruments=instruments, shuffled=shuffled, experiments=experiments, quotas=quotas,
                  adaptive=adaptive)
    study._populations = populations
    return study


DEFAULT_POPULATIONS = {"gss": "gss-panel-2016-2020"}  # shipped instrument -> the population of its adaptive choices


def _adaptive_population(ref: InstrumentRef, instrument: Instrument, base: Path, field: str) -> tuple[AdaptiveInfo, Any]:
    """The population an adaptive instrument learns from (wave-1 answers to its questions, as a long frame
    respondent, question, value) and the resolved settings; every problem names the field."""
    assert ref.adaptive is not None
    where = f"{field}.population]"
    name = ref.population or DEFAULT_POPULATIONS.get(instrument.id)
    if name is None:
        raise StudyError(f"{where}: an adaptive instrument needs a population (a response set name or a file of "
                         f"answers to its questions); only {', '.join(DEFAULT_POPULATIONS)} has a default")
    other = [q.id for q in instrument.questions if not q.is_choice]
    if other:
        raise StudyError(f"{field}.adaptive]: {', '.join(other[:5])} {'is not a choice question' if len(other) == 1 else 'are not choice questions'}"
                         " (an adaptive instrument chooses among categorical and ordinal questions; leave the others "
                         "out with questions: [...] or ask them in a fixed instrument)")
    if name in RESPONSE_SETS:
        target: str | Path = name
    else:
        candidate = Path(name).expanduser()
        target = candidate if candidate.is_absolute() else base / candidate
        if not _is_file(target):
            raise StudyError(f"{where}: {name!r} is neither a response set ({', '.join(RESPONSE_SETS)}) nor a file")
    try:
        source = load_responses(target, instrument.id if name in RESPONSE_SETS else instrument)
    except (SimulacraError, ValueError) as exc:
        raise StudyError(f"{where}: {exc}") from None
    ids = {q.id for q in instrument.questions}
    data = source.data
    frame = data[(data["wave"] == 1) & data["question"].isin(ids) & data["value"].notna()][["respondent", "question", "value"]]
    frame = frame.astype({"respondent": str, "question": str}).reset_index(drop=True)
    if frame.empty:
        raise StudyError(f"{where}: {name} has no wave-1 answers to the questions of {instrument.id}")
    text = frame.to_csv(index=False)
    info = AdaptiveInfo(max_items=ref.adaptive.max_items, retest=ref.adaptive.retest, population=name,
                        budget_seconds=ref.adaptive.budget_minutes * 60 if ref.adaptive.budget_minutes else None,
                        population_file=f"population-{instrument.id}.csv.gz", people=int(frame["respondent"].nunique()),
                        items=int(frame["question"].nunique()), sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
    return info, frame


def _resolve_quota(quota: QuotaRef, index: int, instruments: list[Instrument], where: Path) -> Quota:
    """A quota's field as a choice question of the study (by id, else by `meta.demographic`), its cells as
    option codes (by code, else by label, case-insensitive)."""
    field = f"{where} [quotas[{index}]"
    found = [(i, q) for i in instruments for q in i.questions if q.id == quota.field]
    found = found or [(i, q) for i in instruments for q in i.questions if (q.meta or {}).get("demographic") == quota.field]
    if not found:
        raise StudyError(f"{field}.field]: the study asks no question {quota.field!r} (a question id or an about_you "
                         "field such as sex, race, degree)")
    instrument, question = found[0]
    if not question.is_choice:
        raise StudyError(f"{field}.field]: {question.id} is not a choice question (quotas count answers to options)")
    cells: dict[str, int] = {}
    for key, count in quota.cells.items():
        matches = [o.code for o in question.options if o.code == str(key)] or \
                  [o.code for o in question.options if o.label.strip().lower() == str(key).strip().lower()]
        if not matches:
            options = ", ".join(f"{o.code} ({o.label})" for o in question.options)
            raise StudyError(f"{field}.cells]: {key!r} is not an option of {question.id} ({options})")
        cells[matches[0]] = count
    return Quota(instrument=instrument.id, question=question.id, cells=cells)


def load_study_file(path: str | Path, experiment_loader: ExperimentLoader | None = None) -> Study:
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"{path}: no such study file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StudyError(f"{path}: not UTF-8 text") from None
    return resolve_study(parse_study(text, path), path.parent, path, experiment_loader)
