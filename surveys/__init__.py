"""Survey batteries (GSS, BFI-44, economic games), answer validation, scoring rules and human responses."""

from surveys.model import Answer, AnswerStatus, Instrument, Option, Question, QuestionKind, AnswerValidationError

__all__ = ["Answer", "AnswerStatus", "Instrument", "Option", "Question", "QuestionKind", "AnswerValidationError"]
