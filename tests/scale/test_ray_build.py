"""`simulacra agents build` over many transcripts on Ray, on a local Ray cluster started by this module (2 CPUs,
loopback) with the scripted fake model: each transcript is built on an actor holding one model client, the agent
comes back as JSON and the driver alone saves it (embedding its memories into the bank's store). The agents are the
same (fingerprint) as built locally; an actor killed mid-build is restarted and its transcript built again, each
agent saved once; a bad transcript is one error naming its file while the others are built."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from experiments.runs.executors import build_agents_on  # noqa: E402
from experiments.runs.executors.ray_executor import RayBuilder  # noqa: E402
from simulacra.agents.bank import AgentBank  # noqa: E402
from simulacra.agents.build import build_agent_from_transcript  # noqa: E402
from simulacra.config import LLMSettings  # noqa: E402
from simulacra.llm import LLM  # noqa: E402

from tests.scale.fakes import crashing_backend, fake_backend  # noqa: E402

PEOPLE = {
    "ann": ("Ann Lee", "34", [("Where did you grow up?", "On a farm in Iowa, milking cows before school."),
                              ("What is your work?", "I teach chemistry at a public high school.")]),
    "bob": ("Bob Ray", "58", [("Where did you grow up?", "In Chicago, above my father's bakery."),
                              ("What is your work?", "I drive a city bus and fix old radios at night.")]),
    "cy": ("Cy Park", "71", [("Where did you grow up?", "In a fishing town in Maine."),
                             ("How do you spend Sundays?", "At church with my sister, then a long walk by the sea.")]),
}


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def write_transcripts(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for person, (name, age, said) in PEOPLE.items():
        lines = [{"type": "header", "respondent": person, "name": name, "demographics": {"age": age}}]
        for i, (asked, answered) in enumerate(said):
            lines.append({"index": 2 * i, "speaker": "interviewer", "text": asked, "question_id": f"q{i}",
                          "kind": "scripted"})
            lines.append({"index": 2 * i + 1, "speaker": "respondent", "text": answered, "kind": "answer"})
        path = folder / f"{person}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        paths.append(path)
    return paths


def built_locally(paths: list[Path], bank: AgentBank) -> dict[str, str]:
    llm = LLM(fake_backend(), LLMSettings())  # the settings the actors get: same origin model in the agent

    async def build() -> None:
        for path in paths:
            await build_agent_from_transcript(path, llm, bank=bank, reflections=True, reflection_limit=6)

    asyncio.run(build())
    return {agent.id: agent.fingerprint() for agent in map(bank.load, bank.ids())}


def counting_saves(bank: AgentBank) -> list[str]:
    saved: list[str] = []
    original = bank.save

    def save(agent):
        saved.append(agent.id)
        return original(agent)

    bank.save = save
    return saved


def test_agents_built_on_ray_are_the_agents_built_locally(tmp_path):
    paths = write_transcripts(tmp_path / "transcripts")
    local = built_locally(paths, AgentBank(tmp_path / "local"))
    assert len(local) == 3
    bank = AgentBank(tmp_path / "on-ray")
    saved = counting_saves(bank)
    with RayBuilder(LLMSettings(), workers=2, cache=False, backend_factory=fake_backend, timeout=120) as builder:
        built, errors = asyncio.run(build_agents_on(builder, paths, bank, reflection_limit=6))
        assert len(builder.incarnations) == 2  # both actors built
        assert builder.usage()["calls"] > 0
    assert errors == [] and sorted(saved) == sorted(local)
    on_ray = {agent.id: agent.fingerprint() for agent in map(bank.load, bank.ids())}
    assert on_ray == local
    agent = bank.load("ann")
    assert len(agent.reflections()) == 24  # four experts x 6
    # the driver embedded the memories into the bank's own store when saving
    assert len(bank.store.relevance("ann", "a farm in Iowa")) == len(agent.memories)


def test_an_actor_killed_mid_build_is_retried_and_a_bad_transcript_is_one_error(tmp_path):
    paths = write_transcripts(tmp_path / "transcripts")
    local = built_locally(paths, AgentBank(tmp_path / "local"))
    bad = tmp_path / "transcripts" / "broken.jsonl"
    bad.write_text('{"type": "header", "respondent": "broken"}\n{not json\n', encoding="utf-8")
    bank = AgentBank(tmp_path / "on-ray")
    saved = counting_saves(bank)
    marker = tmp_path / "crashed"
    # an actor's process dies on its 3rd model call (once: the marker remembers), in the middle of a build
    factory = crashing_backend(str(marker), on_call=3, delay=0.05)
    with RayBuilder(LLMSettings(), workers=2, cache=False, backend_factory=factory, timeout=180) as builder:
        built, errors = asyncio.run(build_agents_on(builder, [paths[0], bad, *paths[1:]], bank,
                                                    reflection_limit=6))
        assert marker.exists(), "no actor died: the test did not test a failure"
        live = builder.wait_ready()
        assert len(live) == 2 and int(marker.read_text()) not in {f["pid"] for f in live}
    assert len(errors) == 1 and errors[0][0] == str(bad) and "not valid JSON" in errors[0][1]
    assert sorted(saved) == sorted(local)  # each agent saved once, nothing built twice into the bank
    assert {agent.id: agent.fingerprint() for agent in map(bank.load, bank.ids())} == local


def test_simulacra_agents_build_on_ray_against_an_endpoint(tmp_path, monkeypatch):
    """The command line: `simulacra agents build T1 T2 T3 broken --executor ray` against a fake OpenAI-compatible
    endpoint on loopback: the agents of the local command, and one error naming the broken file (exit 1)."""
    from typer.testing import CliRunner

    from experiments.cli import app
    from tests.scale.fakes import FakeOpenAIServer

    paths = [str(p) for p in write_transcripts(tmp_path / "transcripts")]
    bad = tmp_path / "transcripts" / "broken.jsonl"
    bad.write_text('{"type": "header", "respondent": "broken"}\n{not json\n', encoding="utf-8")
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("SIMULACRA_BASE_URL", server.base_url)
        monkeypatch.setenv("SIMULACRA_MODEL", "fake")
        common = ["agents", "build", "--reflection-limit", "6"]
        local = CliRunner().invoke(app, common + ["--agents", str(tmp_path / "local"), *paths])
        assert local.exit_code == 0, local.output
        remote = CliRunner().invoke(app, common + ["--agents", str(tmp_path / "on-ray"), *paths, str(bad),
                                                   "--executor", "ray", "--workers", "2"])
    assert remote.exit_code == 1, remote.output
    message = str(remote.exception)
    assert message.startswith("1 of 4 transcript(s) not built: ") and message.count(str(bad)) == 1
    assert "not valid JSON" in message
    here, there = AgentBank(tmp_path / "local"), AgentBank(tmp_path / "on-ray")
    assert sorted(there.ids()) == sorted(here.ids()) == ["ann", "bob", "cy"]
    assert all(there.load(i).fingerprint() == here.load(i).fingerprint() for i in here.ids())
    result = CliRunner().invoke(app, common + ["--agents", str(tmp_path / "x"), paths[0], "--workers", "2"])
    assert result.exit_code == 1 and "go with --executor ray" in str(result.exception)  # Ray options need Ray


def mark_unusable(path: Path) -> None:
    """Append the status line a closed-loop interview writes when it stops on non-answers."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"type": "status", "unusable": True, "unusable_reason": "mostly non-answers"}) + "\n")


def test_an_unusable_transcript_is_refused_on_ray_unless_forced_as_locally(tmp_path):
    """`agents build --executor ray` treats a transcript marked unusable as the local build does: refused (one
    error naming it, the others built) without --force; built with it, the same agent as the local forced build."""
    paths = write_transcripts(tmp_path / "transcripts")
    mark_unusable(paths[1])  # bob
    llm = LLM(fake_backend(), LLMSettings())
    with pytest.raises(Exception, match="marked unusable"):
        asyncio.run(build_agent_from_transcript(paths[1], llm, bank=AgentBank(tmp_path / "x"), reflection_limit=6))
    local_bank = AgentBank(tmp_path / "local")
    asyncio.run(build_agent_from_transcript(paths[1], llm, bank=local_bank, reflection_limit=6, force=True))
    forced_locally = local_bank.load("bob").fingerprint()

    refused_bank, forced_bank = AgentBank(tmp_path / "refused"), AgentBank(tmp_path / "forced")
    with RayBuilder(LLMSettings(), workers=2, cache=False, backend_factory=fake_backend, timeout=120) as builder:
        _, errors = asyncio.run(build_agents_on(builder, paths, refused_bank, reflection_limit=6))
        _, forced_errors = asyncio.run(build_agents_on(builder, [paths[1]], forced_bank, reflection_limit=6,
                                                       force=True))
    assert [path for path, _ in errors] == [str(paths[1])] and "marked unusable" in errors[0][1]
    assert sorted(refused_bank.ids()) == ["ann", "cy"]
    assert forced_errors == [] and forced_bank.ids() == ["bob"]
    assert forced_bank.load("bob").fingerprint() == forced_locally


def test_simulacra_agents_build_force_reaches_the_ray_actors(tmp_path, monkeypatch):
    """The command line passes --force through the composition root to the actors (it used to stop at the driver's
    own check, and the actor refused the transcript again)."""
    from typer.testing import CliRunner

    from experiments.cli import app
    from tests.scale.fakes import FakeOpenAIServer

    path = write_transcripts(tmp_path / "transcripts")[0]
    mark_unusable(path)
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("SIMULACRA_BASE_URL", server.base_url)
        monkeypatch.setenv("SIMULACRA_MODEL", "fake")
        common = ["agents", "build", "--reflection-limit", "6", "--executor", "ray", "--workers", "2", str(path)]
        refused = CliRunner().invoke(app, common + ["--agents", str(tmp_path / "refused")])
        forced = CliRunner().invoke(app, common + ["--agents", str(tmp_path / "forced"), "--force"])
    assert refused.exit_code == 1 and "marked unusable" in str(refused.exception)
    assert forced.exit_code == 0, forced.output
    assert AgentBank(tmp_path / "forced").ids() == ["ann"]
    assert AgentBank(tmp_path / "refused").ids() == []
