"""The shipped instruments end to end on the real embedded model: its answers validate and score."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from simulacra.llm import open_llm
from surveys.instruments import load_instrument
from surveys.model import Question
from surveys.scoring import bfi_traits, scale_game

pytestmark = pytest.mark.embedded


class Reply(BaseModel):
    answer: Any


def _schema(question: Question) -> dict:
    """A JSON schema that only admits valid answers to the question (the grammar the model decodes with)."""
    if question.is_choice:
        answer = {"type": "string", "enum": [o.code for o in question.options]}
    else:
        answer = {"type": "number", "minimum": question.min, "maximum": question.max}
    return {"type": "object", "properties": {"answer": answer}, "required": ["answer"]}


def _messages(question: Question) -> list[dict[str, str]]:
    if question.is_choice:
        choices = "\n".join(f"{o.code}: {o.label}" for o in question.options)
        task = f"{question.text}\nOptions:\n{choices}\nReply with the option code."
    else:
        task = f"{question.text}\nReply with a number from {question.min:g} to {question.max:g}."
    return [
        {"role": "system", "content": "You answer survey questions as a typical American adult. Reply in JSON."},
        {"role": "user", "content": task},
    ]


async def test_embedded_model_answers_validate_and_score():
    llm = open_llm()
    gss, bfi, games = load_instrument("gss"), load_instrument("bfi44"), load_instrument("games")
    questions = [gss.question("natspac"), bfi.question("bfi1"), games.question("dictator"), games.question("prisoners_dilemma")]
    answers = {}
    for question in questions:
        out = await llm.structured(
            _messages(question), Reply, json_schema=_schema(question), max_tokens=24,
            validate=lambda reply, q=question: q.validate_value(reply.answer) and None,
        )
        answers[question.id] = question.validate_value(out.value.answer)
    assert answers["natspac"] in {"1", "2", "3"}
    assert set(bfi_traits({"bfi1": answers["bfi1"]})) == {"E"}
    assert 0.0 <= scale_game(games.question("dictator"), answers["dictator"]) <= 1.0
    assert scale_game(games.question("prisoners_dilemma"), answers["prisoners_dilemma"]) in (0.0, 1.0)
