"""Prompt templates kept as readable files beside the code that uses them (one file a prompt).

A template file is plain text split into messages by header lines `### system`, `### user`,
`### assistant`; `{name}` placeholders are filled by langchain-core's `ChatPromptTemplate`
(write `{{` and `}}` for literal braces, e.g. in JSON examples).

    messages = render_prompt(Path(__file__).parent / "prompts" / "router.txt", question=q.text)
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

from simulacra.errors import DataFileError

ANSWER_TEMPLATE_DIRS: list[Path] = [Path(__file__).parent / "agents" / "prompts"]  # the answering path's templates
_ROOT = Path(__file__).resolve().parent.parent  # the source root: template names are relative to it

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


def prompt_hash(messages: list[dict]) -> str:
    """sha256 hex[:16] of the rendered messages (canonical JSON: sorted keys, no spaces, UTF-8)."""
    text = json.dumps(list(messages), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _template_name(path: Path) -> str:
    path = path.resolve()
    try:
        return path.relative_to(_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def template_hashes(*dirs: Path) -> dict[str, str]:
    """{"simulacra/agents/prompts/answer.txt": sha256 hex[:16] of its bytes, ...} for every template
    file (*.txt) in `dirs` (default: ANSWER_TEMPLATE_DIRS), sorted by name."""
    hashes: dict[str, str] = {}
    for folder in dirs or tuple(ANSWER_TEMPLATE_DIRS):
        for path in sorted(Path(folder).glob("*.txt")):
            hashes[_template_name(path)] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return dict(sorted(hashes.items()))
