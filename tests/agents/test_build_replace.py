"""`simulacra agents build T.jsonl --id EXISTING` refuses unless --replace; replacing leaves only the new
agent's memory vectors in chromadb (the old collection is deleted through the client API)."""

from __future__ import annotations

import json

from agent_helpers import sample_transcript_jsonl, schema_responder

from simulacra.agents.bank import AgentBank
from simulacra.llm import LLM, FakeBackend

NEW_ANSWER = "I grew up on a farm near Lake Erie and became a welder."


def run_simulacra(monkeypatch, capsys, *args) -> tuple[int, str]:
    from experiments.cli import main

    monkeypatch.setattr("sys.argv", ["simulacra", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "250")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def documents(bank: AgentBank, agent_id: str, candidates: list[str]) -> list[str | None]:
    """The texts whose vectors the agent's collection holds (chromadb stores vectors, not texts): each stored
    vector matched to the candidate text that embeds to it (None: none of them)."""
    import numpy as np

    from simulacra.agents.memory import _collection_name

    stored = bank.store.client.get_collection(_collection_name(agent_id)).get(include=["embeddings"])["embeddings"]
    known = np.asarray(bank.store.embedder.embed(candidates))
    return [candidates[int(np.argmax(known @ np.asarray(v)))] if float(np.max(known @ np.asarray(v))) > 0.9999 else None
            for v in stored]


def test_build_over_an_existing_id_needs_replace_and_drops_the_old_vectors(tmp_path, sample_dir, monkeypatch, capsys):
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: LLM(FakeBackend(default=schema_responder())))
    first = sample_transcript_jsonl(sample_dir, tmp_path / "joon.jsonl", exchanges=3)
    second = tmp_path / "bob.jsonl"
    second.write_text("\n".join(json.dumps(line) for line in [
        {"type": "header", "respondent": "bob"},
        {"speaker": "interviewer", "text": "Tell me the story of your life.", "kind": "scripted"},
        {"speaker": "respondent", "text": NEW_ANSWER},
    ]) + "\n")
    folder = tmp_path / "bank"
    code, out = run_simulacra(monkeypatch, capsys, "agents", "build", first, "--id", "p1", "--no-reflections", "--agents", folder)
    assert code == 0, out
    old = [m.text for m in AgentBank(folder).load("p1").observations()]
    assert len(old) == 3 and sorted(documents(AgentBank(folder), "p1", old + [NEW_ANSWER])) == sorted(old)

    code, out = run_simulacra(monkeypatch, capsys, "agents", "build", second, "--id", "p1", "--no-reflections", "--agents", folder)
    assert code == 1 and "Traceback" not in out
    (error,) = [line for line in out.splitlines() if line.startswith("error:")]
    assert "p1" in error and "already in" in error and "--replace" in error
    bank = AgentBank(folder)
    assert [m.text for m in bank.load("p1").observations()] == old  # nothing changed
    assert sorted(documents(bank, "p1", old + [NEW_ANSWER])) == sorted(old)

    code, out = run_simulacra(monkeypatch, capsys, "agents", "build", second, "--id", "p1", "--no-reflections",
                              "--agents", folder, "--replace")
    assert code == 0, out
    bank = AgentBank(folder)
    agent = bank.load("p1")
    assert agent.origin["respondent"] == "bob" and len(agent.observations()) == 1
    new = [m.text for m in agent.observations()]
    (vector_text,) = documents(bank, "p1", old + new)  # only the new memory's vector: none of the old person's
    assert vector_text is not None and NEW_ANSWER in vector_text and bank.store.count("p1") == 1


def test_build_without_id_over_the_same_respondent_also_needs_replace(tmp_path, sample_dir, monkeypatch, capsys):
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: LLM(FakeBackend(default=schema_responder())))
    path = sample_transcript_jsonl(sample_dir, tmp_path / "joon.jsonl", exchanges=2)
    folder = tmp_path / "bank"
    assert run_simulacra(monkeypatch, capsys, "agents", "build", path, "--no-reflections", "--agents", folder)[0] == 0
    code, out = run_simulacra(monkeypatch, capsys, "agents", "build", path, "--no-reflections", "--agents", folder)
    assert code == 1 and "joon" in out and "--replace" in out and "Traceback" not in out
