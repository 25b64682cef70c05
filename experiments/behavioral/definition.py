"""Experiment definitions: a YAML file validated into a `StudyDefinition` (pydantic).

A study is a between-subjects design with one or two factors; every combination of levels is a condition.
Each step shows a stimulus (a template whose `{factor_id}` placeholders take the text of the agent's level)
and asks `surveys` questions; later steps see the earlier stimuli and the agent's own answers. The analysis
names the outcome question, the test (`chi_square`, `t_test`, `anova_interaction`) and the hypothesised
direction; `published` holds the human effect reported for comparison.

The five studies of Park et al. (2024) ship as package data in `studies/`; users add their own as YAML files
in `$SIMULACRA_HOME/studies/` or pass a path. Errors name the file, the line and the field.
"""

from __future__ import annotations

import itertools
import re
import string
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulacra.errors import DataFileError, SimulacraError
from simulacra.workspace import Workspace
from surveys.errors import number_too_long
from surveys.instruments import refuse_alias_bombs
from surveys.model import Question, QuestionKind
from surveys.names import check_name

BUILTIN_DIR = Path(__file__).resolve().parent / "studies"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")  # factor, level and step ids (placeholders, not paths)
TestName = Literal["chi_square", "t_test", "anova_interaction"]


class StudyNotFound(SimulacraError):
    """No built-in or user study has that id, and it is not a path to a YAML file."""


class FieldProblem(ValueError):
    """A design problem found after parsing, with the path of the field at fault (for the line number)."""

    def __init__(self, loc: str, message: str):
        super().__init__(f"{loc}: {message}")
        self.loc = tuple(int(p) if p.isdigit() else p for p in loc.split("."))


def _slug(value: str, what: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(f"{what} {value!r} must be lower-case letters, digits, '_' or '-'")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Level(_Strict):
    id: str
    label: str
    text: str = ""  # fills the factor's `{placeholder}` in every step's stimulus

    @field_validator("id")
    @classmethod
    def check_id(cls, value: str) -> str:
        return _slug(value, "level id")


class Factor(_Strict):
    id: str
    label: str
    levels: list[Level] = Field(min_length=2)

    @field_validator("id")
    @classmethod
    def check_id(cls, value: str) -> str:
        return _slug(value, "factor id")

    @model_validator(mode="after")
    def _unique_levels(self) -> "Factor":
        ids = [level.id for level in self.levels]
        if len(set(ids)) != len(ids):
            raise ValueError(f"factor {self.id}: level ids repeat: {ids}")
        return self

    def level(self, level_id: str) -> Level:
        for level in self.levels:
            if level.id == level_id:
                return level
        raise KeyError(level_id)


class Condition(BaseModel):
    """One cell of the design: a level of every factor. Its id joins the level ids with '+'."""

    id: str
    levels: dict[str, str]  # factor id -> level id
    label: str


class Step(_Strict):
    id: str
    stimulus: str
    questions: list[Question] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def check_id(cls, value: str) -> str:
        return _slug(value, "step id")

    @model_validator(mode="after")
    def _unique_questions(self) -> "Step":
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError(f"step {self.id}: question ids repeat: {ids}")
        return self

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)


class OutcomeRef(_Strict):
    step: str
    question: str


class Analysis(_Strict):
    """The test and the hypothesised direction; effects are signed so that positive = as hypothesised."""

    test: TestName
    outcome: OutcomeRef
    hypothesis: str
    alpha: float = Field(default=0.05, gt=0, lt=1)
    # chi_square and t_test: the factor compared and which of its two levels should score higher
    factor: str | None = None
    higher: str | None = None
    lower: str | None = None
    # chi_square: the outcome's option codes that count as the event (e.g. "chose the blame task")
    event: list[str] = Field(default_factory=list)
    # anova_interaction: condition id -> +1 / -1; the interaction contrast expected to be positive
    contrast: dict[str, int] = Field(default_factory=dict)


class PublishedEffect(_Strict):
    """The human result the paper reports (Park et al. 2024, Table 1 and SM), for comparison."""

    d: float
    p: str  # as printed: "< 0.001", "n.s."
    significant: bool
    replicated: bool
    agents_d: dict[str, float] = Field(default_factory=dict)  # the paper's agents: interview, demographic, persona
    source: str = ""


class StudyDefinition(_Strict):
    id: str
    title: str
    citation: str
    description: str = ""
    factors: list[Factor] = Field(min_length=1, max_length=2)
    steps: list[Step] = Field(min_length=1)
    analysis: Analysis
    published: PublishedEffect | None = None
    reconstructed: list[str] = Field(default_factory=list)  # details written from descriptions, not originals
    version: int = 1

    @field_validator("id")
    @classmethod
    def check_id(cls, value: str) -> str:
        return check_name(value, kind="experiment")  # it names files and folders: the one name rule

    @model_validator(mode="after")
    def _check_design(self) -> "StudyDefinition":
        factor_ids = [f.id for f in self.factors]
        if len(set(factor_ids)) != len(factor_ids):
            raise FieldProblem("factors", f"factor ids repeat: {factor_ids}")
        step_ids = [s.id for s in self.steps]
        if len(set(step_ids)) != len(step_ids):
            raise FieldProblem("steps", f"step ids repeat: {step_ids}")
        for index, step in enumerate(self.steps):
            for _, name, _, _ in string.Formatter().parse(step.stimulus):
                if name is not None and name not in factor_ids:
                    raise FieldProblem(
                        f"steps.{index}.stimulus",
                        f"step {step.id}: stimulus placeholder {{{name}}} is not a factor id ({', '.join(factor_ids)}); "
                        "write {{ and }} for literal braces"
                    )
            for question in step.questions:
                question.instrument = self.id
        self._check_analysis()
        return self

    def _check_analysis(self) -> None:
        a = self.analysis
        factor_ids = [f.id for f in self.factors]
        try:
            step = self.step(a.outcome.step)
        except KeyError:
            raise FieldProblem("analysis.outcome.step", f"{a.outcome.step!r} is not a step of this study") from None
        try:
            question = step.question(a.outcome.question)
        except KeyError:
            raise FieldProblem("analysis.outcome.question", f"{a.outcome.question!r} is not a question of step {step.id}") from None
        if a.test in ("chi_square", "t_test"):
            if not a.factor or not a.higher or not a.lower:
                raise FieldProblem("analysis", f"a {a.test} needs factor, higher and lower")
            if a.factor not in factor_ids:
                raise FieldProblem("analysis.factor", f"{a.factor!r} is not a factor ({', '.join(factor_ids)})")
            factor = self.factor(a.factor)
            if len(factor.levels) != 2:
                raise FieldProblem("analysis.factor", f"a {a.test} compares exactly two levels; {a.factor} has {len(factor.levels)}")
            level_ids = {level.id for level in factor.levels}
            if {a.higher, a.lower} != level_ids:
                raise FieldProblem("analysis.higher" if a.higher not in level_ids else "analysis.lower", f"higher and lower must be the two levels of {a.factor}: {sorted(level_ids)}")
        if a.test == "chi_square":
            if not question.is_choice:
                raise FieldProblem("analysis.outcome", f"a chi_square needs a categorical or ordinal outcome, {question.id} is {question.kind.value}")
            if not a.event:
                raise FieldProblem("analysis.event", "list the option codes that count as the event")
            for code in a.event:
                if code not in {o.code for o in question.options}:
                    raise FieldProblem("analysis.event", f"{code!r} is not an option code of {question.id} ({', '.join(o.code for o in question.options)})")
            if set(a.event) == {o.code for o in question.options}:
                raise FieldProblem("analysis.event", "the event cannot be every option")
        if a.test == "t_test" and question.kind not in (QuestionKind.numeric, QuestionKind.ordinal):
            raise FieldProblem("analysis.outcome", f"a t_test needs a numeric or ordinal outcome, {question.id} is {question.kind.value}")
        if a.test == "anova_interaction":
            if len(self.factors) != 2 or any(len(f.levels) != 2 for f in self.factors):
                raise FieldProblem("factors", "anova_interaction needs two factors with two levels each")
            if question.kind not in (QuestionKind.numeric, QuestionKind.ordinal):
                raise FieldProblem("analysis.outcome", f"anova_interaction needs a numeric or ordinal outcome, {question.id} is {question.kind.value}")
            cells = {c.id for c in self.conditions}
            if set(a.contrast) != cells:
                raise FieldProblem("analysis.contrast", f"give +1 or -1 for each condition: {sorted(cells)}")
            if any(v not in (1, -1) for v in a.contrast.values()):
                raise FieldProblem("analysis.contrast", "values must be +1 or -1")
            first, second = self.factors
            a1, a2 = (lv.id for lv in first.levels)
            b1, b2 = (lv.id for lv in second.levels)
            c = a.contrast
            if not (c[f"{a1}+{b1}"] == c[f"{a2}+{b2}"] == -c[f"{a1}+{b2}"] == -c[f"{a2}+{b1}"]):
                raise FieldProblem("analysis.contrast", "not an interaction contrast (diagonal cells must share a sign)")

    # -- lookups ------------------------------------------------------------------------------------
    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def factor(self, factor_id: str) -> Factor:
        for factor in self.factors:
            if factor.id == factor_id:
                return factor
        raise ValueError(f"{factor_id!r} is not a factor of study {self.id}")

    @cached_property
    def conditions(self) -> list[Condition]:
        cells = []
        for combo in itertools.product(*(f.levels for f in self.factors)):
            cells.append(
                Condition(
                    id="+".join(level.id for level in combo),
                    levels={f.id: level.id for f, level in zip(self.factors, combo)},
                    label=" / ".join(level.label for level in combo),
                )
            )
        return cells

    def condition(self, condition_id: str) -> Condition:
        for condition in self.conditions:
            if condition.id == condition_id:
                return condition
        raise KeyError(f"study {self.id} has no condition {condition_id!r}")

    @property
    def outcome(self) -> Question:
        return self.step(self.analysis.outcome.step).question(self.analysis.outcome.question)

    @property
    def design(self) -> str:
        return " x ".join(str(len(f.levels)) for f in self.factors) + " between-subjects"

    def stimulus(self, step: Step, condition: Condition) -> str:
        """The step's stimulus as shown in `condition` (each factor placeholder takes its level's text)."""
        fill = {f.id: f.level(condition.levels[f.id]).text.strip() for f in self.factors}
        return step.stimulus.format_map(fill).strip()


# -- loading ----------------------------------------------------------------------------------------
def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a 1-based line number."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next((value for key, value in node.value if getattr(key, "value", None) == part), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse_study(text: str, path: Path | str = "<study>") -> StudyDefinition:
    try:
        refuse_alias_bombs(text, path)  # before any loader expands the aliases
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]  # a ReaderError (a control character) has no mark
        raise DataFileError(path, f"not valid YAML: {problem}", line=mark.line + 1 if mark else None) from None
    except ValueError as exc:  # an integer past Python's int-from-text limit
        raise number_too_long(path, text, exc) from None
    if not isinstance(data, dict):
        raise DataFileError(path, "a study file must be a YAML mapping (id, title, factors, steps, analysis, ...)", line=1)
    try:
        return StudyDefinition.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-after")))
        message = error["msg"].removeprefix("Value error, ")
        problem = (error.get("ctx") or {}).get("error")
        if isinstance(problem, FieldProblem):
            loc = loc + problem.loc
            message = message.split(": ", 1)[1] if ": " in message else message
        field = ".".join(str(part) for part in loc) or None
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise DataFileError(path, message + more, line=_line_of(root, loc), field=field) from None


def load_study_file(path: Path) -> StudyDefinition:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(path, f"cannot read the study file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(path, f"not UTF-8 text (byte {exc.start + 1} of the file); save it as UTF-8") from None
    return parse_study(text, path)


def user_studies_dir() -> Path:
    return Workspace.default().root / "studies"


def study_files() -> dict[str, Path]:
    """Study id (file stem) -> file: the built-in studies, then the user's (which may override by id)."""
    found: dict[str, Path] = {}
    for folder in (BUILTIN_DIR, user_studies_dir()):
        if folder.is_dir():
            for path in sorted(folder.glob("*.y*ml")):
                found[path.stem] = path
    return found


def load_study(name: str) -> StudyDefinition:
    """A study by id (built-in or in $SIMULACRA_HOME/studies) or by path to a YAML file."""
    candidate = Path(name).expanduser()
    try:
        is_file = candidate.is_file()
    except (OSError, ValueError):  # a name no file can have (too long, a NUL byte)
        is_file = False
    if candidate.suffix in (".yaml", ".yml") and is_file:
        return load_study_file(candidate)
    files = study_files()
    if name in files:
        study = load_study_file(files[name])
        if study.id != name:
            raise DataFileError(files[name], f"the file is named {name} but its id is {study.id!r}", field="id")
        return study
    known = ", ".join(sorted(files)) or "(none)"
    raise StudyNotFound(f"no study {name!r}: known studies are {known}; or give the path to a .yaml file")


def load_studies(names: list[str]) -> list[StudyDefinition]:
    """Resolve names; `all` means every known study. Duplicate ids are an error."""
    if not names or names == ["all"]:
        names = sorted(study_files())
    studies = [load_study(name) for name in names]
    ids = [s.id for s in studies]
    if len(set(ids)) != len(ids):
        raise SimulacraError(f"a study appears twice: {ids}")
    return studies
