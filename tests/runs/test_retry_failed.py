"""`--retry-failed` really asks again: a real on-disk response cache, a real agent's answering path, and a
deterministic scripted model that replies invalid JSON to greedy requests and valid JSON to a sampled retry."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from experiments.runs.spec import RunSpec
from experiments.runs import RunFolder, run_batch
from experiments.runs.store import AnswerKey
from simulacra.agents.baselines import DemographicAgent
from simulacra.llm import LLM, FakeBackend
from simulacra.llm.cache import ResponseCache
from surveys.model import Instrument, Option, Question, QuestionKind

MODEL = {"kind": "test", "model": "fake-model"}


def battery() -> Instrument:
    return Instrument(id="mini", title="mini", questions=[
        Question(id=f"q{i}", text=f"How much do you agree with statement {i}?", kind=QuestionKind.ordinal,
                 options=[Option(code=str(k), label=f"level {k}") for k in (1, 2, 3, 4)])
        for i in range(3)
    ])


def deterministic_model(request) -> str:
    """Greedy (no seed): a reply that is not JSON at all, every time. A retry round (seeded): a valid answer."""
    if request.seed is None:
        return "I think I would say maybe level two, it depends"
    prompt = "\n".join(m["content"] for m in request.messages)
    keys = sorted(set(re.findall(r"\bQ\d+\b", prompt)), key=lambda k: int(k[1:]))
    return json.dumps({k: {"reasoning": "on reflection", "answer": "2"} for k in keys})


def llm_with_disk_cache(tmp_path) -> LLM:
    return LLM(FakeBackend(default=deterministic_model), cache=ResponseCache(tmp_path / "cache" / "llm.sqlite"))


async def test_retry_failed_turns_failed_answers_valid_and_keeps_both_attempts(tmp_path):
    agents = [DemographicAgent(id="p1", demographics={"age": "40", "sex": "female"})]
    inst = battery()
    folder = RunFolder.open(RunSpec.build(agents, [inst], model=MODEL, temperature=0.0), tmp_path / "runs")

    first = llm_with_disk_cache(tmp_path)
    outcome = await run_batch(folder, agents, [inst], first, batch_size=3)
    assert outcome.failed == 3
    frame = folder.answers()
    assert (frame["status"] == "failed").all() and frame["raw"].str.contains("maybe level two").all()
    assert frame["prompt_hash"].notna().all()

    # the same command without --retry-failed asks nothing (failed answers stay failed, on record)
    calls_before = len(first.backend.requests)
    await run_batch(folder, agents, [inst], first, batch_size=3)
    assert len(first.backend.requests) == calls_before

    # a new process, the same on-disk cache: --retry-failed asks the model again and gets valid answers
    second = llm_with_disk_cache(tmp_path)
    retried = await run_batch(folder, agents, [inst], second, batch_size=3, retry_failed=True)
    assert retried.failed == 0 and retried.written == 3
    assert second.backend.requests and all(r.seed == 1 for r in second.backend.requests)
    frame = folder.answers()
    assert (frame["status"] == "ok").all() and set(frame["value"]) == {"2"}

    history = folder.store.history(AnswerKey("p1", "mini", "q0"))
    stored = [h for h in history if h["kind"] in ("stored", "current")]
    assert [h["status"] for h in stored] == ["failed", "ok"]
    assert "maybe level two" in stored[0]["raw"] and stored[1]["round"] == 1
    assert folder.manifest.status == "complete"


def test_retry_failed_through_the_cli(tmp_path, monkeypatch):
    """`simulacra run` then `simulacra run --retry-failed`, each opening the workspace's real cache."""
    from experiments.cli import app
    from simulacra.agents.bank import AgentBank

    home = tmp_path / "home"
    monkeypatch.setenv("SIMULACRA_HOME", str(home))
    backends: list[FakeBackend] = []

    def open_llm(settings=None, workspace=None, **kwargs):
        backend = FakeBackend(default=deterministic_model)
        backends.append(backend)
        return LLM(backend, cache=ResponseCache(workspace.cache / "llm.sqlite"))

    monkeypatch.setattr("simulacra.llm.open_llm", open_llm)
    AgentBank(home / "agents").save(DemographicAgent(id="p1", demographics={"age": "40"}))
    runner = CliRunner()
    args = ["run", "--agents", str(home / "agents"), "--instrument", "gss", "--limit", "2", "--run-id", "retry"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "2 failed" in first.output and "--retry-failed" in first.output
    again = runner.invoke(app, args + ["--retry-failed"])
    assert again.exit_code == 0, again.output
    assert "2 valid, 0 failed" in again.output
    folder = RunFolder(home / "runs" / "retry")
    assert (folder.answers()["status"] == "ok").all()
    assert len(folder.sessions()) == 2 and all(s["outcome"] == "complete" for s in folder.sessions())


class BrokenStoreAgent(DemographicAgent):
    """A real agent whose context source (standing in for its memory store) fails from the second batch on."""

    prepared: int = 0

    def stable_content(self):
        return self.model_dump(mode="json", exclude={"prepared"})

    async def prepare(self, questions, *, llm, options):
        self.prepared += 1
        if self.prepared >= 2:
            raise OSError("chromadb: database disk image is malformed")
        return await super().prepare(questions, llm=llm, options=options)


def valid_model(request) -> str:
    prompt = "\n".join(m["content"] for m in request.messages)
    keys = sorted(set(re.findall(r"\bQ\d+\b", prompt)), key=lambda k: int(k[1:]))
    return json.dumps({k: {"reasoning": "so", "answer": "3"} for k in keys})


async def test_a_memory_store_fault_on_the_real_answering_path_stops_the_run_and_fails_nothing(tmp_path):
    import pytest

    agents = [BrokenStoreAgent(id="p1", demographics={"age": "40"})]
    inst = battery()
    folder = RunFolder.open(RunSpec.build(agents, [inst], model=MODEL, temperature=0.0), tmp_path / "runs")
    with pytest.raises(OSError, match="malformed"):
        await run_batch(folder, agents, [inst], LLM(FakeBackend(default=valid_model)), batch_size=1)
    frame = folder.answers()
    assert len(frame) == 1 and frame["status"].tolist() == ["ok"]  # the first batch is kept, nothing failed
    assert folder.manifest.status == "stopped"
    healthy = [DemographicAgent(id="p1", demographics={"age": "40"})]
    again = RunFolder.open(RunSpec.build(healthy, [inst], model=MODEL, temperature=0.0), tmp_path / "runs")
    outcome = await run_batch(again, healthy, [inst], LLM(FakeBackend(default=valid_model)), batch_size=1)
    assert outcome.written == 2 and again.manifest.status == "complete"


def test_new_run_answers_in_the_new_folder_when_the_old_one_holds_another_run(tmp_path, monkeypatch):
    """`--new-run` opens a second folder and the answers go there (they once went to the folder the mismatch
    was found in: the command opened the new folder but ran the spec without `new_run`)."""
    from experiments.cli import app
    from simulacra.agents.bank import AgentBank

    home = tmp_path / "home"
    monkeypatch.setenv("SIMULACRA_HOME", str(home))

    def schema_model(request) -> str:
        return json.dumps({key: {"reasoning": "r", "answer": sub["properties"]["answer"]["enum"][0]}
                           for key, sub in (request.json_schema or {}).get("properties", {}).items()})

    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: LLM(FakeBackend(default=schema_model)))
    bank = AgentBank(home / "agents")
    bank.save(DemographicAgent(id="p1", demographics={"age": "40"}))
    args = ["run", "--agents", str(home / "agents"), "--instrument", "gss", "--limit", "2", "--run-id", "same"]
    runner = CliRunner()
    assert runner.invoke(app, args).exit_code == 0
    bank.save(DemographicAgent(id="p1", demographics={"age": "41"}))  # another agent: another run
    refused = runner.invoke(app, args)
    assert refused.exit_code != 0 and "--new-run" in str(refused.exception)
    again = runner.invoke(app, args + ["--new-run"])
    assert again.exit_code == 0, again.output
    folders = sorted(p.name for p in (home / "runs").iterdir())
    assert len(folders) == 2 and folders[0] == "same"
    new = RunFolder(home / "runs" / folders[1])
    assert len(new.answers()) == 2 and new.manifest.agents[0].fingerprint != RunFolder(home / "runs" / "same").manifest.agents[0].fingerprint
