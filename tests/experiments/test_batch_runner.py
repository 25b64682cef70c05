"""The batch runner: answers stored as they arrive, resume after a crash, retry of failures, ordering."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pandas as pd
import pytest

from conftest import FakeAgent, fake_reply
from experiments.runs.spec import RunSpec
from experiments.runs.folder import RunFolder, RunMismatchError
from experiments.runs.runner import BatchRunner, RunInterrupted, estimate_run, run_batch
from simulacra.llm import LLM, FakeBackend

MODEL = {"kind": "test", "model": "fake-model"}


def new_run(tmp_path, agents, instrument, **kwargs):
    return RunFolder.open(RunSpec.build(agents, [instrument], model=MODEL, temperature=0.0, **kwargs), tmp_path / "runs")


def keys_in_db(folder: RunFolder) -> Counter:
    db = sqlite3.connect(folder.path / "responses.sqlite")
    rows = db.execute("SELECT agent, instrument, question, sample FROM answers").fetchall()
    db.close()
    return Counter(rows)


async def test_uninterrupted_run_answers_everything_once_and_exports(tmp_path, agents, instrument, fake_llm):
    folder = new_run(tmp_path, agents, instrument)
    llm = fake_llm()
    outcome = await run_batch(folder, agents, [instrument], llm, batch_size=3)
    assert outcome.status == "complete"
    assert outcome.written == 3 * 7
    # 7 questions in batches of 3 -> 3 calls per agent
    assert len(llm.backend.requests) == 3 * 3
    keys = keys_in_db(folder)
    assert len(keys) == 21 and set(keys.values()) == {1}
    csv = pd.read_csv(folder.path / "responses.csv", dtype=str)
    parquet = pd.read_parquet(folder.path / "responses.parquet")
    assert len(csv) == len(parquet) == 21
    assert (csv["status"] == "ok").all()
    manifest = folder.manifest
    assert manifest.status == "complete"
    assert manifest.counts["ok"] == 21 and manifest.counts["expected"] == 21
    assert manifest.usage["calls"] == 9
    assert (folder.path / "responses.sqlite").stat().st_mode & 0o777 == 0o600


async def test_server_gone_midway_then_resume_gives_the_same_export(tmp_path, agents, instrument, fake_llm):
    reference = new_run(tmp_path / "a", agents, instrument)
    await run_batch(reference, agents, [instrument], fake_llm(), batch_size=3)

    folder = new_run(tmp_path / "b", agents, instrument)
    # the endpoint disappears after 4 calls: 4 batches (3+3+1 for agent 0, 3 for agent 1) are saved
    with pytest.raises(RunInterrupted, match="Run the same command again"):
        await run_batch(folder, agents, [instrument], LLM(FakeBackend(default=fake_reply, fail_after=4)), batch_size=3)
    assert sum(keys_in_db(folder).values()) == 10
    assert folder.manifest.status == "interrupted"

    resumed = fake_llm()
    outcome = await run_batch(folder, agents, [instrument], resumed, batch_size=3)
    assert outcome.written == 11  # only what was missing is asked
    asked = [q["id"] for r in resumed.backend.requests for q in __import__("json").loads(r.messages[-1]["content"])["questions"]]
    assert len(asked) == 11
    keys = keys_in_db(folder)
    assert len(keys) == 21 and set(keys.values()) == {1}
    pd.testing.assert_frame_equal(
        pd.read_csv(folder.path / "responses.csv", dtype=str), pd.read_csv(reference.path / "responses.csv", dtype=str)
    )
    sessions = folder.store.sessions()
    assert [s["outcome"] for s in sessions] == ["interrupted", "complete"]
    assert folder.manifest.status == "complete"


CRASH = {"answered": 0, "limit": 0}


class ExplodingAgent(FakeAgent):
    """Raises (a bug, a kill) once the agents together have given CRASH["limit"] answers."""

    async def answer(self, questions, *, llm, options=None, prior=(), stimulus=None):
        if CRASH["answered"] >= CRASH["limit"]:
            raise RuntimeError("injected crash")
        answers = await super().answer(questions, llm=llm)
        CRASH["answered"] += len(answers)
        return answers


async def test_crash_after_k_answers_keeps_them_and_resume_completes(tmp_path, agents, instrument, fake_llm):
    reference = new_run(tmp_path / "a", agents, instrument)
    await run_batch(reference, agents, [instrument], fake_llm(), batch_size=2)

    CRASH.update(answered=0, limit=9)
    exploding = [ExplodingAgent(id=a.id) for a in agents]
    folder = new_run(tmp_path / "b", exploding, instrument)
    with pytest.raises(RuntimeError, match="injected crash"):
        await run_batch(folder, exploding, [instrument], fake_llm(), batch_size=2)
    saved = sum(keys_in_db(folder).values())
    assert saved == CRASH["answered"] and 9 <= saved < 21
    assert folder.store.sessions()[0]["outcome"] == "stopped"

    # rerun the same command: the same agents find the same folder and only the rest is asked
    CRASH.update(answered=0, limit=10_000)
    folder = new_run(tmp_path / "b", exploding, instrument)
    await run_batch(folder, exploding, [instrument], fake_llm(), batch_size=2)
    keys = keys_in_db(folder)
    assert len(keys) == 21 and set(keys.values()) == {1}
    assert CRASH["answered"] == 21 - saved
    a = pd.read_csv(folder.path / "responses.csv", dtype=str)
    b = pd.read_csv(reference.path / "responses.csv", dtype=str)
    pd.testing.assert_frame_equal(a, b)


async def test_failed_answers_are_reasked_only_with_retry_failed(tmp_path, instrument, fake_llm):
    agents = [FakeAgent(id="flaky", fail_questions=["q1", "q4"]), FakeAgent(id="steady")]
    folder = new_run(tmp_path, agents, instrument)
    await run_batch(folder, agents, [instrument], fake_llm(), batch_size=7)
    assert folder.store.counts() == {"ok": 12, "failed": 2}
    assert folder.manifest.status == "incomplete"

    again = fake_llm()
    outcome = await run_batch(folder, agents, [instrument], again, batch_size=7)
    assert outcome.written == 0 and again.backend.requests == []

    agents[0].fail_questions = []
    retry = fake_llm()
    outcome = await run_batch(folder, agents, [instrument], retry, batch_size=7, retry_failed=True)
    assert outcome.written == 2
    assert len(retry.backend.requests) == 1  # one batch for the two failed items of one agent
    assert folder.store.counts() == {"ok": 14, "failed": 0}
    frame = folder.answers()
    assert frame.loc[(frame.agent == "flaky") & (frame.question == "q1"), "attempts"].item() == 2


async def test_invalid_values_from_an_agent_are_stored_as_failed(tmp_path, instrument, fake_llm):
    class Liar(FakeAgent):
        async def answer(self, questions, *, llm, options=None, prior=(), stimulus=None):
            answers = await super().answer(questions, llm=llm)
            answers[0] = answers[0].model_copy(update={"value": "not-an-option"})
            return answers[:-1]  # and one answer missing

    folder = new_run(tmp_path, [Liar(id="liar")], instrument)
    await run_batch(folder, [Liar(id="liar")], [instrument], fake_llm(), batch_size=7)
    frame = folder.answers().set_index("question")
    assert frame.loc["q0", "status"] == "failed" and "not one of its options" in frame.loc["q0", "error"]
    assert frame.loc["q6", "status"] == "failed" and "no answer" in frame.loc["q6", "error"]
    assert (frame.drop(index=["q0", "q6"])["status"] == "ok").all()


async def test_warm_prefix_model_gets_agent_major_order(tmp_path, agents, instrument):
    backend = FakeBackend(default=fake_reply)
    backend.is_local = True  # like the embedded model: keep each agent's prefix warm
    llm = LLM(backend)
    folder = new_run(tmp_path, agents, instrument)
    runner = BatchRunner(folder, llm, batch_size=2)
    assert runner.concurrency == 1
    await runner.run(agents, [instrument])
    order = [r.messages[0]["content"] for r in backend.requests]
    # each agent's calls are consecutive
    assert order == sorted(order, key=lambda s: [f"You are {a.id}." for a in agents].index(s))


async def test_endpoint_runs_agents_concurrently_within_its_limit(tmp_path, instrument):
    import asyncio

    from simulacra.config import LLMSettings

    active = {"now": 0, "peak": 0}

    class Slow(FakeAgent):
        async def answer(self, questions, *, llm, options=None, prior=(), stimulus=None):
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
            await asyncio.sleep(0.01)
            try:
                return await super().answer(questions, llm=llm)
            finally:
                active["now"] -= 1

    agents = [Slow(id=f"s{i}") for i in range(6)]
    llm = LLM(FakeBackend(default=fake_reply), LLMSettings(max_concurrency=3))
    folder = new_run(tmp_path, agents, instrument)
    runner = BatchRunner(folder, llm, batch_size=7)
    assert runner.concurrency == 3
    await runner.run(agents, [instrument])
    assert active["peak"] == 3
    assert folder.store.counts()["ok"] == 42


async def test_dry_run_estimate_spends_nothing(tmp_path, agents, instrument, fake_llm):
    llm = fake_llm()
    folder = new_run(tmp_path, agents, instrument)
    estimate = estimate_run(folder, agents, [instrument], llm.settings, batch_size=3)  # the settings, no LLM
    assert estimate.calls == 9 and estimate.pending_answers == 21 and estimate.already_answered == 0
    assert estimate.prompt_tokens > 0 and estimate.completion_tokens == 21 * 60
    assert llm.backend.requests == []


async def test_same_batch_resumes_in_the_same_folder_and_a_different_one_is_refused(tmp_path, agents, instrument):
    first = new_run(tmp_path, agents, instrument)
    again = new_run(tmp_path, agents, instrument)
    assert first.path == again.path
    other = new_run(tmp_path, agents[:2], instrument)
    assert other.path != first.path
    with pytest.raises(RunMismatchError, match="agents"):
        new_run(tmp_path, agents[:2], instrument, run_id=first.path.name)


async def test_samples_are_distinct_cache_entries(tmp_path, agents, instrument):
    from simulacra.llm.cache import ResponseCache

    backend = FakeBackend(default=fake_reply)
    llm = LLM(backend, cache=ResponseCache(tmp_path / "cache.sqlite"))
    folder = RunFolder.open(RunSpec.build(agents[:1], [instrument], model=MODEL, samples=2), tmp_path / "runs")
    await run_batch(folder, agents[:1], [instrument], llm, batch_size=7)
    assert len(backend.requests) == 2  # sample 1 is not served from sample 0's cache entry
    assert folder.store.counts()["ok"] == 14
