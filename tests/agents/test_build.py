"""Building agents from our transcripts, importing genagents folders and GSS demographic agents (fake model)."""

from __future__ import annotations

import json
import shutil

import pytest
from agent_helpers import sample_transcript_jsonl, schema_responder
from typer.testing import CliRunner

from simulacra.agents.bank import AgentBank
from simulacra.agents.baselines import DemographicAgent
from simulacra.agents.build import build_agent_from_transcript, import_demographic_csv, import_genagents
from simulacra.agents.cli import agents_app
from simulacra.agents.interview import InterviewAgent
from simulacra.agents.router import EXPERTS
from simulacra.errors import DataFileError
from simulacra.llm import LLM, FakeBackend


async def test_build_from_our_transcript(tmp_path, sample_dir, bank):
    path = sample_transcript_jsonl(sample_dir, tmp_path / "joon.jsonl", exchanges=5, answer_chars=300)
    importance = json.dumps({f"M{i}": 10 * i for i in range(1, 9)})
    backend = FakeBackend([importance], default=schema_responder())
    agent = await build_agent_from_transcript(path, LLM(backend), bank=bank, reflection_limit=6)
    assert agent.id == "joon" and agent.name == "Joon Park"
    observations = agent.observations()
    assert len(observations) == 5
    assert [m.importance for m in observations] == [10, 20, 30, 40, 50]
    assert observations[0].text.startswith("Interviewer: To start") and "\n\nJoon: Right. So I was born in Korea" in observations[0].text
    assert observations[0].question_id is not None
    assert "I am 30 years old." in agent.persona and "Park" not in agent.persona
    assert {m.expert for m in agent.reflections()} == set(EXPERTS)
    for expert in EXPERTS:
        notes = agent.reflections(expert)
        assert len(notes) == 6
        assert set(notes[0].evidence) <= {m.id for m in observations} and notes[0].evidence
    reflection_prompt = next(r for r in backend.requests if "expert psychologist" in r.messages[-1]["content"])
    assert "more than 5 observations and fewer than 7" in reflection_prompt.messages[-1]["content"]
    loaded = bank.load("joon")
    assert isinstance(loaded, InterviewAgent) and len(loaded.memories) == len(agent.memories)
    assert bank.store.count("joon") == len(agent.memories)


async def test_build_rejects_a_broken_transcript(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"speaker": "respondent", "text": "hi"}\n{"speaker": "robot", "text": "x"}\n')
    with pytest.raises(DataFileError, match=r"bad.jsonl:2 \[speaker\]"):
        await build_agent_from_transcript(path, LLM(FakeBackend()))


async def test_import_genagents_sample_keeps_memories(genagents_folder, bank):
    agents = await import_genagents(genagents_folder.parent, None, bank, reflections=False)
    assert len(agents) == 1
    agent = agents[0]
    assert isinstance(agent, InterviewAgent) and agent.id == "01fd7d2a-0357-4c1b-9f3e-8eade2d537ae"
    assert len(agent.observations()) == 115  # the empty "Interviewer:" node is dropped
    assert agent.observations()[0].importance == 85 and agent.clock >= 116
    assert agent.name == "Joon Park" and agent.demographics["political_views"] == "Slightly liberal"
    assert bank.store.count(agent.id) == 115
    assert bank.ids() == [agent.id]


async def test_import_genagents_scratch_only_is_a_demographic_agent(genagents_folder, bank):
    shutil.rmtree(genagents_folder / "memory_stream")
    agents = await import_genagents(genagents_folder, LLM(FakeBackend()), bank)
    assert isinstance(agents[0], DemographicAgent) and agents[0].demographics["age"] == "30"


async def test_import_genagents_with_reflections(genagents_folder, bank):
    backend = FakeBackend(default=schema_responder())
    agent = (await import_genagents(genagents_folder, LLM(backend), bank, reflection_limit=6))[0]
    assert {m.expert for m in agent.reflections()} == set(EXPERTS)
    # the sample (~17k tokens) does not fit the fake's 8k context: experts read retrieved memories
    prompt = next(r for r in backend.requests if "expert demographer" in r.messages[-1]["content"]).messages[-1]["content"]
    assert len(prompt) < 20_000


def test_import_demographic_csv(sample_dir, bank):
    agents = import_demographic_csv(sample_dir / "gss_demographic_agents_scratch.csv", bank, limit=3)
    assert len(agents) == 3 and bank.ids() == sorted(a.id for a in agents)
    assert agents[0].demographics["age"] == "25" and agents[0].demographics["political_views"] == "Slightly liberal"


def test_cli_import_list_show(sample_dir, tmp_path):
    runner = CliRunner()
    folder = tmp_path / "somebank"
    result = runner.invoke(agents_app, ["import-demographic", str(sample_dir / "gss_demographic_agents_scratch.csv"),
                                        "--limit", "2", "--agents", str(folder)])
    assert result.exit_code == 0, result.output
    assert "imported 2" in result.output
    result = runner.invoke(agents_app, ["list", "--agents", str(folder)])
    assert result.exit_code == 0 and "demographic" in result.output
    agent_id = AgentBank(folder).ids()[0]
    result = runner.invoke(agents_app, ["show", agent_id, "--agents", str(folder)])
    assert result.exit_code == 0 and "years old" in result.output


async def test_reflections_drop_junk_and_retry_when_too_few_remain():
    from simulacra.agents.reflection import expert_observations

    junk = json.dumps({"observations": ["1.1.1.1.1.1", "He grew up in Korea and moved to Boston."]})
    good = json.dumps({"observations": ["He grew up in Korea and moved to Boston.", "He values meaningful work deeply."]})
    backend = FakeBackend([junk, good])
    notes = await expert_observations(LLM(backend), "demographer", "context", limit=2)
    assert notes == ["He grew up in Korea and moved to Boston.", "He values meaningful work deeply."]
    assert len(backend.requests) == 2 and "written as sentences" in backend.requests[1].messages[-1]["content"]


async def test_reflections_keep_good_sentences_when_retries_run_out():
    from simulacra.agents.reflection import expert_observations

    short = json.dumps({"observations": ["He values meaningful work deeply.", "2.2.2.2.2"]})
    notes = await expert_observations(LLM(FakeBackend(default=short)), "psychologist", "context", limit=6)
    assert notes == ["He values meaningful work deeply."]
    nothing = json.dumps({"observations": ["1.1.1.1"]})
    assert await expert_observations(LLM(FakeBackend(default=nothing)), "psychologist", "context", limit=6) == []
