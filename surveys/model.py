"""Questions, instruments and answers (pydantic). Every other package speaks these types.

Kinds:
- `categorical`: nominal options (one-hot, 1/k weights for the correlation variant);
- `ordinal`: ordered options (evenly spaced 0-1 for correlation), `options` listed in scale order;
- `numeric`: a number within [`min`, `max`] (scaled to 0-1 by that range for scoring);
- `open`: free text.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from surveys.names import check_name


class QuestionKind(str, Enum):
    categorical = "categorical"
    ordinal = "ordinal"
    numeric = "numeric"
    open = "open"


class AnswerValidationError(ValueError):
    """An answer does not fit its question; the message names the question and the value."""


class Option(BaseModel):
    code: str  # the stored value, e.g. "1" or "cooperate"
    label: str  # the wording shown to respondents


class Question(BaseModel):
    id: str
    text: str  # the wording respondents and agents read (self-administered)
    kind: QuestionKind
    options: list[Option] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    integer: bool = False
    unit: str | None = None
    instrument: str = ""
    block: str | None = None
    description: str | None = None  # short label (e.g. GSS variable label)
    # the source's own wording when `text` was derived from it (GSS: interviewer-administered, instructions
    # included; the rules are in surveys/wording.py); None when `text` is the source's wording
    source_text: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_shape(self) -> "Question":
        if self.kind in (QuestionKind.categorical, QuestionKind.ordinal):
            if len(self.options) < 2:
                raise ValueError(f"question {self.id}: a {self.kind.value} question needs at least 2 options")
            codes = [o.code for o in self.options]
            if len(set(codes)) != len(codes):
                raise ValueError(f"question {self.id}: option codes repeat: {codes}")
        for name in ("min", "max"):
            bound = getattr(self, name)
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"question {self.id}: {name} must be a finite number, not {bound}")
        if self.kind == QuestionKind.numeric:
            if self.min is None or self.max is None:
                raise ValueError(f"question {self.id}: a numeric question needs min and max")
            if self.min >= self.max:
                raise ValueError(f"question {self.id}: min {self.min} must be below max {self.max}")
        return self

    @property
    def is_choice(self) -> bool:
        return self.kind in (QuestionKind.categorical, QuestionKind.ordinal)

    def option(self, code: str) -> Option:
        for option in self.options:
            if option.code == str(code):
                return option
        raise AnswerValidationError(
            f"question {self.id}: {code!r} is not one of its options ({', '.join(o.code for o in self.options)})"
        )

    def code_for_label(self, label: str) -> str | None:
        wanted = label.strip().casefold()
        for option in self.options:
            if option.label.strip().casefold() == wanted:
                return option.code
        return None

    def validate_value(self, value: Any) -> Any:
        """Return the value in canonical form (option code as str, number as float/int, text as str)."""
        if value is None:
            raise AnswerValidationError(f"question {self.id}: no value given")
        if self.is_choice:
            code = str(value).strip()
            if isinstance(value, float) and value.is_integer():
                code = str(int(value))
            self.option(code)
            return code
        if self.kind == QuestionKind.numeric:
            if isinstance(value, bool):
                raise AnswerValidationError(f"question {self.id}: expected a number, got {value!r}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise AnswerValidationError(f"question {self.id}: expected a number, got {value!r}") from None
            if math.isnan(number) or not (self.min <= number <= self.max):  # type: ignore[operator]
                raise AnswerValidationError(
                    f"question {self.id}: {value!r} is outside the range {self.min:g} to {self.max:g}"
                )
            if self.integer:
                if not number.is_integer():
                    raise AnswerValidationError(f"question {self.id}: expected a whole number, got {value!r}")
                return int(number)
            return number
        if not isinstance(value, str):
            raise AnswerValidationError(f"question {self.id}: expected text, got {value!r}")
        return value

    def scaled(self, value: Any) -> float | None:
        """Position on 0-1: ordinal by option rank, numeric by range; None for nominal/open."""
        if self.kind == QuestionKind.ordinal:
            codes = [o.code for o in self.options]
            return codes.index(str(value)) / (len(codes) - 1)
        if self.kind == QuestionKind.numeric:
            return (float(value) - self.min) / (self.max - self.min)  # type: ignore[operator]
        return None


class Instrument(BaseModel):
    id: str
    title: str
    description: str = ""
    source: str = ""
    questions: list[Question]
    scoring: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_name(value, kind="instrument")  # it names files (responses-<id>.csv) and folders

    @model_validator(mode="after")
    def _unique_ids(self) -> "Instrument":
        seen: set[str] = set()
        for question in self.questions:
            if question.id in seen:
                raise ValueError(f"instrument {self.id}: question id {question.id} appears twice")
            seen.add(question.id)
            if not question.instrument:
                question.instrument = self.id
        return self

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(f"instrument {self.id} has no question {question_id!r}")


class AnswerStatus(str, Enum):
    ok = "ok"
    failed = "failed"  # the model's output stayed invalid after repair and retries; `raw`/`error` say why


class AnswerAttempt(BaseModel):
    """One model attempt before the final one: its raw text, why it was rejected, and which retry round."""

    raw: str = ""
    error: str | None = None
    round: int = 0
    at: float = 0.0


class Answer(BaseModel):
    question_id: str
    value: Any = None
    reasoning: str = ""
    raw: str = ""
    status: AnswerStatus = AnswerStatus.ok
    error: str | None = None
    probabilities: dict[str, float] | None = None  # option code -> probability, when scored by logprobs
    prompt_hash: str | None = None  # sha256 hex[:16] of the exact rendered messages this answer came from
    attempts: list[AnswerAttempt] = Field(default_factory=list)  # every model attempt before the final one
