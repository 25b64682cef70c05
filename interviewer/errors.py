"""Errors of the interviewer a user (or a transport) can cause; all are `SimulacraError`s."""

from simulacra.errors import SimulacraError


class InterviewError(SimulacraError):
    """Base class of the interviewer's errors."""


class RespondentIdError(InterviewError):
    """A respondent id that cannot safely become a file name."""


class SessionStateError(InterviewError):
    """A call that does not fit the session's state (an answer with no question waiting, a script
    that does not match the saved transcript, a finished interview)."""
