"""The one name rule for every id that becomes a file or folder name.

Respondent, participant, agent, run, study, instrument, experiment and interview-script ids all end up in a
path (`transcripts/<respondent>.jsonl`, `agents/<id>/`, `runs/<id>/`, `studies/<id>/`,
`responses-<instrument>.csv`, ...). They pass this rule where they enter the product (a file, an API call or
a command-line flag), so no id can climb out of its folder or name a hidden file:

- 1 to 128 characters: letters, digits, `.`, `_`, `@` and `-`;
- the first character a letter or a digit (so never `.`, `..`, `-flag` or a hidden file);
- no `..` anywhere.

`check_name` raises `surveys.errors.InvalidNameError` (a `SimulacraError`, printed by the CLI as one line,
and a `ValueError`, so pydantic validators turn it into a field error of the file being read).
"""

from __future__ import annotations

import re
from typing import Any

from surveys.errors import InvalidNameError

MAX_NAME = 128
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,%d}" % (MAX_NAME - 1))
RULE = (f"ids become file and folder names, so use 1-{MAX_NAME} letters, digits, '.', '_', '@' or '-', "
        "starting with a letter or digit (no '/', no '..')")


def is_valid_name(value: Any) -> bool:
    """True when `value` passes the name rule (see the module docstring)."""
    return isinstance(value, str) and NAME_PATTERN.fullmatch(value) is not None and ".." not in value


def check_name(value: Any, *, kind: str, where: str | None = None) -> str:
    """`value` when it passes the name rule; otherwise `InvalidNameError` naming the kind of id, the value
    and `where` it came from (a file and field, or a flag), e.g. `--run-id: run id '../x' is not a valid run
    name: ...`."""
    if is_valid_name(value):
        return value
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    message = f"{kind} id {shown} is not a valid {kind} name: {RULE}"
    raise InvalidNameError(f"{where}: {message}" if where else message)
