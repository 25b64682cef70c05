"""The real embedded model (SmolLM2-135M through llama.cpp), end to end, with no key and no network."""

from __future__ import annotations

import math
from typing import Literal

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from simulacra.config import load_settings
from simulacra.llm import open_llm

pytestmark = pytest.mark.embedded


class Pick(BaseModel):
    reasoning: str
    answer: Literal["too little", "about right", "too much"]


QUESTION = [
    {"role": "system", "content": "You answer survey questions as a typical American adult. Reply in JSON."},
    {
        "role": "user",
        "content": "Are we spending too much money, too little money, or about the right amount on the space "
        "exploration program? Options: too little, about right, too much.",
    },
]


async def test_schema_valid_answer_comes_back():
    llm = open_llm()
    out = await llm.structured(QUESTION, Pick, max_tokens=120)
    assert out.value.answer in {"too little", "about right", "too much"}
    assert llm.model.startswith("local:") and llm.keeps_prefix_warm


async def test_repeated_call_is_served_from_cache_without_running_the_model():
    llm = open_llm()
    first = await llm.chat(QUESTION, max_tokens=16)
    second = await llm.chat(QUESTION, max_tokens=16)
    assert not first.cached and second.cached and first.text == second.text
    assert llm.usage.prompt_tokens == first.usage.prompt_tokens  # the cached call added no tokens


async def test_warm_prefix_is_not_evaluated_again():
    llm = open_llm(cache=False)
    context = "Here is what I know about the person. " + " ".join(f"Fact {i}: they like item {i}." for i in range(120))
    base = [{"role": "system", "content": context}]
    a = await llm.chat(base + [{"role": "user", "content": "Do they like item 3? Answer yes or no."}], max_tokens=4)
    b = await llm.chat(base + [{"role": "user", "content": "Do they like item 77? Answer yes or no."}], max_tokens=4)
    assert a.usage.prompt_tokens > 900
    assert b.usage.prompt_tokens_evaluated < b.usage.prompt_tokens / 5


async def test_option_logprobs_form_a_distribution_over_labels():
    llm = open_llm()
    messages = QUESTION[:1] + [
        {"role": "user", "content": QUESTION[1]["content"] + "\nReply with one letter: A) too little B) about right C) too much"}
    ]
    scores = await llm.option_logprobs(messages, ["A", "B", "C"])
    assert set(scores) == {"A", "B", "C"}
    assert all(s < 0 for s in scores.values())
    total = sum(math.exp(s) for s in scores.values())
    assert 0.0 < total <= 1.0 + 1e-6
    prompt = len(llm.backend.prompt_tokens(messages))
    assert (llm.usage.calls, llm.usage.prompt_tokens) == (1, prompt)
    first = llm.usage.prompt_tokens_evaluated
    assert 0 < first <= prompt
    await llm.option_logprobs(messages, ["A", "B", "C"])  # same prompt again: the warm prefix is not re-read
    assert llm.usage.calls == 2 and llm.usage.prompt_tokens == 2 * prompt
    assert llm.usage.prompt_tokens_evaluated - first < prompt / 2


def test_cli_chat_and_doctor_work_offline():
    from experiments.cli import app

    runner = CliRunner()
    chat = runner.invoke(app, ["chat", "Say hello in three words.", "--max-tokens", "12"])
    assert chat.exit_code == 0, chat.output
    assert "local:" in chat.output and chat.output.strip()
    doctor = runner.invoke(app, ["doctor"])
    assert doctor.exit_code == 0, doctor.output
    assert "embedded" in doctor.output and "model answers" in doctor.output
    assert not load_settings().llm.uses_endpoint
