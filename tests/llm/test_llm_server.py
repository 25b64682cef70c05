"""Against a real `python -m llama_cpp.server` (SmolLM2, loopback): chat, negotiated structured output, option
log-probabilities, and the same through a proxy that only accepts plain JSON mode.

Model work: run under the lock, e.g.
    flock /tmp/simulacra-model.lock .venv/bin/pytest -q tests/llm/test_llm_server.py
"""

from __future__ import annotations

import json
import math
from typing import Literal

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from simulacra.config import load_settings
from simulacra.errors import LogprobsUnsupportedError
from simulacra.llm import EndpointMemory, open_llm
from simulacra.workspace import Workspace
from tests.llm.llama_server import llama_server, plain_json_proxy  # noqa: F401 - fixture

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


# -- the product's paths against the real server (issue #11: these failed on a real llama.cpp server) ------------
def _benchmark(tmp_path, *extra):
    from experiments.cli import app

    return CliRunner().invoke(
        app,
        ["benchmark", "gss-panel", "--people", "1", "--items", "2", "--context-items", "2", "--condition", "demographic",
         "--bootstrap", "20", "--run-id", "server-bench", *extra],
        env={"COLUMNS": "200"},
    )


def _bench_folder():
    from experiments.runs.folder import RunFolder

    return RunFolder.resolve("server-bench")


def test_small_benchmark_on_the_server_with_no_setting(use_server, tmp_path):
    result = _benchmark(tmp_path)
    assert result.exit_code == 0, result.output
    folder = _bench_folder()
    answers = folder.answers()
    assert len(answers) == 2 and set(answers["status"]) == {"ok"}  # negotiated json_object+schema: valid answers
    metrics = json.loads((folder.path / "metrics.json").read_text())
    assert "no valid answers" not in result.output and metrics["schema_version"] >= 2


def test_benchmark_through_a_lax_json_server_has_no_score_not_zero(use_server, monkeypatch, tmp_path):
    """A server that accepts plain JSON mode but does not enforce it: SmolLM2 writes prose, every answer fails
    validation (kept with its raw text), and the condition is reported as having no score, never 0.00."""
    with plain_json_proxy(use_server.base_url, enforce_json=False) as proxy:
        monkeypatch.setenv("SIMULACRA_BASE_URL", proxy)
        result = _benchmark(tmp_path)
    assert result.exit_code == 0, result.output
    answers = _bench_folder().answers()
    assert len(answers) == 2 and set(answers["status"]) == {"failed"}
    assert all(raw.strip() for raw in answers["raw"])  # the invalid output is kept as data
    assert "no valid answers" in result.output


SHORT_SCRIPT = """\
id: server
title: One question
blocks:
  - id: intro
    questions:
      - {id: intro, kind: intro, budget_s: 0, text: "Hi, {name}! Let's get started!"}
  - id: hopes_values
    questions:
      - {id: q110, budget_s: 20, text: "What do you value the most in your life?"}
  - id: closing
    questions:
      - {id: closing, kind: closing, budget_s: 0, text: "Thank you, {name}!"}
"""


def test_agent_interview_on_the_server_with_no_setting(use_server, tmp_path):
    from experiments.cli import app
    from simulacra.transcript import read_transcript

    persona = tmp_path / "persona.txt"
    persona.write_text("I am a retired nurse from Ohio. I love gardening and my grandchildren.", encoding="utf-8")
    script = tmp_path / "server.yaml"
    script.write_text(SHORT_SCRIPT, encoding="utf-8")
    runner = CliRunner()
    built = runner.invoke(app, ["agents", "build-persona", str(persona), "--id", "nurse"])
    assert built.exit_code == 0, built.output
    result = runner.invoke(app, ["interview", "--respondent-agent", "nurse", "--script", str(script), "--no-embeddings"])
    assert result.exit_code == 0, result.output
    transcripts = list((Workspace.default().root / "transcripts").glob("*.jsonl"))
    assert len(transcripts) == 1
    turns = read_transcript(transcripts[0]).turns
    # the intro is not put to an agent (issue #25): its turn is recorded empty; every question is answered
    answers = [t for t in turns if t.speaker == "respondent" and t.question_id != "intro"]
    assert answers and all(t.text.strip() for t in answers)
    assert all(not t.text for t in turns if t.speaker == "respondent" and t.question_id == "intro")
    assert [t.question_id for t in turns if t.kind in ("intro", "scripted", "closing")] == ["intro", "q110", "closing"]
