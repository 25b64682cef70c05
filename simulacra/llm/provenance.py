"""Whose words a model call is made from: the respondents every response-cache entry is tagged with.

    with provenance.about(agent.scored_as):        # or `async with`
        await agent_work(llm)                       # every cache entry written (or served) here is tagged

The tags live in a context variable, so they follow the work into asyncio tasks created inside the scope
(tasks copy the context when they are made) and nest (an inner scope adds to the outer one). They do not
follow work handed to a thread pool (`run_in_executor`, a model's dedicated thread): `LLM` reads them with
`current()` before it hands a request off, and writes the tags itself when the reply comes back.
`simulacra.withdraw` deletes every cache row tagged with the withdrawn respondent, whatever its text.
"""

from __future__ import annotations

import contextvars
from typing import Any

_respondents: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("simulacra_provenance", default=frozenset())


def current() -> frozenset[str]:
    """The respondents the work running now is made from (empty outside any `about` scope)."""
    return _respondents.get()


class about:
    """Tag the model calls made inside the scope with `respondents` (None and empty ids are ignored).
    Usable as `with` and `async with`; each entry must be left in the task (context) that entered it."""

    def __init__(self, *respondents: str | None):
        self._added = frozenset(str(r) for r in respondents if r)
        self._tokens: list[contextvars.Token[frozenset[str]]] = []

    def __enter__(self) -> frozenset[str]:
        tags = _respondents.get() | self._added
        self._tokens.append(_respondents.set(tags))
        return tags

    def __exit__(self, *exc: Any) -> None:
        _respondents.reset(self._tokens.pop())

    async def __aenter__(self) -> frozenset[str]:
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)
