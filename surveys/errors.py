"""Errors a user can cause. The CLI prints their message (one line, no traceback) and exits non-zero.

Every message names what was wrong and where (file, line, field, question id), so the user can fix it.
These live in `surveys` (the bottom layer, which imports nothing of ours); `simulacra.errors` re-exports
them with the language-model errors.
"""


class SimulacraError(Exception):
    """Base class for user-facing errors."""


class ConfigError(SimulacraError):
    """Bad configuration: a simulacra.toml key, an environment variable, a missing model or data folder."""


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
