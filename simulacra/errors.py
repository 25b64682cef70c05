"""Errors a user can cause (see surveys.errors for the base classes, re-exported here)."""

from surveys.errors import ConfigError, DataFileError, SimulacraError

from typing import Any

__all__ = [
    "SimulacraError",
    "ConfigError",
    "DataFileError",
    "EndpointError",
    "RequestRejectedError",
    "LogprobsUnsupportedError",
    "StructuredOutputError",
]


class EndpointError(SimulacraError):
    """The language-model endpoint cannot be reached (connection refused, timeouts, 502-504) after retries.

    This is an outage: a run interrupts with everything saved, and the same command resumes it later.
    """


class RequestRejectedError(SimulacraError):
    """The endpoint answered, but refused this request (a 4xx, or a 5xx whose body names the request).

    Not an outage: sending the same request again fails the same way, so it is never retried as one, and a
    run stops with this message instead of asking the user to "run the same command again".
    `status` is the HTTP status and `detail` the server's own complaint (one line).
    """

    def __init__(self, message: str, status: int | None = None, detail: str = ""):
        super().__init__(message)
        self.status = status
        self.detail = detail


class LogprobsUnsupportedError(SimulacraError):
    """The model cannot give option log-probabilities (the endpoint returns none, or refuses the parameter).

    Raised instead of silently generating text, so `--scoring logprobs` never measures something else.
    """


class StructuredOutputError(SimulacraError):
    """Model output stayed invalid against its schema after repair and retries.

    `raw` keeps the last output and `problems` the validation messages, so the failure can be recorded;
    `attempts` lists every attempt of the call (`simulacra.llm.Attempt`: raw, error, round, at), so the
    history of a failed answer survives a later successful retry.
    """

    def __init__(self, message: str, raw: str = "", problems: list[str] | None = None, attempts: list[Any] | None = None):
        super().__init__(message)
        self.raw = raw
        self.problems = problems or []
        self.attempts = list(attempts or [])
