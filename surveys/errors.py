"""Errors a user can cause. The CLI prints their message (one line, no traceback) and exits non-zero.

Every message names what was wrong and where (file, line, field, question id), so the user can fix it.
These live in `surveys` (the bottom layer, which imports nothing of ours); `simulacra.errors` re-exports
them with the language-model errors.
"""

import re
import sys


class SimulacraError(Exception):
    """Base class for user-facing errors."""


class ConfigError(SimulacraError):
    """Bad configuration: a simulacra.toml key, an environment variable, a missing model or data folder."""


class InvalidNameError(SimulacraError, ValueError):
    """An id that becomes a file or folder name breaks the one name rule (see `surveys.names`).

    Also a `ValueError`, so a pydantic validator that calls `surveys.names.check_name` reports it as a field
    error of the file being read (with its line), and code outside pydantic prints it as one line.
    """


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
        text = f"{where}: {message}"
        if not text.isprintable():  # a name or value from the file with a newline or control character: escaped
            text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)  # so the message stays one line
        super().__init__(text)
        self.path = path
        self.line = line
        self.field = field


def number_too_long(path, text: str, exc: ValueError) -> DataFileError:
    """The error for a file whose parser gave up on an integer longer than Python converts from text
    (`sys.get_int_max_str_digits()`, 4,300 digits): YAML and JSON parsers raise a bare ValueError for it.
    Names the file and the line of the first such number (when it can be found)."""
    limit = sys.get_int_max_str_digits() or 4300
    found = re.search(r"[0-9][0-9_]{%d,}" % limit, text)
    if found is None:
        return DataFileError(path, f"cannot read a value ({exc})")
    digits = sum(c.isdigit() for c in found.group())
    return DataFileError(path, f"a number of {digits:,} digits is too long (at most {limit:,} digits)",
                         line=text.count("\n", 0, found.start()) + 1)
