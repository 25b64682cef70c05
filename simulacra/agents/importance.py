"""Importance of each memory (0-100), scored once by the model when the memory is added.

Several memories go in one call (one integer per key), so scoring a 116-exchange interview on the embedded
model takes a couple of minutes rather than one call per exchange. Long excerpts are cut for scoring
only (the memory keeps its full text).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from pydantic import RootModel

from simulacra.errors import StructuredOutputError
from simulacra.llm import LLM
from simulacra.prompts import render_prompt

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
EXCERPT_CHARS = 700
DEFAULT_IMPORTANCE = 50.0


class ImportanceReply(RootModel[dict[str, float]]):
    pass


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."


async def score_importance(llm: LLM, texts: Sequence[str], batch_size: int = 8) -> list[float]:
    """One importance per text; a batch the model cannot score gets the neutral 50 (and a warning)."""
    scores: list[float] = []
    texts = list(texts)
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        keys = [f"M{i + 1}" for i in range(len(batch))]
        messages = render_prompt(
            PROMPTS / "importance.txt",
            excerpts="\n\n".join(f"{k}: {_excerpt(t)}" for k, t in zip(keys, batch)),
            keys=", ".join(keys),
        )
        schema = {
            "type": "object",
            "properties": {k: {"type": "integer", "minimum": 0, "maximum": 100} for k in keys},
            "required": keys,
            "additionalProperties": False,
        }

        def check(reply: ImportanceReply, keys=keys) -> None:
            bad = [k for k in keys if k not in reply.root or not 0 <= reply.root[k] <= 100]
            if bad:
                raise ValueError(f"{', '.join(bad)}: give a whole number from 0 to 100")

        try:
            reply = await llm.structured(messages, ImportanceReply, validate=check, json_schema=schema, max_tokens=16 + 10 * len(keys))
            scores.extend(float(reply.value.root[k]) for k in keys)
        except StructuredOutputError as exc:
            log.warning("importance scoring failed for %d memories; using %g: %s", len(batch), DEFAULT_IMPORTANCE, exc)
            scores.extend([DEFAULT_IMPORTANCE] * len(batch))
    return scores
