"""Prompt templates kept as readable files beside the code that uses them (one file a prompt).

A template file is plain text split into messages by header lines `### system`, `### user`,
`### assistant`; `{name}` placeholders are filled by langchain-core's `ChatPromptTemplate`
(write `{{` and `}}` for literal braces, e.g. in JSON examples).

    messages = render_prompt(Path(__file__).parent / "prompts" / "router.txt", question=q.text)
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

from simulacra.errors import DataFileError

_HEADER = re.compile(r"^###\s*(system|user|assistant)\s*$", re.M)
_ROLE = {"system": "system", "user": "human", "assistant": "ai"}
_BACK = {"system": "system", "human": "user", "ai": "assistant"}


@lru_cache(maxsize=None)
def load_prompt(path: Path) -> ChatPromptTemplate:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    if len(parts) < 3:
        raise DataFileError(path, "a prompt file needs at least one '### system' / '### user' header", line=1)
    messages = []
    for role, body in zip(parts[1::2], parts[2::2]):
        messages.append((_ROLE[role], body.strip("\n")))
    return ChatPromptTemplate.from_messages(messages)


def render_prompt(path: Path, **variables: object) -> list[dict[str, str]]:
    """Fill a template file and return OpenAI-style messages."""
    template = load_prompt(Path(path))
    rendered = template.format_messages(**{k: str(v) for k, v in variables.items()})
    return [{"role": _BACK.get(m.type, "user"), "content": str(m.content)} for m in rendered]
