"""The expert router: for each question, which expert's reflections should go with the agent's context.

As in the paper, the model classifies each question to one of the four experts. Several questions go in
one call (a schema of one enum per question); routing does not depend on the agent, so the response
cache serves it again for every other agent asked the same questions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from pydantic import RootModel

from simulacra.errors import StructuredOutputError
from simulacra.llm import LLM
from simulacra.prompts import render_prompt
from surveys.model import Question

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
EXPERTS = ("psychologist", "behavioral_economist", "political_scientist", "demographer")
EXPERT_TITLES = {
    "psychologist": "psychologist",
    "behavioral_economist": "behavioral economist",
    "political_scientist": "political scientist",
    "demographer": "demographer",
}


class RouteReply(RootModel[dict[str, str]]):
    pass


async def route_questions(llm: LLM, questions: Sequence[Question], batch_size: int = 10) -> dict[str, str | None]:
    """Question id -> expert name. A batch the model cannot route maps to None (no expert notes)."""
    routes: dict[str, str | None] = {}
    questions = list(questions)
    for start in range(0, len(questions), batch_size):
        batch = questions[start : start + batch_size]
        keys = [f"Q{i + 1}" for i in range(len(batch))]
        messages = render_prompt(
            PROMPTS / "router.txt",
            questions="\n".join(f"{k}. {q.text.strip()}" for k, q in zip(keys, batch)),
            keys=", ".join(keys),
        )
        schema = {
            "type": "object",
            "properties": {k: {"type": "string", "enum": list(EXPERTS)} for k in keys},
            "required": keys,
            "additionalProperties": False,
        }

        def check(reply: RouteReply, keys=keys) -> None:
            bad = [k for k in keys if reply.root.get(k) not in EXPERTS]
            if bad:
                raise ValueError(f"{', '.join(bad)}: use one of {', '.join(EXPERTS)}")

        try:
            reply = await llm.structured(messages, RouteReply, validate=check, json_schema=schema, max_tokens=16 + 12 * len(keys))
        except StructuredOutputError as exc:
            log.warning("router output stayed invalid; %d questions go without expert notes: %s", len(batch), exc)
            routes.update({q.id: None for q in batch})
            continue
        routes.update({q.id: reply.value.root[k] for k, q in zip(keys, batch)})
    return routes
