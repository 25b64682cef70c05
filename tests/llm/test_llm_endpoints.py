"""Endpoints as they really are: rejections vs outages, structured-output negotiation, option logprobs.

Each test runs a small OpenAI-compatible stand-in on loopback that behaves like a real server does
(llama_cpp.server's 500 for a response_format it does not know, a plain-JSON-only server, no logprobs ...).
"""

from __future__ import annotations

import json
import math
import stat

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from typer.testing import CliRunner

from simulacra.config import LLMSettings, load_settings
from simulacra.errors import EndpointError, LogprobsUnsupportedError, RequestRejectedError
from simulacra.llm import LLM, EndpointMemory, describe_backend, negotiated_mode, open_llm
from simulacra.llm.openai_backend import OpenAIBackend
from simulacra.workspace import Workspace
from tests.llm.llama_server import llama_style_rejection, serve_app


class Choice(BaseModel):
    reasoning: str
    choice: str


VALID = {"reasoning": "r", "choice": "1"}
LLAMA_JSON_SCHEMA_REJECTION = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input "
    "should be 'text' or 'json_object'\", 'input': 'json_schema', 'ctx': {'expected': \"'text' or 'json_object'\"}}"
    '\n\n  File "/x/llama_cpp/server/app.py", line 376, in create_chat_completion\n    POST /v1/chat/completions'
)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def completion(content: str, logprobs: dict | None = None) -> dict:
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": logprobs,
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }


def stub(handler) -> tuple[FastAPI, list[dict]]:
    """An app whose /v1/chat/completions calls `handler(body)`; returns the app and the bodies it saw."""
    seen: list[dict] = []
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        seen.append(body)
        out = handler(body)
        return out if isinstance(out, JSONResponse) else completion(*out) if isinstance(out, tuple) else completion(out)

    return app, seen


def like_llama_cpp_server(body: dict):
    """llama_cpp.server: json_schema is a 500 validation error; json_object (with or without schema) works."""
    fmt = body.get("response_format")
    if fmt and fmt["type"] == "json_schema":
        return llama_style_rejection(LLAMA_JSON_SCHEMA_REJECTION)
    return json.dumps(VALID)


def settings_for(url: str, **extra) -> LLMSettings:
    values = {"base_url": f"{url}/v1", "api_key": "k", "model": "m", "max_retries": 1, "request_timeout": 10, **extra}
    return LLMSettings(**values)


async def test_llama_style_500_falls_back_to_json_object_with_schema_and_is_remembered(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    app, seen = stub(like_llama_cpp_server)
    with serve_app(app) as url:
        settings = settings_for(url)
        memory = EndpointMemory.for_workspace(workspace)
        llm = LLM(OpenAIBackend(settings, memory), settings)
        out = await llm.structured(user("pick"), Choice)
        assert out.value.choice == "1"
        assert [b["response_format"]["type"] for b in seen] == ["json_schema", "json_object"]
        assert seen[1]["response_format"]["schema"]["properties"]["choice"]["type"] == "string"
        assert llm.structured_mode == "json_object_schema"
        await llm.aclose()

        path = workspace.cache / "endpoints.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert memory.get(f"{url}/v1", "m")["structured_output"] == "json_object_schema"

        # A later process starts from the remembered mode: no rejected request first.
        seen.clear()
        again = LLM(OpenAIBackend(settings, EndpointMemory.for_workspace(workspace)), settings)
        await again.structured(user("pick another"), Choice)
        assert [b["response_format"]["type"] for b in seen] == ["json_object"]
        await again.aclose()


async def test_plain_json_only_server_gets_the_schema_in_the_prompt(tmp_path):
    def plain_json_only(body):
        fmt = body.get("response_format")
        if fmt and (fmt["type"] != "json_object" or "schema" in fmt):
            return JSONResponse({"error": {"message": "response_format: only json_object is supported"}}, status_code=400)
        return json.dumps(VALID)

    app, seen = stub(plain_json_only)
    with serve_app(app) as url:
        settings = settings_for(url)
        llm = LLM(OpenAIBackend(settings, EndpointMemory.for_workspace(Workspace(tmp_path))), settings)
        out = await llm.structured(user("pick"), Choice)
        assert out.value.choice == "1" and llm.structured_mode == "json_object"
        assert len(seen) == 3
        assert seen[-1]["response_format"] == {"type": "json_object"}
        assert '"choice"' in seen[-1]["messages"][-1]["content"]  # schema described in the prompt
        await llm.aclose()


async def test_server_without_response_format_uses_prompt_only(tmp_path):
    def no_response_format(body):
        if "response_format" in body:
            return JSONResponse({"detail": [{"loc": ["body", "response_format"], "msg": "Extra inputs are not permitted"}]},
                                status_code=422)
        return "Sure: " + json.dumps(VALID)

    app, seen = stub(no_response_format)
    with serve_app(app) as url:
        settings = settings_for(url)
        llm = LLM(OpenAIBackend(settings, EndpointMemory.for_workspace(Workspace(tmp_path))), settings)
        out = await llm.structured(user("pick"), Choice)
        assert out.value.choice == "1" and llm.structured_mode == "none" and len(seen) == 4
        assert "JSON schema" in seen[-1]["messages"][-1]["content"]
        await llm.aclose()


async def test_a_rejected_request_is_not_retried_and_names_the_complaint():
    app, seen = stub(lambda body: JSONResponse({"error": {"message": "The model `m` does not exist"}}, status_code=404))
    with serve_app(app) as url:
        settings = settings_for(url, max_retries=3)
        llm = LLM(OpenAIBackend(settings), settings)
        with pytest.raises(RequestRejectedError, match="rejected the request \\(404\\): The model `m` does not exist") as info:
            await llm.chat(user("hi"))
        assert len(seen) == 1 and info.value.status == 404
        assert not isinstance(info.value, EndpointError)
        await llm.aclose()


async def test_a_request_rejected_in_every_mode_raises_and_remembers_nothing(tmp_path):
    too_long = "Requested tokens (9000) exceed context window of 8192"
    app, seen = stub(lambda body: llama_style_rejection(too_long))
    workspace = Workspace(tmp_path)
    with serve_app(app) as url:
        settings = settings_for(url)
        llm = LLM(OpenAIBackend(settings, EndpointMemory.for_workspace(workspace)), settings, )
        with pytest.raises(RequestRejectedError, match="exceed context window") as info:
            await llm.structured(user("pick"), Choice)
        assert info.value.status == 500 and len(seen) == 4  # each mode once, none retried as an outage
        assert negotiated_mode(settings, workspace) is None
        await llm.aclose()


async def test_forced_mode_is_sent_as_is_and_a_rejection_says_how_to_fix_it():
    app, seen = stub(like_llama_cpp_server)
    with serve_app(app) as url:
        settings = settings_for(url, structured_output="json_schema")
        llm = LLM(OpenAIBackend(settings), settings)
        with pytest.raises(RequestRejectedError, match="response_format.type: Input should be 'text' or 'json_object'.*'auto'"):
            await llm.structured(user("pick"), Choice)
        assert len(seen) == 1
        await llm.aclose()

        forced = settings_for(url, structured_output="json_object")
        llm = LLM(OpenAIBackend(forced), forced)
        await llm.structured(user("pick"), Choice)
        assert seen[-1]["response_format"] == {"type": "json_object"}
        await llm.aclose()


async def test_a_bare_500_and_a_503_are_outages_retried_then_endpoint_error():
    calls = {"n": 0}

    def flaky(body):
        calls["n"] += 1
        return JSONResponse({"error": {"message": "upstream unavailable"}}, status_code=503 if calls["n"] % 2 else 500)

    app, seen = stub(flaky)
    with serve_app(app) as url:
        settings = settings_for(url, max_retries=2)
        llm = LLM(OpenAIBackend(settings), settings)
        with pytest.raises(EndpointError, match="did not answer after 3 attempts"):
            await llm.chat(user("hi"))
        assert len(seen) == 3
        await llm.aclose()


def logprob_entry(tops: list[tuple[str, float]]) -> dict:
    return {"content": [{"token": tops[0][0], "logprob": tops[0][1], "bytes": None,
                         "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in tops]}]}


async def test_option_logprobs_from_an_endpoint(tmp_path):
    tops = [("A", -0.2), (" B", -2.0), ("B", -3.0), ("The", -4.0), ("C)", -5.0), ("D", -6.0)]
    app, seen = stub(lambda body: ("A", logprob_entry(tops)))
    workspace = Workspace(tmp_path)
    with serve_app(app) as url:
        settings = settings_for(url)
        llm = LLM(OpenAIBackend(settings, EndpointMemory.for_workspace(workspace)), settings)
        scores = await llm.option_logprobs(user("A, B, C or E?"), ["A", "B", "C", "E"])
        assert seen[0]["logprobs"] is True and seen[0]["top_logprobs"] == 20 and seen[0]["max_tokens"] == 1
        assert scores["A"] == pytest.approx(-0.2)
        assert scores["B"] == pytest.approx(math.log(math.exp(-2.0) + math.exp(-3.0)))  # " B" and "B" summed
        assert scores["C"] == pytest.approx(-5.0)  # "C)" counts as C
        assert scores["E"] < -6.0  # not listed: below everything listed
        assert EndpointMemory.for_workspace(workspace).get(f"{url}/v1", "m")["logprobs"] is True
        # the scoring pass is a call in usage, with the tokens the endpoint reported (5 prompt, 3 completion)
        assert (llm.usage.calls, llm.usage.prompt_tokens, llm.usage.completion_tokens) == (1, 5, 3)
        await llm.aclose()


async def test_endpoint_without_logprobs_raises_a_clear_error_and_generates_nothing():
    app, seen = stub(lambda body: "A")  # ignores logprobs, like many servers
    with serve_app(app) as url:
        settings = settings_for(url)
        llm = LLM(OpenAIBackend(settings), settings)
        with pytest.raises(LogprobsUnsupportedError, match="returned no log-probabilities.*--scoring generate"):
            await llm.option_logprobs(user("A or B?"), ["A", "B"])
        assert len(seen) == 1
        await llm.aclose()


async def test_endpoint_refusing_logprobs_raises_logprobs_unsupported():
    app, _ = stub(lambda body: JSONResponse({"error": {"message": "logprobs is not supported"}}, status_code=400))
    with serve_app(app) as url:
        settings = settings_for(url)
        llm = LLM(OpenAIBackend(settings), settings)
        with pytest.raises(LogprobsUnsupportedError, match="does not give log-probabilities"):
            await llm.option_logprobs(user("A or B?"), ["A", "B"])
        await llm.aclose()


def test_doctor_shows_the_negotiated_mode_and_both_roles(tmp_path, monkeypatch):
    from experiments.cli import app as cli

    home = tmp_path / "home"
    monkeypatch.setenv("SIMULACRA_HOME", str(home))
    monkeypatch.setenv("SIMULACRA_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SIMULACRA_MODEL", "served")
    monkeypatch.setenv("SIMULACRA_INTERVIEWER_MODEL", "bigger")
    monkeypatch.delenv("SIMULACRA_STRUCTURED_OUTPUT", raising=False)
    EndpointMemory.for_workspace(Workspace(home)).remember("http://127.0.0.1:9/v1", "served", structured_output="json_object")
    result = CliRunner().invoke(cli, ["doctor", "--no-ping"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "auto: json_object (negotiated)" in out
    assert "auto: not negotiated yet" in out  # the interviewer's model has not been used yet
    assert "agents" in out and "interviewer" in out and "bigger" in out and "served" in out


def test_describe_backend_pins_what_a_manifest_needs():
    settings = LLMSettings(base_url="http://h/v1", api_key="secret", model="m", temperature=0.2, max_tokens=300)
    described = describe_backend(settings)
    assert described["model"] == "m" and described["temperature"] == "0.2" and described["max_tokens"] == "300"
    assert described["structured_output"] == "auto" and "seed" in described
    assert "secret" not in json.dumps(described) and "secret" not in json.dumps(settings.pinned())
    embedded = describe_backend(load_settings())
    assert embedded["kind"] == "embedded" and embedded["structured_output"] == "grammar"


def test_open_llm_for_the_interviewer_role(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMULACRA_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SIMULACRA_MODEL", "agents-model")
    monkeypatch.setenv("SIMULACRA_INTERVIEWER_MODEL", "interviewer-model")
    settings = load_settings()
    interviewer = open_llm(settings, Workspace(tmp_path), role="interviewer")
    agents = open_llm(settings, Workspace(tmp_path))
    assert interviewer.model == "interviewer-model" and agents.model == "agents-model"
    assert interviewer.settings.base_url == agents.settings.base_url == "http://127.0.0.1:9/v1"
