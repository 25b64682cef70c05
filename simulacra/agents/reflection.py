"""Expert reflections: four experts (psychologist, behavioral economist, political scientist, demographer)
each write more than 5 and fewer than 20 observations about the person, once per agent.

The paper gives each expert the whole transcript. When the transcript does not fit the model's context
(the embedded model has 8k tokens, a two-hour interview ~17k), the experts read the memories most
relevant to their four fields within a token budget instead; the memories read become the reflections'
evidence pointers. All experts read the same text first in the prompt, so it stays warm between them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pydantic import BaseModel

from simulacra.errors import StructuredOutputError
from simulacra.llm import LLM, extract_json
from simulacra.prompts import render_prompt

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
OBSERVATION_CHARS = 150
# Greedy decoding makes small models loop ("1.1.1.1..."); a little sampling gives sentences. The backend
# seeds sampling, so a rebuild with the same model gives the same notes.
TEMPERATURE = 0.7
MIN_OBSERVATIONS = 6  # "more than 5"
MAX_OBSERVATIONS = 19  # "fewer than 20"

# What each expert looks for: the retrieval query when the expert reads selected memories.
EXPERT_FOCUS = {
    "psychologist": "personality, emotions, values, relationships, how I think and feel about my life",
    "behavioral_economist": "money, work, spending and saving, risk, trust, fairness, generosity, economic decisions",
    "political_scientist": "politics, government, voting, parties, ideology, public policy, social issues, community",
    "demographer": "age, family, where I grew up and live, education, income, occupation, religion, ethnicity",
}


_WORD = re.compile(r"[^\W\d_]{2,}")


def is_sentence(text: str) -> bool:
    """At least three words of letters: filters what a looping small model emits ("1.1.1.1...")."""
    return len(_WORD.findall(text)) >= 3


class Observations(BaseModel):
    observations: list[str]


def _salvage(raw: str) -> list[str]:
    """The sentences of a reply that stayed invalid (e.g. five good observations where six were asked)."""
    try:
        parsed = extract_json(raw)
    except ValueError:
        return []
    items = parsed.get("observations") if isinstance(parsed, dict) else None
    return [o for o in items if isinstance(o, str) and is_sentence(o)] if isinstance(items, list) else []


async def expert_observations(llm: LLM, expert: str, context: str, limit: int | None = None) -> list[str]:
    """The expert's observations about the person in `context` (empty when the output stays invalid)."""
    most = MAX_OBSERVATIONS if limit is None else max(1, min(MAX_OBSERVATIONS, limit))
    least = min(MIN_OBSERVATIONS, most)
    messages = render_prompt(PROMPTS / f"reflection_{expert}.txt", context=context, min_items=least - 1, max_items=most + 1)
    schema = {
        "type": "object",
        "properties": {
            "observations": {
                "type": "array",
                "items": {"type": "string", "minLength": 8, "maxLength": OBSERVATION_CHARS},
                "minItems": least,
                "maxItems": most,
            }
        },
        "required": ["observations"],
        "additionalProperties": False,
    }

    def check(reply: Observations) -> None:
        kept = [o for o in reply.observations if is_sentence(o)]
        if not least <= len(kept) <= most:
            raise ValueError(f"observations: give between {least} and {most} observations written as sentences, not {len(kept)}")

    try:
        reply = await llm.structured(
            messages, Observations, validate=check, json_schema=schema, temperature=TEMPERATURE,
            max_tokens=64 + most * (OBSERVATION_CHARS + 8),
        )
        observations = reply.value.observations
    except StructuredOutputError as exc:
        observations = _salvage(exc.raw)
        if not observations:
            log.warning("the %s's reflections stayed invalid and were skipped: %s", expert, exc)
            return []
        log.warning("the %s wrote %d usable observations (asked for %d-%d): kept them", expert, len(observations), least, most)
    seen: set[str] = set()
    unique = []
    for observation in (str(o).strip() for o in observations):
        if is_sentence(observation) and observation.casefold() not in seen:
            seen.add(observation.casefold())
            unique.append(observation)
    return unique
