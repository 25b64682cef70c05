"""Without Ray: the local executor answers as the runner does by itself, and a local run on a fleet routes each
agent's calls by its prefix key."""

from __future__ import annotations

import asyncio

from experiments.runs.spec import RunSpec
from experiments.runs.folder import RunFolder
from experiments.runs import run_batch, select_questions
from experiments.runs.executors import LocalExecutor, open_executor
from simulacra.agents.baselines import DemographicAgent
from simulacra.config import LLMSettings
from simulacra.llm import LLM
from simulacra.llm.fleet import FleetBackend
from simulacra.workspace import Workspace
from surveys.instruments import load_instrument

from tests.scale.fakes import FakeOpenAIServer, fake_backend

MODEL = {"kind": "test", "model": "fake-model"}
COLUMNS = ["agent", "instrument", "question", "sample", "value", "status", "prompt_hash"]


def agents(n: int = 4):
    return [DemographicAgent(id=f"p{i}", demographics={"age": str(30 + 7 * i), "region": f"r{i}"}) for i in range(n)]


def test_the_local_executor_stores_what_the_runner_stores_by_itself():
    people, instruments = agents(), select_questions([load_instrument("gss")], limit=3)
    runs = Workspace.default().runs
    plain = RunFolder.open(RunSpec.build(people, instruments, model=MODEL, run_id="plain"), runs)
    asyncio.run(run_batch(plain, people, instruments, LLM(fake_backend()), batch_size=2))
    llm = LLM(fake_backend())
    executor = open_executor("local", None, llm=llm)
    assert isinstance(executor, LocalExecutor) and executor.slots == llm.settings.max_concurrency
    via = RunFolder.open(RunSpec.build(people, instruments, model=MODEL, run_id="via-executor"), runs)
    outcome = asyncio.run(run_batch(via, people, instruments, executor, batch_size=2))
    assert outcome.written == 12
    assert via.answers()[COLUMNS].equals(plain.answers()[COLUMNS])
    assert via.store.sessions()[-1]["usage"]["calls"] == llm.usage.calls == 8


def test_a_local_run_on_a_fleet_routes_each_agent_by_its_prefix_key():
    people, instruments = agents(6), select_questions([load_instrument("gss")], limit=4)
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two:
        settings = LLMSettings(base_urls=[one.base_url, two.base_url], model="fake", api_key="x")
        backend = FleetBackend(settings)
        folder = RunFolder.open(RunSpec.build(people, instruments, model=MODEL, run_id="fleet"), Workspace.default().runs)
        outcome = asyncio.run(run_batch(folder, people, instruments, LLM(backend, settings), batch_size=2))
        assert outcome.written == 24
        keys = {url: stats["keys"] for url, stats in backend.stats().items()}
        assert sum(keys.values()) == 6  # six agents, each on one replica
        assert set().union(*(r.keys for r in backend.replicas.values())) == {a.prefix_key() for a in people}
        assert not one.stats["prefixes"] & two.stats["prefixes"]
