"""Against a real `python -m llama_cpp.server` (SmolLM2, loopback): chat, negotiated structured output, option
log-probabilities, and the same through a proxy that only accepts plain JSON mode.

Model work: run under the lock, e.g.
    flock /tmp/simulacra-model.lock .venv/bin/pytest -q tests/llm/test_llm_server.py
"""

from __future__ import annotations

import math
from typing import Literal

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from simulacra.config import load_settings
from simulacra.errors import LogprobsUnsupportedError
from simulacra.llm import EndpointMemory, open_llm
from simulacra.workspace import Workspace
from tests.llm.llama_server import llama_server, plain_json_proxy

pytestmark = [pytest.mark.embedded, pytest.mark.server]


class YesNo(BaseModel):
    answer: Literal["yes", "no"]


QUESTION = [
    {"role": "system", "content": "You answer survey questions. Reply in JSON."},
    {"role": "user", "content": 'Do you like music? Reply with {"answer": "yes"} or {"answer": "no"}.'},
]


@pytest.fixture
def use_server(llama_server, monkeypatch):
    """Point simulacra at the server with no structured-output setting (negotiation must find the mode)."""
    monkeypatch.delenv("SIMULACRA_STRUCTURED_OUTPUT", raising=False)
    for key, value in llama_server.env().items():
        monkeypatch.setenv(key, value)
    return llama_server


def test_chat_command_works(use_server):
    from experiments.cli import app

    result = CliRunner().invoke(app, ["chat", "Say hello in three words.", "--max-tokens", "12", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert use_server.model in result.output and result.output.strip()


async def test_structured_call_negotiates(use_server):
    llm = open_llm(load_settings())
    out = await llm.structured(QUESTION, YesNo, max_tokens=24)
    assert out.value.answer in {"yes", "no"}
    # llama_cpp.server rejects json_schema (500 validation error) and accepts json_object with a schema
    assert llm.structured_mode == "json_object_schema"
    known = EndpointMemory.for_workspace(Workspace.default()).get(use_server.base_url, use_server.model)
    assert known["structured_output"] == "json_object_schema"
    await llm.aclose()


def test_doctor_pings_and_shows_the_negotiated_mode(use_server):
    from experiments.cli import app

    doctor = CliRunner().invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert doctor.exit_code == 0, doctor.output
    assert "auto: json_object_schema (negotiated)" in doctor.output
    assert "agents model answers" in doctor.output and "interviewer llm" in doctor.output


async def test_option_logprobs_work_or_say_why(use_server):
    llm = open_llm(load_settings(), cache=False)
    messages = [{"role": "user", "content": "Do you like music? Reply with one letter: A) yes B) no C) unsure"}]
    try:
        scores = await llm.option_logprobs(messages, ["A", "B", "C"])
    except LogprobsUnsupportedError as exc:  # acceptable only with its clear message
        assert "--scoring generate" in str(exc)
        return
    finally:
        await llm.aclose()
    assert set(scores) == {"A", "B", "C"} and all(math.isfinite(v) and v < 0 for v in scores.values())
    assert sum(math.exp(v) for v in scores.values()) <= 1.0 + 1e-6


async def test_plain_json_only_server_works_with_no_setting(use_server, monkeypatch):
    with plain_json_proxy(use_server.base_url) as proxy:
        monkeypatch.setenv("SIMULACRA_BASE_URL", proxy)
        llm = open_llm(load_settings())
        out = await llm.structured(QUESTION, YesNo, max_tokens=24, attempts=3)
        assert out.value.answer in {"yes", "no"}
        assert llm.structured_mode == "json_object"
        await llm.aclose()
