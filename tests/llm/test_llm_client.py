"""The LLM layer's logic with a scripted fake model: cache, structured output, repair, failures, cost."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import uvicorn
from fastapi import FastAPI, Request
from pydantic import BaseModel

from simulacra.config import LLMSettings, load_settings
from simulacra.errors import ConfigError, StructuredOutputError
from simulacra.llm import LLM, FakeBackend, ResponseCache, extract_json


class Choice(BaseModel):
    reasoning: str
    choice: str


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def test_second_identical_call_is_served_from_cache(tmp_path):
    backend = FakeBackend(["first reply"], default="SHOULD NOT BE USED")
    llm = LLM(backend, cache=ResponseCache(tmp_path / "llm.sqlite"))
    one = await llm.chat(user("hello"))
    two = await llm.chat(user("hello"))
    assert one.text == two.text == "first reply"
    assert not one.cached and two.cached
    assert len(backend.requests) == 1
    assert llm.usage.calls == 2 and llm.usage.cached_calls == 1


async def test_cache_survives_a_new_process(tmp_path):
    path = tmp_path / "llm.sqlite"
    await LLM(FakeBackend(["persisted"]), cache=ResponseCache(path)).chat(user("q"))
    backend = FakeBackend([])  # would fail if called
    again = await LLM(backend, cache=ResponseCache(path)).chat(user("q"))
    assert again.text == "persisted" and again.cached and backend.requests == []


async def test_cache_key_includes_sampling_parameters(tmp_path):
    backend = FakeBackend(["a", "b", "c"])
    llm = LLM(backend, cache=ResponseCache(tmp_path / "llm.sqlite"))
    await llm.chat(user("q"), temperature=0.0)
    await llm.chat(user("q"), temperature=0.7)
    await llm.chat(user("q"), temperature=0.7, sample=1)
    assert len(backend.requests) == 3


async def test_structured_output_parses_and_sends_schema():
    backend = FakeBackend(['{"reasoning": "because", "choice": "2"}'])
    llm = LLM(backend)
    out = await llm.structured(user("pick"), Choice)
    assert out.value.choice == "2" and out.attempts == 1
    assert backend.requests[0].json_schema["properties"]["choice"]["type"] == "string"


async def test_invalid_json_is_repaired_and_retried():
    backend = FakeBackend(["not json at all", 'Sure! ```json\n{"reasoning": "r", "choice": "1"}\n```'])
    llm = LLM(backend)
    out = await llm.structured(user("pick"), Choice)
    assert out.value.choice == "1" and out.attempts == 2
    repair = backend.requests[1].messages[-1]["content"]
    assert "not valid" in repair


async def test_answer_outside_options_is_rejected_then_failure_recorded():
    backend = FakeBackend(default='{"reasoning": "r", "choice": "9"}')
    llm = LLM(backend, LLMSettings(max_retries=3))

    def must_be_option(value: Choice) -> None:
        if value.choice not in {"1", "2"}:
            raise ValueError(f"choice {value.choice!r} is not one of the options 1, 2")

    with pytest.raises(StructuredOutputError) as info:
        await llm.structured(user("pick"), Choice, validate=must_be_option)
    assert len(backend.requests) == 3
    assert "not one of the options" in str(info.value)
    assert info.value.raw == '{"reasoning": "r", "choice": "9"}'
    assert llm.usage.failures == 1


async def test_costs_sum_per_call_and_cached_calls_cost_nothing(tmp_path):
    settings = LLMSettings(price_input_per_1k=1.0, price_output_per_1k=2.0)
    backend = FakeBackend(default="x" * 400)  # 100 completion tokens by the fake's count
    llm = LLM(backend, settings, ResponseCache(tmp_path / "c.sqlite"))
    first = await llm.chat(user("y" * 4000))  # 1000 prompt tokens
    assert first.cost_usd == pytest.approx(1.0 + 0.2)
    await llm.chat(user("z" * 4000))
    await llm.chat(user("z" * 4000))  # cached
    assert llm.usage.cost_usd == pytest.approx(2.4)
    assert llm.usage.prompt_tokens == 2000 and llm.usage.completion_tokens == 200


async def test_concurrency_is_bounded():
    active = 0
    peak = 0

    class SlowBackend(FakeBackend):
        async def complete(self, request):
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            return await super().complete(request)

    llm = LLM(SlowBackend(default="ok"), LLMSettings(max_concurrency=2))
    await asyncio.gather(*(llm.chat(user(f"q{i}")) for i in range(8)))
    assert peak == 2


def test_extract_json_tolerates_prose():
    assert extract_json('Answer: {"a": [1, 2]} thanks') == {"a": [1, 2]}
    with pytest.raises(ValueError):
        extract_json("nothing here")


def test_settings_from_toml_and_environment(tmp_path, monkeypatch):
    config = tmp_path / "simulacra.toml"
    config.write_text('[llm]\nbase_url = "http://localhost:8000/v1"\nmodel = "m"\nmax_concurrency = 8\n')
    monkeypatch.setenv("SIMULACRA_MODEL", "from-env")
    settings = load_settings(config)
    assert settings.llm.uses_endpoint and settings.llm.base_url == "http://localhost:8000/v1"
    assert settings.llm.model == "from-env" and settings.llm.max_concurrency == 8


def test_bad_setting_names_the_field(tmp_path):
    config = tmp_path / "simulacra.toml"
    config.write_text('[llm]\nmax_concurrency = "lots"\n')
    with pytest.raises(ConfigError, match="llm.max_concurrency"):
        load_settings(config)


def test_default_is_the_embedded_model():
    settings = load_settings()
    assert not settings.llm.uses_endpoint
    assert settings.llm.local_model == "smollm2"


async def test_openai_backend_against_a_local_compatible_server():
    """The OpenAI path end to end: a tiny OpenAI-compatible server on loopback answers a structured request."""
    seen: list[dict] = []
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        seen.append(body)
        return {
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps({"reasoning": "r", "choice": "1"})}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
        }

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        from simulacra.llm.openai_backend import OpenAIBackend

        settings = LLMSettings(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", model="served", price_input_per_1k=1)
        llm = LLM(OpenAIBackend(settings), settings)
        out = await llm.structured(user("pick"), Choice)
        assert out.value.choice == "1"
        assert out.result.usage.prompt_tokens == 11 and out.result.cost_usd == pytest.approx(0.011)
        assert seen[0]["model"] == "served"
        assert seen[0]["response_format"]["type"] == "json_schema"
        await llm.aclose()
    finally:
        server.should_exit = True
        thread.join(5)


async def test_server_that_goes_away_gives_a_clear_error():
    from simulacra.errors import EndpointError
    from simulacra.llm.openai_backend import OpenAIBackend

    settings = LLMSettings(base_url="http://127.0.0.1:9/v1", api_key="k", model="m", max_retries=1, request_timeout=2)
    llm = LLM(OpenAIBackend(settings), settings)
    with pytest.raises(EndpointError, match="127.0.0.1:9"):
        await llm.chat(user("hi"))
