"""Errors a user can cause. The CLI prints their message (one line, no traceback) and exits non-zero.

Every message names what was wrong and where (file, line, field, question id), so the user can fix it.
"""


class SimulacraError(Exception):
    """Base class for user-facing errors."""


class ConfigError(SimulacraError):
    """Bad configuration: a simulacra.toml key, an environment variable, a missing model file."""


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


class DataFileError(SimulacraError):
    """A data file (instrument, response CSV, transcript, script, experiment) is malformed.

    The message names the file and, where known, the line and field.
    """

    def __init__(self, path, message: str, line: int | None = None, field: str | None = None):
        where = str(path)
        if line is not None:
            where += f":{line}"
        if field:
            where += f" [{field}]"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.field = field
