"""Retries that retry: invalid replies never come back from the cache, and a retry round asks anew.

Every test here uses a real `ResponseCache` on disk (the bug was invisible without one).
"""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from simulacra.config import LLMSettings
from simulacra.errors import StructuredOutputError
from simulacra.llm import LLM, RETRY_TEMPERATURE, Attempt, FakeBackend, ResponseCache

VALID = json.dumps({"reasoning": "r", "choice": "1"})


class Choice(BaseModel):
    reasoning: str
    choice: str


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def greedy_fails_sampling_works(request) -> str:
    """Like llama.cpp at temperature 0: the same prompt always gets the same (here invalid) reply."""
    return VALID if request.temperature > 0 else "I think the answer is one."


async def test_invalid_reply_is_not_cached_and_retry_round_gets_a_valid_one(tmp_path):
    path = tmp_path / "llm.sqlite"
    backend = FakeBackend(default=greedy_fails_sampling_works)
    llm = LLM(backend, LLMSettings(max_retries=2), ResponseCache(path))
    with pytest.raises(StructuredOutputError) as info:
        await llm.structured(user("pick"), Choice)
    assert len(backend.requests) == 2
    assert len(ResponseCache(path)) == 0  # nothing invalid was stored
    attempts = info.value.attempts
    assert [type(a) for a in attempts] == [Attempt, Attempt]
    assert attempts[0].raw == "I think the answer is one." and attempts[0].error and attempts[0].round == 0
    assert info.value.raw == "I think the answer is one." and info.value.problems

    # The same call again (a plain rerun) asks the model again instead of replaying a cached failure.
    llm2 = LLM(backend, LLMSettings(max_retries=2), ResponseCache(path))
    with pytest.raises(StructuredOutputError):
        await llm2.structured(user("pick"), Choice)
    assert len(backend.requests) == 4

    # A retry round: new cache key, sampled (the backend is greedy at 0), seeded by the round.
    out = await llm2.structured(user("pick"), Choice, retry_round=1)
    assert out.value.choice == "1" and not out.result.cached and out.history == []
    request = backend.requests[-1]
    assert request.temperature == RETRY_TEMPERATURE and request.seed == 1
    assert len(backend.requests) == 5

    # The valid reply is cached under the retry round's key: asking again costs nothing.
    again = await LLM(backend, LLMSettings(max_retries=2), ResponseCache(path)).structured(user("pick"), Choice, retry_round=1)
    assert again.result.cached and again.value.choice == "1" and len(backend.requests) == 5


async def test_scripted_invalid_then_valid_with_a_second_call(tmp_path):
    """The brief's case: the backend first returns invalid output, later valid; the second call gets it."""
    backend = FakeBackend(["not json", "still not json", VALID])
    cache = ResponseCache(tmp_path / "llm.sqlite")
    llm = LLM(backend, LLMSettings(max_retries=2), cache)
    with pytest.raises(StructuredOutputError) as info:
        await llm.structured(user("pick"), Choice)
    assert [a.raw for a in info.value.attempts] == ["not json", "still not json"]
    out = await llm.structured(user("pick"), Choice, retry_round=1)
    assert out.value.choice == "1" and len(backend.requests) == 3 and not out.result.cached


async def test_history_keeps_the_failed_attempts_of_a_call_that_succeeds(tmp_path):
    backend = FakeBackend(["nope", VALID])
    llm = LLM(backend, LLMSettings(max_retries=3), ResponseCache(tmp_path / "llm.sqlite"))
    out = await llm.structured(user("pick"), Choice, retry_round=2)
    assert out.attempts == 2
    assert [(a.raw, a.round) for a in out.history] == [("nope", 2)]
    assert out.history[0].at > 0


async def test_an_invalid_reply_cached_by_an_older_version_is_dropped_not_served(tmp_path):
    path = tmp_path / "llm.sqlite"
    schema = Choice.model_json_schema()
    # Older code cached every reply: simulate that with a plain chat call of the same request.
    old = LLM(FakeBackend(["garbage"]), LLMSettings(), ResponseCache(path))
    await old.chat(user("pick"), json_schema=schema, schema_name="Choice")
    assert len(ResponseCache(path)) == 1

    backend = FakeBackend([VALID])
    out = await LLM(backend, LLMSettings(), ResponseCache(path)).structured(user("pick"), Choice)
    assert out.value.choice == "1" and not out.result.cached and len(backend.requests) == 1


async def test_valid_structured_reply_is_cached(tmp_path):
    path = tmp_path / "llm.sqlite"
    backend = FakeBackend([VALID])
    first = await LLM(backend, LLMSettings(), ResponseCache(path)).structured(user("pick"), Choice)
    second = await LLM(backend, LLMSettings(), ResponseCache(path)).structured(user("pick"), Choice)
    assert not first.result.cached and second.result.cached and len(backend.requests) == 1


async def test_retry_round_keeps_a_configured_temperature_and_changes_the_key(tmp_path):
    backend = FakeBackend(default=VALID)
    llm = LLM(backend, LLMSettings(temperature=0.3), ResponseCache(tmp_path / "llm.sqlite"))
    await llm.structured(user("pick"), Choice)
    await llm.structured(user("pick"), Choice, retry_round=1)
    await llm.structured(user("pick"), Choice, retry_round=2)
    assert [(r.temperature, r.seed) for r in backend.requests] == [(0.3, None), (0.3, 1), (0.3, 2)]


async def test_chat_retry_round_is_a_new_key_too(tmp_path):
    backend = FakeBackend(["a", "b"])
    llm = LLM(backend, LLMSettings(), ResponseCache(tmp_path / "llm.sqlite"))
    one = await llm.chat(user("q"))
    two = await llm.chat(user("q"), retry_round=1)
    assert (one.text, two.text) == ("a", "b") and not two.cached


async def test_samples_at_a_temperature_get_distinct_seeds():
    """The embedded model seeds unseeded calls alike: sample k must not repeat sample 0."""
    backend = FakeBackend(default="x")
    llm = LLM(backend, LLMSettings())
    await llm.chat(user("q"), temperature=0.8)
    await llm.chat(user("q"), temperature=0.8, sample=1)
    await llm.chat(user("q"), temperature=0.8, sample=2, retry_round=1)
    await llm.chat(user("q"), sample=3)  # greedy: a seed would change nothing
    assert [r.seed for r in backend.requests] == [None, 1000, 2001, None]
