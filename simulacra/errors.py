"""Errors a user can cause (see surveys.errors for the base classes, re-exported here)."""

from surveys.errors import ConfigError, DataFileError, SimulacraError

__all__ = ["SimulacraError", "ConfigError", "DataFileError", "EndpointError", "StructuredOutputError"]


class EndpointError(SimulacraError):
    """The language-model endpoint cannot be reached or refused the request after retries."""


class StructuredOutputError(SimulacraError):
    """Model output stayed invalid against its schema after repair and retries.

    `raw` keeps the last output and `problems` the validation messages, so the failure can be recorded.
    """

    def __init__(self, message: str, raw: str = "", problems: list[str] | None = None):
        super().__init__(message)
        self.raw = raw
        self.problems = problems or []
